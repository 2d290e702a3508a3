"""Two processes on CPU (torchrun, gloo) train exactly as one process with the same global batch.

STP's draws are keyed by example, so the triplets do not depend on which rank an example lands
on, and the logged NTP and STP losses are averaged over every rank: the trajectories match.
"""

import json
import shutil
import subprocess
import sys

import pytest

TRAIN = [
    "--max_steps", "6", "--logging_steps", "2", "--use_cpu", "true", "--report_to", "none", "--save_strategy", "no",
    "--learning_rate", "0.005", "--seed", "82", "--stp_lambda", "0.5",
]  # fmt: skip


def logged(folder):
    history = json.loads((folder / "trainer_state.json").read_text())["log_history"]
    return [entry[key] for entry in history if "ntp_loss" in entry for key in ("loss", "ntp_loss", "stp_loss")]


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not on PATH")
def test_two_processes_match_one_with_the_same_global_batch(tiny_dir, train_file, tmp_path):
    common = ["--model_name_or_path", str(tiny_dir), "--train_file", str(train_file), *TRAIN]
    single = [sys.executable, "-m", "semantic_tube", "train", *common, "--output_dir", str(tmp_path / "one"),
              "--per_device_train_batch_size", "4"]  # fmt: skip
    double = ["torchrun", "--standalone", "--nproc_per_node", "2", "-m", "semantic_tube", "train", *common,
              "--output_dir", str(tmp_path / "two"), "--per_device_train_batch_size", "2", "--ddp_backend", "gloo"]  # fmt: skip
    results = [subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path) for command in (single, double)]
    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
    assert results[1].stdout.count("stp train: done") == 1  # one summary, from rank 0
    one_log, two_log = logged(tmp_path / "one"), logged(tmp_path / "two")
    assert len(one_log) == 3 * 3  # three logging steps of loss, ntp_loss, stp_loss
    assert two_log == pytest.approx(one_log, rel=1e-5)
    assert (tmp_path / "two" / "metrics.json").is_file() and (tmp_path / "two" / "model.safetensors").is_file()


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not on PATH")
@pytest.mark.parametrize("ranks", ["all", "main"])
def test_task_evaluation_under_two_processes_writes_what_one_process_writes(tiny_dir, train_file, tmp_path, ranks):
    # learning_rate 0: both runs score the very same weights, so greedy predictions must agree exactly.
    common = ["--model_name_or_path", str(tiny_dir), "--train_file", str(train_file), *TRAIN, "--learning_rate", "0", "--max_steps", "2",
              "--eval_task", "synth", "--eval_task_file", str(train_file), "--eval_task_limit", "7", "--eval_task_steps", "1",
              "--eval_task_batch_size", "2"]  # fmt: skip
    single = [sys.executable, "-m", "semantic_tube", "train", *common, "--output_dir", str(tmp_path / "one"), "--per_device_train_batch_size", "4"]
    double = ["torchrun", "--standalone", "--nproc_per_node", "2", "-m", "semantic_tube", "train", *common, "--eval_task_ranks", ranks,
              "--output_dir", str(tmp_path / "two"), "--per_device_train_batch_size", "2", "--ddp_backend", "gloo"]  # fmt: skip
    results = [subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path) for command in (single, double)]
    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
    for folder in ("eval/synth", "eval/synth/step-1", "eval/synth/step-2"):
        one, two = (tmp_path / run / folder / "predictions.jsonl" for run in ("one", "two"))
        assert two.read_text() == one.read_text() and len(one.read_text().splitlines()) == 7, folder
    meta = json.loads((tmp_path / "two" / "eval" / "synth" / "eval.json").read_text())["meta"]
    assert meta.get("processes", 1) == (2 if ranks == "all" else 1)
    one_metrics, two_metrics = (json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("one", "two"))
    assert {k: v for k, v in two_metrics.items() if k.startswith("task_")} == {k: v for k, v in one_metrics.items() if k.startswith("task_")}


@pytest.mark.skipif(shutil.which("accelerate") is None, reason="accelerate's launcher not on PATH")
def test_accelerate_launch_runs_two_processes_that_match_one(tiny_dir, train_file, tmp_path):
    # On a machine without GPUs, accelerate's --cpu launches one process (more need MPI); its
    # --multi_gpu launcher starts two processes, which --use_cpu and gloo keep on the CPU.
    common = ["--model_name_or_path", str(tiny_dir), "--train_file", str(train_file), *TRAIN]
    single = [sys.executable, "-m", "semantic_tube", "train", *common, "--output_dir", str(tmp_path / "one"),
              "--per_device_train_batch_size", "4"]  # fmt: skip
    double = ["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "-m", "semantic_tube", "train", *common,
              "--output_dir", str(tmp_path / "two"), "--per_device_train_batch_size", "2", "--ddp_backend", "gloo"]  # fmt: skip
    results = [subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path) for command in (single, double)]
    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
    assert results[1].stdout.count("stp train: done") == 1
    assert logged(tmp_path / "two") == pytest.approx(logged(tmp_path / "one"), rel=1e-5)
