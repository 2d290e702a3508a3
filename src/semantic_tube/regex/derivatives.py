"""Brzozowski derivatives over character classes: the automata underneath regex equivalence.

Terms are hash-consed (built only through `TermBuilder`, so two equal terms are the same
object) and normalised as they are built: `|` and `&` are flattened, sorted and deduplicated,
concatenation is right-nested, and the absorbing elements are folded. Under that
normalisation a term has finitely many derivatives, so exploring them builds a DFA lazily.
The DFA is not minimised (states are terms equal up to the normalisation, not languages), but
the normalisation keeps it small, and the product is explored only up to the first
disagreement, skipping pairs whose two terms are the same object.

The alphabet is never enumerated. Each term splits all characters into blocks that lead to
the same derivative (Owens, Reppy & Turon, 2009); blocks are `CharSet`s that may be
co-finite, so verdicts are exact over every character, not just those the regexes mention.
"Every character" is brics' alphabet, the UTF-16 code units U+0000..U+FFFF: `[\\x00-\\uffff]`
and `.` are the same there, and witnesses never need a character outside it.

Word boundaries (`\\b` in `boundary` mode) make the empty string's acceptance depend on its
context: whether the character before and after is an ASCII word character. A term's
`mask` holds one acceptance bit per (before, after) pair, and the exploration state carries
the "previous character was a word character" bit, so `\\b` stays exact inside `&` and `~`.
"""

from __future__ import annotations

import string
from collections import deque
from collections.abc import Iterable
from functools import lru_cache
from time import monotonic
from typing import Self

from semantic_tube.regex.syntax import (
    CharClass,
    Complement,
    Concat,
    EmptyLanguage,
    EmptyString,
    Intersection,
    Node,
    Repeat,
    Union,
    WordBoundary,
)

__all__ = [
    "CharSet",
    "ExplorationTimeout",
    "Language",
    "Term",
    "TermBuilder",
    "explore",
    "first_difference",
    "fullmatch",
]

ALPHABET_SIZE = 0x10000  # brics reads Java chars
WORD_CHARS = frozenset(string.ascii_letters + string.digits + "_")

# Witness characters are picked from this list first, so shortest differing strings stay readable.
_PREFERRED = string.ascii_lowercase + string.ascii_uppercase + string.digits + " _-.,;:!?'\"()[]{}<>/\\|@#$%^&*+=~`"
_RANK = {char: rank for rank, char in enumerate(_PREFERRED)}

# Term kinds.
EMPTY, EPS, CHARS, BOUND, CAT, STAR, REP, OR, AND, NOT = range(10)

# Acceptance bits of the empty string, indexed by 2 * (previous is word) + (next is word);
# the start and the end of the string count as non-word, as in Python's `re`.
ALWAYS = 0b1111
AT_BOUNDARY = 0b0110


class ExplorationTimeout(Exception):
    """The deadline passed while exploring derivatives."""


class CharSet(tuple):
    """`(negated, chars)`: the characters in `chars`, or with `negated` all characters but those."""

    __slots__ = ()

    def __new__(cls, negated: bool, chars: frozenset[str]) -> Self:
        return tuple.__new__(cls, (negated, chars))

    @property
    def empty(self) -> bool:
        negated, chars = self
        if not negated:
            return not chars
        return len(chars) >= ALPHABET_SIZE and sum(ord(c) < ALPHABET_SIZE for c in chars) == ALPHABET_SIZE

    def __contains__(self, char: object) -> bool:
        return (char in self[1]) != self[0]

    def complement(self) -> CharSet:
        return CharSet(not self[0], self[1])

    def __and__(self, other: CharSet) -> CharSet:  # type: ignore[override]
        (neg_a, a), (neg_b, b) = self, other
        if neg_a and neg_b:
            return CharSet(True, a | b)
        if neg_a:
            return CharSet(False, b - a)
        if neg_b:
            return CharSet(False, a - b)
        return CharSet(False, a & b)

    def representative(self) -> str:
        """A member, the most readable one, so that witnesses are easy to read."""
        return _representative(self)


@lru_cache(maxsize=4096)
def _representative(charset: CharSet) -> str:
    negated, chars = charset
    if not negated:
        return min(chars, key=lambda c: (_RANK.get(c, len(_RANK)), c))
    for char in _PREFERRED:
        if char not in chars:
            return char
    return next(chr(code) for code in range(ALPHABET_SIZE) if chr(code) not in chars)


