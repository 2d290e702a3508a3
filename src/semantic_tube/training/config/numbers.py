"""`ConfigError`, and the numeric checks every config dataclass runs in its `__post_init__`.

Numbers: finite and in range where they are parsed. A YAML `.nan` passes a `< 0` check (every
comparison with NaN is false) and a negative max_length passes the parser, to fail only when the
data is read; every numeric field is checked here instead, with the field named. Each class's
table of ranges is here, beside the others, so one place says what every number may be.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass


class ConfigError(ValueError):
    """A configuration value this project rejects, naming the field."""


@dataclass(frozen=True)
class Range:
    """The values a numeric field takes: [low, high] (either end open, or absent), an integer or
    any number, None allowed or not."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    optional: bool = False

    def bounds(self) -> str:
        """`>= 0`, `in (0, 1]` ...; empty for an unbounded field."""
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return ""

    def check(self, name: str, value):
        """The value (an integral float of an integer field as an int), or a ConfigError naming the field."""
        if value is None and self.optional:
            return value
        kind = "an integer" if self.integer else "a finite number"
        expected = f"{kind} {self.bounds()}".rstrip()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be {expected}, got {value!r}")
        if not math.isfinite(value) or (self.integer and not float(value).is_integer()):
            raise ConfigError(f"{name} must be {expected}, got {value}")
        low_fails = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        high_fails = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if low_fails or high_fails:
            raise ConfigError(f"{name} must be {self.bounds()}, got {value:g}")
        return int(value) if self.integer else value


MODEL_RANGES = {
    "lora_r": Range(1, integer=True),
    "lora_alpha": Range(0, low_open=True),
    "lora_dropout": Range(0, 1, high_open=True),
}
DATA_RANGES = {
    "max_length": Range(1, integer=True),
    "train_fraction": Range(0, 1, low_open=True),
    "max_train_examples": Range(1, integer=True, optional=True),
    "train_subset_seed": Range(integer=True),
    "nlrx_examples": Range(2, integer=True),
    "nlrx_seed": Range(integer=True),
}
TASK_RANGES = {
    "eval_task_limit": Range(1, integer=True, optional=True),
    "eval_task_steps": Range(0, integer=True),
    "eval_task_batch_size": Range(1, integer=True),
}
METHOD_RANGES = {
    "stp_lambda": Range(0),
    "stp_lambda_warmup_ratio": Range(0, 1),
    "stp_draws": Range(1, integer=True),
    "stp_layer": Range(integer=True),
    "jepa_predictor_tokens": Range(0, integer=True),
    "jepa_last_token": Range(integer=True, optional=True),
    "treatment_batches": Range(0, integer=True),
    "cost_batches": Range(0, integer=True),
}
TRAINER_RANGES = {  # the Trainer's most used numbers, which it mostly does not check
    "learning_rate": Range(0),
    "num_train_epochs": Range(0, low_open=True),
    "max_steps": Range(integer=True),
    "per_device_train_batch_size": Range(1, integer=True),
    "per_device_eval_batch_size": Range(1, integer=True),
    "gradient_accumulation_steps": Range(1, integer=True),
    "warmup_steps": Range(0),
    "weight_decay": Range(0),
    "max_grad_norm": Range(0),
    "adam_beta1": Range(0, 1, high_open=True),
    "adam_beta2": Range(0, 1, high_open=True),
    "adam_epsilon": Range(0),
    "logging_steps": Range(0),
    "save_steps": Range(0),
    "seed": Range(integer=True),
}


def check_numbers(config, ranges: dict[str, Range]) -> None:
    """Every numeric field of a config dataclass: those in `ranges` (the class's own table) in
    their range, any other float finite. A ConfigError names the field and the value."""
    for item in dataclasses.fields(config):
        value = getattr(config, item.name, None)
        rule = ranges.get(item.name)
        if rule is not None:
            setattr(config, item.name, rule.check(item.name, value))
        elif isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{item.name} must be a finite number, got {value}")
