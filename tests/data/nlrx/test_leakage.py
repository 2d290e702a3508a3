"""Leakage between two data files (data/nlrx/leakage.py): descriptions or regexes in both, counted
per file, in order of first appearance, and the paper's own split's 39."""

from __future__ import annotations

from pathlib import Path

import pytest

from semantic_tube.data.messages import ChatExample, TextExample, read_chat_jsonl
from semantic_tube.data.nlrx import find_leakage

REAL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nl-rx-synth"


def _ex(user: str, assistant: str) -> ChatExample:
    return ChatExample(user=user, assistant=assistant)


def test_find_leakage_counts_shared_descriptions_and_regexes():
    a = [_ex("lines one", "a"), _ex("lines one", "b"), _ex("lines two", "c"), _ex("lines three", "d")]
    b = [_ex("lines one", "x"), _ex("lines four", "c"), _ex("lines five", "c"), _ex("lines six", "y")]
    leakage = find_leakage(a, b)
    assert [(s.text, s.count_a, s.count_b) for s in leakage.descriptions] == [("lines one", 2, 1)]
    assert [(s.text, s.count_a, s.count_b) for s in leakage.regexes] == [("c", 1, 2)]
    assert "descriptions in both files: 1" in leakage.format()
    assert not find_leakage(a, [_ex("lines nine", "z")])


@pytest.mark.skipif(not REAL.is_dir(), reason="NL-RX-SYNTH not available")
def test_real_split_leakage_is_the_papers_39():
    train = read_chat_jsonl(REAL / "train.jsonl").examples
    test = read_chat_jsonl(REAL / "test.jsonl").examples
    assert len(find_leakage(train, test).descriptions) == 39



def test_the_report_lists_the_first_shared_strings_and_counts_the_rest():
    a = [_ex(f"lines {i}", f"r{i}") for i in range(4)]
    leakage = find_leakage(a, list(reversed(a)) + [TextExample("lines 0")])  # a text row has neither turn
    assert [s.text for s in leakage.descriptions] == ["lines 0", "lines 1", "lines 2", "lines 3"]  # in a's order
    assert leakage.format(limit=2).splitlines() == [
        "descriptions in both files: 4", "  1 x 1  lines 0", "  1 x 1  lines 1", "  ... and 2 more",
        "regexes in both files: 4", "  1 x 1  r0", "  1 x 1  r1", "  ... and 2 more",
    ]  # fmt: skip
    assert not find_leakage([TextExample("x")], [TextExample("x")])