ALL_CHARS = CharSet(True, frozenset())
WORD = CharSet(False, WORD_CHARS)
WORD_SPLIT = (WORD, WORD.complement())


class Term:
    """A hash-consed regex term; compare with `is`. Caches its derivatives and character blocks."""

    __slots__ = ("_blocks", "a", "b", "derivs", "has_b", "kind", "mask", "uid")

    def __init__(self, kind: int, a: object, b: object, uid: int, mask: int, has_b: bool) -> None:
        self.kind, self.a, self.b, self.uid, self.mask, self.has_b = kind, a, b, uid, mask, has_b
        self.derivs: dict[object, Term] = {}
        self._blocks: list[CharSet] | None = None

    def accepts_at_end(self, prev_word: int) -> bool:
        """Whether the input may stop here, given whether the last character read was a word character."""
        return bool(self.mask >> (2 * prev_word) & 1)


def _refine(left: list[CharSet], right: list[CharSet]) -> list[CharSet]:
    """The coarsest partition finer than both."""
    if len(left) == 1:
        return right
    if len(right) == 1:
        return left
    return [block for x in left for y in right if not (block := x & y).empty]


class TermBuilder:
    """Builds, normalises and differentiates terms. Not thread-safe; `len()` is the number of interned terms."""

    def __init__(self) -> None:
        self._table: dict[tuple, Term] = {}
        self.empty = self._intern(EMPTY, None, None, 0, False)
        self.eps = self._intern(EPS, None, None, ALWAYS, False)
        self.all = self.star(self.chars(ALL_CHARS))

    def __len__(self) -> int:
        return len(self._table)

    def _intern(self, kind: int, a: object, b: object, mask: int, has_b: bool) -> Term:
        key = (kind, a, b)
        term = self._table.get(key)
        if term is None:
            term = self._table[key] = Term(kind, a, b, len(self._table), mask, has_b)
        return term

    # --- construction from the parse tree ---------------------------------------------------

    def compile(self, node: Node, boundary: str) -> Term:
        """The term for a parse tree, reading `\\b` as the letter b, the empty string, or a boundary."""
        match node:
            case CharClass(chars, negated):
                return self.chars(CharSet(negated, chars))
            case EmptyString():
                return self.eps
            case EmptyLanguage():
                return self.empty
            case WordBoundary():
                if boundary == "literal":
                    return self.chars(CharSet(False, frozenset("b")))
                return self.eps if boundary == "strip" else self._intern(BOUND, None, None, AT_BOUNDARY, True)
            case Concat(parts):
                return self.concat([self.compile(part, boundary) for part in parts])
            case Union(parts):
                return self.union([self.compile(part, boundary) for part in parts])
            case Intersection(parts):
                return self.intersection([self.compile(part, boundary) for part in parts])
            case Complement(inner):
                return self.complement(self.compile(inner, boundary))
            case Repeat(inner, low, high):
                return self.repeat(self.compile(inner, boundary), low, high)
        raise TypeError(f"not a regex node: {node!r}")

    # --- smart constructors --------------------------------------------------------------------

    def chars(self, charset: CharSet) -> Term:
        return self.empty if charset.empty else self._intern(CHARS, charset, None, 0, False)

    def concat(self, terms: list[Term]) -> Term:
        result = self.eps
        for term in reversed(terms):
            result = self.cat(term, result)
        return result

    def cat(self, head: Term, tail: Term) -> Term:
        if head is self.empty or tail is self.empty:
            return self.empty
        if head is self.eps:
            return tail
        if tail is self.eps:
            return head
        if head.kind == CAT:
            return self.cat(head.a, self.cat(head.b, tail))
        if head is self.all and (tail is self.all or (tail.kind == CAT and tail.a is self.all)):
            return tail
        return self._intern(CAT, head, tail, head.mask & tail.mask, head.has_b or tail.has_b)

    def star(self, inner: Term) -> Term:
        if inner is self.empty or inner is self.eps:
            return self.eps
        if inner.kind == STAR:
            return inner
        return self._intern(STAR, inner, None, ALWAYS, inner.has_b)

    def repeat(self, inner: Term, low: int, high: int | None) -> Term:
        if high is not None and low > high:
            return self.empty
        if high == 0 or inner is self.eps:
            return self.eps
        if inner is self.empty:
            return self.eps if low == 0 else self.empty
        if inner.mask == ALWAYS:
            low = 0  # a nullable body can always skip its compulsory iterations
        if high is None and low == 0:
            return self.star(inner)
        if low == high == 1:
            return inner
        mask = ALWAYS if low == 0 else inner.mask
        return self._intern(REP, inner, (low, high), mask, inner.has_b)

    def union(self, terms: Iterable[Term]) -> Term:
        return self._boolean(OR, terms)

    def intersection(self, terms: Iterable[Term]) -> Term:
        return self._boolean(AND, terms)

    def _boolean(self, kind: int, terms: Iterable[Term]) -> Term:
        """`|` or `&` of terms: flattened, absorbing and neutral elements folded, classes merged, sorted."""
        is_or = kind == OR
        absorbing, neutral = (self.all, self.empty) if is_or else (self.empty, self.all)
        members: dict[int, Term] = {}
        charset: CharSet | None = None
        for term in terms:
            for member in term.a if term.kind == kind else (term,):
                if member is absorbing:
                    return absorbing
                if member is neutral:
                    continue
                if member.kind == CHARS:
                    charset = member.a if charset is None else self._merge(charset, member.a, is_or)
                else:
                    members[member.uid] = member
        if charset is not None:
            merged = self.chars(charset)
            if merged is absorbing:
                return absorbing
            if merged is not neutral:
                members[merged.uid] = merged
        if not members:
            return neutral
        if len(members) == 1:
            return next(iter(members.values()))
        ordered = tuple(members[uid] for uid in sorted(members))
        if not is_or and self.eps in ordered:
            return self._intersect_with_eps(ordered)
        mask, has_b = 0 if is_or else ALWAYS, False
        for member in ordered:
            mask = mask | member.mask if is_or else mask & member.mask
            has_b = has_b or member.has_b
        return self._intern(kind, ordered, None, mask, has_b)

    @staticmethod
    def _merge(left: CharSet, right: CharSet, is_or: bool) -> CharSet:
        if is_or:
            return (left.complement() & right.complement()).complement()
        return left & right

    def _intersect_with_eps(self, members: tuple[Term, ...]) -> Term:
        """`() & X` keeps only the empty string, in the contexts where every member accepts it."""
        mask = ALWAYS
        for member in members:
            mask &= member.mask
        if mask == ALWAYS:
            return self.eps
        if mask == 0:
            return self.empty
        return self._intern(AND, members, None, mask, True)

    def complement(self, inner: Term) -> Term:
        if inner.kind == NOT:
            return inner.a
        if inner is self.empty:
            return self.all
        if inner is self.all:
            return self.empty
        return self._intern(NOT, inner, None, ~inner.mask & ALWAYS, inner.has_b)

    # --- derivatives ---------------------------------------------------------------------------

    def derive(self, term: Term, char: str, prev_word: int) -> Term:
        """The term matching the rest of the input after `char`, read after a word character or not."""
        key = (char, prev_word) if term.has_b else char
        result = term.derivs.get(key)
        if result is None:
            result = term.derivs[key] = self._derive(term, char, prev_word)
        return result

    def _derive(self, term: Term, char: str, prev_word: int) -> Term:
        kind = term.kind
        if kind == CHARS:
            return self.eps if char in term.a else self.empty
        if kind == CAT:
            head, tail = term.a, term.b
            first = self.cat(self.derive(head, char, prev_word), tail)
            if head.mask >> (2 * prev_word + (char in WORD_CHARS)) & 1:
                return self.union((first, self.derive(tail, char, prev_word)))
            return first
        if kind == STAR:
            return self.cat(self.derive(term.a, char, prev_word), term)
        if kind == REP:
            return self._derive_repeat(term, char, prev_word)
        if kind == OR:
            return self.union([self.derive(member, char, prev_word) for member in term.a])
        if kind == AND:
            return self.intersection([self.derive(member, char, prev_word) for member in term.a])
        if kind == NOT:
            return self.complement(self.derive(term.a, char, prev_word))
        return self.empty  # EMPTY, EPS and BOUND consume no character

    def _derive_repeat(self, term: Term, char: str, prev_word: int) -> Term:
        """X{n,m} is X X{n-1,m-1}; when X can match the empty string here, the first X may be skipped."""
        inner, (low, high) = term.a, term.b
        rest_high = None if high is None else high - 1
        rest = self.repeat(inner, max(low - 1, 0), rest_high)
        first = self.cat(self.derive(inner, char, prev_word), rest)
        if low > 0 and inner.mask >> (2 * prev_word + (char in WORD_CHARS)) & 1:
            return self.union((first, self.derive(rest, char, prev_word)))
        return first

    def blocks(self, term: Term) -> list[CharSet]:
        """A partition of all characters such that characters in one block give the same derivative."""
        if term._blocks is None:
            term._blocks = self._compute_blocks(term)
        return term._blocks

    def _compute_blocks(self, term: Term) -> list[CharSet]:
        """Leaves split on their class; a `\\b` anywhere below also splits word from non-word characters,
        because the word bit of the next state depends on it."""
        kind = term.kind
        if kind == CHARS:
            return [block for block in (term.a, term.a.complement()) if not block.empty]
        if kind == BOUND:
            return list(WORD_SPLIT)
        if kind == CAT:
            result = self.blocks(term.a)
            if term.a.mask:
                result = _refine(result, self.blocks(term.b))
        elif kind in (STAR, REP, NOT):
            result = self.blocks(term.a)
        elif kind in (OR, AND):
            result = [ALL_CHARS]
            for member in term.a:
                result = _refine(result, self.blocks(member))
        else:
            return [ALL_CHARS]
        return _refine(result, list(WORD_SPLIT)) if term.has_b else result

    def step(self, term: Term, char: str, prev_word: int) -> tuple[Term, int]:
        """The next exploration state; the word bit is kept only while a boundary remains to need it."""
        result = self.derive(term, char, prev_word)
        return result, int(result.has_b and char in WORD_CHARS)


