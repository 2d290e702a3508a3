"""Each scorer on hand-made cases, traps included."""

from __future__ import annotations

import time

import pytest

from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.scorers import ScoreOptions
from semantic_tube.evaluation.scorers.answers import AnswerSetScorer, normalize_answer
from semantic_tube.evaluation.scorers.choice import ChoiceScorer
from semantic_tube.evaluation.scorers.numeric import NumericScorer, final_number
from semantic_tube.evaluation.scorers.sql import ExecutionScorer, is_ordered

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
    assert scorer.score(record("#### 18", "#### 19")) == {"correct": False, "unparsable": False, "reason": "predicted 19, expected 18"}
    assert scorer.score(record("#### 18", "the answer is 18"))["unparsable"]
    assert scorer.score(record("#### -3", "#### 3"))["correct"] is False
    assert final_number("#### -$3") == final_number("#### $-3") == -3


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
