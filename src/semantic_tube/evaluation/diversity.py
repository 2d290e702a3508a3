"""Table 1 of the paper: NL-RX accuracy split by the answer's suffix (`.*` versus `.*.*`).

`.*.*` ends with `.*` too, so each answer goes to the longest listed suffix it ends with, and
to `other` when it ends with none. Beside accuracy per reference suffix, the number of
predictions ending with each suffix shows whether a model still writes both forms (diversity)
or collapsed onto one.
"""

from __future__ import annotations

from semantic_tube.evaluation.report import proportions

DEFAULT_SUFFIXES = (".*", ".*.*")
OTHER = "other"


def suffix_class(text: str, suffixes: tuple[str, ...]) -> str:
    """The longest of `suffixes` that `text` ends with, or `other`."""
    matching = [suffix for suffix in suffixes if text.strip().endswith(suffix)]
    return max(matching, key=len) if matching else OTHER


def suffix_metrics(records: list[dict], names: tuple[str, ...], suffixes: tuple[str, ...] = DEFAULT_SUFFIXES) -> dict[str, float]:
    """Per reference-suffix class: count and rates (keys `suffix[<s>]/...`), plus `/predicted` counts."""
    groups: dict[str, list[dict]] = {suffix: [] for suffix in (*dict.fromkeys(suffixes), OTHER)}
    predicted = dict.fromkeys(groups, 0)
    for record in records:
        groups[suffix_class(record["reference"], suffixes)].append(record["verdicts"])
        predicted[suffix_class(record["prediction"], suffixes)] += 1
    metrics: dict[str, float] = {}
    for suffix, verdicts in groups.items():
        metrics |= proportions(names, verdicts, prefix=f"suffix[{suffix}]/")
        metrics[f"suffix[{suffix}]/predicted"] = predicted[suffix]
    return metrics
