"""NL-RX: exact match and equivalence through the regex engine, the witness of a miss, and which
side failed to parse."""

from __future__ import annotations

import pytest

from semantic_tube.evaluation.scorers import ScoreOptions
from semantic_tube.evaluation.scorers.regex import RegexScorer
from semantic_tube.evaluation.scoring import score_records


def nlrx(reference, prediction):
    return {"prompt": "lines with ...", "reference": reference, "prediction": prediction}


def test_regex_equivalent_but_written_differently():
    report = score_records("synth", [nlrx(".*.*dog.*", ".*dog.*"), nlrx("(a)|(b)", "[ab]"), nlrx("a.*", "a.*")])
    assert report.metrics["exact"] == pytest.approx(1 / 3)
    assert report.metrics["equivalent"] == 1.0
    assert report.metrics["unparsable"] == 0


def test_regex_miss_has_a_witness_and_broken_regex_is_unparsable():
    report = score_records("synth", [nlrx("a.*", "a+"), nlrx("a.*", "(a")])
    different, broken = (record["verdicts"] for record in report.predictions)
    assert not different["equivalent"] and "differs on" in different["reason"]
    assert broken["unparsable"] and not broken["equivalent"] and broken["reason"] == "prediction does not parse"
    assert report.metrics["unparsable"] == 1


def regex_record(reference, prediction):
    return {"prompt": "lines with ...", "reference": reference, "prediction": prediction}


def test_exact_match_ignores_surrounding_whitespace():
    verdict = RegexScorer(ScoreOptions()).score(regex_record("a.*", "  a.*\n"))
    assert verdict["exact"] and verdict["equivalent"] and "reason" not in verdict


def test_which_side_did_not_parse():
    """Only a prediction that does not parse is the model's `unparsable`; a broken reference is a miss named as such."""
    scorer = RegexScorer(ScoreOptions())
    broken_reference = scorer.score(regex_record("(", "a"))
    assert not broken_reference["unparsable"] and not broken_reference["equivalent"]
    assert broken_reference["reason"] == "reference does not parse" and broken_reference["reference_empty"] is False
    both = scorer.score(regex_record("a)", "("))
    assert both["unparsable"] and both["reason"] == "prediction and reference does not parse"


def test_a_timeout_is_a_miss_with_its_budget():
    slow = ("(.*a.*b.*c.*d.*){9,}.*x", "(.*a.*b.*c.*d.*){9,}")  # about 0.5 s to decide
    verdict = RegexScorer(ScoreOptions(regex_timeout_s=0.01)).score(regex_record(*slow))
    assert verdict["timeout"] and not verdict["equivalent"] and not verdict["unparsable"]
    assert verdict["reason"] == "equivalence undecided within 0.01 s"


def test_the_boundary_mode_reaches_the_engine():
    pair = regex_record("dog", "\\bdog\\b")
    assert not RegexScorer(ScoreOptions()).score(pair)["equivalent"]  # literal: \b is the letter b
    assert RegexScorer(ScoreOptions(), boundary="strip").score(pair)["equivalent"]
