"""Appendix L "Mask": recover a masked span from the masked sequence's representation.

Paper: Huang, LeCun, Balestriero, "Semantic Tube Prediction", Appendix L. A span [s, r] of the
sequence is replaced by [MASK] tokens; with y the masked sequence and g_t = f(y_<=t) its hidden
state at the end,

    L_mask = 1 - cos(h_r - h_s, g_t)          ("span": recover the masked span)
    L_mask = 1 - cos(h_t, g_t)                ("Full": recover the whole sequence)

and "Pred" puts a learned projector P on the first argument, as in the Semantic Tube ablation.

Three steps, each pure: `sample_mask_span` draws (s, r, t), `mask_span_ids` builds the masked
input ids (the caller runs the model on them to get `masked_hidden`), `mask_loss` compares.
Indices are drawn in trajectory-index space (query content then answer content, see
`losses.sampling`), so a span may cross the template gap; its template tokens are never masked.

The reference code differs (its `--random_span_mask`): it encodes the masked sequence from the
query start (no system prompt or BOS before it) and compares its last state with a separate
forward of the span's tokens alone (or, with `--random_span_mask_recover`, of the unmasked
sequence from the query start) rather than with h_r - h_s / h_t of the full sequence; it masks
a half-open [a, b) drawn as a uniform then b uniform above it, never the whole trajectory; and
its `--linear_predictor` maps the masked sequence's state g_t, not h_r - h_s.
"""

from __future__ import annotations

from enum import Enum

import torch

from semantic_tube.losses.sampling import Draws, _as_draws, _distinct_sorted, check_spans, to_positions, trajectory_lengths
from semantic_tube.losses.stp import (
    Predictor,
    _at_least_fp32,
    _check_skip,
    apply_predictor,
    check_in_range,
    displacement,
    gather_positions,
    masked_mean,
    safe_cosine,
)


class MaskTarget(str, Enum):
    """What the masked sequence's last state g_t is compared with."""

    SPAN = "span"  # Appendix L "Mask": h_r - h_s, the masked span's displacement
    FULL = "full"  # Appendix L "Mask / Full": h_t, the whole unmasked sequence


def sample_mask_span(query_span: torch.Tensor, answer_span: torch.Tensor, draws: torch.Generator | Draws) -> torch.Tensor:
    """Draw the masked span [s, r] and the end t for each example.

    query_span, answer_span: (batch, 2) [start, end) content spans; draws: a torch.Generator or
    `KeyedDraws`. In trajectory-index space s < r are two distinct sorted indices, uniform over
    the L(L-1)/2 pairs of [0, L-1], and t = L-1. Returns (batch, 3) CPU LongTensor *sequence
    positions* (s, r, t), mapped by `to_positions`, for `mask_span_ids` and `mask_loss`; rows of
    examples with L < 3 are -1 (absent).
    """
    check_spans(query_span, answer_span)
    q, a = query_span.detach().cpu().long(), answer_span.detach().cpu().long()
    lengths = trajectory_lengths(q, a)
    pair = _distinct_sorted(lengths, 1, 2, _as_draws(draws), stream=0)  # (batch, 1, 2)
    index = torch.cat([pair, (lengths - 1).view(-1, 1, 1)], dim=-1)
    index = index.masked_fill((lengths < 3).view(-1, 1, 1), -1)
    return to_positions(index, q, a).squeeze(1)


def _check_triple(positions: torch.Tensor, batch: int, name: str) -> None:
    if positions.dim() != 2 or positions.shape != (batch, 3):
        raise ValueError(f"{name} must be (batch={batch}, 3), got shape {tuple(positions.shape)}")
    if positions.dtype != torch.long:
        raise ValueError(f"{name} must be a LongTensor, got {positions.dtype}")


