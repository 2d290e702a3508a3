"""The evaluation tasks of the paper: name, the paper's system prompt, data checks and scorer.

A task's data is the paper's messages-format JSONL, used as it is: a line's own system turn, or
none, so a model is evaluated on the prompt it was trained with (see `evaluation.prompts`).
`Task.system_prompt` records the system prompt the paper's data carries for the task; it is
documentation, never filled into a line that lacks one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from semantic_tube.data.messages import ChatExample, DataError, TextExample, read_chat_jsonl
from semantic_tube.data.system_prompts import SYSTEM_PROMPTS
from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.scorers import ScoreOptions, Scorer
from semantic_tube.evaluation.scorers.answers import AnswerSetScorer
from semantic_tube.evaluation.scorers.choice import ChoiceScorer, choice_letter
from semantic_tube.evaluation.scorers.numeric import MARKER, NumericScorer
from semantic_tube.evaluation.scorers.regex import RegexScorer
from semantic_tube.evaluation.scorers.sql import ExecutionScorer, db_id_of

GENERATE = "generate"  # the model writes the answer greedily
CHOOSE = "choose"  # the model ranks given options by likelihood
# The reference evaluate.py's default budget. Fixed per task, never derived from the examples
# evaluated, so an example's verdict does not depend on which others share its run (--limit).
DEFAULT_MAX_NEW_TOKENS = 128
_OPTION_LINE = re.compile(r"^\s*([A-Z])\)", re.MULTILINE)


@dataclass(frozen=True)
class Task:
    """What a task's verdicts mean and how to aggregate them.

    `metrics` are verdict keys reported as proportions with Wilson intervals, the task's own and
    the paper's (a `paper_` name; for synth/turk `exact` and for hellaswag `accuracy` already are
    the reference code's metrics), `counts` verdict keys reported as counts, and `subsets`
    name -> verdict key: the metrics again, restricted to the examples where that key is true. `check_example` returns (field, problem) for a data
    line the task cannot use. `max_new_tokens` is 128 (the reference's default) except where the
    paper's answers run longer: GSM8K solutions reach about 240 SmolLM2 tokens in the shared
    samples (median 117), so 512; Spider queries reach 137, so 256.
    """

    name: str
    description: str
    system_prompt: str  # the paper's data carries it; documentation only, never injected
    metrics: tuple[str, ...]
    make_scorer: Callable[[ScoreOptions], Scorer]
    counts: tuple[str, ...] = ("unparsable",)
    subsets: dict[str, str] = field(default_factory=dict)
    mode: str = GENERATE
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS  # generation budget (GENERATE tasks)
    suffix_split: bool = False  # report accuracy by answer suffix (Table 1), NL-RX only
    check_example: Callable[[ChatExample], tuple[str, str] | None] = lambda example: None  # (field, problem)

    def load(self, path: str | Path, *, limit: int | None = None) -> list[ChatExample]:
        """Read a messages-format JSONL file and check each line for this task; examples stay as
        written. A plain-text row (`{"text": ...}`, which trains) is a `DataError` here: it has no
        prompt to generate from and no reference answer."""
        examples = read_chat_jsonl(path).examples[:limit]
        for example in examples:
            if isinstance(example, TextExample):
                raise DataError(
                    path, int(example.source.rpartition(":")[2]), "text",
                    "a plain-text row has no prompt to generate from; a task file needs a user turn and its reference assistant turn",
                )  # fmt: skip
            problem = self.check_example(example)
            if problem:
                raise DataError(path, int(example.source.rpartition(":")[2]), *problem)
        return examples


def choices_of(prompt: str) -> list[str]:
    """Option letters listed as `A) ...` lines in a prompt; A-D when it lists none."""
    return _OPTION_LINE.findall(prompt) or ["A", "B", "C", "D"]


def _check_gsm8k(example: ChatExample) -> tuple[str, str] | None:
    return None if MARKER in example.assistant else ("messages.assistant", f"the answer has no '{MARKER} <number>' line")


def _check_spider(example: ChatExample) -> tuple[str, str] | None:
    return None if db_id_of(example.user) else ("messages.user", "no 'For db_id:[name]' naming the database")


def _check_choice(example: ChatExample) -> tuple[str, str] | None:
    letter = choice_letter(example.assistant)
    if letter is None or letter not in choices_of(example.user):
        return "messages.assistant", f"{example.assistant!r} is not one of the options {choices_of(example.user)}"
    return None


_NLRX = dict(
    metrics=("exact", "equivalent"),
    make_scorer=RegexScorer,
    counts=("unparsable", "timeout"),
    subsets={"empty_reference": "reference_empty"},
    suffix_split=True,
)
TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task("synth", "NL-RX-Synth: English to regex", SYSTEM_PROMPTS["synth"], **_NLRX),
        Task("turk", "NL-RX-Turk: crowd-written English to regex", SYSTEM_PROMPTS["turk"], **_NLRX),
        Task(
            "gsm8k",
            "GSM8K: grade-school math, answer after ####",
            SYSTEM_PROMPTS["gsm8k"],
            ("correct", "paper_correct"),
            lambda options: NumericScorer(),
            max_new_tokens=512,
            check_example=_check_gsm8k,
        ),
        Task(
            "spider",
            "Spider: English to SQL, execution accuracy",
            SYSTEM_PROMPTS["spider"],
            ("execution", "paper_execution"),
            ExecutionScorer,
            counts=("unparsable", "timeout"),
            max_new_tokens=256,
            check_example=_check_spider,
        ),
        Task(
            "nq_open",
            "NQ-open: short answers, ';'-separated alternatives",
            SYSTEM_PROMPTS["nq_open"],
            ("match", "paper_match"),
            lambda options: AnswerSetScorer(),
        ),
        Task(
            "hellaswag",
            "HellaSwag: best ending A-D by likelihood",
            SYSTEM_PROMPTS["hellaswag"],
            ("accuracy",),
            lambda options: ChoiceScorer(),
            mode=CHOOSE,
            check_example=_check_choice,
        ),
    )
}


def get_task(task: str | Task) -> Task:
    """A task by name (or the task itself); `EvalError` listing the known names otherwise."""
    if isinstance(task, Task):
        return task
    if task not in TASKS:
        raise EvalError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    return TASKS[task]
