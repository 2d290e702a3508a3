"""The trainable linear predictor of the Pred options (Appendix L), saved beside the model.

It lives on the model as the submodule `stp_predictor`, so the optimizer, DDP/FSDP wrapping,
device placement and checkpoints treat it like any other weight; `save_pretrained` leaves it out
of the model's own files (a model trained with it loads as a plain model for evaluation), and the
trainer writes it to `stp_predictor.safetensors` in the output folder and every checkpoint, for
full fine-tuning and LoRA alike.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from semantic_tube.methods.base import unwrap

PREDICTOR_ATTRIBUTE = "stp_predictor"
PREDICTOR_FILE = "stp_predictor.safetensors"


class LinearPredictor(nn.Linear):
    """P: (..., dim) -> (..., dim), no bias, Xavier-uniform initialised as in the reference code
    (a random matrix, not the identity: Appendix L trains it from a random start)."""

    def __init__(self, dim: int):
        super().__init__(dim, dim, bias=False)
        nn.init.xavier_uniform_(self.weight)


def base_model(model):
    """The PreTrainedModel under DDP wrappers and a peft adapter."""
    model = unwrap(model)
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def attach_predictor(model, generator_seed: int) -> LinearPredictor:
    """Give `model` a `stp_predictor` (once), on the model's device, in float32, seeded.

    The module hangs off the outermost unwrapped model (a PeftModel when LoRA is on), where peft
    does not freeze it; the base PreTrainedModel is told not to save it in its own weights.
    """
    owner = unwrap(model)
    existing = getattr(owner, PREDICTOR_ATTRIBUTE, None)
    if existing is not None:
        return existing
    config = base_model(model).config
    dim = getattr(config, "hidden_size", None) or config.get_text_config().hidden_size
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(generator_seed)
        predictor = LinearPredictor(dim)
    device = next(owner.parameters()).device
    setattr(owner, PREDICTOR_ATTRIBUTE, predictor.to(device=device, dtype=torch.float32))
    keys = {f"{PREDICTOR_ATTRIBUTE}.weight"}
    base = base_model(model)
    base._keys_to_ignore_on_save = set(base._keys_to_ignore_on_save or ()) | keys
    return predictor


def predictor_of(model) -> LinearPredictor | None:
    return getattr(unwrap(model), PREDICTOR_ATTRIBUTE, None)


def save_predictor(model, folder: str | Path) -> Path | None:
    """Write the predictor's weights into `folder` (nothing when the model has none)."""
    from safetensors.torch import save_file

    predictor = predictor_of(model)
    if predictor is None:
        return None
    path = Path(folder) / PREDICTOR_FILE
    save_file({"weight": predictor.weight.detach().float().cpu().contiguous()}, str(path))
    return path


def load_predictor(model, folder: str | Path) -> bool:
    """Load `folder`'s predictor weights into the model's predictor; False when either is absent."""
    from safetensors.torch import load_file

    predictor, path = predictor_of(model), Path(folder) / PREDICTOR_FILE
    if predictor is None or not path.is_file():
        return False
    weight = load_file(str(path))["weight"]
    if weight.shape != predictor.weight.shape:
        raise ValueError(f"{path}: predictor weight {tuple(weight.shape)} does not fit the model's {tuple(predictor.weight.shape)}")
    with torch.no_grad():
        predictor.weight.copy_(weight)
    return True
