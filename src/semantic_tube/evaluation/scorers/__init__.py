"""Per-example scorers, one module per answer format.

A scorer maps one prediction record (`prompt`, `reference`, `prediction`, and `choices` where
the task needs them) to a verdict: a dict of booleans the task aggregates (metrics such as
`exact`, flags such as `unparsable`) plus an optional `reason` a person can read to see why a
prediction failed. Scorers never raise on a bad prediction: it is a miss.

Beside its own metrics each task reports the paper's, as the reference evaluate.py computes it,
under a `paper_` name (gsm8k `paper_correct`, nq_open `paper_match`, spider `paper_execution`);
NL-RX's `exact` and HellaSwag's `accuracy` already are the paper's metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ScoreOptions:
    """Settings some scorers need; the defaults suit the paper's data."""

    db_dir: Path | None = None  # Spider databases, <db_dir>/<db_id>/<db_id>.sqlite
    regex_timeout_s: float = 2.0  # per regex-equivalence decision
    sql_timeout_s: float = 5.0  # per query
    sqlite_shell: str | None = "sqlite3"  # spider paper_execution: the shell to run; None (or not installed): emulate it


class Scorer:
    """Base class: `check` validates prerequisites for a batch before any work, `score` one record."""

    def check(self, records: list[dict]) -> None:
        """Raise `EvalError` if these records cannot be scored at all (e.g. a missing database)."""

    def score(self, record: dict) -> dict:
        raise NotImplementedError

    def describe(self) -> dict[str, str]:
        """metric -> how it was computed, for metrics whose implementation depends on the machine."""
        return {}
