"""The NL-RX generator (data/nlrx/__init__.py): words in order, dedupe, split, determinism, limits,
and how close its figures are to the real data set's. The grammar, leakage and stats modules have
their own files in tests/data/nlrx/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from semantic_tube.data.messages import ChatExample, read_chat_jsonl
from semantic_tube.data.nlrx import (
    NLRX_SYSTEM_PROMPT,
    GrammarExhausted,
    GrammarLimits,
    count_operators,
    find_leakage,
    generate_nlrx,
    write_nlrx,
)
from semantic_tube.data.nlrx.grammar import WORDS

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nl-rx-synth"


@pytest.fixture(scope="module")
def generated() -> tuple[list[ChatExample], list[ChatExample]]:
    return generate_nlrx(2000, seed=3)


def test_words_are_filled_in_order_of_appearance(generated):
    for example in generated[0] + generated[1]:
        words = re.findall(r"'(\w+)'", example.user)
        assert words == list(WORDS[: len(words)])
        assert re.findall("|".join(WORDS), example.assistant) == words


def test_split_sizes_prompt_and_no_duplicates_or_leakage(generated):
    train, test = generated
    assert (len(train), len(test)) == (1600, 400)
    everything = train + test
    assert all(e.system == NLRX_SYSTEM_PROMPT and e.user.startswith("lines ") for e in everything)
    assert len({e.user for e in everything}) == len({e.assistant for e in everything}) == 2000
    assert not find_leakage(train, test)


def test_every_generated_regex_parses(generated):
    regex = pytest.importorskip("semantic_tube.regex")
    if not hasattr(regex, "parse"):
        pytest.skip("regex engine not available yet")
    for example in generated[0] + generated[1]:
        regex.parse(example.assistant)


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    first = write_nlrx(tmp_path / "a", 300, seed=11, test_fraction=0.3)
    again = write_nlrx(tmp_path / "b", 300, seed=11, test_fraction=0.3)
    other = write_nlrx(tmp_path / "c", 300, seed=12, test_fraction=0.3)
    assert [p.name for p in first] == ["train.jsonl", "test.jsonl"]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    assert first[0].read_bytes() != other[0].read_bytes()
    assert len(read_chat_jsonl(first[1]).examples) == 90


def test_too_many_examples_reports_how_many_exist(tmp_path):
    with pytest.raises(GrammarExhausted) as caught:
        write_nlrx(tmp_path / "out", 100_000, seed=0, limits=GrammarLimits(max_depth=1))
    assert 0 < caught.value.found < 100_000
    assert f"only {caught.value.found} distinct" in str(caught.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_test_fraction_must_be_inside_zero_one(fraction):
    with pytest.raises(ValueError, match="between 0 and 1"):
        generate_nlrx(10, seed=0, test_fraction=fraction)


def _figures(examples: list[ChatExample]) -> dict[str, float]:
    """Operator shares and mean lengths, without the (slower) empty-language check."""
    counts = [count_operators(e.assistant) for e in examples]
    figures = {op_: sum(c[op_] > 0 for c in counts) / len(examples) for op_ in counts[0]}
    figures["description"] = sum(len(e.user) for e in examples) / len(examples)
    figures["regex"] = sum(len(e.assistant) for e in examples) / len(examples)
    return figures


@pytest.mark.skipif(not REAL.is_dir(), reason="NL-RX-SYNTH not available")
def test_generated_figures_are_close_to_the_real_ones():
    """At the real data set's size (dedupe shifts the mix towards longer trees as n grows)."""
    train, test = generate_nlrx(10_000, seed=0)
    ours, real = _figures(train + test), _figures(read_chat_jsonl(REAL / "train.jsonl").examples)
    for key, value in real.items():
        tolerance = 0.06 if value <= 1 else 0.05 * value
        assert ours[key] == pytest.approx(value, abs=tolerance), key
