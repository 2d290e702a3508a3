"""Spider: execution accuracy on the example's SQLite database, robust (`execution`) and as the
paper measured it (`paper_execution`, the sqlite3 shell's printed output: see `sqlite_shell`).

Prediction and reference run on `<db_dir>/<db_id>/<db_id>.sqlite` (Spider's layout), opened
read-only through a `file:...?mode=ro` URI so a predicted `DROP TABLE` cannot damage it. Each
query gets a wall-clock budget enforced by a sqlite3 progress handler, so a runaway query (a
recursive CTE without a limit, a huge cross join) becomes a miss instead of a hang.

Result comparison: rows are compared as multisets (order-insensitive), except when the
reference has an ORDER BY outside string literals, where order is part of the answer and rows
are compared as lists. Columns are compared in order (no permutation search, unlike Spider's
test-suite evaluation); floats are rounded to 6 decimals so float noise is not a miss. The
paper's text comparison instead misses a reordered result and hits when both queries fail.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections import Counter
from pathlib import Path

from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.scorers import ScoreOptions, Scorer
from semantic_tube.evaluation.scorers.sqlite_shell import PROGRESS_EVERY, QueryTimeout, describe, emulated_output, find_shell, shell_output

_DB_ID = re.compile(r"db_id:\s*\[([^\]]+)\]")
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)


def db_id_of(prompt: str) -> str | None:
    """The database named by Spider's `For db_id:[name]` prompt prefix."""
    match = _DB_ID.search(prompt)
    return match.group(1).strip() if match else None


def database_path(db_dir: Path, db_id: str) -> Path:
    return Path(db_dir) / db_id / f"{db_id}.sqlite"


def is_ordered(sql: str) -> bool:
    """Whether a query's row order is part of its answer (an ORDER BY outside string literals)."""
    return bool(_ORDER_BY.search(_STRING_LITERAL.sub("''", sql)))


def _normalize_row(row: tuple) -> tuple:
    return tuple(round(value, 6) if isinstance(value, float) else value for value in row)


def run_query(connection: sqlite3.Connection, sql: str, timeout_s: float) -> list[tuple]:
    """All rows of `sql`, raising `QueryTimeout` past `timeout_s` and sqlite3 errors as they come."""
    deadline = time.monotonic() + timeout_s
    connection.set_progress_handler(lambda: int(time.monotonic() > deadline), PROGRESS_EVERY)
    try:
        rows = connection.execute(sql).fetchall()
    except sqlite3.OperationalError as err:
        if time.monotonic() > deadline and "interrupted" in str(err):
            raise QueryTimeout(f"query ran past {timeout_s:g} s") from None
        raise
    finally:
        connection.set_progress_handler(None, PROGRESS_EVERY)
    return [_normalize_row(row) for row in rows]


def same_results(predicted: list[tuple], reference: list[tuple], ordered: bool) -> bool:
    return predicted == reference if ordered else Counter(predicted) == Counter(reference)


class ExecutionScorer(Scorer):
    """Verdict: `execution` (same results), `paper_execution` (same shell output), `unparsable`
    (the prediction fails to run), `timeout`."""

    def __init__(self, options: ScoreOptions):
        self.db_dir = options.db_dir
        self.timeout_s = options.sql_timeout_s
        self.shell = find_shell(options.sqlite_shell)
        self._connections: dict[str, sqlite3.Connection] = {}
        self._reference_rows: dict[tuple[str, str], list[tuple] | str] = {}
        self._reference_outputs: dict[tuple[str, str], str | None] = {}

    def check(self, records: list[dict]) -> None:
        """Every record must name a database, and every database must exist, before any work is done."""
        if self.db_dir is None:
            raise EvalError("task spider needs the Spider databases: pass --db_dir DIR (holding DIR/<db_id>/<db_id>.sqlite)")
        if not Path(self.db_dir).is_dir():
            raise EvalError(f"database folder not found: {self.db_dir}")
        for record in records:
            db_id = db_id_of(record.get("prompt", ""))
            if db_id is None:
                raise EvalError(f"{record.get('source') or 'a record'}: the prompt names no database (expected 'For db_id:[name]')")
            if not database_path(self.db_dir, db_id).is_file():
                raise EvalError(f"database not found: {database_path(self.db_dir, db_id)} (db_id {db_id!r})")

    def describe(self) -> dict[str, str]:
        return {"paper_execution": describe(self.shell)}

    def score(self, record: dict) -> dict:
        db_id = db_id_of(record.get("prompt", ""))
        self.check([record])
        verdict = self._execution(db_id, record)
        paper = self._paper_output(db_id, record["prediction"])
        verdict["paper_execution"] = paper is not None and paper == self._paper_reference(db_id, record["reference"])
        return verdict

    def _execution(self, db_id: str, record: dict) -> dict:
        reference = self._reference(db_id, record["reference"])
        if isinstance(reference, str):
            return {"execution": False, "unparsable": False, "timeout": False, "reason": f"reference fails: {reference}"}
        try:
            predicted = run_query(self._connection(db_id), record["prediction"], self.timeout_s)
        except QueryTimeout as err:
            return {"execution": False, "unparsable": False, "timeout": True, "reason": str(err)}
        except (sqlite3.Error, sqlite3.Warning) as err:
            return {"execution": False, "unparsable": True, "timeout": False, "reason": f"prediction fails: {err}"}
        if same_results(predicted, reference, is_ordered(record["reference"])):
            return {"execution": True, "unparsable": False, "timeout": False}
        return {
            "execution": False,
            "unparsable": False,
            "timeout": False,
            "reason": f"{len(predicted)} rows (first {predicted[:3]}) instead of {len(reference)} (first {reference[:3]})",
        }

    def _paper_output(self, db_id: str, sql: str) -> str | None:
        """What the sqlite3 shell prints for `sql` (or its emulation); None when it timed out."""
        path = database_path(self.db_dir, db_id)
        try:
            return shell_output(self.shell, path, sql, self.timeout_s) if self.shell else emulated_output(path, sql, self.timeout_s)
        except QueryTimeout:
            return None

    def _paper_reference(self, db_id: str, sql: str) -> str | None:
        key = (db_id, sql)
        if key not in self._reference_outputs:
            self._reference_outputs[key] = self._paper_output(db_id, sql)
        return self._reference_outputs[key]

    def _reference(self, db_id: str, sql: str) -> list[tuple] | str:
        """Reference rows, cached (references repeat across runs of one file); an error message if it fails."""
        key = (db_id, sql)
        if key not in self._reference_rows:
            try:
                self._reference_rows[key] = run_query(self._connection(db_id), sql, self.timeout_s)
            except (QueryTimeout, sqlite3.Error, sqlite3.Warning) as err:
                self._reference_rows[key] = str(err)
        return self._reference_rows[key]

    def _connection(self, db_id: str) -> sqlite3.Connection:
        if db_id not in self._connections:
            uri = f"{database_path(self.db_dir, db_id).resolve().as_uri()}?mode=ro"
            connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
            connection.text_factory = lambda raw: raw.decode("utf-8", errors="replace")  # Spider has some latin-1 text
            self._connections[db_id] = connection
        return self._connections[db_id]
