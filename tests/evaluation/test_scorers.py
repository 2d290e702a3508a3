"""Each scorer on hand-made cases, traps included."""

from __future__ import annotations

import time

import pytest

from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.scorers import ScoreOptions
from semantic_tube.evaluation.scorers.answers import AnswerSetScorer, normalize_answer
from semantic_tube.evaluation.scorers.choice import ChoiceScorer
from semantic_tube.evaluation.scorers.numeric import NumericScorer, final_number
from semantic_tube.evaluation.scorers.sql import ExecutionScorer, database_path, is_ordered
from semantic_tube.evaluation.scorers.sqlite_shell import emulated_output, find_shell, shell_output, split_statements
from semantic_tube.evaluation.scoring import score_records

PROMPT = "For db_id:[concert_mini]\n\nquestion"


def record(reference, prediction, **extra):
    return {"prompt": PROMPT, "reference": reference, "prediction": prediction, **extra}


@pytest.mark.parametrize(
    "prediction",
    ["so #### 1000", "#### 1,000", "#### $1,000", "#### 1000.0", "#### 1000.", "#### $ 1,000.00 dollars", "#### 5 #### 1000"],
)
def test_gsm8k_formatting_is_not_a_miss(prediction):
    assert NumericScorer().score(record("steps\n#### 1000", prediction))["correct"]


def test_gsm8k_misses():
    scorer = NumericScorer()
    assert scorer.score(record("#### 18", "#### 19")) == {
        "correct": False,
        "unparsable": False,
        "reason": "predicted 19, expected 18",
        "paper_correct": True,  # neither text has the reference code's capture: None == None
    }
    assert scorer.score(record("#### 18", "the answer is 18"))["unparsable"]
    assert scorer.score(record("#### -3", "#### 3"))["correct"] is False
    assert final_number("#### -$3") == final_number("#### $-3") == -3


@pytest.mark.parametrize(
    ("prediction", "correct", "paper_correct"),
    [
        ("so\n#### 1000", True, True),
        ("#### 1000", True, False),  # the paper's pattern needs a newline before ####; generations are stripped
        ("so\n#### 1,000", True, False),  # the captures are compared as strings
        ("so\n#### 1000\ndone", True, False),  # `$` anchors at the end: the marker must be on the last line
        ("so\n#### 1000\n", True, True),  # ... or before a final newline
        ("so\n#### 999", False, False),
    ],
)
def test_gsm8k_paper_metric_is_the_reference_string_match(prediction, correct, paper_correct):
    verdict = NumericScorer().score(record("steps\n#### 1000", prediction))
    assert (verdict["correct"], verdict["paper_correct"]) == (correct, paper_correct)


def test_gsm8k_paper_metric_counts_two_missing_captures_as_a_hit():
    """The reference compares `gt_answer == gen_answer`, both None when neither text matches."""
    verdict = NumericScorer().score(record("#### 18", "eighteen"))
    assert verdict["paper_correct"] and not verdict["correct"]


@pytest.mark.parametrize(
    ("reference", "prediction", "match", "paper_match"),
    [
        ("Nine", "Nine", True, True),
        ("Ninety", "Nine", False, True),  # a substring of the reference
        ("Nine", "nine", True, False),  # case-sensitive, unnormalised
        ("Guy Henry; actor", "Tom; Guy Henry", True, True),  # any "; " piece
        ("Guy Henry", "Tom;Guy Henry", True, False),  # split on "; " only
        ("Nine", "", False, True),  # the empty piece is a substring of everything
    ],
)
def test_nq_open_paper_metric_is_the_reference_substring_rule(reference, prediction, match, paper_match):
    verdict = AnswerSetScorer().score(record(reference, prediction))
    assert (verdict["match"], verdict["paper_match"]) == (match, paper_match)


def test_nq_open_normalisation_and_alternatives():
    scorer = AnswerSetScorer()
    assert normalize_answer("  The  Beatles! ") == "beatles"
    assert scorer.score(record("Guy Henry; actor Guy Henry's", "guy henry"))["match"]
    assert scorer.score(record("759; 527", "about 600; 527"))["match"]
    assert scorer.score(record("Nine", "An eight"))["match"] is False
    assert scorer.score(record("Nine", "  ;  "))["unparsable"]


def test_hellaswag_letter_or_best_choice():
    scorer = ChoiceScorer()
    assert scorer.score(record("B", "B"))["accuracy"]
    assert scorer.score(record("B", "(b) the second"))["accuracy"]
    assert scorer.score(record("B", "", choices={"A": -3.0, "B": -0.5, "C": -4.0, "D": -9.0}))["accuracy"]
    assert scorer.score(record("B", "A"))["reason"] == "chose A, expected B"
    assert scorer.score(record("B", "..."))["unparsable"]


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
