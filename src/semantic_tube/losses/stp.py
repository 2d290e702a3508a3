"""The Semantic Tube Prediction (STP) loss: pure tensor functions, no I/O, no transformers.

Paper: Huang, LeCun, Balestriero, "Semantic Tube Prediction", Sec. 3 and Appendix G. Under the
Geodesic Hypothesis the hidden-state trajectory of an error-free sequence is locally straight,
so for positions s < r < t the step h_r - h_s should point the same way as h_t - h_r:

    L_STP = 1 - cos(h_t - h_r, h_r - h_s)

The loss is 0 for collinear, same-direction points, 1 for a right angle, 2 for a reversal.

Positions always index the sequence dimension of `hidden_states`; a position of -1 marks an
absent triplet (an example whose trajectory is too short), which contributes nothing. Every
function returns per-example values plus a mask, and `masked_mean` reduces them, so a batch with
nothing valid gives 0, never NaN.
"""

from __future__ import annotations

import torch

# Norms below this count as zero length. A zero-length step has no direction; clamping its
# norm keeps the cosine at 0 (loss 1) with finite gradients instead of 0/0.
NORM_EPS = 1e-8


def safe_cosine(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Cosine similarity along the last dim, finite (and with finite gradients) at zero length.

    u, v: (..., dim) -> (...). Computed in float32 whatever the input dtype, since bf16
    dot products over thousands of dims lose the small angles STP is about.
    """
    u, v = u.float(), v.float()
    norms = torch.linalg.vector_norm(u, dim=-1).clamp_min(NORM_EPS) * torch.linalg.vector_norm(v, dim=-1).clamp_min(
        NORM_EPS
    )
    return (u * v).sum(-1) / norms


def gather_positions(hidden_states: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Pick hidden states at per-example positions without a Python loop.

    hidden_states: (batch, seq, dim); positions: (batch, K, P) LongTensor, -1 allowed (it is
    clamped to 0 and must be masked by the caller). Returns (batch, K, P, dim).
    """
    batch, k, p = positions.shape
    flat = positions.clamp_min(0).reshape(batch, k * p, 1).expand(-1, -1, hidden_states.shape[-1])
    return hidden_states.gather(1, flat).reshape(batch, k, p, hidden_states.shape[-1])


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `values` where `mask` is true; 0 (still attached to the graph) when none is."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def _check(hidden_states: torch.Tensor, positions: torch.Tensor, width: int, name: str) -> None:
    if hidden_states.dim() != 3:
        raise ValueError(f"hidden_states must be (batch, seq, dim), got shape {tuple(hidden_states.shape)}")
    if positions.dim() != 3 or positions.shape[0] != hidden_states.shape[0] or positions.shape[2] != width:
        raise ValueError(
            f"{name} must be (batch={hidden_states.shape[0]}, K, {width}), got shape {tuple(positions.shape)}"
        )
    if positions.dtype != torch.long:
        raise ValueError(f"{name} must be a LongTensor, got {positions.dtype}")
    if positions.numel() and int(positions.max()) >= hidden_states.shape[1]:
        raise ValueError(f"{name} holds a position >= seq length {hidden_states.shape[1]}")


def tube_loss_per_triplet(hidden_states: torch.Tensor, triplets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """1 - cos(h_t - h_r, h_r - h_s) for each triplet (s, r, t).

    hidden_states: (batch, seq, dim); triplets: (batch, K, 3) positions, a row with any -1 is
    absent. Returns (loss, present), both (batch, K).
    """
    _check(hidden_states, triplets, 3, "triplets")
    points = gather_positions(hidden_states, triplets)  # (batch, K, 3, dim)
    h_s, h_r, h_t = points.unbind(dim=2)
    loss = 1.0 - safe_cosine(h_t - h_r, h_r - h_s)
    return loss, (triplets >= 0).all(dim=-1)


def stp_loss(hidden_states: torch.Tensor, triplets: torch.Tensor) -> torch.Tensor:
    """The paper's STP loss: mean of 1 - cos(h_t - h_r, h_r - h_s) over present triplets.

    hidden_states: (batch, seq, dim) float; triplets: (batch, K, 3) LongTensor of positions
    (s, r, t), a triplet containing -1 is absent. Returns a scalar, 0 when no triplet is present.
    This is the `tube` and `anchored` forms; they differ only in how triplets are drawn.
    """
    loss, present = tube_loss_per_triplet(hidden_states, triplets)
    return masked_mean(loss, present)


def span_loss_per_span(hidden_states: torch.Tensor, spans: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The public reference code's form: a random sub-span against its complement.

    spans: (batch, K, 4) positions (first, a, b, last) with first <= a < b <= last, where first
    and last are the trajectory's ends and [a, b] the sub-span. With P = h_b - h_a the span's
    displacement and T = h_last - h_first the whole trajectory's, the loss is
    1 - cos(T - P, P): the rest of the trajectory, (h_a - h_first) + (h_last - h_b), should keep
    the span's direction. Returns (loss, present), both (batch, K).

    It differs from the paper's form in what it compares: the paper takes two adjacent steps
    (s->r, r->t); the reference code compares one span with the sum of the two pieces around it.
    The reference also drops the template step between query and answer from T - P, while here,
    as in the paper's form, the trajectory is the query's and the answer's positions back to back.
    """
    _check(hidden_states, spans, 4, "spans")
    points = gather_positions(hidden_states, spans)
    h_first, h_a, h_b, h_last = points.unbind(dim=2)
    patch = h_b - h_a
    loss = 1.0 - safe_cosine((h_last - h_first) - patch, patch)
    return loss, (spans >= 0).all(dim=-1)


def span_loss(hidden_states: torch.Tensor, spans: torch.Tensor) -> torch.Tensor:
    """Mean of `span_loss_per_span` over present spans; 0 when none is present."""
    loss, present = span_loss_per_span(hidden_states, spans)
    return masked_mean(loss, present)
