"""A synthetic NL-RX: English descriptions of regexes, generated like NL-RX-SYNTH.

    train, test = generate_nlrx(10_000, seed=0)
    write_nlrx("data/nlrx", 10_000, seed=0)   # data/nlrx/{train,test}.jsonl

Every description and every regex is unique across both files, so the split cannot leak
(unlike the paper's, which has 39 descriptions in both). Generation uses only
`random.Random(seed)`, so a seed always gives byte-identical files.
"""

from __future__ import annotations

import random
from pathlib import Path

from semantic_tube.data.messages import ChatExample, write_chat_jsonl
from semantic_tube.data.nlrx.grammar import GrammarLimits, describe, sample_tree
from semantic_tube.data.nlrx.leakage import Leakage, Shared, find_leakage
from semantic_tube.data.nlrx.stats import count_operators, dataset_stats, format_stats

__all__ = [
    "DEFAULT_EXAMPLES",
    "DEFAULT_SEED",
    "NLRX_SYSTEM_PROMPT",
    "GrammarExhausted",
    "GrammarLimits",
    "Leakage",
    "Shared",
    "count_operators",
    "dataset_stats",
    "find_leakage",
    "format_stats",
    "generate_nlrx",
    "write_nlrx",
]

NLRX_SYSTEM_PROMPT = "Convert natural language to regular expression."
# What `stp data nlrx` and `stp train` (with no train_file) generate unless told otherwise; kept
# here, away from torch, so both read one value and a bare `stp data nlrx` makes the data
# `stp train` would.
DEFAULT_EXAMPLES = 2500
DEFAULT_SEED = 0
# Draws in a row that may all be duplicates before the grammar counts as used up: at the
# default limits a miss rate this high is never reached below millions of examples.
MISS_LIMIT = 5000


class GrammarExhausted(ValueError):
    """More examples were asked for than the grammar yields without duplicates."""

    def __init__(self, requested: int, found: int):
        self.requested, self.found = requested, found
        super().__init__(
            f"asked for {requested} examples, but the grammar yields only {found} distinct ones "
            f"(no new description and regex in {MISS_LIMIT} draws in a row)"
        )


def _check_arguments(n: int, test_fraction: float) -> None:
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    if n < 2:
        raise ValueError(f"n must be at least 2 (one train and one test example), got {n}")


def _distinct_pairs(n: int, seed: int, limits: GrammarLimits) -> list[tuple[str, str]]:
    """`n` (description, regex) pairs, no description and no regex twice.

    Deduplicating on both sides makes any split of the list leak-free, and drops the
    ambiguous renderings ("A or B before C" from two different trees) along the way.
    """
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    descriptions: set[str] = set()
    regexes: set[str] = set()
    misses = 0
    while len(pairs) < n:
        tree = sample_tree(rng, limits)
        description, regex = describe(tree), tree.regex()
        if description in descriptions or regex in regexes:
            misses += 1
            if misses >= MISS_LIMIT:
                raise GrammarExhausted(n, len(pairs))
            continue
        misses = 0
        descriptions.add(description)
        regexes.add(regex)
        pairs.append((description, regex))
    return pairs


def generate_nlrx(
    n: int, seed: int, test_fraction: float = 0.2, *, limits: GrammarLimits = GrammarLimits()
) -> tuple[list[ChatExample], list[ChatExample]]:
    """`n` distinct examples split into (train, test), round(n * test_fraction) in test.

    Raises `GrammarExhausted` when the grammar (bounded by `limits`) cannot give `n`
    distinct examples, and `ValueError` for a `test_fraction` outside (0, 1).
    """
    _check_arguments(n, test_fraction)
    examples = [
        ChatExample(user=d, assistant=r, system=NLRX_SYSTEM_PROMPT, source=f"nlrx(seed={seed})#{i}")
        for i, (d, r) in enumerate(_distinct_pairs(n, seed, limits))
    ]
    n_test = min(n - 1, max(1, round(n * test_fraction)))
    return examples[: n - n_test], examples[n - n_test :]


def write_nlrx(
    out_dir: str | Path, n: int, seed: int, test_fraction: float = 0.2, *, limits: GrammarLimits = GrammarLimits()
) -> tuple[Path, Path]:
    """Generate, then write `out_dir/train.jsonl` and `out_dir/test.jsonl`.

    Everything is generated before the first byte is written, so a failure leaves no
    partial files behind.
    """
    train, test = generate_nlrx(n, seed, test_fraction, limits=limits)
    out_dir = Path(out_dir)
    paths = out_dir / "train.jsonl", out_dir / "test.jsonl"
    write_chat_jsonl(paths[0], train)
    write_chat_jsonl(paths[1], test)
    return paths
