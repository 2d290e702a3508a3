"""The NL-RX grammar: random trees rendered both as a brics-dialect regex and as English.

NL-RX (Locascio et al., 2016) was built by sampling small trees of literals, functions,
modifiers and compositions and rendering each tree twice, once per language. This module
re-derives that process from its published description; it shares no code or data with the
original. The rendered regexes follow the original's conventions exactly (including its
loose precedence, e.g. `.*(A)|(B).*` for "containing A or B"), because a model trained on
this data is scored against the real NL-RX targets.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

# kind -> (regex, English). Word literals take their text from WORDS instead.
LITERALS: dict[str, tuple[str, str]] = {
    "number": ("[0-9]", "a number"),
    "capital": ("[A-Z]", "a capital letter"),
    "lower": ("[a-z]", "a lower-case letter"),
    "letter": ("[A-Za-z]", "a letter"),
    "vowel": ("[AEIOUaeiou]", "a vowel"),
    "character": (".", "a character"),
    "word": ("{word}", "the string '{word}'"),
}
# Filled in order of appearance, so the first word of every example is 'dog'.
WORDS = ("dog", "truck", "ring", "lake")

# kind -> (regex template, English template); {0}, {1}, {2} are the rendered children.
TEMPLATES: dict[str, tuple[str, str]] = {
    "contains": (".*{0}.*", "containing {0}"),
    "starts": ("({0})(.*)", "starting with {0}"),
    "ends": ("(.*)({0})", "ending with {0}"),
    "words": ("\\b{0}\\b", "words with {0}"),
    "followed": ("{0}.*{1}.*", "{0} followed by {1}"),
    "plus": ("({0})+", "{0} at least once"),
    "repeat": ("({0}){{{n},}}", "{0}, {n} or more times"),
    "star": ("({0})*", "{0}, zero or more times"),
    "or": ("({0})|({1})", "{0} or {1}"),
    "and": ("({0})&({1})", "{0} and {1}"),
    "not": ("~({0})", "not {0}"),
    "before": ("({0}).*({1}).*", "{0} before {1}"),
    "or3": ("({0})|({1})|({2})", "either {0}, {1}, or {2}"),
    "and3": ("({0})&({1})&({2})", "{0}, {1}, and {2}"),
}
ARITY = {"followed": 2, "or": 2, "and": 2, "before": 2, "or3": 3, "and3": 3}
MODIFIERS = frozenset({"plus", "repeat", "star"})
AND_OR = frozenset({"or", "and", "or3", "and3"})
THREE_WAY = frozenset({"or3", "and3"})
INFIX = frozenset({"followed", "or", "and", "before"})
# Nodes whose children must be literals: the original composes these only over literals.
OVER_LITERALS = frozenset({"followed", "or3", "and3"})
REPEAT_COUNTS = range(2, 8)


@dataclass(frozen=True)
class Node:
    """One node of a tree: a literal (`value` holds a word) or an operator over `children`."""

    kind: str
    children: tuple[Node, ...] = ()
    value: str = ""  # the word of a word literal
    count: int = 0  # n of a `repeat` modifier

    def regex(self) -> str:
        if self.kind in LITERALS:
            return LITERALS[self.kind][0].format(word=self.value)
        return TEMPLATES[self.kind][0].format(*(c.regex() for c in self.children), n=self.count)

    def english(self) -> str:
        if self.kind in LITERALS:
            return LITERALS[self.kind][1].format(word=self.value)
        return TEMPLATES[self.kind][1].format(*(c.english() for c in self.children), n=self.count)


def opening(node: Node) -> Node:
    """The node whose words open the node's English: the left spine, through the infix
    operators and the (postfix) modifiers."""
    while node.kind in INFIX or node.kind in MODIFIERS:
        node = node.children[0]
    return node


def _opens_with_noun(node: Node) -> bool:
    first = opening(node)
    return first.kind in LITERALS or first.kind in THREE_WAY


_SMOOTHING = (
    (re.compile(r"\bnot not "), ""),  # double negation cancels, and ~(~(X)) = X
    (re.compile(r"\bhaving not\b"), "not having"),
    (re.compile(r"^lines (a|the|words) "), r"lines with \1 "),
)


def smooth(text: str) -> str:
    """Turn the mechanical rendering into the phrasing NL-RX uses ("lines with a ...")."""
    for pattern, replacement in _SMOOTHING:
        text = pattern.sub(replacement, text)
    return text


def describe(tree: Node) -> str:
    """The full English description of a tree: "lines ..." smoothed.

    A tree opening with a three-way composition, or with `not` over a noun phrase, reads
    "lines having ..." ("having not" then becomes "not having"); any other noun phrase
    reads "lines with ...".
    """
    first = opening(tree)
    having = first.kind in THREE_WAY or (first.kind == "not" and _opens_with_noun(first.children[0]))
    return smooth("lines " + ("having " if having else "") + tree.english())


@dataclass(frozen=True)
class GrammarLimits:
    """The size of the trees: these bound the grammar, so they bound how many distinct
    examples exist (a smaller `max_depth` saturates sooner)."""

    max_depth: int = 3  # operator levels above the literals
    max_literals: int = 4
    max_and_or: int = 2  # and/or compositions, two- or three-way
    max_modifiers: int = 1

    def __post_init__(self) -> None:
        if self.max_depth < 1 or self.max_literals < 1:
            raise ValueError(f"max_depth and max_literals must be at least 1, got {self}")


# Relative weights of each node kind, tuned so that 10,000 examples match NL-RX-SYNTH's operator
# frequencies and mean lengths within a few points (`stp data stats --reference`).
KIND_WEIGHTS: dict[str, float] = {
    "literal": 3.0,
    "contains": 1.0,
    "starts": 0.45,
    "ends": 0.5,
    "words": 0.8,
    "followed": 1.0,
    "plus": 0.4,
    "repeat": 0.75,
    "star": 0.4,
    "or": 0.75,
    "and": 0.45,
    "not": 0.9,
    "before": 1.3,
    "or3": 0.22,
    "and3": 0.2,
}
# How much likelier a literal gets at each level down: NL-RX trees are mostly shallow.
LITERAL_GROWTH = 3.0
LITERAL_WEIGHTS: dict[str, float] = {
    "number": 1.0,
    "capital": 1.0,
    "lower": 1.0,
    "letter": 1.0,
    "vowel": 1.0,
    "character": 1.0,
    "word": 2.5,  # NL-RX samples words more often than character classes
}


@dataclass
class _Budget:
    """What a tree under construction has used, so later nodes respect the limits."""

    limits: GrammarLimits
    kinds: set[str] = field(default_factory=set)
    and_or: int = 0
    modifiers: int = 0
    literals: int = 0
    words: int = 0

    def allows(self, kind: str) -> bool:
        if kind in AND_OR:
            return self.and_or < self.limits.max_and_or
        if kind in MODIFIERS:
            return self.modifiers < self.limits.max_modifiers
        return kind not in self.kinds  # no function or composition type twice

    def take(self, kind: str) -> None:
        self.kinds.add(kind)
        self.and_or += kind in AND_OR
        self.modifiers += kind in MODIFIERS


def _literal(rng: random.Random, budget: _Budget) -> Node:
    """A literal not yet in the tree: NL-RX never repeats a character class in one example
    ("a number or a number"), and each word is new by construction."""
    kinds = [k for k in LITERAL_WEIGHTS if (budget.words < len(WORDS) if k == "word" else k not in budget.kinds)]
    kind = rng.choices(kinds, weights=[LITERAL_WEIGHTS[k] for k in kinds])[0]
    budget.literals += 1
    if kind != "word":
        budget.kinds.add(kind)
        return Node(kind)
    budget.words += 1
    return Node(kind, value=WORDS[budget.words - 1])


def _node(rng: random.Random, budget: _Budget, levels: int, *, root: bool = False) -> Node:
    """Sample a subtree with at most `levels` operator levels, children left to right (so
    words are numbered in order of appearance). A root is never a bare literal: every NL-RX
    line describes at least one operator. The limits allow at most 7 literals, fewer than
    the 6 classes and 4 words, so `_literal` always has one left to choose."""
    kinds = [k for k in KIND_WEIGHTS if (not root if k == "literal" else levels > 0 and budget.allows(k))]
    depth = budget.limits.max_depth - levels
    weights = [KIND_WEIGHTS[k] * (LITERAL_GROWTH**depth if k == "literal" else 1) for k in kinds]
    kind = rng.choices(kinds, weights=weights)[0]
    if kind == "literal":
        return _literal(rng, budget)
    budget.take(kind)
    count = rng.choice(REPEAT_COUNTS) if kind == "repeat" else 0
    if kind in OVER_LITERALS:
        children = tuple(_literal(rng, budget) for _ in range(ARITY[kind]))
    else:
        children = tuple(_node(rng, budget, levels - 1) for _ in range(ARITY.get(kind, 1)))
    return Node(kind, children, count=count)


def sample_tree(rng: random.Random, limits: GrammarLimits) -> Node:
    """One random tree within `limits`; trees over the literal limit are drawn again."""
    while True:
        budget = _Budget(limits)
        tree = _node(rng, budget, limits.max_depth, root=True)
        if budget.literals <= limits.max_literals:
            return tree
