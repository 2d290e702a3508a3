"""`stp data stats` through the command line on a conversation file and a plain-text file: the
counts by hand (rows, exchanges, characters per role), with a tokenizer the per-role tokens adding
up to every token and the share STP can reach, rows cut by max_length, and the errors."""

import json
import re

import pytest

from semantic_tube.cli import main
from semantic_tube.data.chat import encode_example
from semantic_tube.data.messages import read_chat_jsonl
from semantic_tube.training.model import load_tokenizer
from tests.tiny_models import save_tiny

CONVERSATIONS = [
    {"messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "ab"}, {"role": "assistant", "content": "cde"},
                  {"role": "user", "content": "f"}, {"role": "assistant", "content": "gh"}]},
    {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]},
    {"text": "plain"},
]  # fmt: skip
TEXTS = [{"text": "The dog by the lake."}, {"text": "A truck and a ring."}]


def write(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("stats") / "tiny", "llama3", seed=1)


def stats_lines(capsys, *argv) -> dict[str, str]:
    assert main(["data", "stats", *map(str, argv)]) == 0
    return dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines() if ": " in line)


def roles(line: str) -> dict[str, int]:
    return {role: int(count) for role, count in re.findall(r"([a-z ]+?) (\d+)(?:, |$)", line)}


def test_a_conversation_file_by_hand(tmp_path, capsys):
    """Two chat rows (two exchanges with a system turn; one ShareGPT exchange) and one text row:
    user 'ab' + 'f' + 'hi' = 5 characters, assistant 'cde' + 'gh' + 'yo' = 7, text 5, system 3."""
    found = stats_lines(capsys, write(tmp_path / "conv.jsonl", CONVERSATIONS))
    assert found["rows"] == "3 (1 plain text)"
    assert found["exchanges per chat row (exchanges"] == "rows): 1: 1, 2: 1"
    assert roles(found["characters per role"]) == {"system": 3, "user": 5, "assistant": 7, "text": 5}
    assert "tokens per role" not in found  # no tokenizer: characters only


def test_a_plain_text_file_has_no_exchanges_and_no_regex_table(tmp_path, capsys):
    path = write(tmp_path / "text.jsonl", TEXTS)
    assert main(["data", "stats", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "rows: 2 (2 plain text)"  # the NL-RX table is for chat rows only
    assert "exchanges per chat row (exchanges: rows): none" in out
    assert "characters per role: system 0, user 0, assistant 0, text 39" in out


@pytest.mark.parametrize("rows", [CONVERSATIONS, TEXTS], ids=["conversations", "text"])
def test_tokens_add_up_and_max_length_counts_the_rows_it_cuts(model_dir, tmp_path, capsys, rows):
    """Per-role tokens plus the template's are every token of the encoded rows; with nothing cut the
    share STP can reach is the content's (all but template and system); max_length one below the
    longest row cuts exactly the rows longer than it."""
    path = write(tmp_path / "rows.jsonl", rows)
    tokenizer = load_tokenizer(str(model_dir))
    lengths = [len(encode_example(tokenizer, e, max_length=10**9).input_ids) for e in read_chat_jsonl(path).examples]
    found = stats_lines(capsys, path, "--model_name_or_path", model_dir)
    tokens = roles(found["tokens per role"])
    assert sum(tokens.values()) == sum(lengths)
    content = tokens["user"] + tokens["assistant"] + tokens["text"]
    assert found["tokens STP's draws can reach"] == f"{content / sum(lengths):.1%}"
    assert found["rows cut (no max_length)"] == "0; rows that cannot be trained: 0"
    limit = max(lengths) - 1
    found = stats_lines(capsys, path, "--model", model_dir, "--max_length", limit)
    assert found[f"rows cut (max_length={limit})"] == f"{sum(n > limit for n in lengths)}; rows that cannot be trained: 0"


def test_a_text_reference_and_the_errors(tmp_path, capsys):
    conversations, texts = write(tmp_path / "conv.jsonl", CONVERSATIONS), write(tmp_path / "text.jsonl", TEXTS)
    assert main(["data", "stats", str(conversations), "--reference", str(texts)]) == 0  # plain text has no regex to compare
    capsys.readouterr()
    assert main(["data", "stats", str(texts), "--max_length", "8"]) == 2
    assert "--max_length counts the rows training cuts in tokens: it needs --model_name_or_path" in capsys.readouterr().err
