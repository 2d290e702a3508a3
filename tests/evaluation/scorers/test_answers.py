"""NQ-open: SQuAD-normalised answer sets, and the paper's substring rule with its quirks."""

from __future__ import annotations

import pytest

from semantic_tube.evaluation.scorers.answers import AnswerSetScorer, answer_set, normalize_answer
from semantic_tube.evaluation.scorers.answers import paper_match as substring_rule

PROMPT = "question"


def record(reference, prediction, **extra):
    return {"prompt": PROMPT, "reference": reference, "prediction": prediction, **extra}



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


def test_answer_sets_keep_punctuation_only_alternatives():
    """"/" normalises to nothing (punctuation removed), so it is kept as written; the empty
    alternative after the last ';' is dropped."""
    assert answer_set("/; The Beatles ;  ") == {"/", "beatles"}
    assert AnswerSetScorer().score(record("/", " / "))["match"]


def test_a_miss_names_the_normalised_prediction():
    assert AnswerSetScorer().score(record("Nine", "An eight; the Ten"))["reason"] == "none of ['eight', 'ten'] is a reference answer"


def test_the_substring_rule_on_its_own():
    assert substring_rule("Ten; Nine", "Ninety-nine")
    assert not substring_rule("Ten;Nine", "Ninety-nine")
