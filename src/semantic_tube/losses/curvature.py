"""Appendix L "Curvature": the mean turning angle of the hidden-state trajectory.

Paper: Huang, LeCun, Balestriero, "Semantic Tube Prediction", Appendix L, after the curvature
straightening objective of Henaff et al. (2021). With theta_i the angle between h_i - h_(i-1)
and h_(i+1) - h_i,

    L_Curvature = (1/t) sum_{i<=t} |theta_i|

"Sign" replaces |theta_i| by theta_i. In any dimension the angle between two vectors is
arccos(cos) in [0, pi], never negative, so the signed and absolute losses are the same number;
`CurvatureAngle.SIGNED` is implemented literally and is identical to `ABSOLUTE`. (The reference
code's `--curvature_sign` is identical for the same reason: it takes acos too.)

The trajectory is the query content positions then the answer content positions (trajectory
index space, see `losses.sampling`), the template gap between them bypassed (Appendix G, see
`stp.displacement`). With Appendix G's origin (`GapOrigin.ANSWER_START`) the query's last state
and the answer's first are one point of the bypassed trajectory, so the answer's first position
is left out: L - 1 points. The sum over i <= t has the t terms theta_1..theta_t, which needs the
points h_0..h_(t+1): t is the number of angles (points - 2), and the loss is their mean.

The reference code (`get_curvature`) differs: it sums angles within the query and within the
answer separately, each over the states from the one before the segment's first token to its
last, so no angle spans the template gap; it divides by its count of angles ((Lq - 1) + (La - 1),
L - 2 as here); it clamps the cosine to [-1, 1] with no epsilon; and an example without angles
counts as 0 in its batch mean instead of being absent.
"""

from __future__ import annotations

from enum import Enum

import torch

from semantic_tube.losses.sampling import GapOrigin, check_spans, template_gap, to_positions, trajectory_answer_span, trajectory_lengths
from semantic_tube.losses.stp import _check_skip, displacement, masked_mean, safe_cosine

# d arccos(c)/dc = -1/sqrt(1 - c^2) is infinite at c = +-1 (straight or reversed steps), the very
# points the loss drives towards. Clamping c to [-1 + eps, 1 - eps] bounds it by about
# 1/sqrt(2 eps) ~ 707 and zeroes it beyond the clamp, at the price of a floor: a perfectly straight
# trajectory scores arccos(1 - eps) ~ sqrt(2 eps) ~ 1.4e-3 rad instead of 0. 1e-6 is well above the
# float32 spacing below 1 (6e-8), so 1 - eps is distinct from 1 in float32.
ANGLE_EPS = 1e-6


class CurvatureAngle(str, Enum):
    """Appendix L: |theta_i| (Curvature) or theta_i (Curvature / Sign); equal, see the module docstring."""

    ABSOLUTE = "absolute"
    SIGNED = "signed"


def trajectory_positions(query_span: torch.Tensor, answer_span: torch.Tensor, width: int) -> torch.Tensor:
    """(batch, width) sequence positions of trajectory indices 0..width-1, -1 past each trajectory's end.

    query_span, answer_span: (batch, 2) [start, end) content spans, on the device wanted.
    """
    lengths = trajectory_lengths(query_span, answer_span)
    index = torch.arange(width, device=query_span.device).view(1, 1, -1).expand(query_span.shape[0], 1, -1)
    index = torch.where(index < lengths.view(-1, 1, 1), index, torch.full_like(index, -1))
    return to_positions(index, query_span, answer_span).squeeze(1)


def curvature_loss_per_example(
    hidden_states: torch.Tensor,
    query_span: torch.Tensor,
    answer_span: torch.Tensor,
    angle: CurvatureAngle | str = CurvatureAngle.ABSOLUTE,
    gap_origin: GapOrigin | str | None = GapOrigin.ANSWER_START,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(1/t) sum_(i<=t) |theta_i| over the t angles of each example's trajectory.

    hidden_states: (batch, seq, dim); query_span, answer_span: (batch, 2) [start, end) content
    spans. Step j is d_j = h(p_(j+1)) - h(p_j) between consecutive trajectory points p. The step
    from the query to the answer bypasses the template gap of `template_gap(..., gap_origin)`:
    with `answer_start` (Appendix G) the answer's first point is the query's last, so the
    trajectory skips it and that step is h(answer_start + 1) - h(answer_start); with
    `before_answer` (the reference code) it is h(answer_start) - h(answer_start - 1); with None
    it goes straight across the template. theta_i = arccos(cos(d_(i-1), d_i)) with the cosine
    clamped to [-1 + ANGLE_EPS, 1 - ANGLE_EPS]; a zero-length step has cosine 0 (a right angle),
    as in `stp.safe_cosine`. Returns (loss, present), both (batch,); examples with fewer than 3
    points are absent. Computed in float32 or wider.
    """
    if hidden_states.dim() != 3:
        raise ValueError(f"hidden_states must be (batch, seq, dim), got shape {tuple(hidden_states.shape)}")
    batch, seq, _ = hidden_states.shape
    check_spans(query_span, answer_span, batch, seq)
    angle = CurvatureAngle(angle)
    gap_origin = None if gap_origin is None else GapOrigin(gap_origin)
    cpu_q, cpu_a = query_span.detach().cpu().long(), answer_span.detach().cpu().long()
    skip = None
    if gap_origin is not None:
        skip = _check_skip(hidden_states, template_gap(cpu_q, cpu_a, gap_origin).to(hidden_states.device))
    cpu_a = trajectory_answer_span(cpu_q, cpu_a, gap_origin)  # Appendix G: the answer's first point is the query's last
    q, a = cpu_q.to(hidden_states.device), cpu_a.to(hidden_states.device)
    lengths = trajectory_lengths(q, a)  # (batch,)
    # Width from the CPU spans (no device sync); at least 3 so the gathers below have a step and an
    # angle to compute even when no example does, keeping the result attached to the graph.
    cpu_lengths = trajectory_lengths(cpu_q, cpu_a)
    width = max(int(cpu_lengths.max()) if batch else 0, 3)
    points = trajectory_positions(q, a, width)  # (batch, width)
    steps = displacement(hidden_states, points[:, :-1], points[:, 1:], skip)  # (batch, width-1, dim)
    cosine = safe_cosine(steps[:, :-1], steps[:, 1:]).clamp(-1.0 + ANGLE_EPS, 1.0 - ANGLE_EPS)
    theta = torch.arccos(cosine)  # (batch, width-2), in [0, pi]
    if angle is CurvatureAngle.ABSOLUTE:
        theta = theta.abs()
    count = lengths - 2  # t, the angles per example
    valid = torch.arange(width - 2, device=theta.device).view(1, -1) < count.view(-1, 1)
    loss = (theta * valid).sum(dim=-1) / count.clamp_min(1)
    return loss, count >= 1


def curvature_loss(
    hidden_states: torch.Tensor,
    query_span: torch.Tensor,
    answer_span: torch.Tensor,
    angle: CurvatureAngle | str = CurvatureAngle.ABSOLUTE,
    gap_origin: GapOrigin | str | None = GapOrigin.ANSWER_START,
) -> torch.Tensor:
    """Mean of `curvature_loss_per_example` over present examples; 0 when none is present."""
    loss, present = curvature_loss_per_example(hidden_states, query_span, answer_span, angle, gap_origin)
    return masked_mean(loss, present)
