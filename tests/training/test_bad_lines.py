"""A data line that is not UTF-8 is `file:line: encoding: ...` like every other bad line, in the
training file and in the held-out file alike, and `--invalid_lines skip` leaves it out (issue
21.3; the sweep's side is in tests/experiments/test_sweep.py)."""

import json

import pytest

from semantic_tube.cli import main
from tests.training.conftest import write_regex_data

LATIN_1 = b'{"messages": [{"role": "user", "content": "caf\xe9"}]}\n'  # 0xe9 starts no UTF-8 sequence here


@pytest.fixture
def files(tmp_path, tiny_dir):
    train_file = write_regex_data(tmp_path / "train.jsonl", 12, seed=1)
    eval_file = write_regex_data(tmp_path / "eval.jsonl", 4, seed=2)
    base = ["train", "--model_name_or_path", str(tiny_dir), "--train_file", str(train_file), "--eval_file", str(eval_file),
            "--max_steps", "2", "--per_device_train_batch_size", "4", "--report_to", "none", "--use_cpu", "true",
            "--save_strategy", "no", "--max_length", "96", "--cost_batches", "0", "--treatment_batches", "0"]  # fmt: skip
    return train_file, eval_file, base


@pytest.mark.parametrize("which", ["train", "eval"])
def test_a_non_utf8_line_is_named_by_file_and_line(files, tmp_path, capsys, which):
    train_file, eval_file, base = files
    bad = train_file if which == "train" else eval_file
    bad.write_bytes(bad.read_bytes() + LATIN_1)
    line = 13 if which == "train" else 5
    assert main([*base, "--output_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"stp train: error: {bad}:{line}: encoding: not UTF-8 (byte 0xe9 at byte " in err and "Traceback" not in err
    assert json.loads((tmp_path / "out" / "failed.json").read_text())["type"] == "DataError"


def test_skip_leaves_non_utf8_lines_out_of_both_files(files, tmp_path):
    train_file, eval_file, base = files
    for path in (train_file, eval_file):
        path.write_bytes(path.read_bytes() + LATIN_1)
    assert main([*base, "--output_dir", str(tmp_path / "out"), "--invalid_lines", "skip"]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["train_skipped_lines"] == 1 and metrics["train_examples"] == 12 and "eval_loss" in metrics
