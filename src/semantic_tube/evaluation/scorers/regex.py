"""NL-RX: exact string match, and semantic equivalence through the project's regex engine.

Both are reported because they answer different questions: exact match is what a model
memorised, equivalence whether it wrote a correct regex (`a.*` for `a.*.*` is a hit). The
reference's language being empty is recorded per example: about one NL-RX target in six matches
no string at all, and any other empty regex is "equivalent" to it, so that subset is reported
apart. A prediction the dialect's parser rejects is a miss, flagged `unparsable`.
"""

from __future__ import annotations

from semantic_tube.evaluation.scorers import ScoreOptions, Scorer


class RegexScorer(Scorer):
    """Verdict: `exact`, `equivalent`, `unparsable`, `timeout`, `reference_empty`, and a `witness` on a miss."""

    def __init__(self, options: ScoreOptions, boundary: str = "literal"):
        self.timeout_s = options.regex_timeout_s
        self.boundary = boundary

    def score(self, record: dict) -> dict:
        from semantic_tube.regex import equivalent

        prediction, reference = record["prediction"].strip(), record["reference"].strip()
        result = equivalent(prediction, reference, boundary=self.boundary, timeout_s=self.timeout_s)
        exact = prediction == reference
        verdict = {
            "exact": exact,
            "equivalent": exact or result.status == "equivalent",
            "unparsable": result.status == "unparsable" and result.unparsable_side in ("left", "both"),
            "timeout": result.status == "timeout",
            "reference_empty": self._reference_empty(reference, result.right_empty),
        }
        reason = self._reason(result)
        if reason and not verdict["equivalent"]:
            verdict["reason"] = reason
        return verdict

    def _reference_empty(self, reference: str, known: bool | None) -> bool:
        """Whether the reference matches no string; decided on its own when the pair verdict did not say."""
        if known is not None:
            return known
        from semantic_tube.regex import RegexSyntaxError, is_empty_language

        try:
            return is_empty_language(reference, boundary=self.boundary, timeout_s=self.timeout_s)
        except (RegexSyntaxError, TimeoutError):
            return False

    def _reason(self, result) -> str | None:
        if result.status == "different":
            return f"differs on {result.witness!r}"
        if result.status == "unparsable":
            return {"left": "prediction", "right": "reference", "both": "prediction and reference"}[result.unparsable_side] + " does not parse"
        if result.status == "timeout":
            return f"equivalence undecided within {self.timeout_s:g} s"
        return None
