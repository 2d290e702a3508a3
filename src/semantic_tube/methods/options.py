"""The training method and its options: one enum per choice (Sec. 4.6, Appendix L).

The options that a loss function takes itself (PredictorTarget, MaskTarget, CurvatureAngle) are
defined beside that function in `semantic_tube.losses` and re-exported here.
"""

from __future__ import annotations

from enum import Enum

from semantic_tube.losses.curvature import CurvatureAngle
from semantic_tube.losses.mask import MaskTarget
from semantic_tube.losses.sampling import GapOrigin
from semantic_tube.losses.stp import PredictorTarget

__all__ = [
    "CurvatureAngle", "DrawScope", "MaskTarget", "Method", "Predictor", "PredictorTarget", "STPGap", "Trajectory",
    "TwoViewPool", "forward_passes_per_step",
]  # fmt: skip


class Method(str, Enum):
    """What is added to the next-token loss, weighted by stp_lambda."""

    NTP = "ntp"  # plain fine-tuning: nothing
    STP = "stp"  # Semantic Tube Prediction (Sec. 3): 1 - cos(h_t - h_r, h_r - h_s)
    LLM_JEPA = "llm-jepa"  # Huang et al. 2025: 1 - cos(Pred(Enc(Text)), Enc(Code)), views encoded on their own
    TWO_VIEW = "two-view"  # Appendix L: the STP formula with s = 0 and r at the query's last token
    MASK = "mask"  # Appendix L: a random span masked in a second pass g: 1 - cos(h_r - h_s, g_t)
    CURVATURE = "curvature"  # Appendix L: mean angle between consecutive steps of the trajectory


def forward_passes_per_step(method: Method, jepa_single_pass: bool = False) -> int:
    """Model forward passes per training step when the method's loss is trained, the main one
    included: 1 for the one-pass methods, 2 for mask (the masked copy), 3 for LLM-JEPA (the Text
    and the Code views on their own), 2 for its single pass (both views in one packed sequence)."""
    if method is Method.MASK:
        return 2
    if method is Method.LLM_JEPA:
        return 2 if jepa_single_pass else 3
    return 1


class Predictor(str, Enum):
    """What maps the context's displacement before the cosine (Appendix L "Pred")."""

    IDENTITY = "identity"  # the paper's STP: no predictor (local linearity implies identity)
    LINEAR = "linear"  # a trainable d x d matrix, randomly initialised, saved beside the model


class STPGap(str, Enum):
    """How a displacement treats the template tokens between query and answer (Appendix G): bypassed,
    restarting at one of two origins, or measured straight across them. Unset (None) in a config:
    the STP form's own, `answer_start`, or `before_answer` for the reference code's span form."""

    ANSWER_START = "answer_start"  # bypassed, restarting at h_r' on the answer's first token (Appendix G)
    BEFORE_ANSWER = "before_answer"  # bypassed, restarting at the state before the answer (the reference code)
    NONE = "none"  # not bypassed: straight across the template (for comparison only)

    @property
    def origin(self) -> GapOrigin | None:
        """The `GapOrigin` the losses take, or None straight across."""
        return None if self is STPGap.NONE else GapOrigin(self.value)


class Trajectory(str, Enum):
    """Which tokens form the trajectory (Appendix L "Inst")."""

    CONTENT = "content"  # the query's and the answer's content only (the template gap bypassed)
    INST = "inst"  # also every token before the query: the system prompt (instructions) and its template


class DrawScope(str, Enum):
    """Where STP's draws come from in a conversation of several exchanges (one exchange: both are the paper's draws)."""

    CONVERSATION = "conversation"  # one trajectory over every content turn in order, each template stretch bypassed
    EXCHANGE = "exchange"  # each draw within one exchange (a user turn, then its assistant turn), the earlier turns context


class TwoViewPool(str, Enum):
    """How the two views are summarised (Appendix L, Two Views)."""

    DISPLACEMENT = "displacement"  # h_r - h_0 and h_t - h_r
    MEAN = "mean"  # the mean state of s..r and of r..t
