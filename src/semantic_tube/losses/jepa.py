"""The LLM-JEPA loss (Huang, LeCun, Balestriero 2025, "LLM-JEPA"): the baseline STP is compared with.

LLM-JEPA encodes two views of one example on their own, Text (the query) and Code (the answer),
each as the hidden state at its last token, and pulls the prediction from the first towards the
second by cosine:

    L_JEPA = 1 - cos(Pred(Enc(Text)), Enc(Code))

The encodings and the predictor are the caller's (`semantic_tube.methods.llm_jepa`); here is only
the cosine, per example and its batch mean, as the reference code's `compute_loss` has it
(galilai-group/llm-jepa, stp.py: `1.0 - torch.mean(cosine_similarity)`).
"""

from __future__ import annotations

import torch

from semantic_tube.losses.stp import masked_mean, safe_cosine


def _check(text_embedding: torch.Tensor, code_embedding: torch.Tensor) -> None:
    if text_embedding.dim() != 2:
        raise ValueError(f"text_embedding must be (batch, dim), got shape {tuple(text_embedding.shape)}")
    if code_embedding.shape != text_embedding.shape:
        raise ValueError(f"code_embedding must have text_embedding's shape {tuple(text_embedding.shape)} (batch, dim), got {tuple(code_embedding.shape)}")


def jepa_loss_per_example(text_embedding: torch.Tensor, code_embedding: torch.Tensor) -> torch.Tensor:
    """1 - cos(text_embedding, code_embedding) per example.

    text_embedding: (batch, dim), Pred(Enc(Text)); code_embedding: (batch, dim), Enc(Code).
    Returns (batch,), in [0, 2], at least float32 (`safe_cosine`: a zero vector gives cos 0, loss 1,
    with finite gradients).
    """
    _check(text_embedding, code_embedding)
    return 1.0 - safe_cosine(text_embedding, code_embedding)


def jepa_loss(text_embedding: torch.Tensor, code_embedding: torch.Tensor) -> torch.Tensor:
    """Batch mean of `jepa_loss_per_example`: (batch, dim), (batch, dim) -> scalar (0 for an empty batch)."""
    per_example = jepa_loss_per_example(text_embedding, code_embedding)
    return masked_mean(per_example, torch.ones_like(per_example, dtype=torch.bool))
