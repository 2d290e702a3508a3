"""The sqlite3 shell's list-mode output, run and emulated, and the statement splitting the
emulation shares with it."""

from __future__ import annotations

import sqlite3

import pytest

from semantic_tube.evaluation.scorers.sql import database_path
from semantic_tube.evaluation.scorers.sqlite_shell import (
    QueryTimeout,
    describe,
    emulated_output,
    find_shell,
    shell_output,
    split_statements,
)

SHELL = find_shell("sqlite3")


RUNNERS = ["emulated", pytest.param("shell", marks=pytest.mark.skipif(SHELL is None, reason="no sqlite3 shell installed"))]


SHELL_CASES = {
    "SELECT name, age FROM singer WHERE singer_id < 3": "Joe Sharp|52\nTimbaland|32\n",
    "SELECT avg(age), 1.0 * 1e20, 1.0 / 3, 3.0, NULL, 'a|b', x'410042' FROM singer": "39.4|1.0e+20|0.333333333333333|3.0||a|b|A\n",
    "SELECT 1; SELECT 'x;y';;": "1\nx;y\n",
    "SELECT 1; SELEC 2; SELECT 3": "1\n",  # the shell stops at the first failing statement
    "SELECT nope FROM singer": "",
    "-- comment\nSELECT 1": "",  # the shell takes a leading '-' for an option
    "DROP TABLE singer": "",  # read-only
    "ATTACH 'new.db' AS n": "",
    "SELECT count(*) FROM singer": "5\n",
}


@pytest.mark.parametrize("runner", RUNNERS)
def test_shell_output_and_its_emulation_print_the_shell_list_mode(spider_db_dir, runner):
    path = database_path(spider_db_dir, "concert_mini")
    for sql, expected in SHELL_CASES.items():
        output = emulated_output(path, sql, 2.0) if runner == "emulated" else shell_output(SHELL, path, sql, 2.0)
        assert output == expected, sql
    assert not (spider_db_dir / "concert_mini" / "new.db").exists() and not list(spider_db_dir.rglob("new.db"))


def test_statements_split_at_semicolons_outside_strings_and_comments():
    assert split_statements("SELECT 1; SELECT ';' -- ;\n; SELECT 2") == ["SELECT 1;", " SELECT ';' -- ;\n;", " SELECT 2"]


def test_statements_without_a_final_semicolon_and_trailing_space():
    assert split_statements("SELECT 1") == ["SELECT 1"]
    assert split_statements("SELECT 1;  \n") == ["SELECT 1;"]
    assert split_statements("SELECT 'a;b'") == ["SELECT 'a;b'"]


def test_no_shell_wanted_or_found_means_the_emulation():
    assert find_shell(None) is None and find_shell("no-such-sqlite3-shell") is None
    assert describe(None).startswith("emulated sqlite3 shell list mode") and sqlite3.sqlite_version in describe(None)


def test_the_emulation_times_out_a_runaway_query(spider_db_dir):
    forever = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"
    with pytest.raises(QueryTimeout, match="query ran past 0.2 s"):
        emulated_output(database_path(spider_db_dir, "concert_mini"), forever, 0.2)
