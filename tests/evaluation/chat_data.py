"""Chat examples shared by the generation, likelihood and runner tests (the tiny models are in
`tests/tiny_models.py`, the `tiny` fixture in conftest.py)."""

from __future__ import annotations

from semantic_tube.data.messages import ChatExample

QUERIES = ["lines with a vowel", "lines containing the string 'dog' followed by a capital letter", "a", "lines with a number " * 3, "dog", "truck or ring"]


def examples(system="Convert natural language to regular expression."):
    return [ChatExample(user=query, assistant=".*dog.*", system=system, source=f"mem:{i}") for i, query in enumerate(QUERIES)]


def hellaswag(n):
    return [ChatExample(user=f"ctx {i} {QUERIES[i % len(QUERIES)]}\nA) x\nB) y\nC) z\nD) w", assistant="C") for i in range(n)]
