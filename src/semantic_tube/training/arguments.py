"""Reading a run's configuration: a YAML preset plus command-line overrides.

`stp train --help` lists the options a user of this project came for first (STP, model, data,
task evaluation), each with its default as one would type it, and the Trainer's own options
after them in their group.
"""

from __future__ import annotations

import argparse
import dataclasses
from enum import Enum
from pathlib import Path

import yaml
from transformers import HfArgumentParser
from transformers.hf_argparser import string_to_bool

from semantic_tube.training.config import (
    REPLACED_FIELDS,
    ConfigError,
    DataArguments,
    ModelArguments,
    STPArguments,
    STPTrainingArguments,
    TaskEvalArguments,
    upgrade_replaced_fields,
)

CONFIG_CLASSES = (ModelArguments, DataArguments, STPTrainingArguments, TaskEvalArguments)
STP_GROUP = "method: STP (Semantic Tube Prediction) and the baselines of Appendix L"
METHOD_FIELDS = frozenset(item.name for item in dataclasses.fields(STPArguments))
COMMON_GROUP = "run (the Trainer options most runs set)"
COMMON_TRAINER_FIELDS = (
    "output_dir", "seed", "num_train_epochs", "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps",
    "learning_rate", "logging_steps", "save_steps", "resume_from_checkpoint", "report_to", "bf16",
)  # fmt: skip
DESCRIPTION = """Fine-tune a causal LM with next-token prediction + stp_lambda * STP (or a baseline: --method).

  stp train --config configs/smollm2_nlrx.yaml
  stp train --model_name_or_path M --train_file F --output_dir O --stp_lambda 0.02 --seed 82
  stp train --config configs/smollm2_nlrx.yaml --method llm-jepa --stp_lambda 0.5 --jepa_predictor_tokens 1

Any field below can be set in the --config YAML (flat keys) and overridden by a flag.
Multi-word options take dashes or underscores (--output-dir = --output_dir)."""


def make_parser() -> HfArgumentParser:
    parser = HfArgumentParser(
        CONFIG_CLASSES,
        prog="stp train",
        usage="stp train [--config YAML] [--FIELD VALUE ...]",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", default=None, help="YAML preset (flat keys, any field below); flags override it")
    # Older configs' fields, still read (onto stp_gap, `upgrade_replaced_fields`) and left out of --help.
    parser.add_argument("--stp_skip_gap", "--stp-skip-gap", type=string_to_bool, nargs="?", const=True, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--stp_gap_origin", "--stp-gap-origin", default=None, help=argparse.SUPPRESS)
    _layout_help(parser)
    return parser


def _layout_help(parser: HfArgumentParser) -> None:
    """The method's fields first in a group of their own, the Trainer's options last (its most used ones
    in a group before them); defaults shown as typed."""
    groups = {group.title: group for group in parser._action_groups}
    trainer_group = groups[STPTrainingArguments._argument_group_name]
    groups[STP_GROUP] = parser.add_argument_group(STP_GROUP)
    groups[COMMON_GROUP] = parser.add_argument_group(COMMON_GROUP)
    for action in list(trainer_group._group_actions):
        is_method = action.dest.startswith("stp_") or action.dest in METHOD_FIELDS
        target = STP_GROUP if is_method else COMMON_GROUP if action.dest in COMMON_TRAINER_FIELDS else None
        if target:
            trainer_group._group_actions.remove(action)
            groups[target]._group_actions.append(action)
    for action in parser._actions:
        if isinstance(action.default, Enum):
            action.default = action.default.value  # `tube`, not `STPForm.TUBE`; argparse converts it back
        if action.dest == "resume_from_checkpoint":
            action.help = "a checkpoint folder to resume from, or `last` for the newest one in output_dir"
        if action.option_strings and action.option_strings[0] == f"--no_{action.dest}":
            action.help = f"same as --{action.dest} false"
            continue
        shown = action.default not in (None, argparse.SUPPRESS) and action.option_strings
        if shown and action.help and "%(default)" not in action.help:
            action.help += " (default: %(default)s)"
    order = [
        STP_GROUP,
        ModelArguments._argument_group_name,
        DataArguments._argument_group_name,
        TaskEvalArguments._argument_group_name,
        COMMON_GROUP,
        trainer_group.title,
    ]
    first = [group for group in parser._action_groups if group.title not in order]
    parser._action_groups[:] = first + [groups[title] for title in order]


def read_yaml_config(path: str | Path, parser: HfArgumentParser) -> dict:
    """The preset's values, every key checked against the known fields; an older config's fields
    read onto their replacement (`upgrade_replaced_fields`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of field: value")
    known = {action.dest for action in parser._actions}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {', '.join(unknown)}")
    return upgrade_replaced_fields(values, f"{path}: ")


def parse_train_args(argv: list[str]) -> tuple[ModelArguments, DataArguments, STPTrainingArguments, TaskEvalArguments]:
    """`[--config preset.yaml] [--field value ...]` -> the four config dataclasses."""
    parser = make_parser()
    known, _ = parser.parse_known_args(argv)
    if known.config:
        parser.set_defaults(**read_yaml_config(known.config, parser))
    values = {key: value for key, value in vars(parser.parse_args(argv)).items() if key != "config"}
    return parser.parse_dict(command_line_replacements(values, argv))


def command_line_replacements(values: dict, argv: list[str]) -> dict:
    """The parsed values with an older field given on the command line (--stp_skip_gap,
    --stp_gap_origin) read onto stp_gap. Beside --stp_gap it must agree with it; otherwise it
    overrides the preset's stp_gap, as a flag overrides a preset (--stp_skip_gap true alone, which
    says "bypass" but not where to restart, keeps the preset's origin)."""
    given = {name: values.pop(name) for name in REPLACED_FIELDS}
    given = {name: value for name, value in given.items() if value is not None}
    if not given:
        return values
    if not any(token.split("=")[0] in ("--stp_gap", "--stp-gap") for token in argv):
        preset = values.pop("stp_gap", None)
        if given == {"stp_skip_gap": True} and preset not in (None, "none"):
            given["stp_gap_origin"] = preset
    return upgrade_replaced_fields({**values, **given}, "command line: ")
