"""Regex equivalence for NL-RX: a parser for the dk.brics.automaton dialect and a derivative-based decision procedure.

    >>> from semantic_tube.regex import equivalent
    >>> equivalent(".*", ".*.*").equal
    True
    >>> equivalent("a.*", "a+").witness
    'ab'

Pure Python with no heavy imports, so `stp regex` starts fast.
"""

from semantic_tube.regex.equivalence import (
    BoundaryMode,
    EquivalenceResult,
    clear_caches,
    equivalent,
    fullmatch,
    is_empty_language,
)
from semantic_tube.regex.syntax import Node, RegexSyntaxError, parse

__all__ = [
    "BoundaryMode",
    "EquivalenceResult",
    "Node",
    "RegexSyntaxError",
    "clear_caches",
    "equivalent",
    "fullmatch",
    "is_empty_language",
    "parse",
]
