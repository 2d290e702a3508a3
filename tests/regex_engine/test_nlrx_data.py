"""Every NL-RX target parses; skipped where the shared data folder is absent (users' CI machines)."""

import json
from pathlib import Path

import pytest

from semantic_tube.regex import equivalent, parse

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "nl-rx-synth"


def _targets(split: str) -> list[str]:
    path = DATA / f"{split}.jsonl"
    if not path.is_file():
        pytest.skip(f"NL-RX data not found at {path}")
    with path.open(encoding="utf-8") as lines:
        return [_assistant(json.loads(line)) for line in lines if line.strip()]


def _assistant(record: dict) -> str:
    return next(m["content"] for m in record["messages"] if m["role"] == "assistant")


@pytest.mark.parametrize("split", ["train", "test"])
def test_every_target_parses(split):
    targets = _targets(split)
    assert targets
    for regex in targets:
        parse(regex)


def test_test_targets_are_decided_and_about_a_sixth_match_nothing():
    targets = _targets("test")
    results = [equivalent(regex, regex + ".*", timeout_s=5.0) for regex in targets]
    assert all(result.status in ("equivalent", "different") for result in results)
    empty = sum(bool(result.left_empty) for result in results) / len(results)
    assert 0.10 < empty < 0.25
