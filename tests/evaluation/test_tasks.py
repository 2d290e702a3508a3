"""The task table: lookup by name, the option letters of a prompt, each task's data checks and
what it reports."""

from __future__ import annotations

import json

import pytest

from semantic_tube.data.messages import ChatExample, DataError
from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.tasks import CHOOSE, GENERATE, TASKS, choices_of, get_task


def test_unknown_task_is_named_with_the_known_ones():
    with pytest.raises(EvalError, match="unknown task 'mmlu'.*synth"):
        get_task("mmlu")


def test_a_task_passes_through_get_task():
    assert get_task(TASKS["gsm8k"]) is TASKS["gsm8k"] and get_task("gsm8k") is TASKS["gsm8k"]


@pytest.mark.parametrize(
    ("prompt", "letters"),
    [
        ("ctx\nA) x\n  B) y\nC) z", ["A", "B", "C"]),
        ("ctx\nA) x\nE) y", ["A", "E"]),
        ("ctx with no options", ["A", "B", "C", "D"]),
        ("see A) inside a line\na) lower case", ["A", "B", "C", "D"]),  # only `X)` opening a line counts
    ],
)
def test_choices_are_the_option_lines_of_the_prompt(prompt, letters):
    assert choices_of(prompt) == letters


@pytest.mark.parametrize(
    ("task", "user", "assistant", "problem"),
    [
        ("gsm8k", "q", "so 18", ("messages.assistant", "the answer has no '#### <number>' line")),
        ("gsm8k", "q", "so\n#### 18", None),
        ("spider", "how many?", "SELECT 1", ("messages.user", "no 'For db_id:[name]' naming the database")),
        ("spider", "For db_id:[concert]\n\nhow many?", "SELECT 1", None),
        ("hellaswag", "ctx\nA) x\nB) y", "C", ("messages.assistant", "'C' is not one of the options ['A', 'B']")),
        ("hellaswag", "ctx\nA) x\nB) y", "b) y", None),
        ("hellaswag", "ctx\nA) x\nB) y", "none", ("messages.assistant", "'none' is not one of the options ['A', 'B']")),
        ("synth", "q", "anything", None),
    ],
)
def test_each_task_checks_its_examples(task, user, assistant, problem):
    assert TASKS[task].check_example(ChatExample(user=user, assistant=assistant)) == problem


def test_load_names_the_line_a_task_cannot_use(tmp_path):
    path = tmp_path / "gsm8k.jsonl"
    rows = [("q1", "so\n#### 1"), ("q2", "no marker")]
    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": u}, {"role": "assistant", "content": a}]}) + "\n" for u, a in rows))
    with pytest.raises(DataError) as raised:
        get_task("gsm8k").load(path)
    assert str(raised.value) == f"{path}:2: messages.assistant: the answer has no '#### <number>' line"
    (example,) = get_task("gsm8k").load(path, limit=1)
    assert (example.user, example.assistant, example.system) == ("q1", "so\n#### 1", None)  # as written


def test_only_hellaswag_ranks_options_and_only_nl_rx_splits_by_suffix():
    assert {name for name, task in TASKS.items() if task.mode == CHOOSE} == {"hellaswag"}
    assert all(task.mode == GENERATE for name, task in TASKS.items() if name != "hellaswag")
    assert {name for name, task in TASKS.items() if task.suffix_split} == {"synth", "turk"}