class Language:
    """What a single-side exploration learns: emptiness, universality and the shortest examples."""

    __slots__ = ("shortest_match", "shortest_miss")

    def __init__(self, shortest_match: str | None, shortest_miss: str | None) -> None:
        self.shortest_match = shortest_match
        self.shortest_miss = shortest_miss

    @property
    def empty(self) -> bool:
        return self.shortest_match is None

    @property
    def universal(self) -> bool:
        return self.shortest_miss is None


def _path(parents: dict, state: object) -> str:
    chars = []
    while (link := parents[state]) is not None:
        state, char = link
        chars.append(char)
    return "".join(reversed(chars))


def explore(builder: TermBuilder, term: Term, deadline: float) -> Language:
    """Breadth-first over derivatives until a matched and a missed string are both found (or all states are seen)."""
    start = (term, 0)
    parents: dict[tuple[Term, int], object] = {start: None}
    queue = deque([start])
    match = miss = None
    while queue:
        if monotonic() > deadline:
            raise ExplorationTimeout
        state = queue.popleft()
        current, prev_word = state
        if current.accepts_at_end(prev_word):
            match = _path(parents, state) if match is None else match
        else:
            miss = _path(parents, state) if miss is None else miss
        if match is not None and miss is not None:
            break
        for block in builder.blocks(current):
            char = block.representative()
            following = builder.step(current, char, prev_word)
            if following not in parents:
                parents[following] = (state, char)
                queue.append(following)
    return Language(match, miss)


