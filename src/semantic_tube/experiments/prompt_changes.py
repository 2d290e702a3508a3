"""Per-prompt changes against the baseline: how much a method changed what the model answers.

Two runs of one seed scored on the same test prompts (a sweep's points share their generated test
data) are compared prompt by prompt, from each run's eval/<task>/predictions.jsonl:
- changed: prompts whose prediction text differs;
- gained / lost: prompts whose verdict on the metric turned from false to true / true to false.

gained - lost is the difference in hits, so a method that changes few predictions cannot move the
score much whatever its p-value, and the two counts show whether a small mean difference is a few
gains or many changes that cancel out. The counts describe; they get no p-value here: the seeds
share the prompts, so the prompts of several seeds are not independent trials. A run exported
without its predictions (`export_results.sh --no-predictions`) has nothing to compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from semantic_tube.evaluation.report import read_predictions
from semantic_tube.run_folder import EVAL_DIR, PREDICTIONS_FILE


@dataclass(frozen=True)
class PromptChanges:
    """One run against the baseline run of its seed, on `prompts` shared test prompts."""

    prompts: int
    changed: int
    gained: int
    lost: int


def predictions_path(run_folder: Path, task: str) -> Path:
    return Path(run_folder) / EVAL_DIR / task / PREDICTIONS_FILE


def prompt_key(record: dict) -> tuple:
    """What makes two records the same test prompt: system prompt, prompt and reference."""
    return record.get("system"), record.get("prompt"), record["reference"]


def prompt_changes(records: list[dict], baseline: list[dict], metric: str) -> PromptChanges | None:
    """Compare two runs' predictions (`evaluation.report.read_predictions` records, in file order).

    None when they were not scored on the same prompts in the same order, or when a record has no
    true/false verdict for `metric` (a count such as `unparsable` is not a verdict on the answer).
    """
    if len(records) != len(baseline) or any(prompt_key(a) != prompt_key(b) for a, b in zip(records, baseline)):
        return None
    verdicts = [(a.get("verdicts", {}).get(metric), b.get("verdicts", {}).get(metric)) for a, b in zip(records, baseline)]
    if any(not isinstance(verdict, bool) for pair in verdicts for verdict in pair):
        return None
    return PromptChanges(
        prompts=len(records),
        changed=sum(a["prediction"] != b["prediction"] for a, b in zip(records, baseline)),
        gained=sum(mine and not theirs for mine, theirs in verdicts),
        lost=sum(theirs and not mine for mine, theirs in verdicts),
    )


def run_prompt_changes(run_folder: Path, baseline_folder: Path, task: str, metric: str) -> PromptChanges | None:
    """`prompt_changes` of two run folders' predictions; None when either has no predictions file."""
    paths = predictions_path(run_folder, task), predictions_path(baseline_folder, task)
    if not all(path.is_file() for path in paths):
        return None
    return prompt_changes(read_predictions(paths[0]), read_predictions(paths[1]), metric)
