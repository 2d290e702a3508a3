"""STP objectives as pure tensor functions (no transformers, no I/O)."""

from semantic_tube.losses.sampling import STPForm, sample_positions, sample_trajectory_indices, template_gap
from semantic_tube.losses.stp import span_loss, stp_loss

__all__ = ["STPForm", "sample_positions", "sample_trajectory_indices", "span_loss", "stp_loss", "template_gap"]
