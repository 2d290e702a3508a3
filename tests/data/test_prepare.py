"""The mapping of `stp data prepare`: a public row -> the paper's line, checked against the paper's
own lines (the shared samples; skipped where /work/shared is absent), and the paper's splits."""

from __future__ import annotations

import json
import re

import pytest

from semantic_tube.data.messages import parse_chat_line
from semantic_tube.data.prepare import (
    SOURCES,
    FieldError,
    PrepareError,
    RowError,
    hellaswag_record,
    map_split,
    nq_open_record,
    prepare,
    record_line,
    split_indices,
)
from semantic_tube.evaluation.tasks import TASKS
from tests.data.public_rows import made_up_rows, paper_lines, row_from_paper

SAMPLED = ["gsm8k", "spider", "nq_open", "hellaswag", "synth"]
VIEWS = {"hellaswag"}  # the only task whose paper files carry `text` / `code`


def _lines_or_skip(task: str) -> list[str]:
    lines = paper_lines(task)
    if lines is None:
        pytest.skip("the paper's sample lines (/work/shared/data) are not on this machine")
    return lines[:100]


@pytest.mark.parametrize("task", SAMPLED)
def test_a_public_row_maps_to_the_papers_line_byte_for_byte(task):
    """Each sample line, undone into the public schema and mapped back: the same system prompt,
    the same user and assistant layout, the same views, the same bytes."""
    for number, line in enumerate(_lines_or_skip(task), start=1):
        paper = json.loads(line)
        ours = SOURCES[task].mapping(row_from_paper(task, line))
        assert [turn["role"] for turn in ours["messages"]] == ["system", "user", "assistant"]
        for turn, theirs in zip(ours["messages"], paper["messages"]):
            assert turn == theirs, (number, turn["role"])
        assert ("text" in ours, "code" in ours) == ("text" in paper, "code" in paper) == (task in VIEWS, task in VIEWS)
        if task in VIEWS:
            assert ours["text"] == paper["text"] and ours["code"] == paper["code"]
        assert record_line(ours) == line, number


@pytest.mark.parametrize("task", SAMPLED)
def test_the_system_prompt_is_the_papers_and_the_evaluation_tasks(task):
    lines = _lines_or_skip(task)
    prompts = {json.loads(line)["messages"][0]["content"] for line in lines}
    assert prompts == {TASKS[task].system_prompt}
    assert SOURCES[task].mapping(made_up_rows(task, 1)[0])["messages"][0]["content"] == TASKS[task].system_prompt


def test_hellaswag_lists_four_endings_and_answers_a_letter_with_the_views():
    row = made_up_rows("hellaswag", 1, start=2)[0]  # label 2
    record = hellaswag_record(row)
    user = record["messages"][1]["content"]
    assert user.split("\n") == [row["ctx"]] + [f"{letter}) {ending}" for letter, ending in zip("ABCD", row["endings"])]
    assert record["messages"][2]["content"] == "C"
    assert record["text"] == [{"role": "user", "content": row["ctx"]}]
    assert record["code"] == [{"role": "assistant", "content": row["endings"][2]}]
    example = parse_chat_line(record_line(record), "x", 1)  # what stp train reads: the views reach STP
    assert (example.text, example.code) == (row["ctx"], row["endings"][2])
    assert TASKS["hellaswag"].check_example(example) is None
    assert hellaswag_record({**row, "label": 3})["messages"][2]["content"] == "D"  # the raw files' int labels too


def test_nq_open_joins_the_alternatives_as_the_scorer_splits_them():
    record = nq_open_record({"question": "q", "answer": ["October 29, 1993", "1993"]})
    assert record["messages"][2]["content"] == "October 29, 1993; 1993"
    assert nq_open_record({"question": "q", "answer": ["Nine"]})["messages"][2]["content"] == "Nine"


