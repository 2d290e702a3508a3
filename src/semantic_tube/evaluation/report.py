"""Aggregating verdicts into metrics, and the files and table an evaluation leaves behind.

Metrics are one flat `dict[str, float | None]` (easy to log from a trainer): for each proportion
`m`, keys `m`, `m_hits`, `m_ci95_low`, `m_ci95_high`; counts under their own name; a subset's
keys prefixed with `<subset>/`. A subset without examples has no rate and no interval: they are
None (null in eval.json, `n/a` in the table) with count and hits 0, since a 0.0 in [0, 1] would
read as a measured failure. `predictions.jsonl` keeps, per example, the prompt, reference,
prediction and verdicts (with a `reason` on a miss), so failures can be read, not just counted.
eval.json's `meta.scoring` (also printed under the table) says how a metric whose implementation
depends on the machine was computed (spider's `paper_execution`: the sqlite3 shell or its emulation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from semantic_tube.data.messages import DataError, decoded_lines
from semantic_tube.evaluation.stats import wilson_interval
from semantic_tube.run_folder import (  # the run-folder contract's names, importable from here as before
    CI_HIGH_SUFFIX,
    CI_LOW_SUFFIX,
    EVAL_FILE,
    HITS_SUFFIX,
    PREDICTIONS_FILE,
    TASK_PREFIX,
    write_text_atomic,
)

__all__ = ["EVAL_FILE", "PREDICTIONS_FILE", "TASK_PREFIX", "EvalReport", "counts", "proportions", "read_predictions", "write_predictions"]

_DERIVED = (HITS_SUFFIX, CI_LOW_SUFFIX, CI_HIGH_SUFFIX)  # keys shown alongside their rate, not on their own line


def proportions(names: tuple[str, ...], verdicts: list[dict], prefix: str = "") -> dict[str, float | None]:
    """The count, and each named verdict's rate with its hits and 95% Wilson interval (None when no verdicts)."""
    metrics: dict[str, float | None] = {f"{prefix}count": len(verdicts)}
    for name in names:
        hits = sum(bool(verdict.get(name)) for verdict in verdicts)
        low, high = wilson_interval(hits, len(verdicts)) if verdicts else (None, None)
        metrics[f"{prefix}{name}"] = hits / len(verdicts) if verdicts else None
        metrics[f"{prefix}{name}_hits"] = hits
        metrics[f"{prefix}{name}_ci95_low"] = low
        metrics[f"{prefix}{name}_ci95_high"] = high
    return metrics


def counts(names: tuple[str, ...], verdicts: list[dict], prefix: str = "") -> dict[str, float]:
    return {f"{prefix}{name}": sum(bool(verdict.get(name)) for verdict in verdicts) for name in names}


@dataclass
class EvalReport:
    """The outcome of one evaluation: flat metrics, per-example predictions, and analysis results."""

    task: str
    metrics: dict[str, float | None]
    predictions: list[dict]
    analyses: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def write(self, output_dir: str | Path) -> Path:
        """Write predictions.jsonl, eval.json and any analysis files (svd.json, svd.png); returns eval.json."""
        folder = Path(output_dir)
        folder.mkdir(parents=True, exist_ok=True)
        write_predictions(folder / PREDICTIONS_FILE, self.predictions)
        if "svd" in self.analyses:
            from semantic_tube.evaluation.representations import write_spectra

            write_spectra(folder, self.analyses["svd"])
        return self.write_summary(folder / EVAL_FILE)

    def write_summary(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        summary = {"task": self.task, "metrics": self.metrics, "analyses": self.analyses, "meta": self.meta}
        write_text_atomic(path, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        return path

    def table(self) -> str:
        """A short human-readable table: rates with hits and intervals, then counts, subsets after the whole set."""
        lines = [f"task {self.task}: {int(self.metrics['count'])} examples", f"{'metric':<34} {'value':>7}  {'95% CI':<16} hits"]
        lines += [self._row(key, value) for key, value in self.metrics.items() if key != "count" and not key.endswith(_DERIVED)]
        lines += [f"{metric}: {how}" for metric, how in self.meta.get("scoring", {}).items()]
        return "\n".join(lines)

    def _row(self, key: str, value: float | None) -> str:
        if f"{key}_hits" not in self.metrics:
            return f"{key:<34} {_format(value):>7}"
        if value is None:  # a subset without examples: nothing was measured
            return f"{key:<34} {'n/a':>7}"
        prefix = key.rpartition("/")[0]
        total = int(self.metrics[f"{prefix}/count" if prefix else "count"])
        interval = f"[{self.metrics[f'{key}_ci95_low']:.3f}, {self.metrics[f'{key}_ci95_high']:.3f}]"
        return f"{key:<34} {value:>7.3f}  {interval:<16} {int(self.metrics[f'{key}_hits'])}/{total}"


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


def write_predictions(path: Path, records: list[dict]) -> None:
    """One JSON object per line, written atomically (a reader never sees half the file)."""
    write_text_atomic(path, "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))


def read_predictions(path: str | Path) -> list[dict]:
    """Records of a predictions file; each needs `reference` and `prediction` (strings)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"predictions file not found: {path}")
    records = []
    for number, text in decoded_lines(path):
        if isinstance(text, DataError):
            raise text
        if text.strip():
            records.append(_parse_record(text, path, number))
    if not records:
        raise DataError(path, 0, "file", "no predictions")
    return records


def _parse_record(text: str, path: Path, line: int) -> dict:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(path, line, "json", f"invalid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(record, dict):
        raise DataError(path, line, "json", "expected an object")
    for key in ("reference", "prediction"):
        if not isinstance(record.get(key), str):
            raise DataError(path, line, key, "missing or not a string")
    record.setdefault("source", f"{path}:{line}")
    return record
