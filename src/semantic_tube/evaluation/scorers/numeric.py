"""GSM8K: the number after the last `####`, compared as a number; and the paper's string match.

`correct`: formatting is not an error: `1,000`, `$18`, `18.0` and `18.` all equal 18. Values are
parsed as exact decimals, so 0.1 + 0.2 style float noise cannot make or break a match.

`paper_correct`: the reference evaluate.py applies `\n#### (.+)$` to both texts and compares the
captures as strings, followed here literally. `$` without MULTILINE anchors at the end of the
text, so only a marker on the last line counts, and the marker must follow a newline: a
prediction that is just `#### 18` (generated text is stripped, as there) has no capture, and
`1,000` differs from `1000`. When neither text has a capture, None equals None: a hit there, so
a hit here.
"""

from __future__ import annotations

import re
from decimal import Decimal

from semantic_tube.evaluation.scorers import Scorer

MARKER = "####"
PAPER_ANSWER = re.compile(r"\n#### (.+)$")  # the reference evaluate.py's gsm8k_pattern
_NUMBER = re.compile(r"(?P<minus>-)?\s*\$?\s*(?P<minus_after_dollar>-)?\s*(?P<digits>\d[\d,]*(?:\.\d+)?|\.\d+)")


def final_number(text: str) -> Decimal | None:
    """The first number after the last `####`, or None when there is no marker or no number."""
    if MARKER not in text:
        return None
    match = _NUMBER.search(text.rsplit(MARKER, 1)[1])
    if match is None:
        return None
    value = Decimal(match.group("digits").replace(",", ""))
    return -value if match.group("minus") or match.group("minus_after_dollar") else value


def paper_answer(text: str) -> str | None:
    """The reference code's capture: what follows `\n#### ` on the last line, or None."""
    match = PAPER_ANSWER.search(text)
    return match.group(1) if match else None


class NumericScorer(Scorer):
    """Verdict: `correct` (same number), `paper_correct` (same capture) and `unparsable` (no number after `####`)."""

    def score(self, record: dict) -> dict:
        paper_correct = paper_answer(record["prediction"]) == paper_answer(record["reference"])
        return self._by_number(record) | {"paper_correct": paper_correct}

    def _by_number(self, record: dict) -> dict:
        reference = final_number(record["reference"])
        if reference is None:
            return {"correct": False, "unparsable": False, "reason": "reference has no number after ####"}
        predicted = final_number(record["prediction"])
        if predicted is None:
            return {"correct": False, "unparsable": True, "reason": "no number after #### in the prediction"}
        if predicted == reference:
            return {"correct": True, "unparsable": False}
        return {"correct": False, "unparsable": False, "reason": f"predicted {predicted}, expected {reference}"}
