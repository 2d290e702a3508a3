"""The parser reads the brics dialect exactly as dk.brics.automaton.RegExp does (all flags on)."""

import pytest

from semantic_tube.regex import RegexSyntaxError, parse
from semantic_tube.regex.syntax import (
    ANY_CHAR,
    CharClass,
    Complement,
    Concat,
    EmptyLanguage,
    EmptyString,
    Intersection,
    Repeat,
    Union,
    WordBoundary,
)


def lit(text: str):
    """The node for one literal character, or the concatenation of several."""
    nodes = tuple(CharClass(frozenset(c)) for c in text)
    return nodes[0] if len(nodes) == 1 else Concat(nodes)


A, B, C = lit("a"), lit("b"), lit("c")


@pytest.mark.parametrize(
    ("regex", "tree"),
    [
        ("a|b&c", Union((A, Intersection((B, C))))),
        ("a&b|c", Union((Intersection((A, B)), C))),
        ("ab&c", Intersection((lit("ab"), C))),
        ("a&bc", Intersection((A, lit("bc")))),
        ("ab|c", Union((lit("ab"), C))),
        ("ab*", Concat((A, Repeat(B, 0, None)))),
        ("~a*", Repeat(Complement(A), 0, None)),
        ("~ab", Concat((Complement(A), B))),
        ("~~a", Complement(Complement(A))),
        ("~(a)", Complement(A)),
        ("a*+?", Repeat(Repeat(Repeat(A, 0, None), 1, None), 0, 1)),
        ("a{2}{3}", Repeat(Repeat(A, 2, 2), 3, 3)),
        ("a{2,}", Repeat(A, 2, None)),
        ("a{2,5}", Repeat(A, 2, 5)),
        ("a{5,2}", Repeat(A, 5, 2)),
        ("()", EmptyString()),
        ('""', EmptyString()),
        ('"ab"', lit("ab")),
        ("#", EmptyLanguage()),
        ("@", Repeat(ANY_CHAR, 0, None)),
        (".", ANY_CHAR),
        ("[^a]", CharClass(frozenset("a"), negated=True)),
        ("[AEIOUaeiou]", CharClass(frozenset("AEIOUaeiou"))),
        ("[0-9]", CharClass(frozenset("0123456789"))),
        ("[a-]", CharClass(frozenset("a-"))),
        ("[]a]", CharClass(frozenset("]a"))),
        ("[\\b]", CharClass(frozenset("b"))),
        ("\\.", lit(".")),
        ("\\b", WordBoundary()),
        (
            "\\b(X)&(Y)\\b",
            Intersection((Concat((WordBoundary(), lit("X"))), Concat((lit("Y"), WordBoundary())))),
        ),
    ],
)
def test_precedence_and_atoms(regex, tree):
    assert parse(regex) == tree


def test_class_ranges_cover_both_ends():
    assert parse("[A-Za-z]") == CharClass(frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))


@pytest.mark.parametrize(
    ("regex", "tree"),
    [
        # brics takes any character where it expects one, so the second bar is a literal '|' ...
        ("a||b", Union((A, lit("|b")))),
        # ... and so are a leading '*', an '&' after '&', and a ')' after '|'.
        ("*a", lit("*a")),
        ("a&&b", Intersection((A, lit("&b")))),
        ("a|)", Union((A, lit(")")))),
    ],
)
def test_brics_reads_a_misplaced_operator_as_a_literal(regex, tree):
    assert parse(regex) == tree


@pytest.mark.parametrize(
    ("regex", "position"),
    [
        ("(a", 0),
        ("a)", 1),
        ("a(b|c", 1),
        ("(a|)", 0),  # brics reads "(a|" + literal ")", then misses the closing one
        ("a\\d", 1),
        ("a\\", 1),
        ("[z-a]", 1),
        ("[ab", 0),
        ("a{", 2),
        ("a{2", 3),
        ("a|", 2),
        ("", 0),
        ("<1-5>", 0),
        ('"ab', 0),
    ],
)
def test_syntax_errors_point_at_the_character(regex, position):
    with pytest.raises(RegexSyntaxError) as caught:
        parse(regex)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.position == position
    shown, caret = str(error).splitlines()[-2:]
    assert shown == "  " + regex
    assert caret == " " * (2 + position) + "^"


def test_deep_nesting_is_a_syntax_error_not_a_crash():
    with pytest.raises(RegexSyntaxError, match="nesting too deep"):
        parse("(" * 5000 + "a" + ")" * 5000)
