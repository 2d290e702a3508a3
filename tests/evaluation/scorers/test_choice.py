"""HellaSwag: the chosen letter against the reference's, or the best recorded log-likelihood."""

from __future__ import annotations

import pytest

from semantic_tube.evaluation.scorers.choice import ChoiceScorer, choice_letter

PROMPT = "question"


def record(reference, prediction, **extra):
    return {"prompt": PROMPT, "reference": reference, "prediction": prediction, **extra}



def test_hellaswag_letter_or_best_choice():
    scorer = ChoiceScorer()
    assert scorer.score(record("B", "B"))["accuracy"]
    assert scorer.score(record("B", "(b) the second"))["accuracy"]
    assert scorer.score(record("B", "", choices={"A": -3.0, "B": -0.5, "C": -4.0, "D": -9.0}))["accuracy"]
    assert scorer.score(record("B", "A"))["reason"] == "chose A, expected B"
    assert scorer.score(record("B", "..."))["unparsable"]


@pytest.mark.parametrize(
    ("text", "letter"),
    [("B", "B"), ("  (c) the third", "C"), ("b)", "B"), ("D. end", "D"), ("Bob", None), ("1", None), ("", None), (None, None)],
)
def test_choice_letter(text, letter):
    assert choice_letter(text) == letter


def test_a_named_letter_beats_the_recorded_likelihoods():
    scorer = ChoiceScorer()
    verdict = scorer.score(record("B", "A", choices={"A": -3.0, "B": -0.5}))
    assert verdict == {"accuracy": False, "unparsable": False, "reason": "chose A, expected B"}
    assert scorer.score(record("B", "", choices={}))["unparsable"]  # no letter and nothing recorded
