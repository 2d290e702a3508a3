"""Reading a run's configuration: a YAML preset plus command-line overrides."""

from __future__ import annotations

from pathlib import Path

import yaml
from transformers import HfArgumentParser

from semantic_tube.training.config import ConfigError, DataArguments, ModelArguments, STPTrainingArguments, TaskEvalArguments

CONFIG_CLASSES = (ModelArguments, DataArguments, STPTrainingArguments, TaskEvalArguments)


def make_parser() -> HfArgumentParser:
    parser = HfArgumentParser(CONFIG_CLASSES)
    parser.prog = "stp train"
    parser.add_argument("--config", default=None, help="YAML preset (flat keys, any field below); flags override it")
    return parser


def read_yaml_config(path: str | Path, parser: HfArgumentParser) -> dict:
    """The preset's values, every key checked against the known fields."""
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
    return values


def parse_train_args(argv: list[str]) -> tuple[ModelArguments, DataArguments, STPTrainingArguments, TaskEvalArguments]:
    """`[--config preset.yaml] [--field value ...]` -> the four config dataclasses."""
    parser = make_parser()
    known, _ = parser.parse_known_args(argv)
    if known.config:
        parser.set_defaults(**read_yaml_config(known.config, parser))
    *configs, _config_path = parser.parse_args_into_dataclasses(args=argv)
    return tuple(configs)
