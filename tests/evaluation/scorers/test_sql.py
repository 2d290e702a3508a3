"""Spider: execution accuracy on the fixture databases (rows as multisets unless the reference
orders them, a budget per query) and the paper's comparison of the shell's printed text."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.scorers import ScoreOptions
from semantic_tube.evaluation.scorers.sql import ExecutionScorer, database_path, db_id_of, is_ordered, run_query, same_results
from semantic_tube.evaluation.scorers.sqlite_shell import QueryTimeout, find_shell
from semantic_tube.evaluation.scoring import score_records

PROMPT = "For db_id:[concert_mini]\n\nquestion"


def record(reference, prediction, **extra):
    return {"prompt": PROMPT, "reference": reference, "prediction": prediction, **extra}


@pytest.fixture
def sql_scorer(spider_db_dir):
    return ExecutionScorer(ScoreOptions(db_dir=spider_db_dir, sql_timeout_s=0.5))


def test_spider_same_rows_other_order_is_a_hit(sql_scorer):
    reference = "SELECT name FROM singer WHERE country = 'France'"
    prediction = "SELECT name FROM singer WHERE country = 'France' ORDER BY name DESC"
    assert sql_scorer.score(record(reference, prediction))["execution"]


def test_spider_order_matters_when_the_reference_orders(sql_scorer):
    reference = "SELECT name FROM singer ORDER BY age DESC"
    assert sql_scorer.score(record(reference, "SELECT name FROM singer ORDER BY age DESC"))["execution"]
    assert not sql_scorer.score(record(reference, "SELECT name FROM singer ORDER BY age"))["execution"]


def test_spider_multiset_counts_duplicates(sql_scorer):
    reference = "SELECT country FROM singer"
    assert not sql_scorer.score(record(reference, "SELECT DISTINCT country FROM singer"))["execution"]


def test_spider_invalid_sql_is_an_unparsable_miss(sql_scorer):
    for prediction in ("SELEC name FROM", "SELECT nope FROM singer", "DROP TABLE singer", "SELECT 1; SELECT 2"):
        verdict = sql_scorer.score(record("SELECT count(*) FROM singer", prediction))
        assert verdict["execution"] is False and verdict["unparsable"], prediction
    assert sql_scorer.score(record("SELECT count(*) FROM singer", "SELECT count(*) FROM singer"))["execution"]


def test_spider_runaway_query_times_out_as_a_miss(sql_scorer):
    forever = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"
    start = time.monotonic()
    verdict = sql_scorer.score(record("SELECT count(*) FROM singer", forever))
    assert time.monotonic() - start < 3
    assert verdict["timeout"] and not verdict["execution"] and not verdict["unparsable"]


def test_spider_missing_database_is_named(spider_db_dir, tmp_path):
    scorer = ExecutionScorer(ScoreOptions(db_dir=spider_db_dir))
    with pytest.raises(EvalError, match="nowhere.sqlite"):
        scorer.check([record("SELECT 1", "SELECT 1", prompt="For db_id:[nowhere]\n\nq")])
    with pytest.raises(EvalError, match="--db_dir"):
        ExecutionScorer(ScoreOptions()).check([record("SELECT 1", "SELECT 1")])


def test_order_by_inside_a_string_does_not_count():
    assert is_ordered("SELECT a FROM t ORDER  BY a")
    assert not is_ordered("SELECT a FROM t WHERE b = 'order by'")


# --- spider, as the paper scores it: the sqlite3 shell's printed output ---------------------

SHELL = find_shell("sqlite3")


RUNNERS = ["emulated", pytest.param("shell", marks=pytest.mark.skipif(SHELL is None, reason="no sqlite3 shell installed"))]


@pytest.mark.parametrize("runner", RUNNERS)
def test_spider_paper_execution_compares_printed_text(spider_db_dir, runner):
    scorer = ExecutionScorer(ScoreOptions(db_dir=spider_db_dir, sqlite_shell="sqlite3" if runner == "shell" else None))
    reordered = scorer.score(record("SELECT name FROM singer WHERE age > 40", "SELECT name FROM singer WHERE age > 40 ORDER BY name"))
    assert reordered["execution"] and not reordered["paper_execution"]
    same = scorer.score(record("SELECT name FROM singer WHERE age > 40", "SELECT name FROM singer WHERE age >= 41"))
    assert same["execution"] and same["paper_execution"]
    failing = scorer.score(record("SELECT name FROM singer WHERE age > 99", "SELEC name"))
    assert not failing["execution"] and failing["paper_execution"]  # no rows and an error both print nothing
    assert scorer.describe()["paper_execution"].startswith("sqlite3 shell" if runner == "shell" else "emulated")


def test_spider_report_names_the_paper_metric_implementation(spider_db_dir):
    records = [record("SELECT count(*) FROM singer", "SELECT count(*) FROM singer")]
    report = score_records("spider", records, ScoreOptions(db_dir=spider_db_dir, sqlite_shell="no-such-sqlite3-shell"))
    assert report.metrics["paper_execution"] == 1.0 and report.metrics["execution"] == 1.0
    assert report.meta["scoring"]["paper_execution"].startswith("emulated sqlite3 shell list mode")
    assert "paper_execution: emulated sqlite3 shell list mode" in report.table()


def test_db_id_and_database_path():
    assert db_id_of("For db_id:[ concert_mini ]\n\nq") == "concert_mini"
    assert db_id_of("which database?") is None
    assert database_path(Path("dbs"), "x") == Path("dbs/x/x.sqlite")


def test_same_results_as_multisets_or_lists():
    assert same_results([(1,), (2,)], [(2,), (1,)], ordered=False)
    assert not same_results([(1,), (2,)], [(2,), (1,)], ordered=True)
    assert not same_results([(1,), (1,)], [(1,)], ordered=False)


def test_run_query_rounds_floats_and_times_out():
    connection = sqlite3.connect(":memory:")
    assert run_query(connection, "SELECT 0.1 + 0.2, 'x', 3", 1.0) == [(0.3, "x", 3)]  # 0.30000000000000004 rounded to 6 places
    forever = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"
    with pytest.raises(QueryTimeout, match="query ran past 0.2 s"):
        run_query(connection, forever, 0.2)
    assert run_query(connection, "SELECT 1", 1.0) == [(1,)]  # the handler is removed afterwards


def test_a_failing_reference_is_a_miss_that_says_so(sql_scorer):
    verdict = sql_scorer.score(record("SELECT nope FROM singer", "SELECT 1"))
    assert verdict["execution"] is False and not verdict["unparsable"] and verdict["reason"].startswith("reference fails: no such column")


def test_check_names_a_record_without_a_database_and_a_missing_folder(spider_db_dir, tmp_path):
    with pytest.raises(EvalError, match="mem:3: the prompt names no database"):
        ExecutionScorer(ScoreOptions(db_dir=spider_db_dir)).check([record("SELECT 1", "SELECT 1", prompt="q", source="mem:3")])
    with pytest.raises(EvalError, match="database folder not found"):
        ExecutionScorer(ScoreOptions(db_dir=tmp_path / "absent")).check([record("SELECT 1", "SELECT 1")])
