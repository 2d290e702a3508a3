"""GSM8K: the number after the last `####`, compared as a number.

Formatting is not an error: `1,000`, `$18`, `18.0` and `18.` all equal 18. Values are parsed
as exact decimals, so 0.1 + 0.2 style float noise cannot make or break a match.
"""

from __future__ import annotations

import re
from decimal import Decimal

from semantic_tube.evaluation.scorers import Scorer

MARKER = "####"
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


class NumericScorer(Scorer):
    """Verdict: `correct` (same number) and `unparsable` (no number after `####`)."""

    def score(self, record: dict) -> dict:
        reference = final_number(record["reference"])
        if reference is None:
            return {"correct": False, "unparsable": False, "reason": "reference has no number after ####"}
        predicted = final_number(record["prediction"])
        if predicted is None:
            return {"correct": False, "unparsable": True, "reason": "no number after #### in the prediction"}
        if predicted == reference:
            return {"correct": True, "unparsable": False}
        return {"correct": False, "unparsable": False, "reason": f"predicted {predicted}, expected {reference}"}
