"""`TaskEvalArguments`: scoring a task by generation during and after training (`stp eval`'s
options plus when and on which processes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from semantic_tube.evaluation.arguments import TaskGenerationArguments
from semantic_tube.training.config.numbers import TASK_RANGES, ConfigError, check_numbers


class EvalRanks(str, Enum):
    """Which processes generate during a launched run's task evaluation."""

    ALL = "all"  # each its share of the prompts
    MAIN = "main"  # rank 0 alone


@dataclass
class TaskEvalArguments(TaskGenerationArguments):
    """Scoring a task by generation at the end of training, and optionally every `eval_task_steps`
    steps: the same code and the same options (`TaskGenerationArguments`) as `stp eval`."""

    _argument_group_name = "task evaluation"

    eval_task_steps: int = field(default=0, metadata={"help": "also score every N optimizer steps (0 = only at the end)"})
    eval_task_ranks: EvalRanks = field(
        default=EvalRanks.ALL,
        metadata={
            "help": "under a launcher, all: every process generates its share of the prompts (gathered in order, rank 0 "
            "writes); main: rank 0 generates them all while the others wait at their next collective (keep it under "
            "the backend's timeout)"
        },
    )

    def __post_init__(self):
        super().__post_init__()  # an unknown task fails before any training
        check_numbers(self, TASK_RANGES)
        self.eval_task_ranks = EvalRanks(self.eval_task_ranks)
        if self.eval_task_steps < 0:
            raise ConfigError(f"eval_task_steps must be >= 0, got {self.eval_task_steps}")
