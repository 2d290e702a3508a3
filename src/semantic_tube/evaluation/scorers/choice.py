"""HellaSwag: multiple choice by likelihood, scored as the chosen letter against the reference.

The choice itself is made by `evaluation.likelihood` (no generation); re-scoring a predictions
file takes the recorded letter, or the best of the recorded per-choice log-likelihoods when the
letter is absent.
"""

from __future__ import annotations

import re

from semantic_tube.evaluation.scorers import Scorer

_LETTER = re.compile(r"^\s*\(?([A-Za-z])\b")


def choice_letter(text: str) -> str | None:
    """The option letter an answer names: 'B', 'b)', '(B) ...' -> 'B'."""
    match = _LETTER.match(text or "")
    return match.group(1).upper() if match else None


class ChoiceScorer(Scorer):
    """Verdict: `accuracy` (the chosen letter is the reference's) and `unparsable` (no letter)."""

    def score(self, record: dict) -> dict:
        chosen = choice_letter(record.get("prediction", ""))
        scores = record.get("choices")
        if chosen is None and isinstance(scores, dict) and scores:
            chosen = max(scores, key=scores.get)
        expected = choice_letter(record["reference"])
        if chosen is None:
            return {"accuracy": False, "unparsable": True, "reason": "the prediction names no option letter"}
        if chosen == expected:
            return {"accuracy": True, "unparsable": False}
        return {"accuracy": False, "unparsable": False, "reason": f"chose {chosen}, expected {expected}"}
