"""Aggregating verdicts into rates, hits and intervals; the table; the files an evaluation writes
and reading a predictions file back."""

from __future__ import annotations

import json

import pytest

from semantic_tube.data.messages import DataError
from semantic_tube.evaluation.report import EvalReport, counts, proportions, read_predictions, write_predictions
from semantic_tube.evaluation.scoring import score_records
from semantic_tube.evaluation.stats import wilson_interval


def nlrx(reference, prediction):
    return {"prompt": "lines with ...", "reference": reference, "prediction": prediction}


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


def test_bad_predictions_are_named(tmp_path):
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"reference": "a"}\n')
    with pytest.raises(DataError, match="p.jsonl:1: prediction"):
        read_predictions(bad)


def test_proportions_rates_hits_and_intervals():
    """a holds in 2 of 3 verdicts, b in 1 (a missing key is a miss)."""
    verdicts = [{"a": True, "b": False}, {"a": True}, {"a": False, "b": True}]
    metrics = proportions(("a", "b"), verdicts, prefix="sub/")
    assert metrics["sub/count"] == 3
    assert metrics["sub/a"] == pytest.approx(2 / 3) and metrics["sub/a_hits"] == 2
    assert (metrics["sub/a_ci95_low"], metrics["sub/a_ci95_high"]) == wilson_interval(2, 3)
    assert metrics["sub/b"] == pytest.approx(1 / 3) and metrics["sub/b_hits"] == 1
    assert set(metrics) == {"sub/count"} | {f"sub/{n}{s}" for n in "ab" for s in ("", "_hits", "_ci95_low", "_ci95_high")}


def test_proportions_of_no_verdicts_have_no_rate():
    assert proportions(("a",), []) == {"count": 0, "a": None, "a_hits": 0, "a_ci95_low": None, "a_ci95_high": None}


def test_counts_count_truthy_verdicts():
    assert counts(("unparsable", "timeout"), [{"unparsable": True}, {"unparsable": 1, "timeout": False}, {}], prefix="x/") == {
        "x/unparsable": 2,
        "x/timeout": 0,
    }


def test_table_rows_for_rates_counts_and_subsets():
    metrics = {
        "count": 4,
        "exact": 0.5,
        "exact_hits": 2,
        "exact_ci95_low": 0.15,
        "exact_ci95_high": 0.85,
        "unparsable": 3,
        "sub/count": 2,
        "sub/exact": 0.5,
        "sub/exact_hits": 1,
        "sub/exact_ci95_low": 0.1,
        "sub/exact_ci95_high": 0.9,
        "straightness/stp": 0.123456,
    }
    lines = EvalReport(task="synth", metrics=metrics, predictions=[], meta={"scoring": {"exact": "by hand"}}).table().splitlines()
    assert lines[0] == "task synth: 4 examples"
    rows = [line.split() for line in lines[2:]]
    assert rows == [
        ["exact", "0.500", "[0.150,", "0.850]", "2/4"],
        ["unparsable", "3"],
        ["sub/count", "2"],
        ["sub/exact", "0.500", "[0.100,", "0.900]", "1/2"],  # out of the subset's count
        ["straightness/stp", "0.1235"],
        ["exact:", "by", "hand"],
    ]


def test_predictions_round_trip_and_get_a_source(tmp_path):
    path = tmp_path / "predictions.jsonl"
    records = [{"reference": "a", "prediction": "b", "source": "mem:0"}, {"reference": "é", "prediction": "c"}]
    write_predictions(path, records)
    assert "é" in path.read_text(encoding="utf-8")
    assert read_predictions(path) == [records[0], {**records[1], "source": f"{path}:2"}]


def test_summary_holds_task_metrics_analyses_and_meta(tmp_path):
    report = EvalReport(task="gsm8k", metrics={"count": 1}, predictions=[{"reference": "1", "prediction": "1"}], meta={"batch_size": 2})
    written = report.write(tmp_path / "eval")
    assert written == tmp_path / "eval" / "eval.json"
    assert json.loads(written.read_text()) == {"task": "gsm8k", "metrics": {"count": 1}, "analyses": {}, "meta": {"batch_size": 2}}
    assert not (tmp_path / "eval" / "svd.json").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "p.jsonl:0: file: no predictions"),
        ("\n  \n", "p.jsonl:0: file: no predictions"),
        ('{"reference": "a", "prediction": "b"}\n{nope\n', "p.jsonl:2: json: invalid JSON"),
        ('["a", "b"]\n', "p.jsonl:1: json: expected an object"),
        ('{"reference": "a", "prediction": 3}\n', "p.jsonl:1: prediction: missing or not a string"),
        ('{"prediction": "a"}\n', "p.jsonl:1: reference: missing or not a string"),
    ],
)
def test_unreadable_predictions_name_line_and_field(tmp_path, text, message):
    path = tmp_path / "p.jsonl"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_predictions(path)


def test_a_missing_predictions_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="predictions file not found: .*absent.jsonl"):
        read_predictions(tmp_path / "absent.jsonl")
