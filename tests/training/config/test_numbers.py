"""Every numeric field is checked where it is parsed (issue 21.7): a YAML `.nan` passes a `< 0`
check (every comparison with NaN is false) and a negative max_length passes the parser, to fail
only when the data is read; both are ConfigErrors naming the field, in `stp train` and in the
sweep's configuration check before anything trains."""

import pytest

from semantic_tube.experiments.validate import check_configs
from semantic_tube.training.arguments import parse_train_args
from semantic_tube.training.config import ConfigError, Range, check_numbers


def parse(tmp_path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(text + "\nuse_cpu: true\n")
    return parse_train_args(["--config", str(path)])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stp_lambda: .nan", "stp_lambda must be a finite number >= 0, got nan"),
        ("stp_lambda: .inf", "stp_lambda must be a finite number >= 0, got inf"),
        ("stp_lambda: -1", "stp_lambda must be >= 0, got -1"),
        ("max_length: -5", "max_length must be >= 1, got -5"),
        ("max_length: 1.5", "max_length must be an integer >= 1, got 1.5"),
        ("train_fraction: .nan", "train_fraction must be"),
        ("stp_lambda_warmup_ratio: .nan", "stp_lambda_warmup_ratio must be a finite number in [0, 1], got nan"),
        ("learning_rate: .nan", "learning_rate must be a finite number >= 0, got nan"),
        ("num_train_epochs: 0", "num_train_epochs must be > 0, got 0"),
        ("per_device_train_batch_size: 0", "per_device_train_batch_size must be >= 1, got 0"),
        ("lora_dropout: 1", "lora_dropout must be in [0, 1), got 1"),
        ("eval_task_limit: 0", "eval_task_limit must be >= 1, got 0"),
        ("nlrx_examples: 1", "nlrx_examples must be >= 2, got 1"),
        ("cost_batches: .nan", "cost_batches must be an integer >= 0, got nan"),
        ("label_smoothing_factor: .nan", "label_smoothing_factor must be a finite number, got nan"),  # any other float: finite
    ],
)
def test_a_number_out_of_range_or_not_finite_is_a_config_error_naming_the_field(tmp_path, text, message):
    """A ConfigError (an EvalError for the task-evaluation fields, checked where they are defined)."""
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        parse(tmp_path, text)


def test_valid_numbers_pass_and_an_integral_float_becomes_an_integer(tmp_path):
    model_args, data_args, training_args, task_args = parse(tmp_path, "max_length: 64.0\nstp_lambda: 0\neval_task_limit: null")
    assert data_args.max_length == 64 and isinstance(data_args.max_length, int)
    assert training_args.stp_lambda == 0 and task_args.eval_task_limit is None


def test_the_sweeps_configuration_check_rejects_them_before_anything_trains():
    validation = check_configs({"nan": {"stp_lambda": float("nan")}, "short": {"max_length": -5}, "fine": {}}, on_this_hardware=False)
    assert validation.errors == {"nan": "stp_lambda must be a finite number >= 0, got nan", "short": "max_length must be >= 1, got -5"}


# --- Range and check_numbers on their own ------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "bounds"),
    [
        (Range(0, 1), "in [0, 1]"),
        (Range(0, 1, low_open=True), "in (0, 1]"),
        (Range(0, 1, high_open=True), "in [0, 1)"),
        (Range(2), ">= 2"),
        (Range(0, low_open=True), "> 0"),
        (Range(high=0.5), "<= 0.5"),
        (Range(high=3, high_open=True), "< 3"),
        (Range(integer=True), ""),
    ],
)
def test_bounds_are_written_as_the_messages_say_them(rule, bounds):
    assert rule.bounds() == bounds


@pytest.mark.parametrize(
    ("rule", "value", "message"),
    [
        (Range(0, 1, low_open=True), 0, "f must be in (0, 1], got 0"),
        (Range(0, 1, high_open=True), 1, "f must be in [0, 1), got 1"),
        (Range(1, integer=True), 2.5, "f must be an integer >= 1, got 2.5"),
        (Range(0), True, "f must be a finite number >= 0, got True"),  # a YAML `true` is no number
        (Range(0), "3", "f must be a finite number >= 0, got '3'"),
        (Range(0), None, "f must be a finite number >= 0, got None"),  # None only where the field is optional
        (Range(integer=True), float("inf"), "f must be an integer, got inf"),
    ],
)
def test_a_value_outside_its_range_or_of_the_wrong_kind_is_named(rule, value, message):
    with pytest.raises(ConfigError) as raised:
        rule.check("f", value)
    assert str(raised.value) == message


def test_the_ends_of_a_closed_range_pass_and_an_integral_float_is_an_int():
    assert Range(0, 1).check("f", 0) == 0 and Range(0, 1).check("f", 1) == 1
    assert Range(1, integer=True, optional=True).check("f", None) is None
    checked = Range(1, integer=True).check("f", 3.0)
    assert checked == 3 and isinstance(checked, int)


def test_check_numbers_sets_each_ruled_field_and_refuses_any_other_non_finite_float():
    from dataclasses import dataclass

    @dataclass
    class Config:
        steps: float = 2.0
        rate: float = 0.5
        name: str = "x"

    config = Config()
    check_numbers(config, {"steps": Range(1, integer=True)})
    assert config.steps == 2 and isinstance(config.steps, int) and config.rate == 0.5
    with pytest.raises(ConfigError, match="^rate must be a finite number, got nan$"):
        check_numbers(Config(rate=float("nan")), {})
