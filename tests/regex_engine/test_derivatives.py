"""The derivative engine against two independent oracles, on random regexes and strings.

Without `&` and `~` the brics dialect is a subset of Python's syntax, so `re.fullmatch` (with
ASCII word characters and `.` matching newlines) decides membership. With them, a small
brute-force matcher over substrings (below) does, `\\b` included: it reads the characters
around each substring, which is the semantics the engine's context bits implement. Below them,
the engine's own pieces (character sets, hash-consed terms, exploration) on hand-checked cases.
"""

import itertools
import re
from functools import cache
from time import monotonic

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semantic_tube.regex import equivalent, fullmatch, parse
from semantic_tube.regex.derivatives import ALPHABET_SIZE, WORD_CHARS, CharSet, ExplorationTimeout, TermBuilder, explore, first_difference
from semantic_tube.regex.derivatives import fullmatch as derivative_fullmatch
from semantic_tube.regex.syntax import (
    CharClass,
    Complement,
    Concat,
    EmptyLanguage,
    EmptyString,
    Intersection,
    Union,
    WordBoundary,
)

# '%' and '\n' are in no class the regexes name: answers must hold beyond the mentioned characters.
ALPHABET = "ab1- %\n"
ATOMS = ["a", "b", "1", "-", " ", "[a-b]", "[0-9]", "[^a]", ".", "\\b", "()"]

_texts = st.text(alphabet=ALPHABET, max_size=6)


def _regexes(with_boolean: bool):
    """Fully parenthesised regex strings that read the same in brics and in Python (bar `&`, `~`)."""

    def extend(inner):
        options = [
            st.tuples(inner, inner).map(lambda p: f"({p[0]})({p[1]})"),
            st.tuples(inner, inner).map(lambda p: f"({p[0]})|({p[1]})"),
            st.tuples(inner, st.sampled_from(["*", "+", "?", "{2}", "{1,}", "{0,2}", "{2,3}"])).map(
                lambda p: f"({p[0]}){p[1]}"
            ),
        ]
        if with_boolean:
            options += [
                st.tuples(inner, inner).map(lambda p: f"({p[0]})&({p[1]})"),
                inner.map(lambda r: f"~({r})"),
            ]
        return st.one_of(options)

    return st.recursive(st.sampled_from(ATOMS), extend, max_leaves=6)


def _python(regex: str, boundary: str) -> str:
    return regex.replace("\\b", {"literal": "b", "strip": "", "boundary": "\\b"}[boundary])


@settings(max_examples=300, deadline=None, database=None)
@given(
    _regexes(with_boolean=False),
    st.lists(_texts, min_size=1, max_size=8),
    st.sampled_from(["literal", "strip", "boundary"]),
)
def test_fullmatch_agrees_with_python_re(regex, texts, boundary):
    pattern = re.compile(_python(regex, boundary), re.ASCII | re.DOTALL)
    for text in texts:
        assert fullmatch(regex, text, boundary) == bool(pattern.fullmatch(text)), (regex, text)


def _reference_matcher(node, text: str):
    """Whether `node` matches text[i:j] in place, by brute force over all splits (boundary mode)."""

    def word_at(k: int) -> bool:
        return 0 <= k < len(text) and text[k] in WORD_CHARS

    @cache
    def match(node, i: int, j: int) -> bool:
        if isinstance(node, CharClass):
            return j == i + 1 and (text[i] in node.chars) != node.negated
        if isinstance(node, EmptyString):
            return i == j
        if isinstance(node, EmptyLanguage):
            return False
        if isinstance(node, WordBoundary):
            return i == j and word_at(i - 1) != word_at(i)
        if isinstance(node, Concat):
            head, tail = node.parts[0], node.parts[1:]
            rest = tail[0] if len(tail) == 1 else Concat(tail)
            return any(match(head, i, k) and match(rest, k, j) for k in range(i, j + 1))
        if isinstance(node, Union):
            return any(match(part, i, j) for part in node.parts)
        if isinstance(node, Intersection):
            return all(match(part, i, j) for part in node.parts)
        if isinstance(node, Complement):
            return not match(node.inner, i, j)
        return repeat(node.inner, i, j, node.min, node.max)

    @cache
    def repeat(inner, i: int, j: int, low: int, high) -> bool:
        if high is not None and low > high:
            return False
        if i == j and low == 0:
            return True
        if high == 0:
            return False
        next_high = None if high is None else high - 1
        for k in range(i, j + 1):
            if k == i and low == 0:
                continue  # an empty iteration adds nothing once the minimum is met
            if match(inner, i, k) and repeat(inner, k, j, max(low - 1, 0), next_high):
                return True
        return False

    return match(node, 0, len(text))


@settings(max_examples=300, deadline=None, database=None)
@given(_regexes(with_boolean=True), st.lists(_texts, min_size=1, max_size=8))
def test_fullmatch_agrees_with_brute_force_including_and_not(regex, texts):
    node = parse(regex)
    for text in texts:
        assert fullmatch(regex, text, "boundary") == _reference_matcher(node, text), (regex, text)


