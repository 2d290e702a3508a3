"""`stp score` (cli/score.py) through its `main(argv)`: rescored.json beside the predictions (an
eval.json there never replaced), spider on the fixture databases, and every bad input a clear
error without a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from semantic_tube.cli import score
from tests.evaluation.spider_fixture import build_databases


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_score_writes_rescored_json_next_to_predictions_and_never_replaces_eval_json(tmp_path, capsys):
    predictions = write_jsonl(tmp_path / "predictions.jsonl", [
        {"reference": "x\n#### 1,000", "prediction": "#### $1000"},
        {"reference": "#### 3", "prediction": "three"},
    ])  # fmt: skip
    (tmp_path / "eval.json").write_text('{"from": "stp eval"}\n')
    assert score.main(["--task", "gsm8k", "--predictions", str(predictions)]) == 0
    assert "correct" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "rescored.json").read_text())["metrics"]
    assert metrics["correct"] == 0.5 and metrics["unparsable"] == 1 and metrics["count"] == 2
    assert (tmp_path / "eval.json").read_text() == '{"from": "stp eval"}\n'
    assert score.main(["--task", "gsm8k", "--predictions", str(predictions)]) == 2
    assert "--overwrite_output" in capsys.readouterr().err
    assert score.main(["--task", "gsm8k", "--predictions", str(predictions), "--overwrite-output"]) == 0


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
    summary = json.loads(output.read_text())
    assert summary["metrics"]["execution"] == 0.5 and summary["metrics"]["unparsable"] == 1
    assert summary["metrics"]["paper_execution"] == 0.5 and "paper_execution" in summary["meta"]["scoring"]
    assert "paper_execution: " in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--task", "mmlu"], "invalid choice: 'mmlu'"),
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


def test_score_never_imports_torch(tmp_path):
    """Its options are dataclass fields parsed as stp train's are, from a module without torch."""
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"reference": "#### 3", "prediction": "#### 3"}])
    script = (
        "import sys; from semantic_tube.cli import main; "
        f"code = main(['score', '--task', 'gsm8k', '--predictions', {str(predictions)!r}]); print(code, 'torch' in sys.modules)"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert completed.stdout.splitlines()[-1] == "0 False", completed.stderr


def test_score_line_without_prediction_names_the_line(tmp_path, capsys):
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"reference": "a", "prediction": "a"}, {"reference": "b"}])
    assert score.main(["--task", "nq_open", "--predictions", str(predictions)]) == 2
    assert "p.jsonl:2: prediction" in capsys.readouterr().err



def test_the_task_and_the_predictions_are_required(capsys):
    assert score.main(["--predictions", "p.jsonl"]) == 2
    assert "the following arguments are required: --eval_task" in capsys.readouterr().err
    assert score.main(["--task", "gsm8k"]) == 2
    assert "--predictions" in capsys.readouterr().err


def test_an_output_elsewhere_is_written_there_and_replaced_only_when_asked(tmp_path, capsys):
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"reference": "#### 3", "prediction": "#### 3"}])
    output = tmp_path / "summary.json"
    output.write_text("{}")
    assert score.main(["--task", "gsm8k", "--predictions", str(predictions), "--output", str(output)]) == 2
    assert f"{output} already exists; pass --overwrite_output" in capsys.readouterr().err and output.read_text() == "{}"
    assert score.main(["--task", "gsm8k", "--predictions", str(predictions), "--output", str(output), "--overwrite_output"]) == 0
    summary = json.loads(output.read_text())
    assert summary["metrics"]["correct"] == 1.0 and summary["meta"]["predictions"] == str(predictions)
    assert not (tmp_path / "rescored.json").exists()
