"""`stp eval` (cli/evaluate.py) through its `main(argv)` and parser, on fixtures and a tiny saved
model; its output folder, launcher shard and device chosen by hand. (`stp score` is in
tests/cli/test_score.py.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.evaluation.spider_fixture import build_databases


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def nlrx_rows(n):
    return [
        {"messages": [{"role": "user", "content": f"lines with a vowel {i}"}, {"role": "assistant", "content": ".*[AEIOUaeiou].*" if i % 2 else "dog.*.*"}]}
        for i in range(n)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    from tests.tiny_models import save_tiny

    return save_tiny(tmp_path_factory.mktemp("tiny") / "model", "chatml", seed=2)


def written_folder(out: str) -> Path:
    return Path(out.strip().splitlines()[-1].removeprefix("wrote "))


def test_eval_synth_writes_predictions_eval_json_and_svd(tiny_folder, tmp_path, capsys):
    from semantic_tube.cli import evaluate

    data = write_jsonl(tmp_path / "test.jsonl", nlrx_rows(4))
    argv = ["--model", str(tiny_folder), "--task", "synth", "--data", str(data), "--limit", "3", "--batch_size", "2"]
    argv += ["--max_new_tokens", "8"]
    assert evaluate.main(argv + ["--dtype", "float32", "--analysis", "svd", "straightness", "--suffixes", "*"]) == 0
    out = capsys.readouterr().out
    assert "equivalent" in out and "suffix[.*.*]/count" in out
    folder = written_folder(out)
    assert folder.parent == tiny_folder and folder.name.startswith("eval-synth-")
    records = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]
    assert len(records) == 3 and {"prompt", "reference", "prediction", "verdicts"} <= records[0].keys()
    summary = json.loads((folder / "eval.json").read_text())
    assert summary["metrics"]["count"] == 3 and "equivalent_ci95_high" in summary["metrics"]
    assert summary["meta"]["limit"] == 3 and "suffix[*]/count" in summary["metrics"]
    assert (folder / "svd.png").is_file() and "straightness/curvature_deg" in summary["metrics"]
    assert summary["meta"]["device"] == ("cuda:0" if torch.cuda.is_available() else "cpu")  # the accelerator when there is one


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))])
def test_eval_runs_the_model_on_the_device_asked_for(tiny_folder, tmp_path, capsys, device):
    from semantic_tube.cli import evaluate

    data = write_jsonl(tmp_path / "test.jsonl", nlrx_rows(2))
    argv = ["--model", str(tiny_folder), "--task", "synth", "--data", str(data), "--max_new_tokens", "4", "--device", device]
    assert evaluate.main(argv + ["--output_dir", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out" / "eval.json").read_text())["meta"]["device"].startswith(device)


def test_eval_spider_on_the_fixture_database(tiny_folder, tmp_path, capsys):
    from semantic_tube.cli import evaluate
    from tests.evaluation.spider_fixture import EXAMPLES

    db_dir = build_databases(tmp_path / "db")
    argv = ["--model", str(tiny_folder), "--task", "spider", "--data", str(EXAMPLES), "--db_dir", str(db_dir)]
    assert evaluate.main(argv + ["--output_dir", str(tmp_path / "out"), "--max_new_tokens", "4", "--limit", "2"]) == 0
    metrics = json.loads((tmp_path / "out" / "eval.json").read_text())["metrics"]
    assert metrics["count"] == 2 and metrics["unparsable"] == 2  # random tokens are not SQL


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no_data", "needs --eval_task_file (or --data)"),
        ("unknown_task", "invalid choice: 'mmlu'"),
        ("no_answer", "broken.jsonl:2: messages.assistant"),
        ("no_weights", "holds no weights"),
        ("missing_database", "nowhere.sqlite"),
    ],
)
def test_eval_bad_input_is_a_clear_error(tmp_path, capsys, case, message):
    from semantic_tube.cli import evaluate

    data = write_jsonl(tmp_path / "test.jsonl", nlrx_rows(2))
    empty_model = tmp_path / "empty_model"
    empty_model.mkdir()
    argv = {
        "no_data": ["--task", "synth"],
        "unknown_task": ["--task", "mmlu", "--data", str(data)],
        "no_answer": ["--task", "synth", "--data", str(write_jsonl(tmp_path / "broken.jsonl", [nlrx_rows(1)[0], {"messages": [{"role": "user", "content": "q"}]}]))],
        "no_weights": ["--task", "synth", "--data", str(data), "--model", str(empty_model)],
        "missing_database": ["--task", "spider", "--db_dir", str(tmp_path), "--data", str(write_jsonl(tmp_path / "s.jsonl", [
            {"messages": [{"role": "user", "content": "For db_id:[nowhere]\n\nq"}, {"role": "assistant", "content": "SELECT 1"}]}
        ]))],
    }[case]  # fmt: skip
    assert evaluate.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


# --- stp eval: options and output folders ----------------------------------------------------


def test_eval_options_take_dashes_underscores_and_the_older_spellings(tmp_path):
    """The fields' names (stp train's), their dashed twins and the older `stp eval` spellings set the same fields."""
    from semantic_tube.cli.evaluate import build_parser

    parser = build_parser()
    fields = parser.parse_args_into_dataclasses([
        "--model_name_or_path", "m", "--eval_task", "spider", "--eval_task_file", "d.jsonl", "--output_dir", "o",
        "--eval_task_max_new_tokens", "9", "--eval_db_dir", "db", "--eval_sql_timeout", "1", "--eval_task_batch_size", "3",
        "--eval_task_limit", "4", "--eval_regex_timeout", "0.5", "--eval_suffixes", "*", "--overwrite_output_dir",
    ])  # fmt: skip
    older = parser.parse_args_into_dataclasses([
        "--model", "m", "--task", "spider", "--data", "d.jsonl", "--output-dir", "o", "--max_new_tokens", "9",
        "--db_dir", "db", "--sql_timeout", "1", "--batch_size", "3", "--limit", "4", "--regex-timeout", "0.5",
        "--suffixes", "*", "--overwrite-output-dir",
    ])  # fmt: skip
    assert fields == older
    run, task = fields
    assert (task.eval_task_file, task.eval_task_limit, task.score_options().sql_timeout_s, task.score_options().regex_timeout_s) == (
        "d.jsonl", 4, 1.0, 0.5,
    )  # fmt: skip
    assert parser.parse_args_into_dataclasses(["--task", "synth", "--eval-file", "d.jsonl"])[1].eval_task_file == "d.jsonl"
    assert run.dtype.value == "auto"


def test_eval_never_overwrites_a_training_runs_scores(tiny_folder, tmp_path, capsys):
    """`stp train` writes <run>/eval/<task>/; `stp eval` on that run writes fresh timestamped folders beside it."""
    from semantic_tube.cli import evaluate

    trained = tiny_folder / "eval" / "synth"
    trained.mkdir(parents=True, exist_ok=True)
    (trained / "eval.json").write_text('{"from": "training"}\n')
    data = write_jsonl(tmp_path / "test.jsonl", nlrx_rows(2))
    argv = ["--model_name_or_path", str(tiny_folder), "--task", "synth", "--data", str(data), "--max-new-tokens", "2"]
    assert evaluate.main(argv) == 0
    first = written_folder(capsys.readouterr().out)
    assert evaluate.main(argv) == 0
    second = written_folder(capsys.readouterr().out)
    assert first != second and (first / "eval.json").is_file() and (second / "eval.json").is_file()
    assert first.parent == second.parent == tiny_folder
    assert (trained / "eval.json").read_text() == '{"from": "training"}\n'


def test_eval_refuses_an_existing_eval_json_unless_told(tiny_folder, tmp_path, capsys):
    from semantic_tube.cli import evaluate

    out = tmp_path / "out"
    out.mkdir()
    (out / "eval.json").write_text("{}\n")
    data = write_jsonl(tmp_path / "test.jsonl", nlrx_rows(2))
    argv = ["--model", str(tiny_folder), "--task", "synth", "--data", str(data), "--output-dir", str(out), "--max_new_tokens", "2"]
    assert evaluate.main(argv) == 2
    assert "already exists; pass --overwrite_output_dir" in capsys.readouterr().err
    assert (out / "eval.json").read_text() == "{}\n"
    assert evaluate.main(argv + ["--overwrite_output_dir"]) == 0
    assert json.loads((out / "eval.json").read_text())["metrics"]["count"] == 2


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not on PATH")
def test_two_processes_write_the_predictions_of_one(tiny_folder, tmp_path):
    """Under torchrun each process predicts its share; rank 0 writes the gathered, ordered
    predictions once: the same file as one process, and one printed table."""
    data = write_jsonl(tmp_path / "test.jsonl", nlrx_rows(5))
    common = ["--model", str(tiny_folder), "--task", "synth", "--data", str(data), "--max_new_tokens", "6", "--batch_size", "1",
              "--device", "cpu"]  # fmt: skip
    one = subprocess.run([sys.executable, "-m", "semantic_tube", "eval", *common, "--output_dir", str(tmp_path / "one")],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    two = subprocess.run(["torchrun", "--standalone", "--nproc_per_node", "2", "-m", "semantic_tube", "eval", *common,
                          "--output_dir", str(tmp_path / "two")], capture_output=True, text=True, timeout=600)  # fmt: skip
    assert one.returncode == 0 and two.returncode == 0, two.stderr[-3000:]
    assert (tmp_path / "two" / "predictions.jsonl").read_text() == (tmp_path / "one" / "predictions.jsonl").read_text()
    metrics = [json.loads((tmp_path / name / "eval.json").read_text())["metrics"] for name in ("one", "two")]
    assert metrics[0] == metrics[1] and metrics[0]["count"] == 5
    assert two.stdout.count("task synth: 5 examples") == 1
    assert json.loads((tmp_path / "two" / "eval.json").read_text())["meta"]["processes"] == 2  # it was split


# --- stp eval: the folder, the shard and the device it picks --------------------------------------


def test_the_default_output_folder_is_fresh_beside_a_model_folder_else_here(tmp_path, monkeypatch):
    from semantic_tube.cli import evaluate

    monkeypatch.setattr(evaluate.time, "strftime", lambda pattern: "20250101-120000")
    assert evaluate.default_output_dir(str(tmp_path), "synth") == tmp_path / "eval-synth-20250101-120000"
    (tmp_path / "eval-synth-20250101-120000").mkdir()
    (tmp_path / "eval-synth-20250101-120000-1").mkdir()
    assert evaluate.default_output_dir(str(tmp_path), "synth") == tmp_path / "eval-synth-20250101-120000-2"  # never an existing one
    assert evaluate.default_output_dir("HuggingFaceTB/SmolLM2-135M-Instruct", "gsm8k") == Path("eval-gsm8k-20250101-120000")
    assert evaluate.default_output_dir(None, "spider") == Path("eval-spider-20250101-120000")


def test_the_shard_and_device_come_from_the_launchers_variables(monkeypatch):
    from semantic_tube.cli import evaluate

    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(evaluate, "default_device", lambda: "cuda")
    assert evaluate.launcher_shard() == (0, 1) and evaluate.process_device(None) == "cuda"
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert evaluate.launcher_shard() == (3, 4) and evaluate.process_device(None) == "cuda:1"
    assert evaluate.process_device("cpu") == "cpu"  # --device wins
    monkeypatch.setattr(evaluate, "default_device", lambda: "cpu")
    assert evaluate.process_device(None) == "cpu"


def test_an_existing_eval_json_is_refused_before_any_model_loads(tmp_path):
    from semantic_tube.cli import evaluate
    from semantic_tube.evaluation.errors import EvalError

    evaluate.check_output_dir(tmp_path, overwrite=False)  # no eval.json yet
    (tmp_path / "eval.json").write_text("{}")
    with pytest.raises(EvalError, match="eval.json already exists; pass --overwrite_output_dir"):
        evaluate.check_output_dir(tmp_path, overwrite=False)
    evaluate.check_output_dir(tmp_path, overwrite=True)
