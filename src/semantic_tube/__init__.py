"""semantic-tube: fine-tuning language models with Semantic Tube Prediction (STP).

    from semantic_tube import stp_loss, sample_positions, template_gap, STPForm

The names are imported on first use, so `stp regex` and `stp data` start without loading torch.
"""

import importlib

__version__ = "0.1.0"
_EXPORTS = {
    "GapOrigin": "semantic_tube.losses.sampling",
    "STPForm": "semantic_tube.losses.sampling",
    "sample_positions": "semantic_tube.losses.sampling",
    "sample_trajectory_indices": "semantic_tube.losses.sampling",
    "span_loss": "semantic_tube.losses.stp",
    "stp_loss": "semantic_tube.losses.stp",
    "template_gap": "semantic_tube.losses.sampling",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'semantic_tube' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
