"""Reading conversations (any number of turns, three row forms) and plain text: the turns read,
and every bad row named by file, line and field."""

import json

import pytest

from semantic_tube.data.messages import ChatExample, DataError, TextExample, read_chat_jsonl, write_chat_jsonl

TURNS = [
    {"role": "system", "content": "S"},
    {"role": "user", "content": "Q1"},
    {"role": "assistant", "content": "A1"},
    {"role": "user", "content": "Q2"},
    {"role": "assistant", "content": "A2"},
]
EXPECTED = ChatExample(user="Q2", assistant="A2", system="S", history=(("Q1", "A1"),))
SHAREGPT = {"human": "user", "gpt": "assistant", "system": "system"}


def write_lines(path, lines):
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def read_one(tmp_path, record):
    (example,) = read_chat_jsonl(write_lines(tmp_path / "d.jsonl", [record])).examples
    return example


@pytest.mark.parametrize(
    "record",
    [
        {"messages": TURNS},
        {"prompt": TURNS[:-1], "completion": TURNS[-1:]},
        {"conversations": [{"from": {v: k for k, v in SHAREGPT.items()}[t["role"]], "value": t["content"]} for t in TURNS]},
    ],
    ids=["messages", "prompt-completion", "sharegpt"],
)
def test_every_row_form_reads_the_same_conversation(tmp_path, record):
    example = read_one(tmp_path, record)
    assert example == ChatExample(**{**vars(EXPECTED), "source": f"{tmp_path / 'd.jsonl'}:1"})
    assert example.messages() == TURNS
    assert example.messages(with_answer=False) == TURNS[:-1]  # the prompt keeps the earlier turns
    assert example.exchanges == (("Q1", "A1"), ("Q2", "A2"))


def test_single_turn_rows_have_no_history(tmp_path):
    example = read_one(tmp_path, {"messages": TURNS[:3]})
    assert (example.user, example.assistant, example.history) == ("Q1", "A1", ())


def test_plain_text_rows_and_the_hellaswag_view_are_told_apart(tmp_path):
    """`text` is plain text only in a row without turns; beside messages it is the query view."""
    text = read_one(tmp_path, {"text": "Once upon a time."})
    assert text == TextExample(text="Once upon a time.", source=f"{tmp_path / 'd.jsonl'}:1")
    view = read_one(tmp_path, {"messages": TURNS[:3], "text": [{"role": "user", "content": "Q"}]})
    assert isinstance(view, ChatExample) and view.text == "Q"


def test_text_rows_round_trip(tmp_path):
    examples = [TextExample("plain words"), EXPECTED]
    write_chat_jsonl(tmp_path / "o.jsonl", examples)
    back = read_chat_jsonl(tmp_path / "o.jsonl").examples
    assert back[0].text == "plain words" and back[1].exchanges == EXPECTED.exchanges


def _with(index, **change):
    turns = [dict(turn) for turn in TURNS]
    turns[index].update(change)
    return {"messages": turns}


@pytest.mark.parametrize(
    ("bad", "field", "problem"),
    [
        (_with(3, role="assistant"), "messages[3].role", "expected a 'user' turn, got 'assistant': roles must alternate"),
        (_with(1, role="assistant"), "messages[1].role", "expected a 'user' turn"),
        (_with(4, role="system"), "messages[4].role", "after the first turn"),
        (_with(3, content=" "), "messages[3].content", "empty 'user' content"),
        (_with(4, content=""), "messages[4].content", "empty 'assistant' content"),
        ({"messages": TURNS[:4]}, "messages[3].role", "ends with a 'user' turn"),
        (_with(3, role="tool"), "messages[3].role", "role 'tool': tool and function-call turns are not supported"),
        (_with(2, tool_calls=[{"name": "f"}]), "messages[2].tool_calls", "tool_calls: tool and function-call"),
        ({"conversations": [{"from": "human", "value": "Q"}, {"from": "function_call", "value": "{}"}]}, "conversations[1].role", "role 'function_call'"),
        ({"conversations": [{"from": "human", "value": "Q"}, {"from": "bot", "value": "A"}]}, "conversations[1].role", "unknown role 'bot'"),
        ({"conversations": [{"speaker": "human"}]}, "conversations[0]", "'from' and 'value'"),
        ({"messages": TURNS, "text": "Q1"}, "text", "one user and one assistant turn"),
        ({"text": ""}, "text", "non-empty string"),
    ],
)
def test_bad_conversations_name_file_line_and_field(tmp_path, bad, field, problem):
    path = write_lines(tmp_path / "d.jsonl", [{"messages": TURNS}, bad])
    with pytest.raises(DataError) as info:
        read_chat_jsonl(path)
    assert (info.value.line, info.value.field) == (2, field)
    assert problem in str(info.value) and f"{path}:2: {field}:" in str(info.value)


def test_bad_conversations_are_skipped_and_counted(tmp_path):
    path = write_lines(tmp_path / "d.jsonl", [{"messages": TURNS}, _with(3, role="assistant"), {"text": "t"}])
    data = read_chat_jsonl(path, skip_invalid=True)
    assert len(data.examples) == 2 and [err.line for err in data.skipped] == [2]


def test_stp_data_stats_reports_conversations_and_text(tmp_path, capsys):
    from semantic_tube.cli.data import main
    from tests.tiny_models import save_tiny

    model = save_tiny(tmp_path / "tiny")
    path = write_lines(tmp_path / "d.jsonl", [{"messages": TURNS}, {"text": "plain words here"}])
    assert main(["stats", str(path), "--model_name_or_path", str(model), "--max_length", "8"]) == 0
    out = capsys.readouterr().out
    assert "rows: 2 (1 plain text)" in out and "exchanges per chat row (exchanges: rows): 2: 1" in out
    assert "rows cut (max_length=8)" in out and "tokens STP's draws can reach" in out
