"""`stp train` end to end on a tiny model saved as a local folder."""

import json
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file

from semantic_tube.cli import main
from semantic_tube.training.model import load_model
from tests.tiny_models import save_tiny
from tests.training.conftest import write_regex_data


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    model_dir = save_tiny(root / "tiny", "llama3", seed=1)
    train_file = write_regex_data(root / "train.jsonl", 40, seed=1)
    eval_file = write_regex_data(root / "eval.jsonl", 8, seed=2)
    config = root / "preset.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model_name_or_path": str(model_dir),
                "train_file": str(train_file),
                "eval_file": str(eval_file),
                "max_steps": 20,
                "per_device_train_batch_size": 4,
                "learning_rate": 0.005,
                "logging_steps": 5,
                "stp_lambda": 0.02,
                "report_to": "none",
                "save_strategy": "no",
                "use_cpu": True,
            }
        )
    )
    return root, model_dir, config


def test_train_writes_a_complete_output_folder(setup):
    root, model_dir, config = setup
    out = root / "run"
    assert main(["train", "--config", str(config), "--output_dir", str(out), "--seed", "82"]) == 0
    for name in ("stp_config.yaml", "trainer_state.json", "metrics.json", "model.safetensors", "tokenizer.json"):
        assert (out / name).is_file(), name
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    train_logs = [entry for entry in history if "ntp_loss" in entry]
    assert len(train_logs) == 4 and all("stp_loss" in entry for entry in train_logs)
    assert train_logs[-1]["ntp_loss"] < train_logs[0]["ntp_loss"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["seed"] == 82 and "eval_loss" in metrics and "eval_stp_loss" in metrics
    # the two files come from one small grammar, so some queries repeat across them: reported, not hidden
    assert metrics["leakage/eval_file/queries"] > 0
    resolved = yaml.safe_load((out / "stp_config.yaml").read_text())
    assert resolved["stp_lambda"] == 0.02 and resolved["seed"] == 82 and resolved["stp_form"] == "tube"
    before, after = load_file(model_dir / "model.safetensors"), load_file(out / "model.safetensors")
    unchanged = [name for name in before if torch.equal(before[name], after[name])]
    assert unchanged == []


def test_lora_trains_only_the_adapter_and_reloads(setup):
    root, model_dir, config = setup
    out = root / "lora"
    code = main(["train", "--config", str(config), "--output_dir", str(out), "--finetuning", "lora", "--max_steps", "4", "--eval_file", ""])
    assert code == 0
    assert (out / "adapter_model.safetensors").is_file() and not (out / "model.safetensors").exists()
    adapter = load_file(out / "adapter_model.safetensors")
    assert adapter and all("lora_" in name for name in adapter)
    assert any(name.endswith("lora_B.weight") and tensor.abs().sum() > 0 for name, tensor in adapter.items())
    model = load_model(str(out), dtype="float32")
    assert type(model).__name__ == "PeftModelForCausalLM"


def test_bad_data_line_is_reported_with_file_and_line(setup, tmp_path, capsys):
    root, _, config = setup
    bad = tmp_path / "bad.jsonl"
    bad.write_text((root / "train.jsonl").read_text() + '{"messages": [{"role": "user", "content": "q"}]}\n')
    code = main(["train", "--config", str(config), "--train_file", str(bad), "--output_dir", str(tmp_path / "o")])
    assert code == 2
    assert f"{bad}:41: messages.assistant: missing 'assistant' turn" in capsys.readouterr().err


def test_unknown_config_key_and_negative_lambda_are_errors(setup, tmp_path, capsys):
    _, _, config = setup
    preset = tmp_path / "p.yaml"
    preset.write_text(config.read_text() + "stp_lamda: 0.1\n")
    assert main(["train", "--config", str(preset)]) == 2
    assert "unknown field(s) stp_lamda" in capsys.readouterr().err
    assert main(["train", "--config", str(config), "--stp_lambda", "-1"]) == 2
    assert "stp_lambda must be >= 0" in capsys.readouterr().err


def test_python_dash_m_is_the_same_command():
    result = subprocess.run([sys.executable, "-m", "semantic_tube", "--help"], capture_output=True, text=True, check=True)
    assert "train" in result.stdout and "regex" in result.stdout


def test_generated_data_and_task_evaluation_during_and_after_training(setup):
    """No train_file: NL-RX data is generated into the run; the synth task is scored every 2
    steps and at the end through the same code as `stp eval`."""
    root, model_dir, _ = setup
    out = root / "generated"
    code = main([
        "train", "--model_name_or_path", str(model_dir), "--output_dir", str(out), "--nlrx_examples", "60",
        "--max_steps", "4", "--per_device_train_batch_size", "2", "--report_to", "none", "--save_strategy", "no",
        "--use_cpu", "true", "--eval_task", "synth", "--eval_task_limit", "3", "--eval_task_steps", "2",
    ])  # fmt: skip
    assert code == 0
    assert (out / "data" / "train.jsonl").is_file() and (out / "data" / "test.jsonl").is_file()
    for folder in (out / "eval" / "synth", out / "eval" / "synth" / "step-2", out / "eval" / "synth" / "step-4"):
        assert (folder / "eval.json").is_file() and len((folder / "predictions.jsonl").read_text().splitlines()) == 3
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task_synth/count"] == 3 and 0.0 <= metrics["task_synth/equivalent"] <= 1.0
    assert metrics["leakage/eval_task_file/queries"] == 0 and metrics["leakage/eval_task_file/answers"] == 0
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    assert [entry["step"] for entry in history if "task_synth/equivalent" in entry] == [2, 4]


def test_unknown_task_fails_before_training(setup, tmp_path, capsys):
    _, _, config = setup
    assert main(["train", "--config", str(config), "--output_dir", str(tmp_path / "o"), "--eval_task", "nope"]) == 2
    assert "nope" in capsys.readouterr().err and not (tmp_path / "o" / "trainer_state.json").exists()