def first_difference(builder: TermBuilder, left: Term, right: Term, deadline: float) -> str | None:
    """A shortest string exactly one side matches, or None when they match the same strings."""
    start = (left, right, 0)
    parents: dict[tuple[Term, Term, int], object] = {start: None}
    queue = deque([start])
    while queue:
        if monotonic() > deadline:
            raise ExplorationTimeout
        state = queue.popleft()
        one, other, prev_word = state
        if one is other:
            continue  # identical terms agree on every continuation
        if one.accepts_at_end(prev_word) != other.accepts_at_end(prev_word):
            return _path(parents, state)
        for block in _refine(builder.blocks(one), builder.blocks(other)):
            char = block.representative()
            next_one = builder.derive(one, char, prev_word)
            next_other = builder.derive(other, char, prev_word)
            word = int((next_one.has_b or next_other.has_b) and char in WORD_CHARS)
            following = (next_one, next_other, word)
            if following not in parents:
                parents[following] = (state, char)
                queue.append(following)
    return None


def fullmatch(builder: TermBuilder, term: Term, text: str) -> bool:
    """Whether `term` matches all of `text` (runs the derivative automaton on one string)."""
    prev_word = 0
    for char in text:
        term, prev_word = builder.step(term, char, prev_word)
        if term is builder.empty:
            return False
    return term.accepts_at_end(prev_word)
