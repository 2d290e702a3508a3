"""NL-RX scoring through the regex engine, aggregation, the suffix split and Wilson intervals."""

from __future__ import annotations

import json

import pytest

from semantic_tube.data.messages import DataError
from semantic_tube.evaluation.diversity import suffix_class, suffix_metrics
from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.report import read_predictions
from semantic_tube.evaluation.scoring import score_records
from semantic_tube.evaluation.stats import wilson_interval
from semantic_tube.evaluation.tasks import get_task


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


def test_empty_reference_subset_is_reported_apart():
    empty = "a&b"  # one character that is both a and b: no string matches
    report = score_records("synth", [nlrx(empty, "b&c"), nlrx(empty, "(x"), nlrx("a", "a")])
    assert report.metrics["empty_reference/count"] == 2
    assert report.metrics["empty_reference/equivalent"] == 0.5
    assert report.predictions[1]["verdicts"]["reference_empty"]  # known even when the prediction does not parse


def test_suffix_split_uses_the_longest_suffix():
    assert suffix_class("a.*.*", (".*", ".*.*")) == ".*.*"
    assert suffix_class("a.*", (".*", ".*.*")) == ".*"
    assert suffix_class("a+", (".*", ".*.*")) == "other"
    records = [
        {"reference": "a.*", "prediction": "a.*.*", "verdicts": {"equivalent": True}},
        {"reference": "b.*.*", "prediction": "b.*.*", "verdicts": {"equivalent": True}},
        {"reference": "c.*.*", "prediction": "d", "verdicts": {"equivalent": False}},
    ]
    metrics = suffix_metrics(records, ("equivalent",))
    assert metrics["suffix[.*]/count"] == 1 and metrics["suffix[.*.*]/count"] == 2
    assert metrics["suffix[.*.*]/equivalent"] == 0.5
    assert metrics["suffix[.*.*]/predicted"] == 2 and metrics["suffix[other]/predicted"] == 1


def test_wilson_interval():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)
    assert wilson_interval(0, 20)[0] == 0.0 and 0 < wilson_interval(0, 20)[1] < 0.2
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_report_table_and_files(tmp_path):
    report = score_records("gsm8k", [{"reference": "#### 1", "prediction": "#### 1.0"}, {"reference": "#### 2", "prediction": "x"}])
    assert report.metrics["correct"] == 0.5 and report.metrics["unparsable"] == 1
    assert "correct" in report.table() and "1/2" in report.table()
    report.write(tmp_path)
    written = json.loads((tmp_path / "eval.json").read_text())
    assert written["metrics"]["count"] == 2
    assert read_predictions(tmp_path / "predictions.jsonl")[1]["verdicts"]["reason"].startswith("no number")


def test_a_subset_without_examples_is_not_applicable(tmp_path):
    """No empty-language reference here: the subset has count 0 and no rate or interval, not 0.000 [0, 1]."""
    report = score_records("synth", [nlrx("a", "a"), nlrx("b", "c")])
    assert report.metrics["empty_reference/count"] == 0 and report.metrics["empty_reference/exact_hits"] == 0
    assert report.metrics["empty_reference/exact"] is None and report.metrics["empty_reference/exact_ci95_low"] is None
    row = next(line for line in report.table().splitlines() if line.startswith("empty_reference/exact "))
    assert row.split() == ["empty_reference/exact", "n/a"]
    report.write(tmp_path)
    written = json.loads((tmp_path / "eval.json").read_text())["metrics"]
    assert written["empty_reference/equivalent"] is None and written["empty_reference/equivalent_ci95_high"] is None
    assert written["exact"] == 0.5


def test_unknown_task_and_bad_predictions_are_named(tmp_path):
    with pytest.raises(EvalError, match="unknown task 'mmlu'.*synth"):
        get_task("mmlu")
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"reference": "a"}\n')
    with pytest.raises(DataError, match="p.jsonl:1: prediction"):
        read_predictions(bad)
