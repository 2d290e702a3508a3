"""Older configs still load: stp_skip_gap and stp_gap_origin read as the one stp_gap that replaced
them (the committed results' stp_config.yaml among them), and `dtype: auto` means float32 in
every command."""

import logging
from pathlib import Path

import pytest
import torch
import yaml

from semantic_tube.training.arguments import parse_train_args
from semantic_tube.training.config import ConfigError, ModelArguments, ModelDtype
from semantic_tube.training.run import resolved_config, write_resolved_config

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = sorted(ROOT.glob("results/*/runs/*/stp_config.yaml"))


def parse_preset(tmp_path, values, *argv):
    preset = tmp_path / "preset.yaml"
    preset.write_text(yaml.safe_dump(values))
    return parse_train_args(["--config", str(preset), "--output_dir", str(tmp_path / "out"), "--use_cpu", "true", *argv])


def expected_gap(values: dict):
    """What the older fields meant: false = straight across, an origin = that origin, else the form's own."""
    if values.get("stp_skip_gap") is False:
        return "none"
    return values.get("stp_gap_origin")


@pytest.mark.skipif(not COMMITTED, reason="no committed results in this checkout")
def test_the_committed_results_configs_load_with_their_gap_read_as_stp_gap(caplog):
    """Configs written before stp_gap existed read their older fields with a message; those written
    since hold stp_gap alone and load without one."""
    older = 0
    with caplog.at_level(logging.WARNING, logger="semantic_tube.training.config"):
        for path in COMMITTED:
            values = yaml.safe_load(path.read_text())
            training = parse_train_args(["--config", str(path), "--use_cpu", "true"])[2]
            if {"stp_skip_gap", "stp_gap_origin"} & set(values):
                older += 1
                assert "stp_gap" not in values, path
                assert (training.stp_gap.value if training.stp_gap else None) == expected_gap(values), path
            else:
                assert (training.stp_gap.value if training.stp_gap else None) == values.get("stp_gap"), path
    assert sum("replaced by stp_gap" in message for message in caplog.messages) == older


@pytest.mark.parametrize(
    ("values", "gap", "origin"),
    [
        ({"stp_skip_gap": False}, "none", None),
        ({"stp_skip_gap": True}, None, "answer_start"),
        ({"stp_skip_gap": True, "stp_gap_origin": None}, None, "answer_start"),
        ({"stp_skip_gap": True, "stp_form": "span"}, None, "before_answer"),
        ({"stp_gap_origin": "before_answer"}, "before_answer", "before_answer"),
        ({"stp_skip_gap": True, "stp_gap_origin": "answer_start"}, "answer_start", "answer_start"),
        ({"stp_skip_gap": False, "stp_gap": "none"}, "none", None),  # old and new agree
    ],
)
def test_older_gap_fields_in_a_preset_read_as_stp_gap_with_a_message(tmp_path, caplog, values, gap, origin):
    with caplog.at_level(logging.WARNING, logger="semantic_tube.training.config"):
        training = parse_preset(tmp_path, values)[2]
    assert (training.stp_gap.value if training.stp_gap else None) == gap
    assert (training.gap_origin.value if training.gap_origin else None) == origin
    (message,) = caplog.messages
    assert "replaced by stp_gap" in message and "preset.yaml" in message


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"stp_skip_gap": False, "stp_gap": "answer_start"}, ("stp_skip_gap=false", "stp_gap=answer_start")),
        ({"stp_skip_gap": True, "stp_gap": "none"}, ("stp_skip_gap=true", "stp_gap=none")),
        ({"stp_gap_origin": "before_answer", "stp_gap": "answer_start"}, ("stp_gap_origin=before_answer", "stp_gap=answer_start")),
        ({"stp_skip_gap": False, "stp_gap_origin": "before_answer"}, ("stp_skip_gap=false", "stp_gap_origin=before_answer", "stp_gap")),
        ({"stp_gap_origin": "start"}, ("stp_gap_origin", "'start'", "stp_gap")),
    ],
)
def test_older_gap_fields_that_contradict_are_a_config_error_naming_both(tmp_path, values, named):
    with pytest.raises(ConfigError) as raised:
        parse_preset(tmp_path, values)
    assert all(text in str(raised.value) for text in named), raised.value