def _all_texts(max_len: int):
    for length in range(max_len + 1):
        for chars in itertools.product("ab1- %", repeat=length):
            yield "".join(chars)


# Rewrites of a regex, some meaning-preserving and some not, so that both verdicts are common.
REWRITES = ["({})|#", "~~({})", "({})&@", "()({})", "({})?", "({})*", "({})({})?", "({})+", "({}).*", "~({})"]


def _pairs():
    regexes = _regexes(with_boolean=True)
    related = st.tuples(regexes, st.sampled_from(REWRITES)).map(lambda p: (p[0], p[1].replace("{}", p[0])))
    return st.one_of(st.tuples(regexes, regexes), related)


@settings(max_examples=200, deadline=None, database=None)
@given(_pairs())
def test_verdicts_agree_with_brute_force(pair):
    left, right = pair
    result = equivalent(left, right, boundary="boundary", timeout_s=10.0)
    assert result.status in ("equivalent", "different")
    left_node, right_node = parse(left), parse(right)
    if result.status == "different":
        witness = result.witness
        assert _reference_matcher(left_node, witness) != _reference_matcher(right_node, witness)
    checked = _all_texts(min(len(result.witness or "") - 1, 3) if result.witness is not None else 3)
    assert all(_reference_matcher(left_node, t) == _reference_matcher(right_node, t) for t in checked)
    if result.left_empty:
        assert not any(_reference_matcher(left_node, t) for t in _all_texts(3))
    if result.left_universal:
        assert all(_reference_matcher(left_node, t) for t in _all_texts(3))


# --- the engine's own pieces, on hand-checked cases ------------------------------------------


def test_charset_algebra_over_cofinite_sets():
    ab, not_b = CharSet(False, frozenset("ab")), CharSet(True, frozenset("b"))
    assert ab & not_b == CharSet(False, frozenset("a"))
    assert not_b & ab == CharSet(False, frozenset("a"))
    assert not_b & CharSet(True, frozenset("c")) == CharSet(True, frozenset("bc"))  # all but b, and all but c
    assert "z" in not_b and "b" not in not_b and "b" in not_b.complement()
    assert CharSet(False, frozenset()).empty and not CharSet(True, frozenset("abc")).empty
    assert CharSet(True, frozenset(map(chr, range(ALPHABET_SIZE)))).empty  # every UTF-16 code unit left out


def test_representatives_are_the_most_readable_members():
    assert CharSet(False, frozenset("Z1a")).representative() == "a"  # lower case, then upper case, then digits
    assert CharSet(True, frozenset("ab")).representative() == "c"
    assert CharSet(False, frozenset("\x07")).representative() == "\x07"


def compiled(builder, regex, boundary="literal"):
    return builder.compile(parse(regex), boundary)


def test_equal_terms_up_to_the_normalisation_are_one_object():
    builder = TermBuilder()
    assert compiled(builder, "(dog)|(cat)") is compiled(builder, "(cat)|(dog)|(dog)")  # sorted, deduplicated
    assert compiled(builder, "(a&b)|c") is compiled(builder, "c")  # a&b is empty, the absorbing element folded
    assert compiled(builder, "x#y") is builder.empty
    assert compiled(builder, ".*") is builder.all


def test_explore_finds_the_shortest_match_and_miss():
    builder = TermBuilder()
    deadline = monotonic() + 5
    plus = explore(builder, compiled(builder, "a+b"), deadline)
    assert (plus.shortest_match, plus.shortest_miss) == ("ab", "")
    star = explore(builder, compiled(builder, "(ab)*"), deadline)
    assert (star.shortest_match, star.shortest_miss) == ("", "a")
    assert explore(builder, compiled(builder, "a&b"), deadline).empty and explore(builder, compiled(builder, "~#"), deadline).universal


def test_first_difference_is_a_shortest_string_one_side_matches():
    builder = TermBuilder()
    deadline = monotonic() + 5
    assert first_difference(builder, compiled(builder, "a*"), compiled(builder, "a+"), deadline) == ""
    assert first_difference(builder, compiled(builder, "a.*"), compiled(builder, "a.*.*"), deadline) is None
    assert first_difference(builder, compiled(builder, "(a|b)c"), compiled(builder, "ac"), deadline) == "bc"


def test_a_past_deadline_stops_the_exploration():
    builder = TermBuilder()
    with pytest.raises(ExplorationTimeout):
        explore(builder, compiled(builder, "a+"), monotonic() - 1)


def test_fullmatch_runs_the_automaton_on_one_string():
    builder = TermBuilder()
    term = compiled(builder, "[0-9]+(\\.[0-9]+)?")
    assert derivative_fullmatch(builder, term, "3.14") and not derivative_fullmatch(builder, term, "3.")
    bounded = compiled(builder, "\\bdog\\b", "boundary")
    assert derivative_fullmatch(builder, bounded, "dog") and not derivative_fullmatch(builder, compiled(builder, "a\\bb", "boundary"), "ab")