def mask_span_ids(
    input_ids: torch.Tensor,
    query_span: torch.Tensor,
    answer_span: torch.Tensor,
    span_positions: torch.Tensor,
    mask_token_id: int,
) -> torch.Tensor:
    """A copy of input_ids with the content tokens of [s, r] (inclusive) replaced by mask_token_id.

    input_ids: (batch, seq); query_span, answer_span: (batch, 2) content spans; span_positions:
    (batch, 3) sequence positions (s, r, t) from `sample_mask_span`. A token is masked when it
    is query or answer content and s <= its position <= r, i.e. its trajectory index lies in
    [s, r]; the template tokens between query and answer stay, so a span crossing the gap masks
    its query part and its answer part (as the reference does). Rows with -1 are unchanged.
    Returns a new (batch, seq) tensor; input_ids is not modified.
    """
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must be (batch, seq), got shape {tuple(input_ids.shape)}")
    batch, seq = input_ids.shape
    check_spans(query_span, answer_span, batch, seq)
    _check_triple(span_positions, batch, "span_positions")
    device = input_ids.device
    q, a, span = query_span.to(device).long(), answer_span.to(device).long(), span_positions.to(device)
    pos = torch.arange(seq, device=device).view(1, -1)
    content = ((pos >= q[:, :1]) & (pos < q[:, 1:])) | ((pos >= a[:, :1]) & (pos < a[:, 1:]))
    s, r = span[:, :1], span[:, 1:2]
    inside = content & (pos >= s) & (pos <= r) & (span >= 0).all(dim=-1, keepdim=True)
    return input_ids.masked_fill(inside, mask_token_id)


def mask_loss_per_example(
    hidden_states: torch.Tensor,
    masked_hidden: torch.Tensor,
    positions: torch.Tensor,
    skip: torch.Tensor | None = None,
    target: MaskTarget | str = MaskTarget.SPAN,
    predictor: Predictor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """1 - cos(P(h_r - h_s), g_t) (`span`) or 1 - cos(P(h_t), g_t) (`full`) per example.

    hidden_states: (batch, seq, dim), the unmasked sequence's states h; masked_hidden: the same
    shape, the masked sequence's states g (same positions: masking replaces ids in place);
    positions: (batch, 3) LongTensor (s, r, t) from `sample_mask_span`, a row with -1 is absent;
    skip: None, (batch, 2) or (batch, G, 2) gaps that h_r - h_s bypasses (as in `stp_loss`);
    predictor: None (identity) or a callable (..., dim) -> (..., dim) on the first argument.
    Returns (loss, present), both (batch,), computed in float32 or wider.
    """
    if hidden_states.dim() != 3:
        raise ValueError(f"hidden_states must be (batch, seq, dim), got shape {tuple(hidden_states.shape)}")
    if masked_hidden.shape != hidden_states.shape:
        raise ValueError(f"masked_hidden must have hidden_states' shape {tuple(hidden_states.shape)}, got {tuple(masked_hidden.shape)}")
    batch = hidden_states.shape[0]
    _check_triple(positions, batch, "positions")
    check_in_range(positions, hidden_states.shape[1], "positions")
    skip = _check_skip(hidden_states, skip)
    target = MaskTarget(target)
    s, r, t = positions.unsqueeze(1).unbind(dim=-1)  # (batch, 1) each
    g_t = gather_positions(masked_hidden, t.unsqueeze(-1))[:, 0, 0]  # (batch, dim)
    if target is MaskTarget.SPAN:
        first = displacement(hidden_states, s, r, skip)[:, 0]
    else:
        first = _at_least_fp32(gather_positions(hidden_states, t.unsqueeze(-1))[:, 0, 0])
    loss = 1.0 - safe_cosine(apply_predictor(predictor, first), g_t)
    return loss, (positions >= 0).all(dim=-1)


def mask_loss(
    hidden_states: torch.Tensor,
    masked_hidden: torch.Tensor,
    positions: torch.Tensor,
    skip: torch.Tensor | None = None,
    target: MaskTarget | str = MaskTarget.SPAN,
    predictor: Predictor | None = None,
) -> torch.Tensor:
    """Mean of `mask_loss_per_example` over present examples; 0 when none is present."""
    loss, present = mask_loss_per_example(hidden_states, masked_hidden, positions, skip, target, predictor)
    return masked_mean(loss, present)
