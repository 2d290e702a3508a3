"""Build the tiny Spider-layout databases of tests/fixtures/spider from their committed SQL text.

The repository holds SQL, not binary .sqlite files; tests build <dest>/<db_id>/<db_id>.sqlite.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "spider"
EXAMPLES = FIXTURE / "examples.jsonl"


def build_databases(dest: Path) -> Path:
    """Create every fixture database under `dest` in Spider's layout; returns `dest` (the db_dir)."""
    for schema in FIXTURE.glob("*/schema.sql"):
        db_id = schema.parent.name
        (dest / db_id).mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(dest / db_id / f"{db_id}.sqlite")
        connection.executescript(schema.read_text())
        connection.commit()
        connection.close()
    return dest
