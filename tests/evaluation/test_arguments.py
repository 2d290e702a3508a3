"""The scoring and generation options shared by `stp score`, `stp eval` and `stp train`: their
checks, and what they turn into."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from semantic_tube.evaluation.arguments import TaskGenerationArguments, TaskScoringArguments
from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.scorers import ScoreOptions


def test_the_defaults_are_the_scorers_defaults():
    assert TaskScoringArguments().score_options() == ScoreOptions()


def test_score_options_carry_the_fields():
    arguments = TaskScoringArguments(eval_task="spider", eval_db_dir="dbs", eval_sql_timeout=1.5, eval_regex_timeout=0.25)
    assert arguments.score_options() == ScoreOptions(db_dir=Path("dbs"), regex_timeout_s=0.25, sql_timeout_s=1.5)


def test_an_unknown_task_fails_when_the_options_are_built():
    with pytest.raises(EvalError, match="unknown task 'mmlu'"):
        TaskScoringArguments(eval_task="mmlu")
    with pytest.raises(EvalError, match="unknown task 'mmlu'"):
        TaskGenerationArguments(eval_task="mmlu")


@pytest.mark.parametrize("name", ["eval_sql_timeout", "eval_regex_timeout"])
@pytest.mark.parametrize("value", [0.0, -1.0, math.nan])
def test_timeouts_must_be_positive(name, value):
    with pytest.raises(EvalError, match=f"{name} must be > 0 seconds, got {value}"):
        TaskScoringArguments(**{name: value})


def test_suffixes_add_the_users_to_the_defaults_once():
    assert TaskScoringArguments().suffixes() is None  # the task decides
    assert TaskScoringArguments(eval_suffixes=["(.*)", ".*", "(.*)"]).suffixes() == (".*", ".*.*", "(.*)")


def test_a_single_suffix_string_from_yaml_is_a_list_of_one():
    arguments = TaskScoringArguments(eval_suffixes="x")
    assert arguments.eval_suffixes == ["x"] and arguments.suffixes() == (".*", ".*.*", "x")


@pytest.mark.parametrize("name", ["eval_task_limit", "eval_task_batch_size", "eval_task_max_new_tokens"])
def test_generation_counts_must_be_at_least_one(name):
    with pytest.raises(EvalError, match=f"{name} must be >= 1, got 0"):
        TaskGenerationArguments(**{name: 0})
    assert getattr(TaskGenerationArguments(**{name: 1}), name) == 1


def test_generation_options_leave_the_limit_and_budget_to_the_task():
    arguments = TaskGenerationArguments()
    assert arguments.eval_task_limit is None and arguments.eval_task_max_new_tokens is None
    with pytest.raises(EvalError, match="eval_sql_timeout must be > 0"):
        TaskGenerationArguments(eval_sql_timeout=0)  # the scoring checks run too
