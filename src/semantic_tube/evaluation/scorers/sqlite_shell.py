"""Spider as the paper scores it: the text the `sqlite3` command-line shell prints for a query.

The reference evaluate.py runs `sqlite3 <db> <sql>` once for the prediction and once for the
reference and compares the two stdouts as text. Errors go to stderr, so a failing prediction
prints the same empty text as a reference that returns no rows (or fails too): such a pair is a
hit there, and here. We run the shell the same way with two changes that do not alter what a
query prints: `-readonly`, so a predicted `DROP TABLE` cannot damage the database (the reference
opened it writable), and `-init <devnull>`, so a user's ~/.sqliterc cannot change the output mode.

Without a shell on PATH (or with `ScoreOptions(sqlite_shell=None)`) the shell's default list
mode is emulated with Python's sqlite3 module: a fresh read-only connection per query, each
statement in turn until the first error (as the shell stops there), one line per row, columns
joined by `|`, NULL as the empty string, a blob up to its first NUL byte, and every number turned
into text by SQLite itself (`CAST(? AS TEXT)`, the conversion the shell prints through
sqlite3_column_text), so floats read `1.0e+20`, `0.333333333333333`, `3.0` as in the shell. A
query starting with `-` prints nothing: the shell takes it for an option. Which of the two ran is
recorded in the report (`meta.scoring.paper_execution`).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

PROGRESS_EVERY = 1000  # sqlite VM instructions between deadline checks


class QueryTimeout(Exception):
    """A query ran past its time budget."""


def find_shell(name: str | None) -> str | None:
    """The shell's full path, or None when it is not installed (or not wanted)."""
    return shutil.which(name) if name else None


def describe(shell: str | None) -> str:
    """Which implementation produced `paper_execution`, for the report."""
    if shell is None:
        return f"emulated sqlite3 shell list mode (Python sqlite3 module, SQLite {sqlite3.sqlite_version}); no sqlite3 shell found"
    version = subprocess.run([shell, "-version"], capture_output=True, text=True, check=False).stdout.split()
    return f"sqlite3 shell {shell} ({version[0] if version else 'unknown version'})"


def shell_output(shell: str, db_path: Path, sql: str, timeout_s: float) -> str:
    """What `sqlite3 -readonly <db> <sql>` prints on stdout; `QueryTimeout` past `timeout_s`."""
    command = [shell, "-init", os.devnull, "-readonly", str(db_path), sql]
    try:
        result = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise QueryTimeout(f"query ran past {timeout_s:g} s") from None
    return result.stdout


def emulated_output(db_path: Path, sql: str, timeout_s: float) -> str:
    """The shell's list-mode stdout for `sql`, computed in-process; `QueryTimeout` past `timeout_s`."""
    if sql.startswith("-"):
        return ""  # the shell parses it as an unknown option and runs nothing
    connection = _read_only(db_path)
    deadline = time.monotonic() + timeout_s
    connection.set_progress_handler(lambda: int(time.monotonic() > deadline), PROGRESS_EVERY)
    lines: list[str] = []
    try:
        for statement in split_statements(sql):
            try:
                lines += ["|".join(_as_text(connection, value) for value in row) for row in connection.execute(statement)]
            except (sqlite3.Error, sqlite3.Warning):
                if time.monotonic() > deadline:
                    raise QueryTimeout(f"query ran past {timeout_s:g} s") from None
                break
    finally:
        connection.close()
    return "".join(line + "\n" for line in lines)


def split_statements(sql: str) -> list[str]:
    """`sql` cut after each `;` that completes a statement (a `;` inside a string or comment does not)."""
    statements, start = [], 0
    for end, char in enumerate(sql, start=1):
        if char == ";" and sqlite3.complete_statement(sql[start:end]):
            statements.append(sql[start:end])
            start = end
    if sql[start:].strip():
        statements.append(sql[start:])
    return statements


def _read_only(db_path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(f"{Path(db_path).resolve().as_uri()}?mode=ro", uri=True)
    connection.text_factory = lambda raw: raw.decode("utf-8", errors="replace")  # as the shell's stdout is decoded
    # ATTACH opens other files writable (even creating them); the read-only shell cannot.
    connection.set_authorizer(lambda action, *_: sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_ATTACH else sqlite3.SQLITE_OK)
    return connection


def _as_text(connection: sqlite3.Connection, value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.split(b"\0", 1)[0].decode("utf-8", errors="replace")  # printed as a C string
    if isinstance(value, float):
        return connection.execute("SELECT CAST(? AS TEXT)", (value,)).fetchone()[0]
    return str(value)
