"""`DataArguments` (training/config/data.py): TRL's loss names read onto label_mode, the subset
fields' ranges, one source of training data, and chat_template_kwargs read from JSON."""

import pytest

from semantic_tube.data.chat import LabelMode
from semantic_tube.training.config import ConfigError, DataArguments, InvalidLines


def test_the_defaults_train_on_the_answer_and_stop_at_a_bad_line():
    config = DataArguments()
    assert (config.label_mode, config.invalid_lines, config.train_fraction, config.chat_template_kwargs) == (
        LabelMode.ANSWER, InvalidLines.ERROR, 1.0, None,
    )  # fmt: skip
    assert DataArguments(label_mode="all", invalid_lines="skip").invalid_lines is InvalidLines.SKIP


@pytest.mark.parametrize(
    ("given", "mode"),
    [
        ({"assistant_only_loss": True}, LabelMode.ANSWER),
        ({"assistant_only_loss": False}, LabelMode.ALL),
        ({"completion_only_loss": False, "label_mode": "reference"}, LabelMode.ALL),  # TRL's name overrides label_mode
        ({"assistant_only_loss": True, "completion_only_loss": True, "label_mode": "all"}, LabelMode.ANSWER),
        ({"label_mode": "reference"}, LabelMode.REFERENCE),  # neither given: label_mode as set
    ],
)
def test_trls_loss_names_set_the_label_mode(given, mode):
    assert DataArguments(**given).label_mode is mode


def test_trls_loss_names_that_disagree_are_an_error_naming_both():
    with pytest.raises(ConfigError, match="assistant_only_loss and completion_only_loss disagree: "
                                          r"\{'assistant_only_loss': True, 'completion_only_loss': False\}"):  # fmt: skip
        DataArguments(assistant_only_loss=True, completion_only_loss=False)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"train_fraction": 0}, "train_fraction must be in (0, 1], got 0"),
        ({"train_fraction": 1.5}, "train_fraction must be in (0, 1], got 1.5"),
        ({"max_train_examples": 0}, "max_train_examples must be >= 1, got 0"),
        ({"train_file": "a.jsonl", "dataset_name": "d"}, "train_file and dataset_name both given (a.jsonl, d); give one"),
        ({"chat_template_kwargs": '{"enable_thinking": nope}'}, "chat_template_kwargs: not JSON (Expecting value)"),
        ({"chat_template_kwargs": "[1]"}, "chat_template_kwargs: expected a mapping, got [1]"),
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_field(fields, message):
    with pytest.raises(ConfigError) as raised:
        DataArguments(**fields)
    assert str(raised.value).startswith(message)


def test_chat_template_kwargs_are_read_from_json_or_taken_as_a_mapping():
    assert DataArguments(chat_template_kwargs='{"enable_thinking": false}').chat_template_kwargs == {"enable_thinking": False}
    assert DataArguments(chat_template_kwargs={"a": 1}).chat_template_kwargs == {"a": 1}
    assert DataArguments(max_train_examples=None, train_fraction=0.25).train_fraction == 0.25
