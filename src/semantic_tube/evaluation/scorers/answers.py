"""NQ-open: short answers matched after SQuAD-style normalisation; and the paper's substring rule.

`match`: both sides may list alternatives separated by `;`; any predicted alternative equal to
any reference alternative is a hit, since NQ-open references enumerate acceptable spellings.

`paper_match`: the reference evaluate.py splits the prediction on "; " and counts a hit when any
piece is a substring of the reference text, case-sensitive and unnormalised. Followed literally,
with its quirks: "Nine" hits "Ninety", "nine" misses "Nine", and an empty prediction hits
anything (the empty string is a substring of every text).
"""

from __future__ import annotations

import re
import string

from semantic_tube.evaluation.scorers import Scorer

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, punctuation and articles removed, whitespace collapsed (SQuAD's normalisation)."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_set(text: str) -> set[str]:
    """The normalised, non-empty `;`-separated alternatives of an answer.

    An alternative that normalises to nothing (NQ-open has a few punctuation-only answers such
    as "/") is kept lower-cased as written, so it can still be matched exactly.
    """
    return {normalized for part in text.split(";") if (normalized := normalize_answer(part) or part.strip().lower())}


def paper_match(prediction: str, reference: str) -> bool:
    """The reference code's rule: some "; "-separated piece of the prediction occurs in the reference."""
    return any(piece in reference for piece in prediction.split("; "))


class AnswerSetScorer(Scorer):
    """Verdict: `match` when the predicted and reference alternative sets intersect, `paper_match`
    by the reference code's substring rule, `unparsable` for an empty prediction."""

    def score(self, record: dict) -> dict:
        return self._by_answer_set(record) | {"paper_match": paper_match(record["prediction"], record["reference"])}

    def _by_answer_set(self, record: dict) -> dict:
        predicted = answer_set(record["prediction"])
        if not predicted:
            return {"match": False, "unparsable": True, "reason": "empty prediction"}
        if predicted & answer_set(record["reference"]):
            return {"match": True, "unparsable": False}
        return {"match": False, "unparsable": False, "reason": f"none of {sorted(predicted)} is a reference answer"}
