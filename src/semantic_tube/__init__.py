"""semantic-tube: fine-tuning language models with Semantic Tube Prediction (STP).

    from semantic_tube import stp_loss, sample_positions, STPForm
"""

from semantic_tube.losses import STPForm, sample_positions, sample_trajectory_indices, span_loss, stp_loss

__all__ = ["STPForm", "sample_positions", "sample_trajectory_indices", "span_loss", "stp_loss"]
__version__ = "0.1.0"
