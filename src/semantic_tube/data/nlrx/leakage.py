"""Leakage between two data files: descriptions or regexes that appear in both.

A test example whose description (or target) also appears in training measures memory, not
generalisation; the paper's own NL-RX-SYNTH split has 39 such descriptions, so every pair of
files a user trains and tests on is worth checking.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from semantic_tube.data.messages import ChatExample


@dataclass(frozen=True)
class Shared:
    """One string found in both files, and how often it occurs in each."""

    text: str
    count_a: int
    count_b: int


@dataclass(frozen=True)
class Leakage:
    """The descriptions (user turns) and regexes (assistant turns) shared by two files."""

    descriptions: tuple[Shared, ...]
    regexes: tuple[Shared, ...]

    def __bool__(self) -> bool:
        return bool(self.descriptions or self.regexes)

    def format(self, limit: int = 10) -> str:
        """A report listing the first `limit` shared strings of each kind."""
        lines: list[str] = []
        for name, shared in (("descriptions", self.descriptions), ("regexes", self.regexes)):
            lines.append(f"{name} in both files: {len(shared)}")
            lines += [f"  {s.count_a} x {s.count_b}  {s.text}" for s in shared[:limit]]
            if len(shared) > limit:
                lines.append(f"  ... and {len(shared) - limit} more")
        return "\n".join(lines)


def _shared(a: list[str], b: list[str]) -> tuple[Shared, ...]:
    """Strings of `a` also in `b`, in order of first appearance in `a` (deterministic)."""
    count_a, count_b = Counter(a), Counter(b)
    return tuple(Shared(text, n, count_b[text]) for text, n in count_a.items() if text in count_b)


def find_leakage(a: list[ChatExample], b: list[ChatExample]) -> Leakage:
    """Compare two example lists by exact description and exact regex (plain-text rows have neither)."""
    a, b = ([e for e in examples if isinstance(e, ChatExample)] for examples in (a, b))
    return Leakage(
        descriptions=_shared([e.user for e in a], [e.user for e in b]),
        regexes=_shared([e.assistant for e in a], [e.assistant for e in b]),
    )
