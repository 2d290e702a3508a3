"""Summary figures of a regex data set (data/nlrx/stats.py): operators outside escapes and
classes, lengths, the empty-language share, and the table beside a reference."""

from __future__ import annotations

import pytest

from semantic_tube.data.messages import ChatExample
from semantic_tube.data.nlrx import count_operators, dataset_stats, format_stats


def _ex(user: str, assistant: str) -> ChatExample:
    return ChatExample(user=user, assistant=assistant)


def test_count_operators_skips_escapes_and_classes():
    counts = count_operators("(\\b[.*+&]\\b)*&~((x){3,})|(y)+.*\\.*")
    assert counts == {"&": 1, "|": 1, "~": 1, "*": 2, "+": 1, "{n,}": 1, "\\b": 2, ".*": 1}


def test_dataset_stats_figures():
    stats = dataset_stats([_ex("lines ab", ".*a.*"), _ex("lines abcd", "(a)&(b)"), _ex("lines x", "(x){2,}")])
    assert stats["examples"] == 3
    assert stats["operators"]["&"] == {"share": pytest.approx(1 / 3), "per_example": pytest.approx(1 / 3)}
    assert stats["operators"][".*"]["per_example"] == pytest.approx(2 / 3)
    assert stats["description_chars"] == {"mean": pytest.approx(25 / 3), "median": 8, "max": 10}
    assert stats["regex_chars"]["max"] == 7
    if stats["empty_language_share"] is not None:  # with the regex engine: (a)&(b) is empty
        assert stats["empty_language_share"] == pytest.approx(1 / 3)



def test_a_star_of_dot_counts_once_and_a_class_hides_its_operators():
    assert count_operators(".*") == {"&": 0, "|": 0, "~": 0, "*": 0, "+": 0, "{n,}": 0, "\\b": 0, ".*": 1}
    assert count_operators("[&|~*+]{2,}")["{n,}"] == 1 and sum(count_operators("[&|~*+]").values()) == 0
    assert count_operators("a{2}")["{n,}"] == 0  # a fixed count is not "n or more"


def test_no_examples_is_an_error():
    with pytest.raises(ValueError, match="no examples to summarise"):
        dataset_stats([])


def test_the_table_puts_a_reference_beside_the_data():
    data, reference = dataset_stats([_ex("lines a", "(a)+")]), dataset_stats([_ex("lines bb", "b|c"), _ex("lines c", "c")])
    rows = {line.split("  ")[0].strip(): line for line in format_stats(data, reference, names=("mine", "theirs")).splitlines()}
    assert rows["examples"].split() == ["examples", "1", "2"]
    assert rows["op +"].split()[-4:] == ["100.0%", "(1.00/ex)", "0.0%", "(0.00/ex)"]
    assert rows["op |"].split()[-4:] == ["0.0%", "(0.00/ex)", "50.0%", "(0.50/ex)"]
    assert rows["description_chars mean"].split()[-2:] == ["7.0", "7.5"]
    alone = format_stats(data).splitlines()
    assert alone[0].split() == ["data"] and alone[1].split() == ["examples", "1"]
