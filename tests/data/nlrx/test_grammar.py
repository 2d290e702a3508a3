"""The NL-RX grammar (data/nlrx/grammar.py): each construct's English/regex pair, the smoothing
of its English, and random trees within the limits."""

from __future__ import annotations

import random

import pytest

from semantic_tube.data.nlrx.grammar import (
    AND_OR,
    LITERALS,
    MODIFIERS,
    GrammarLimits,
    Node,
    describe,
    opening,
    sample_tree,
    smooth,
)


def lit(kind: str, word: str = "") -> Node:
    return Node(kind, value=word)


def op(kind: str, *children: Node, count: int = 0) -> Node:
    return Node(kind, children, count=count)


DOG, TRUCK, RING = lit("word", "dog"), lit("word", "truck"), lit("word", "ring")
NUMBER, CAPITAL, LOWER, VOWEL, CHAR = lit("number"), lit("capital"), lit("lower"), lit("vowel"), lit("character")


@pytest.mark.parametrize(
    "literal, regex, english",
    [
        (NUMBER, "[0-9]", "a number"),
        (CAPITAL, "[A-Z]", "a capital letter"),
        (LOWER, "[a-z]", "a lower-case letter"),
        (lit("letter"), "[A-Za-z]", "a letter"),
        (VOWEL, "[AEIOUaeiou]", "a vowel"),
        (CHAR, ".", "a character"),
        (DOG, "dog", "the string 'dog'"),
    ],
)
def test_literals(literal, regex, english):
    assert (literal.regex(), literal.english()) == (regex, english)
    assert (describe(op("contains", literal)), op("contains", literal).regex()) == (
        f"lines containing {english}",
        f".*{regex}.*",
    )


CASES = [
    # functions
    (op("contains", VOWEL), "lines containing a vowel", ".*[AEIOUaeiou].*"),
    (op("starts", DOG), "lines starting with the string 'dog'", "(dog)(.*)"),
    (op("ends", CAPITAL), "lines ending with a capital letter", "(.*)([A-Z])"),
    (op("words", LOWER), "lines with words with a lower-case letter", "\\b[a-z]\\b"),
    (op("followed", NUMBER, DOG), "lines with a number followed by the string 'dog'", "[0-9].*dog.*"),
    # modifiers
    (op("plus", DOG), "lines with the string 'dog' at least once", "(dog)+"),
    (op("repeat", NUMBER, count=4), "lines with a number, 4 or more times", "([0-9]){4,}"),
    (op("star", CHAR), "lines with a character, zero or more times", "(.)*"),
    # compositions
    (op("or", DOG, NUMBER), "lines with the string 'dog' or a number", "(dog)|([0-9])"),
    (op("and", VOWEL, LOWER), "lines with a vowel and a lower-case letter", "([AEIOUaeiou])&([a-z])"),
    (op("not", DOG), "lines not having the string 'dog'", "~(dog)"),
    (op("not", op("contains", NUMBER)), "lines not containing a number", "~(.*[0-9].*)"),
    (op("not", op("words", CHAR)), "lines not words with a character", "~(\\b.\\b)"),
    (op("before", CAPITAL, DOG), "lines with a capital letter before the string 'dog'", "([A-Z]).*(dog).*"),
    (
        op("or3", DOG, CHAR, TRUCK),
        "lines having either the string 'dog', a character, or the string 'truck'",
        "(dog)|(.)|(truck)",
    ),
    (op("and3", NUMBER, DOG, VOWEL), "lines having a number, the string 'dog', and a vowel", "([0-9])&(dog)&([AEIOUaeiou])"),
    # nested, in the shapes NL-RX uses
    (
        op("star", op("words", op("and", NUMBER, CAPITAL))),
        "lines with words with a number and a capital letter, zero or more times",
        "(\\b([0-9])&([A-Z])\\b)*",
    ),
    (
        op("contains", op("starts", op("followed", DOG, TRUCK))),
        "lines containing starting with the string 'dog' followed by the string 'truck'",
        ".*(dog.*truck.*)(.*).*",
    ),
    (
        op("before", op("or3", VOWEL, DOG, CHAR), NUMBER),
        "lines having either a vowel, the string 'dog', or a character before a number",
        "(([AEIOUaeiou])|(dog)|(.)).*([0-9]).*",
    ),
    (
        op("repeat", op("followed", CAPITAL, VOWEL), count=3),
        "lines with a capital letter followed by a vowel, 3 or more times",
        "([A-Z].*[AEIOUaeiou].*){3,}",
    ),
    (
        op("or", op("not", VOWEL), op("ends", DOG)),
        "lines not having a vowel or ending with the string 'dog'",
        "(~([AEIOUaeiou]))|((.*)(dog))",
    ),
    (
        op("before", DOG, op("not", TRUCK)),
        "lines with the string 'dog' before not the string 'truck'",
        "(dog).*(~(truck)).*",
    ),
]


