"""Reading a run's configuration (training/arguments.py): a YAML preset plus command-line
overrides, the older gap flags read onto stp_gap, and `stp train --help`'s layout."""

import logging

import pytest
import yaml

from semantic_tube.training.arguments import COMMON_GROUP, STP_GROUP, make_parser, parse_train_args, read_yaml_config
from semantic_tube.training.config import ConfigError
from tests.training.config.test_legacy import parse_preset


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



def test_a_flag_overrides_the_preset_and_the_presets_other_fields_stay(tmp_path):
    preset = tmp_path / "preset.yaml"
    preset.write_text(yaml.safe_dump({"stp_lambda": 0.1, "seed": 7, "max_length": 64}))
    model_args, data_args, training_args, _ = parse_train_args(["--config", str(preset), "--stp-lambda", "0.3", "--use_cpu", "true"])
    assert (training_args.stp_lambda, training_args.seed, data_args.max_length) == (0.3, 7, 64)


def test_a_preset_must_exist_be_a_mapping_and_name_known_fields_only(tmp_path):
    parser = make_parser()
    with pytest.raises(FileNotFoundError, match="config file not found: .*nowhere.yaml"):
        read_yaml_config(tmp_path / "nowhere.yaml", parser)
    listed = tmp_path / "list.yaml"
    listed.write_text("- stp_lambda\n")
    with pytest.raises(ConfigError, match="list.yaml: expected a mapping of field: value"):
        read_yaml_config(listed, parser)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("zeta: 1\nstp_lambda: 0.1\nalpha_field: 2\n")
    with pytest.raises(ConfigError, match="unknown.yaml: unknown field\\(s\\) alpha_field, zeta$"):
        read_yaml_config(unknown, parser)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert read_yaml_config(empty, parser) == {}


def test_help_puts_the_method_first_and_the_trainers_options_last_with_defaults_as_typed():
    parser = make_parser()
    titles = [group.title for group in parser._action_groups]
    assert titles[-6:] == [STP_GROUP, "model", "data", "task evaluation", COMMON_GROUP,
                           "transformers.TrainingArguments (the Trainer's own options)"]  # fmt: skip
    groups = {group.title: {action.dest for action in group._group_actions} for group in parser._action_groups}
    assert {"method", "stp_lambda", "predictor", "cost_batches"} <= groups[STP_GROUP]
    assert {"learning_rate", "output_dir", "max_steps"} <= groups[COMMON_GROUP]
    assert parser.get_default("stp_form") == "tube" and parser.get_default("method") == "stp"  # not STPForm.TUBE
    assert "--stp_skip_gap" not in parser.format_help() and "--stp-gap-origin" not in parser.format_help()  # read, never offered
