"""Summary figures of a regex data set, to see how close synthetic data is to the real one.

The figures are the ones the grammar is tuned by: how often each operator appears, how long
descriptions and regexes are, and how many targets denote the empty language (an `&` of
disjoint classes, say) — a model learns little from many of those.
"""

from __future__ import annotations

import re
import statistics

from semantic_tube.data.messages import ChatExample

OPERATORS = ("&", "|", "~", "*", "+", "{n,}", "\\b", ".*")
_REPEAT = re.compile(r"\{\d+,\}")


def count_operators(regex: str) -> dict[str, int]:
    """Occurrences of each operator of `OPERATORS` outside escapes and character classes.

    `.*` is counted on its own, so `*` counts only the other stars (`(X)*`).
    """
    counts = dict.fromkeys(OPERATORS, 0)
    i, in_class = 0, False
    while i < len(regex):
        char, step = regex[i], 1
        if char == "\\":
            counts["\\b"] += regex[i + 1 : i + 2] == "b" and not in_class
            step = 2
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif regex.startswith(".*", i):
            counts[".*"] += 1
            step = 2
        elif char in "&|~*+":
            counts[char] += 1
        elif match := _REPEAT.match(regex, i):
            counts["{n,}"] += 1
            step = match.end() - i
        i += step
    return counts


def _summary(values: list[int]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "median": statistics.median(values), "max": max(values)}


def _empty_language_share(regexes: list[str]) -> tuple[float | None, int]:
    """The share of parsable regexes whose language is empty, and how many did not parse;
    (None, 0) while the regex engine is not installed."""
    try:
        from semantic_tube.regex import RegexSyntaxError, is_empty_language
    except ImportError:
        return None, 0
    empty = unparsable = 0
    for regex in regexes:
        try:
            empty += is_empty_language(regex)
        except RegexSyntaxError:
            unparsable += 1
    parsed = len(regexes) - unparsable
    return (empty / parsed if parsed else None), unparsable


def dataset_stats(examples: list[ChatExample]) -> dict:
    """Operator frequencies, lengths and the empty-language share of `examples`.

    Keys: examples; operators (op -> share of examples using it, mean count per example);
    description_chars and regex_chars (mean, median, max); empty_language_share (None
    without the regex engine); unparsable (regexes the engine rejected).
    """
    if not examples:
        raise ValueError("no examples to summarise")
    counts = [count_operators(e.assistant) for e in examples]
    n = len(examples)
    empty_share, unparsable = _empty_language_share([e.assistant for e in examples])
    return {
        "examples": n,
        "operators": {
            op: {"share": sum(c[op] > 0 for c in counts) / n, "per_example": sum(c[op] for c in counts) / n}
            for op in OPERATORS
        },
        "description_chars": _summary([len(e.user) for e in examples]),
        "regex_chars": _summary([len(e.assistant) for e in examples]),
        "empty_language_share": empty_share,
        "unparsable": unparsable,
    }


def _rows(stats: dict) -> list[tuple[str, str]]:
    rows = [("examples", str(stats["examples"]))]
    for op, figures in stats["operators"].items():
        label = "*  (not in .*)" if op == "*" else op
        rows.append((f"op {label}", f"{figures['share']:.1%} ({figures['per_example']:.2f}/ex)"))
    for key in ("description_chars", "regex_chars"):
        rows += [(f"{key} {k}", f"{v:.1f}") for k, v in stats[key].items()]
    share = stats["empty_language_share"]
    rows.append(("empty language", "n/a (no regex engine)" if share is None else f"{share:.1%}"))
    rows.append(("unparsable regexes", str(stats["unparsable"])))
    return rows


def format_stats(stats: dict, reference: dict | None = None, names: tuple[str, str] = ("data", "reference")) -> str:
    """A table of `stats`, with a second column for `reference` when given."""
    rows = _rows(stats)
    ref_rows = _rows(reference) if reference else [(label, "") for label, _ in rows]
    header = ("", names[0], names[1] if reference else "")
    table = [header] + [(label, a, b) for (label, a), (_, b) in zip(rows, ref_rows)]
    return "\n".join(f"{a:<24} {b:>22} {c:>22}".rstrip() for a, b, c in table)