@pytest.mark.parametrize("tree, english, regex", CASES, ids=[c[2] for c in CASES])
def test_constructs_render_as_nlrx(tree, english, regex):
    assert describe(tree) == english
    assert tree.regex() == regex


@pytest.mark.parametrize(
    "raw, smoothed",
    [
        ("lines a number", "lines with a number"),
        ("lines the string 'dog'", "lines with the string 'dog'"),
        ("lines words with a vowel", "lines with words with a vowel"),
        ("lines having not a vowel", "lines not having a vowel"),
        ("lines not not containing a vowel", "lines containing a vowel"),
        ("lines having not not a vowel", "lines having a vowel"),
        ("lines containing a number", "lines containing a number"),
    ],
)
def test_smoothing(raw, smoothed):
    assert smooth(raw) == smoothed


def _walk(node: Node):
    yield node
    for child in node.children:
        yield from _walk(child)


def _depth(node: Node) -> int:
    return 0 if node.kind in LITERALS else 1 + max(_depth(c) for c in node.children)


def test_sampled_trees_respect_the_limits():
    rng, limits = random.Random(7), GrammarLimits()
    for _ in range(2000):
        tree = sample_tree(rng, limits)
        kinds = [n.kind for n in _walk(tree)]
        classes = [k for k in kinds if k in LITERALS and k != "word"]
        functions = [k for k in kinds if k not in LITERALS and k not in AND_OR and k not in MODIFIERS]
        assert tree.kind not in LITERALS
        assert 1 <= _depth(tree) <= limits.max_depth
        assert len(classes) + kinds.count("word") <= limits.max_literals
        assert sum(k in AND_OR for k in kinds) <= limits.max_and_or
        assert sum(k in MODIFIERS for k in kinds) <= limits.max_modifiers
        assert len(functions) == len(set(functions)), kinds
        assert len(classes) == len(set(classes)), kinds


def test_the_words_opening_a_tree_are_its_left_spine_through_infix_operators_and_modifiers():
    tree = op("plus", op("before", op("contains", DOG), NUMBER))
    assert opening(tree) == op("contains", DOG)
    assert opening(op("or", VOWEL, DOG)) == VOWEL and opening(op("not", DOG)) == op("not", DOG)


def test_the_same_seed_draws_the_same_trees():
    first = [sample_tree(random.Random(11), GrammarLimits()) for _ in range(3)]
    again = [sample_tree(random.Random(11), GrammarLimits()) for _ in range(3)]
    assert first == again
    rng = random.Random(11)
    assert [describe(sample_tree(rng, GrammarLimits())) for _ in range(50)] != [describe(first[0])] * 50


@pytest.mark.parametrize("limits", [{"max_depth": 0}, {"max_literals": 0}])
def test_limits_below_one_level_or_one_literal_are_refused(limits):
    with pytest.raises(ValueError, match="max_depth and max_literals must be at least 1"):
        GrammarLimits(**limits)


def test_depth_one_trees_are_one_operator_over_literals():
    rng = random.Random(0)
    for _ in range(200):
        tree = sample_tree(rng, GrammarLimits(max_depth=1))
        assert tree.kind not in LITERALS and all(child.kind in LITERALS for child in tree.children)
