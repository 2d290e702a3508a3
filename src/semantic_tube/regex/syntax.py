"""Parse regexes in the dk.brics.automaton dialect used by NL-RX into an immutable tree.

The grammar mirrors brics' recursive-descent `RegExp` parser (all syntax flags on), because
NL-RX's published DFA-equal numbers come from that parser, quirks included:

    union    := inter ('|' union)?
    inter    := concat ('&' inter)?
    concat   := repeat concat?          (stops before ')', '|', '&' and at the end)
    repeat   := compl ('?' | '*' | '+' | '{n}' | '{n,}' | '{n,m}')*
    compl    := '~' compl | class
    class    := '[' '^'? item+ ']' | simple
    simple   := '.' | '#' | '@' | '"' text '"' | '(' ')' | '(' union ')' | char
    char     := '\\' any | any

Where brics expects a `char` it takes whatever character comes next, so `a||b` is
`a|"|b"` (the second bar is a literal) and `*a` is the string "*a". We diverge from brics in
three deliberate places, each an error rather than a different reading: an escaped ASCII
letter or digit other than `\\b` (brics reads `\\d` as "d", which is never what the writer
meant), `<...>` (brics' named automata and numeric intervals, absent from NL-RX), and
nesting too deep for Python's recursion limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

__all__ = [
    "ANY_CHAR",
    "CharClass",
    "Complement",
    "Concat",
    "EmptyLanguage",
    "EmptyString",
    "Intersection",
    "Node",
    "RegexSyntaxError",
    "Repeat",
    "Union",
    "WordBoundary",
    "parse",
]


class RegexSyntaxError(ValueError):
    """A regex the brics dialect rejects; the message shows the regex with a caret under `position`."""

    def __init__(self, message: str, regex: str, position: int) -> None:
        self.reason = message
        self.regex = regex
        self.position = position
        super().__init__(f"{message} at position {position}\n  {regex}\n  {' ' * position}^")


@dataclass(frozen=True, slots=True)
class CharClass:
    """One character from `chars`, or with `negated` any character not in `chars` (`.` is negated and empty)."""

    chars: frozenset[str]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class EmptyString:
    """`()` and `""`: matches only the empty string."""


@dataclass(frozen=True, slots=True)
class EmptyLanguage:
    """`#`: matches nothing."""


@dataclass(frozen=True, slots=True)
class WordBoundary:
    """`\\b`; what it means (the letter b, nothing, or a word boundary) is chosen when comparing."""


@dataclass(frozen=True, slots=True)
class Concat:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Union:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Intersection:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Complement:
    """`~X`: every string X does not match, the empty string included."""

    inner: Node


@dataclass(frozen=True, slots=True)
class Repeat:
    """`X{min,max}`; `max` None means unbounded. `?`, `*`, `+` are (0,1), (0,None), (1,None)."""

    inner: Node
    min: int
    max: int | None


Node = CharClass | EmptyString | EmptyLanguage | WordBoundary | Concat | Union | Intersection | Complement | Repeat

ANY_CHAR = CharClass(frozenset(), negated=True)


def parse(regex: str) -> Node:
    """Parse a brics-dialect regex; raises RegexSyntaxError (a ValueError) pointing at the offending character."""
    parser = _Parser(regex)
    try:
        node = parser.union()
    except RecursionError:
        raise RegexSyntaxError("nesting too deep", regex, parser.pos) from None
    if parser.pos < len(regex):
        parser.fail("end of regex expected (unbalanced ')'?)")
    return node


class _Parser:
    """One recursive-descent pass; each method is one rule of the grammar in the module docstring."""

    def __init__(self, regex: str) -> None:
        self.text = regex
        self.pos = 0

    def fail(self, message: str, position: int | None = None) -> NoReturn:
        raise RegexSyntaxError(message, self.text, self.pos if position is None else position)

    def peek(self, chars: str) -> bool:
        return self.pos < len(self.text) and self.text[self.pos] in chars

    def match(self, char: str) -> bool:
        if self.pos < len(self.text) and self.text[self.pos] == char:
            self.pos += 1
            return True
        return False

    def next(self) -> str:
        if self.pos >= len(self.text):
            self.fail("unexpected end of regex")
        self.pos += 1
        return self.text[self.pos - 1]

    def union(self) -> Node:
        parts = [self.inter()]
        while self.match("|"):
            parts.append(self.inter())
        return parts[0] if len(parts) == 1 else Union(tuple(parts))

    def inter(self) -> Node:
        parts = [self.concat()]
        while self.match("&"):
            parts.append(self.concat())
        return parts[0] if len(parts) == 1 else Intersection(tuple(parts))

    def concat(self) -> Node:
        parts = [self.repeat()]
        while self.pos < len(self.text) and not self.peek(")|&"):
            parts.append(self.repeat())
        return parts[0] if len(parts) == 1 else Concat(tuple(parts))

    def repeat(self) -> Node:
        node = self.complement()
        while self.peek("?*+{"):
            op = self.next()
            if op == "?":
                node = Repeat(node, 0, 1)
            elif op == "*":
                node = Repeat(node, 0, None)
            elif op == "+":
                node = Repeat(node, 1, None)
            else:
                node = self.counted(node)
        return node

    def counted(self, node: Node) -> Node:
        low = self.integer()
        high: int | None = low
        if self.match(","):
            high = self.integer() if self.peek("0123456789") else None
        if not self.match("}"):
            self.fail("expected '}'")
        return Repeat(node, low, high)

    def integer(self) -> int:
        start = self.pos
        while self.peek("0123456789"):
            self.pos += 1
        if start == self.pos:
            self.fail("integer expected")
        return int(self.text[start : self.pos])

    def complement(self) -> Node:
        if self.match("~"):
            return Complement(self.complement())
        return self.char_class()

    def char_class(self) -> Node:
        start = self.pos
        if not self.match("["):
            return self.simple()
        negated = self.match("^")
        chars = self.class_item()
        while self.pos < len(self.text) and not self.peek("]"):
            chars |= self.class_item()
        if not self.match("]"):
            self.fail("expected ']'", start if self.pos >= len(self.text) else None)
        return CharClass(frozenset(chars), negated)

    def class_item(self) -> set[str]:
        start = self.pos
        low = self.char()
        if not self.match("-"):
            return {low}
        if self.peek("]"):
            return {low, "-"}
        high = self.char()
        if low > high:
            self.fail(f"invalid range {low}-{high}", start)
        return {chr(code) for code in range(ord(low), ord(high) + 1)}

    def simple(self) -> Node:
        start = self.pos
        if self.match("."):
            return ANY_CHAR
        if self.match("#"):
            return EmptyLanguage()
        if self.match("@"):
            return Repeat(ANY_CHAR, 0, None)
        if self.match('"'):
            return self.quoted(start)
        if self.match("("):
            return self.group(start)
        if self.peek("<"):
            self.fail("named automata and numeric intervals (<...>) are not supported")
        if self.peek("\\") and self.text.startswith("\\b", self.pos):
            self.pos += 2
            return WordBoundary()
        return CharClass(frozenset(self.char()))

    def quoted(self, start: int) -> Node:
        end = self.text.find('"', self.pos)
        if end < 0:
            self.fail("unterminated string", start)
        literal, self.pos = self.text[self.pos : end], end + 1
        if not literal:
            return EmptyString()
        if len(literal) == 1:
            return CharClass(frozenset(literal))
        return Concat(tuple(CharClass(frozenset(c)) for c in literal))

    def group(self, start: int) -> Node:
        if self.match(")"):
            return EmptyString()
        node = self.union()
        if not self.match(")"):
            self.fail("expected ')' (unbalanced '(')", start if self.pos >= len(self.text) else None)
        return node

    def char(self) -> str:
        """A literal character, escaped or not; inside a class `\\b` is the letter b, as in brics."""
        if not self.match("\\"):
            return self.next()
        if self.pos >= len(self.text):
            self.fail("escape at end of regex", self.pos - 1)
        char = self.text[self.pos]
        if char.isascii() and char.isalnum() and char != "b":
            self.fail(f"unknown escape \\{char}", self.pos - 1)
        self.pos += 1
        return char
