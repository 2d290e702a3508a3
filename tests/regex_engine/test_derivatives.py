"""The derivative engine against two independent oracles, on random regexes and strings.

Without `&` and `~` the brics dialect is a subset of Python's syntax, so `re.fullmatch` (with
ASCII word characters and `.` matching newlines) decides membership. With them, a small
brute-force matcher over substrings (below) does, `\\b` included: it reads the characters
around each substring, which is the semantics the engine's context bits implement.
"""

import itertools
import re
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from semantic_tube.regex import equivalent, fullmatch, parse
from semantic_tube.regex.derivatives import WORD_CHARS
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
