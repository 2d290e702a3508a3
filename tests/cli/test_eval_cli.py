"""`stp score` and `stp eval` through their `main(argv)`, on fixtures and a tiny saved model."""

from __future__ import annotations

import json

import pytest

from semantic_tube.cli import score
from tests.evaluation.spider_fixture import build_databases


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_score_gsm8k_writes_eval_json_next_to_predictions(tmp_path, capsys):
    predictions = write_jsonl(tmp_path / "predictions.jsonl", [
        {"reference": "x\n#### 1,000", "prediction": "#### $1000"},
        {"reference": "#### 3", "prediction": "three"},
    ])  # fmt: skip
    assert score.main(["--task", "gsm8k", "--predictions", str(predictions)]) == 0
    assert "correct" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "eval.json").read_text())["metrics"]
    assert metrics["correct"] == 0.5 and metrics["unparsable"] == 1 and metrics["count"] == 2


def test_score_spider_with_db_dir_and_output(tmp_path, capsys):
    db_dir = build_databases(tmp_path / "db")
    prompt = "For db_id:[concert_mini]\n\nHow many singers?"
    predictions = write_jsonl(tmp_path / "p.jsonl", [
        {"prompt": prompt, "reference": "SELECT count(*) FROM singer", "prediction": "SELECT count(singer_id) FROM singer"},
        {"prompt": prompt, "reference": "SELECT count(*) FROM singer", "prediction": "SELECT count(* FROM"},
    ])  # fmt: skip
    output = tmp_path / "out" / "summary.json"
    argv = ["--task", "spider", "--predictions", str(predictions), "--db_dir", str(db_dir), "--output", str(output)]
    assert score.main(argv) == 0
    metrics = json.loads(output.read_text())["metrics"]
    assert metrics["execution"] == 0.5 and metrics["unparsable"] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--task", "mmlu"], "unknown task 'mmlu'"),
        (["--task", "spider", "--db_dir", "{tmp}/nowhere"], "database folder not found"),
        (["--task", "gsm8k", "--predictions", "{tmp}/missing.jsonl"], "predictions file not found"),
    ],
)
def test_score_bad_input_is_a_clear_error(tmp_path, capsys, argv, message):
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "For db_id:[x]", "reference": "a", "prediction": "b"}])
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    if "--predictions" not in argv:
        argv += ["--predictions", str(predictions)]
    assert score.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_score_line_without_prediction_names_the_line(tmp_path, capsys):
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"reference": "a", "prediction": "a"}, {"reference": "b"}])
    assert score.main(["--task", "nq_open", "--predictions", str(predictions)]) == 2
    assert "p.jsonl:2: prediction" in capsys.readouterr().err
