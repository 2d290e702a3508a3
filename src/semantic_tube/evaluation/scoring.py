"""Scoring prediction records: the part of evaluation that needs no model.

`stp score` calls this on a predictions file; `evaluate` calls it on fresh generations, so both
give the same numbers for the same predictions.
"""

from __future__ import annotations

from semantic_tube.evaluation.diversity import DEFAULT_SUFFIXES, suffix_metrics
from semantic_tube.evaluation.report import EvalReport, counts, proportions
from semantic_tube.evaluation.scorers import ScoreOptions
from semantic_tube.evaluation.tasks import Task, get_task


def check_records(task: str | Task, records: list[dict], options: ScoreOptions) -> None:
    """Fail before any generation when the records cannot be scored (e.g. a database is missing)."""
    get_task(task).make_scorer(options).check(records)


def score_records(
    task: str | Task,
    records: list[dict],
    options: ScoreOptions | None = None,
    *,
    suffixes: tuple[str, ...] | None = None,
) -> EvalReport:
    """Score each record (adding its `verdicts`) and aggregate; `suffixes` adds the NL-RX suffix split."""
    task = get_task(task)
    scorer = task.make_scorer(options or ScoreOptions())
    scorer.check(records)
    for record in records:
        record["verdicts"] = scorer.score(record)
    verdicts = [record["verdicts"] for record in records]
    metrics = proportions(task.metrics, verdicts) | counts(task.counts, verdicts)
    for name, key in task.subsets.items():
        metrics |= proportions(task.metrics, [verdict for verdict in verdicts if verdict.get(key)], prefix=f"{name}/")
    if suffixes is None and task.suffix_split:
        suffixes = DEFAULT_SUFFIXES
    if suffixes:
        metrics |= suffix_metrics(records, task.metrics, tuple(suffixes))
    scoring = scorer.describe()
    return EvalReport(task=task.name, metrics=metrics, predictions=records, meta={"scoring": scoring} if scoring else {})
