"""Decide whether two brics-dialect regexes match the same strings, as NL-RX's DFA-equal metric needs.

A verdict comes with a shortest string on which the two differ and with whether each side
matches nothing or everything: about 16% of NL-RX targets match no string, and a scorer has
to report that subset apart. Per-regex facts and per-pair verdicts are cached because an
evaluation compares the same targets many times; timeouts are not cached, so a later call
with a longer limit can still decide the pair.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from time import monotonic

from semantic_tube.regex.derivatives import (
    ExplorationTimeout,
    Language,
    Term,
    TermBuilder,
    explore,
    first_difference,
)
from semantic_tube.regex.derivatives import fullmatch as _run
from semantic_tube.regex.syntax import RegexSyntaxError, parse

__all__ = ["BoundaryMode", "EquivalenceResult", "clear_caches", "equivalent", "fullmatch", "is_empty_language"]

log = logging.getLogger(__name__)

# Bounds on what the module keeps between calls; past them the store is simply started afresh.
_MAX_TERMS = 200_000
_MAX_CACHED = 100_000


class BoundaryMode(str, Enum):
    """How `\\b` is read: the letter b (as brics does), the empty string, or an ASCII word boundary."""

    LITERAL = "literal"
    STRIP = "strip"
    BOUNDARY = "boundary"


@dataclass(frozen=True)
class EquivalenceResult:
    """The verdict on one pair; language facts are None where the side could not be analysed."""

    status: str
    witness: str | None = None
    unparsable_side: str | None = None
    left_empty: bool | None = None
    right_empty: bool | None = None
    left_universal: bool | None = None
    right_universal: bool | None = None

    @property
    def equal(self) -> bool:
        return self.status == "equivalent"


class _Store:
    """The shared term builder and the caches; one per process, restarted when it grows too large."""

    def __init__(self) -> None:
        self.builder = TermBuilder()
        self.terms: dict[tuple[str, BoundaryMode], Term] = {}
        self.languages: dict[tuple[str, BoundaryMode], Language] = {}
        self.verdicts: dict[tuple[str, str, BoundaryMode], EquivalenceResult] = {}

    def term(self, regex: str, mode: BoundaryMode) -> Term:
        key = (regex, mode)
        term = self.terms.get(key)
        if term is None:
            term = self.terms[key] = self.builder.compile(parse(regex), mode.value)
        return term

    def language(self, regex: str, mode: BoundaryMode, deadline: float) -> Language:
        key = (regex, mode)
        language = self.languages.get(key)
        if language is None:
            language = self.languages[key] = explore(self.builder, self.term(regex, mode), deadline)
        return language

    @property
    def too_large(self) -> bool:
        return len(self.builder) > _MAX_TERMS or len(self.verdicts) > _MAX_CACHED


_store = _Store()


def clear_caches() -> None:
    """Forget every cached term, language and verdict (benchmarks use it to time cold calls)."""
    global _store
    _store = _Store()


def _current_store() -> _Store:
    if _store.too_large:
        clear_caches()
    return _store


def equivalent(a: str, b: str, boundary: str = "literal", timeout_s: float = 2.0) -> EquivalenceResult:
    """Whether regexes `a` and `b` match exactly the same strings, with `\\b` read as `boundary` says.

    Identical strings are equal without being parsed; an unparsable side makes the pair
    "unparsable"; running past `timeout_s` makes it "timeout" (not equal) and is logged.
    """
    mode = BoundaryMode(boundary)
    store = _current_store()
    key = (a, b, mode)
    cached = store.verdicts.get(key)
    if cached is not None:
        return cached
    deadline = monotonic() + timeout_s
    try:
        result = _identical(store, a, mode, deadline) if a == b else _decide(store, a, b, mode, deadline)
    except ExplorationTimeout:
        log.warning("regex equivalence timed out after %.3gs: %r vs %r (\\b %s)", timeout_s, a, b, mode.value)
        return EquivalenceResult("timeout")
    store.verdicts[key] = result
    return result


def _identical(store: _Store, regex: str, mode: BoundaryMode, deadline: float) -> EquivalenceResult:
    """Equal by definition; the language facts are added when the regex parses (the scorer wants them)."""
    try:
        language = store.language(regex, mode, deadline)
    except RegexSyntaxError:
        return EquivalenceResult("equivalent")
    return EquivalenceResult(
        "equivalent",
        left_empty=language.empty,
        right_empty=language.empty,
        left_universal=language.universal,
        right_universal=language.universal,
    )


def _decide(store: _Store, a: str, b: str, mode: BoundaryMode, deadline: float) -> EquivalenceResult:
    left, left_error = _language_or_error(store, a, mode, deadline)
    right, right_error = _language_or_error(store, b, mode, deadline)
    if left_error or right_error:
        side = "both" if left_error and right_error else "left" if left_error else "right"
        return EquivalenceResult(
            "unparsable",
            unparsable_side=side,
            left_empty=left and left.empty,
            right_empty=right and right.empty,
            left_universal=left and left.universal,
            right_universal=right and right.universal,
        )
    assert left is not None and right is not None
    witness = _shortcut_witness(left, right)
    if witness is None and not _trivially_equal(left, right):
        witness = first_difference(store.builder, store.term(a, mode), store.term(b, mode), deadline)
    return EquivalenceResult(
        "equivalent" if witness is None else "different",
        witness=witness,
        left_empty=left.empty,
        right_empty=right.empty,
        left_universal=left.universal,
        right_universal=right.universal,
    )


def _language_or_error(
    store: _Store, regex: str, mode: BoundaryMode, deadline: float
) -> tuple[Language | None, RegexSyntaxError | None]:
    try:
        return store.language(regex, mode, deadline), None
    except RegexSyntaxError as error:
        return None, error


def _trivially_equal(left: Language, right: Language) -> bool:
    return (left.empty and right.empty) or (left.universal and right.universal)


def _shortcut_witness(left: Language, right: Language) -> str | None:
    """When one side matches nothing (or everything) and the other does not, its shortest example differs."""
    if left.empty != right.empty:
        return left.shortest_match if right.empty else right.shortest_match
    if left.universal != right.universal:
        return left.shortest_miss if right.universal else right.shortest_miss
    return None


def is_empty_language(regex: str, boundary: str = "literal", timeout_s: float = 10.0) -> bool:
    """Whether `regex` matches no string at all; raises RegexSyntaxError, or TimeoutError past `timeout_s`."""
    try:
        return _current_store().language(regex, BoundaryMode(boundary), monotonic() + timeout_s).empty
    except ExplorationTimeout:
        raise TimeoutError(f"emptiness of {regex!r} undecided after {timeout_s}s") from None


def fullmatch(regex: str, text: str, boundary: str = "literal") -> bool:
    """Whether `regex` matches all of `text`; whole-string matching, as in brics."""
    store = _current_store()
    return _run(store.builder, store.term(regex, BoundaryMode(boundary)), text)
