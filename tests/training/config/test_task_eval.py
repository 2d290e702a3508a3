"""`TaskEvalArguments` (training/config/task_eval.py): `stp eval`'s task options plus when
(eval_task_steps) and on which processes (eval_task_ranks) a run scores its task."""

import pytest

from semantic_tube.evaluation.errors import EvalError
from semantic_tube.training.config import ConfigError, EvalRanks, TaskEvalArguments


def test_the_defaults_score_at_the_end_only_on_every_process():
    config = TaskEvalArguments()
    assert (config.eval_task, config.eval_task_steps, config.eval_task_ranks) == (None, 0, EvalRanks.ALL)


def test_the_ranks_are_read_by_name():
    assert TaskEvalArguments(eval_task_ranks="main").eval_task_ranks is EvalRanks.MAIN
    with pytest.raises(ValueError, match="'rank0' is not a valid EvalRanks"):
        TaskEvalArguments(eval_task_ranks="rank0")


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"eval_task_steps": -1}, ConfigError, "eval_task_steps must be >= 0, got -1"),
        ({"eval_task_steps": 2.5}, ConfigError, "eval_task_steps must be an integer >= 0, got 2.5"),
        ({"eval_task_batch_size": 0}, EvalError, "eval_task_batch_size must be >= 1, got 0"),  # stp eval's own check, first
        ({"eval_task": "mmlu"}, EvalError, "mmlu"),  # an unknown task fails before any training
    ],
)
def test_bad_values_fail_before_training(fields, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(")):
        TaskEvalArguments(**fields)


def test_an_integral_float_of_steps_becomes_an_integer():
    steps = TaskEvalArguments(eval_task="synth", eval_task_steps=4.0).eval_task_steps
    assert steps == 4 and isinstance(steps, int)
