"""Appendix L "Two Views": the query and the answer as two views of one concept.

Paper: Huang, LeCun, Balestriero, "Semantic Tube Prediction", Appendix L. The Two Views
configuration keeps L_STP but fixes its points instead of drawing them: s = 0 (the query's first
token), r = the query's last token, t = the answer's last token. With the template gap between
query and answer bypassed (Appendix G), the second step starts at the answer's first token r':

    L = 1 - cos(h_t - h_r', h_r - h_s),   r' = answer_start

(`template_gap(..., GapOrigin.BEFORE_ANSWER)` gives the reference code's r' = answer_start - 1.)

`two_view_triplets` gives those triplets for `stp_loss` (with `skip=template_gap(...)`, and with
`predictor=` for "Two Views + Pred"). Its "Mean" option replaces each step by an average of
states, `mean_view_loss`.

Indices below are in trajectory-index space (see `losses.sampling`): the query content positions
then the answer content positions, 0..L-1.
"""

from __future__ import annotations

import torch

from semantic_tube.losses.sampling import check_spans, to_positions
from semantic_tube.losses.stp import Predictor, _at_least_fp32, apply_predictor, masked_mean, safe_cosine


def two_view_triplets(query_span: torch.Tensor, answer_span: torch.Tensor) -> torch.Tensor:
    """The Two Views triplet (s, r, t) = (query start, last query token, last answer token).

    query_span, answer_span: (batch, 2) [start, end) content spans. Returns (batch, 1, 3) CPU
    LongTensor sequence positions, for `stp_loss(hidden, triplets, skip=template_gap(...))`.
    A row is -1 (absent) unless s < r < t are three distinct points: a trajectory of fewer than
    3 points, a query of fewer than 2 tokens (s = r) or an empty answer (r = t).

    The reference code's two views (`--linear e2e`) start one state earlier: its query view is
    h_(query end - 1) - h_(query start - 1), the state before the query's first token, and its
    answer view h_(answer end - 1) - h_(answer start - 1), which is this triplet's second step with
    `template_gap(..., GapOrigin.BEFORE_ANSWER)`.
    """
    check_spans(query_span, answer_span)
    q, a = query_span.detach().cpu().long(), answer_span.detach().cpu().long()
    q_len, a_len = q[:, 1] - q[:, 0], a[:, 1] - a[:, 0]
    index = torch.stack([torch.zeros_like(q_len), q_len - 1, q_len + a_len - 1], dim=-1)  # (batch, 3)
    index = index.masked_fill(((q_len < 2) | (a_len < 1)).view(-1, 1), -1)
    return to_positions(index.unsqueeze(1), q, a)


def mean_view_loss_per_example(
    hidden_states: torch.Tensor,
    query_span: torch.Tensor,
    answer_span: torch.Tensor,
    predictor: Predictor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Appendix L "Mean": 1 - cos((1/(r-s+1)) sum_{s<=i<=r} h_i, (1/(t-r+1)) sum_{r<=j<=t} h_j).

    In trajectory-index space s = 0, r = the last query token, t = L-1: the first mean is over
    the query content states, the second over h_r and the answer content states (h_r is in both,
    as the formula writes it; the template tokens between query and answer are in neither).

    hidden_states: (batch, seq, dim); query_span, answer_span: (batch, 2) [start, end) content
    spans. predictor: None (identity) or a callable (..., dim) -> (..., dim) applied to the first
    mean (Appendix L "Two Views / Pred"). Returns (loss, present), both (batch,); a row is present
    when both the query and the answer have a token. Means are taken in float32 or wider.

    The reference code's `--linear mean` averages the query content and the answer content
    separately: h_r only in the first mean.
    """
    if hidden_states.dim() != 3:
        raise ValueError(f"hidden_states must be (batch, seq, dim), got shape {tuple(hidden_states.shape)}")
    batch, seq, _ = hidden_states.shape
    check_spans(query_span, answer_span, batch, seq)
    q = query_span.to(hidden_states.device).long()
    a = answer_span.to(hidden_states.device).long()
    q0, q1, a0, a1 = q[:, :1], q[:, 1:], a[:, :1], a[:, 1:]  # (batch, 1) each
    pos = torch.arange(seq, device=hidden_states.device).view(1, -1)
    first = (pos >= q0) & (pos < q1)  # query content: trajectory indices 0..r
    second = ((pos >= a0) & (pos < a1)) | (pos == q1 - 1)  # h_r and the answer content: r..t
    hidden = _at_least_fp32(hidden_states)
    counts = torch.stack([(q1 - q0).clamp_min(1), (a1 - a0 + 1).clamp_min(1)], dim=1).to(hidden.dtype)  # (batch, 2, 1)
    weights = torch.stack([first, second], dim=1).to(hidden.dtype) / counts  # (batch, 2, seq)
    means = torch.bmm(weights, hidden)  # (batch, 2, dim)
    loss = 1.0 - safe_cosine(apply_predictor(predictor, means[:, 0]), means[:, 1])
    present = ((q1 - q0) >= 1) & ((a1 - a0) >= 1)
    return loss, present.view(-1)


def mean_view_loss(
    hidden_states: torch.Tensor,
    query_span: torch.Tensor,
    answer_span: torch.Tensor,
    predictor: Predictor | None = None,
) -> torch.Tensor:
    """Mean of `mean_view_loss_per_example` over present examples; 0 when none is present."""
    loss, present = mean_view_loss_per_example(hidden_states, query_span, answer_span, predictor)
    return masked_mean(loss, present)