def test_older_gap_flags_on_the_command_line(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="semantic_tube.training.config"):
        assert parse_preset(tmp_path, {}, "--stp_skip_gap", "false")[2].stp_gap.value == "none"
        assert parse_preset(tmp_path, {}, "--stp-gap-origin", "before_answer")[2].stp_gap.value == "before_answer"
        # A flag overrides the preset, whichever name either uses.
        assert parse_preset(tmp_path, {"stp_gap": "before_answer"}, "--stp_skip_gap", "false")[2].stp_gap.value == "none"
        assert parse_preset(tmp_path, {"stp_skip_gap": False}, "--stp_gap", "answer_start")[2].stp_gap.value == "answer_start"
        assert parse_preset(tmp_path, {"stp_gap": "none"}, "--stp_skip_gap", "true")[2].stp_gap is None
        assert parse_preset(tmp_path, {"stp_gap": "before_answer"}, "--stp_skip_gap", "true")[2].stp_gap.value == "before_answer"
        assert parse_preset(tmp_path, {"stp_gap": "none"}, "--stp_gap_origin", "before_answer")[2].stp_gap.value == "before_answer"
    assert all("command line" in message or "preset.yaml" in message for message in caplog.messages)
    with pytest.raises(ConfigError, match=r"stp_skip_gap=false and stp_gap=before_answer disagree"):
        parse_preset(tmp_path, {}, "--stp_skip_gap", "false", "--stp_gap", "before_answer")


def test_a_resolved_config_holds_stp_gap_alone_and_round_trips(tmp_path):
    configs = parse_preset(tmp_path, {"stp_skip_gap": False})
    write_resolved_config(tmp_path, *configs)
    written = yaml.safe_load((tmp_path / "stp_config.yaml").read_text())
    assert written["stp_gap"] == "none" and not {"stp_skip_gap", "stp_gap_origin"} & set(written)
    assert written["dtype"] == "auto"
    again = parse_train_args(["--config", str(tmp_path / "stp_config.yaml")])
    assert resolved_config(*again) == resolved_config(*configs)


def test_a_sweep_point_with_an_older_field_passes_the_sweeps_check(tmp_path):
    """`stp sweep` checks each point with `stp train`'s parser in a child process, fields included."""
    from semantic_tube.experiments.validate import check_configs

    validation = check_configs({"p": {"stp_skip_gap": False, "output_dir": str(tmp_path)}}, on_this_hardware=False)
    assert validation.errors == {} and {"stp_gap", "stp_skip_gap", "stp_gap_origin"} <= validation.fields


def test_dtype_auto_is_float32_on_every_device_in_every_command(monkeypatch):
    from semantic_tube.cli.evaluate import build_parser
    from semantic_tube.training.model import resolve_dtype

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    assert resolve_dtype("auto") is torch.float32 and resolve_dtype(ModelDtype.BFLOAT16) is torch.bfloat16
    assert build_parser().parse_args_into_dataclasses(["--task", "synth"])[0].dtype is ModelDtype.AUTO
    assert parse_train_args(["--output_dir", "o", "--use_cpu", "true"])[0].dtype is ModelDtype.AUTO
    with pytest.raises(ConfigError, match="dtype: expected one of"):
        ModelArguments(dtype="bf16")


def test_stp_train_takes_the_task_evaluation_options_of_stp_eval(tmp_path):
    """The time limits, the budget and the suffix split reach the in-training evaluator as stp eval passes them."""
    from semantic_tube.training.task_eval import TaskEvaluator

    data = tmp_path / "test.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a.*"}]}\n')
    argv = ["--output_dir", str(tmp_path), "--eval_task", "synth", "--eval_task_file", str(data), "--eval_sql_timeout", "1",
            "--eval_regex_timeout", "0.5", "--eval_task_max_new_tokens", "7", "--eval_suffixes", "a.*"]  # fmt: skip
    task_args = parse_train_args(argv)[3]
    evaluator = TaskEvaluator(task_args, str(data), tmp_path)
    assert (evaluator.options.sql_timeout_s, evaluator.options.regex_timeout_s, evaluator.max_new_tokens) == (1.0, 0.5, 7)
    assert evaluator.suffixes == (".*", ".*.*", "a.*")
    with pytest.raises(ValueError, match="eval_regex_timeout must be > 0"):
        parse_train_args(argv + ["--eval_regex_timeout", "0"])