@pytest.mark.parametrize(
    ("task", "change", "field", "problem"),
    [
        ("gsm8k", {"question": None}, "question", "missing"),
        ("gsm8k", {"answer": "  "}, "answer", "empty"),
        ("gsm8k", {"answer": "7"}, "answer", "'#### <number>'"),
        ("spider", {"db_id": 3}, "db_id", "expected a string"),
        ("spider", {"db_id": "a]b"}, "db_id", "']'"),
        ("nq_open", {"answer": []}, "answer", "non-empty list"),
        ("nq_open", {"answer": ["x", ""]}, "answer[1]", "empty"),
        ("hellaswag", {"label": ""}, "label", "no labels"),
        ("hellaswag", {"label": "4"}, "label", "0-3"),
        ("hellaswag", {"endings": ["a", "b", "c"]}, "endings", "4 endings"),
        ("hellaswag", {"endings": ["a", "b", None, "d"]}, "endings[2]", "expected a string"),
        ("synth", {"targ": ""}, "targ", "empty"),
    ],
)
def test_a_bad_row_names_the_split_the_row_and_the_field(task, change, field, problem):
    rows = made_up_rows(task, 5)
    rows[3] = {**rows[3], **change}
    with pytest.raises(FieldError):
        SOURCES[task].mapping(rows[3])
    with pytest.raises(RowError, match=rf"^{task} validation split, row 3: {re.escape(field)}: .*{re.escape(problem)}") as err:
        map_split(task, "validation", rows)
    assert (err.value.split, err.value.index, err.value.field) == ("validation", 3, field)


@pytest.mark.parametrize(("n", "test_size", "n_test"), [(25, 0.18, 5), (8034, 0.18, 1447), (10000, 0.2, 2000)])
def test_the_paper_split_is_datasets_train_test_split_with_seed_42(n, test_size, n_test):
    """The paper's Spider (train + validation = 8,034 rows -> 6,587 / 1,447) and NL-RX (10,000 ->
    8,000 / 2,000) files are this split, in this order."""
    datasets = pytest.importorskip("datasets")
    train, test = split_indices(n, test_size, seed=42)
    theirs = datasets.Dataset.from_dict({"i": list(range(n))}).train_test_split(test_size=test_size, seed=42)
    assert (train, test) == (theirs["train"]["i"], theirs["test"]["i"])
    assert len(test) == n_test


def test_spider_pools_train_then_validation_and_original_keeps_them():
    splits = {"train": made_up_rows("spider", 20), "validation": made_up_rows("spider", 5, start=20)}
    every = map_split("spider", "train", splits["train"]) + map_split("spider", "validation", splits["validation"])
    train, test = prepare("spider", splits)
    train_index, test_index = split_indices(25, 0.18, 42)
    assert (train, test) == ([every[i] for i in train_index], [every[i] for i in test_index])
    train, test = prepare("spider", splits, "original")
    assert (train, test) == (every[:20], every[20:])


def test_nlrx_needs_one_pool_for_the_papers_split_and_has_no_original_split():
    pool = {"all": made_up_rows("synth", 10)}
    train, test = prepare("synth", pool)
    assert (len(train), len(test)) == (8, 2)
    with pytest.raises(PrepareError, match="no train/test split of its own"):
        prepare("synth", pool, "original")
    with pytest.raises(PrepareError, match="the source has 2"):
        prepare("turk", {"train": made_up_rows("turk", 8), "test": made_up_rows("turk", 2)})
    train, test = prepare("turk", {"train": made_up_rows("turk", 8), "test": made_up_rows("turk", 2)}, "original")
    assert (len(train), len(test)) == (8, 2)


def test_a_missing_split_says_which_splits_the_source_has():
    with pytest.raises(PrepareError, match=r"no 'test' split \(it has: train, validation\)"):
        prepare("gsm8k", {"train": made_up_rows("gsm8k", 2), "validation": made_up_rows("gsm8k", 2)})
