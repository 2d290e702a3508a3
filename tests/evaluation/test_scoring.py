"""Scoring records without a model: verdicts aggregated per task, and the subsets reported apart."""

from __future__ import annotations

from semantic_tube.evaluation.scoring import score_records


def nlrx(reference, prediction):
    return {"prompt": "lines with ...", "reference": reference, "prediction": prediction}


def test_empty_reference_subset_is_reported_apart():
    empty = "a&b"  # one character that is both a and b: no string matches
    report = score_records("synth", [nlrx(empty, "b&c"), nlrx(empty, "(x"), nlrx("a", "a")])
    assert report.metrics["empty_reference/count"] == 2
    assert report.metrics["empty_reference/equivalent"] == 0.5
    assert report.predictions[1]["verdicts"]["reference_empty"]  # known even when the prediction does not parse
