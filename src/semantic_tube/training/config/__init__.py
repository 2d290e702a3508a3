"""Configuration of a training run: the dataclasses HfArgumentParser reads from a YAML preset
plus command-line overrides (`stp train --config configs/x.yaml --stp_lambda 0.04`).

`STPTrainingArguments` extends `transformers.TrainingArguments`, so every Trainer option
(schedules, accumulation, checkpoints, `report_to`, bf16, ...) works from the config.

One module per concern, each named after the part of training it configures; every name is
imported from here (`from semantic_tube.training.config import STPTrainingArguments`):

- `model`: `ModelArguments` (the model, its dtype, LoRA);
- `data`: `DataArguments` (the training data, labels, subsets);
- `task_eval`: `TaskEvalArguments` (scoring a task during and after training);
- `method`: `STPArguments` (the method's fields and checks) and `OPTION_METHODS`, the methods
  each option applies to;
- `trainer`: `STPTrainingArguments` (the Trainer's arguments plus the method's);
- `numbers`: `ConfigError` and the range of every numeric field;
- `legacy`: older configs' stp_skip_gap and stp_gap_origin, read onto stp_gap.
"""

from __future__ import annotations

from semantic_tube.training.config.data import DataArguments, InvalidLines
from semantic_tube.training.config.legacy import REPLACED_FIELDS, upgrade_replaced_fields
from semantic_tube.training.config.method import (
    OPTION_METHODS,
    STPArguments,
    check_method_options,
    option_default,
    option_value,
    parse_forms,
)
from semantic_tube.training.config.model import Finetuning, ModelArguments, ModelDtype
from semantic_tube.training.config.numbers import (
    DATA_RANGES,
    METHOD_RANGES,
    MODEL_RANGES,
    TASK_RANGES,
    TRAINER_RANGES,
    ConfigError,
    Range,
    check_numbers,
)
from semantic_tube.training.config.task_eval import EvalRanks, TaskEvalArguments
from semantic_tube.training.config.trainer import NTPLogits, STPTrainingArguments, default_bf16

__all__ = [
    "DATA_RANGES",
    "METHOD_RANGES",
    "MODEL_RANGES",
    "OPTION_METHODS",
    "REPLACED_FIELDS",
    "TASK_RANGES",
    "TRAINER_RANGES",
    "ConfigError",
    "DataArguments",
    "EvalRanks",
    "Finetuning",
    "InvalidLines",
    "ModelArguments",
    "ModelDtype",
    "NTPLogits",
    "Range",
    "STPArguments",
    "STPTrainingArguments",
    "TaskEvalArguments",
    "check_method_options",
    "check_numbers",
    "default_bf16",
    "option_default",
    "option_value",
    "parse_forms",
    "upgrade_replaced_fields",
]
