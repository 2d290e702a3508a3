"""The launcher configs in configs/distributed and the 8-GPU preset load as their tools read them."""

import importlib.util
from pathlib import Path

import pytest
import yaml
from accelerate.commands.config.config_args import ClusterConfig

from semantic_tube.training.arguments import parse_train_args

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
EXPECTED = {"ddp.yaml": "MULTI_GPU", "fsdp.yaml": "FSDP", "deepspeed_zero2.yaml": "DEEPSPEED", "deepspeed_zero3.yaml": "DEEPSPEED"}


@pytest.mark.parametrize(("name", "kind"), sorted(EXPECTED.items()))
def test_accelerate_configs_load(name, kind):
    config = ClusterConfig.from_yaml_file(CONFIGS / "distributed" / name)
    assert config.distributed_type.value == kind and config.mixed_precision == "bf16" and config.num_processes == 8
    if kind == "DEEPSPEED":
        assert config.deepspeed_config["zero_stage"] == int(name[-6])
    if kind == "FSDP":
        assert config.fsdp_config["fsdp_activation_checkpointing"] is True


def test_the_8_gpu_preset_parses_with_the_papers_batch():
    _, data, training, task = parse_train_args(["--config", str(CONFIGS / "paper_synth.yaml")])
    assert training.per_device_train_batch_size * training.gradient_accumulation_steps * 8 == 128
    assert training.gradient_checkpointing and training.learning_rate == 2e-5
    assert data.label_mode.value == "reference" and task.eval_task == "synth"


@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None, reason="deepspeed not installed")
@pytest.mark.parametrize("stage", [2, 3])
def test_the_trainer_accepts_the_deepspeed_settings(tmp_path, stage):
    from semantic_tube.training.config import STPTrainingArguments

    settings = yaml.safe_load((CONFIGS / "distributed" / f"deepspeed_zero{stage}.yaml").read_text())["deepspeed_config"]
    plugin = {"zero_optimization": {"stage": settings["zero_stage"]}, "bf16": {"enabled": "auto"},
              "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto"}  # fmt: skip
    assert STPTrainingArguments(output_dir=str(tmp_path), deepspeed=plugin).deepspeed
