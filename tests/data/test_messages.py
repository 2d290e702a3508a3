"""Reading messages-format JSONL: every bad line names its file, line and field."""

import json

import pytest

from semantic_tube.data.messages import ChatExample, DataError, read_chat_jsonl, write_chat_jsonl

GOOD = {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}


def write_lines(path, lines):
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("bad", "field", "problem"),
    [
        ('{"messages": [', "json", "invalid JSON"),
        ({"rows": "no messages"}, "messages", "list under 'messages'"),
        ({"text": ["not", "a string"]}, "text", "a plain-text row"),
        ({"messages": [{"role": "user", "content": "Q"}]}, "messages.assistant", "missing 'assistant'"),
        ({"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "  "}]}, "messages.assistant", "empty"),
        ({"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "A"}]}, "messages.user", "empty"),
        ({"messages": [{"role": "robot", "content": "Q"}]}, "messages[0].role", "unknown role"),
        ({"messages": [{"role": "user"}]}, "messages[0]", "'role' and 'content'"),
        ({**GOOD, "text": [{"role": "user"}]}, "text", "non-empty string"),
        ({**GOOD, "code": 3}, "code", "non-empty string"),
    ],
)
def test_bad_line_names_file_line_and_field(tmp_path, bad, field, problem):
    path = write_lines(tmp_path / "d.jsonl", [GOOD, GOOD, bad])
    with pytest.raises(DataError) as info:
        read_chat_jsonl(path)
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), 3, field)
    assert problem in str(err) and f"{path}:3:" in str(err)


def test_skip_invalid_keeps_good_lines_and_counts_bad_ones(tmp_path):
    path = write_lines(tmp_path / "d.jsonl", [GOOD, "not json", GOOD, "", {"messages": []}])
    data = read_chat_jsonl(path, skip_invalid=True)
    assert len(data.examples) == 2
    assert [err.line for err in data.skipped] == [2, 5]


def test_round_trip_and_optional_system(tmp_path):
    examples = [ChatExample(user="Q", assistant="A", system="S"), ChatExample(user="Q2", assistant="A2")]
    write_chat_jsonl(tmp_path / "d.jsonl", examples)
    back = read_chat_jsonl(tmp_path / "d.jsonl").examples
    assert [(e.user, e.assistant, e.system) for e in back] == [("Q", "A", "S"), ("Q2", "A2", None)]
    assert back[1].source.endswith("d.jsonl:2")


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        read_chat_jsonl(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match="no valid examples"):
        read_chat_jsonl(tmp_path / "empty.jsonl")


def test_views_are_read_as_strings_or_one_turn_and_written_back(tmp_path):
    """The paper's HellaSwag lines carry "text" and "code" as lists of one turn."""
    line = {**GOOD, "text": [{"role": "user", "content": "context"}], "code": "ending"}
    example = read_chat_jsonl(write_lines(tmp_path / "d.jsonl", [line, GOOD])).examples
    assert (example[0].text, example[0].code) == ("context", "ending")
    assert (example[1].text, example[1].code) == (None, None)
    write_chat_jsonl(tmp_path / "out.jsonl", example)
    assert read_chat_jsonl(tmp_path / "out.jsonl").examples == [
        ChatExample(**{**vars(e), "source": f"{tmp_path / 'out.jsonl'}:{i + 1}"}) for i, e in enumerate(example)
    ]


def test_nested_subsets_are_nested_seeded_and_in_file_order():
    from semantic_tube.data.messages import nested_subset

    examples = [ChatExample(user=f"q{i}", assistant="a") for i in range(40)]
    half, quarter = nested_subset(examples, 0.5, seed=3), nested_subset(examples, 0.25, seed=3)
    assert len(half) == 20 and len(quarter) == 10 and set(quarter) <= set(half)
    assert half == sorted(half, key=examples.index)
    assert nested_subset(examples, 0.5, seed=3) == half and nested_subset(examples, 0.5, seed=4) != half
    assert nested_subset(examples, 1.0, seed=3) == examples and len(nested_subset(examples, 0.01, seed=0)) == 1
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        nested_subset(examples, 0.0, seed=0)


def test_an_example_limit_cuts_a_pool_the_fractions_nest_inside():
    from semantic_tube.data.messages import nested_subset

    examples = [ChatExample(user=f"q{i}", assistant="a") for i in range(40)]
    pool, half = nested_subset(examples, 1.0, seed=3, limit=16), nested_subset(examples, 0.5, seed=3, limit=16)
    assert len(pool) == 16 and len(half) == 8 and set(half) <= set(pool)
    # The pool is a prefix of the same shuffle as the fractions of the whole file.
    assert set(pool) <= set(nested_subset(examples, 0.5, seed=3))
    assert nested_subset(examples, 0.5, seed=3, limit=100) == nested_subset(examples, 0.5, seed=3)
    with pytest.raises(ValueError, match="limit"):
        nested_subset(examples, 1.0, seed=0, limit=0)
