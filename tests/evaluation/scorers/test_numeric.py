"""GSM8K: the number after the last `####` compared as a number, and the paper's string match."""

from __future__ import annotations

from decimal import Decimal

import pytest

from semantic_tube.evaluation.scorers.numeric import NumericScorer, final_number, paper_answer

PROMPT = "question"


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
    ("text", "number"),
    [
        ("#### .5", Decimal("0.5")),
        ("#### 1 #### 2", Decimal(2)),  # the last marker
        ("#### about - 7 apples", Decimal(-7)),
        ("#### 12.50 then 3", Decimal("12.5")),  # the first number after it
        ("the answer is 18", None),
        ("#### eighteen", None),
    ],
)
def test_final_number(text, number):
    assert final_number(text) == number


@pytest.mark.parametrize(
    ("text", "capture"),
    [("steps\n#### 18", "18"), ("#### 18", None), ("steps\n#### 18\nmore", None), ("a\n#### 1\n#### 2", "2"), ("a\n####18", None)],
)
def test_paper_answer_is_the_reference_codes_capture(text, capture):
    assert paper_answer(text) == capture


def test_a_reference_without_a_number_is_a_miss_not_unparsable():
    verdict = NumericScorer().score(record("no marker", "#### 3"))
    assert verdict == {"correct": False, "unparsable": False, "reason": "reference has no number after ####", "paper_correct": True}
