"""STP objectives as pure tensor functions (no transformers, no I/O)."""

from semantic_tube.losses.curvature import CurvatureAngle, curvature_loss, curvature_loss_per_example
from semantic_tube.losses.mask import MaskTarget, mask_loss, mask_loss_per_example, mask_span_ids, sample_mask_span
from semantic_tube.losses.sampling import GapOrigin, STPForm, sample_positions, sample_trajectory_indices, template_gap
from semantic_tube.losses.stp import PredictorTarget, span_loss, stp_loss
from semantic_tube.losses.two_view import mean_view_loss, mean_view_loss_per_example, two_view_triplets

__all__ = [
    "CurvatureAngle",
    "GapOrigin",
    "MaskTarget",
    "PredictorTarget",
    "STPForm",
    "curvature_loss",
    "curvature_loss_per_example",
    "mask_loss",
    "mask_loss_per_example",
    "mask_span_ids",
    "mean_view_loss",
    "mean_view_loss_per_example",
    "sample_mask_span",
    "sample_positions",
    "sample_trajectory_indices",
    "span_loss",
    "stp_loss",
    "template_gap",
    "two_view_triplets",
]
