"""The options of scoring a task, one definition for every command that scores one.

`stp score` takes `TaskScoringArguments`, `stp eval` `TaskGenerationArguments` (scoring plus the
data and the generation budget) and `stp train` `training.config.TaskEvalArguments` (those plus
when to score and on which processes), each parsed by `HfArgumentParser` as `stp train` parses
its own, so a concept has one name in every command (`eval_task_file`, `eval_db_dir`, ...). The
older `stp eval` spellings (`--task`, `--data`, `--limit`, `--db_dir`) are aliases added by the
commands themselves (`semantic_tube.cli.options`).

Torch-free, so `stp score` never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from semantic_tube.evaluation.diversity import DEFAULT_SUFFIXES
from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.scorers import ScoreOptions
from semantic_tube.evaluation.tasks import DEFAULT_MAX_NEW_TOKENS, TASKS, get_task

_DEFAULTS = ScoreOptions()
_LONGER = ", ".join(f"{task.name} {task.max_new_tokens}" for task in TASKS.values() if task.max_new_tokens != DEFAULT_MAX_NEW_TOKENS)


@dataclass
class TaskScoringArguments:
    """How a task's predictions are scored."""

    _argument_group_name = "task evaluation"

    eval_task: str | None = field(
        default=None,
        metadata={
            "help": "the task to score (stp train: at the end of training; empty = none). "
            + "; ".join(f"{task.name}: {task.description}" for task in TASKS.values()),
            "choices": list(TASKS),
        },
    )
    eval_db_dir: str | None = field(
        default=None, metadata={"help": "spider: folder of databases, <dir>/<db_id>/<db_id>.sqlite (default: none)"}
    )
    eval_sql_timeout: float = field(default=_DEFAULTS.sql_timeout_s, metadata={"help": "spider: seconds per query"})
    eval_regex_timeout: float = field(
        default=_DEFAULTS.regex_timeout_s, metadata={"help": "synth/turk: seconds per regex-equivalence decision"}
    )
    eval_suffixes: list[str] = field(
        default_factory=list,
        metadata={
            "help": f"synth/turk: answer suffixes to split accuracy by, besides {' and '.join(DEFAULT_SUFFIXES)} (Table 1)"
        },
    )

    def __post_init__(self):
        if self.eval_task:
            get_task(self.eval_task)  # an unknown task fails before any work
        for name in ("eval_sql_timeout", "eval_regex_timeout"):
            if not getattr(self, name) > 0:
                raise EvalError(f"{name} must be > 0 seconds, got {getattr(self, name)}")
        if isinstance(self.eval_suffixes, str):  # a YAML string rather than a list
            self.eval_suffixes = [self.eval_suffixes]
        self.eval_suffixes = list(self.eval_suffixes or [])

    def score_options(self) -> ScoreOptions:
        return ScoreOptions(
            db_dir=Path(self.eval_db_dir) if self.eval_db_dir else None,
            regex_timeout_s=self.eval_regex_timeout,
            sql_timeout_s=self.eval_sql_timeout,
        )

    def suffixes(self) -> tuple[str, ...] | None:
        """The suffix split to report: the defaults plus the user's, or None to let the task decide."""
        return tuple(dict.fromkeys((*DEFAULT_SUFFIXES, *self.eval_suffixes))) if self.eval_suffixes else None


@dataclass
class TaskGenerationArguments(TaskScoringArguments):
    """Scoring, plus the task's data and how the model generates its answers."""

    eval_task_file: str | None = field(
        default=None,
        metadata={"help": "the task's messages-format JSONL (stp train: empty = the generated NL-RX test split, else eval_file)"},
    )
    eval_task_limit: int | None = field(default=None, metadata={"help": "score only the first N examples (default: all)"})
    eval_task_batch_size: int = field(default=16, metadata={"help": "prompts generated per batch"})
    eval_task_max_new_tokens: int | None = field(
        default=None,
        metadata={"help": f"generation budget (default: the task's, {DEFAULT_MAX_NEW_TOKENS}; {_LONGER})"},
    )

    def __post_init__(self):
        super().__post_init__()
        for name in ("eval_task_limit", "eval_task_batch_size", "eval_task_max_new_tokens"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise EvalError(f"{name} must be >= 1, got {value}")
