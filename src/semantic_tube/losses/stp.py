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

Template gap (Appendix G). Between the query and the answer a chat template puts tokens of its
own (`<|im_end|>\n<|im_start|>assistant\n`); they are not part of the semantic trajectory. With
x[s, r] in the query and x[r', t] in the answer, Appendix G writes L = 1 - cos(h_t - h_r', h_r - h_s):
a displacement that crosses the gap is the sum of its query part and its answer part, the answer
part starting at the state of the answer's first token r'. In general, with `skip` = [g0, g1), a
displacement h_b - h_a with a < g0 and b >= g1 - 1 is

    h_b - h_(g1-1) + h_(g0-1) - h_a

(h_(g0-1) is the query's last state, h_(g1-1) the answer part's origin). `sampling.template_gap`
builds [g0, g1) for either origin: Appendix G's (h_r' at the answer's first token, the default)
or the reference code's (the state before it, the template's last state). `skip=None` measures
straight across.

Predictor (Appendix L "Pred", Sec. 4.6). The paper's ablation trains a linear projector P on the
first step. Its two texts differ in the target: Appendix L writes 1 - cos(P(h_r - h_s), h_t - h_s),
Sec. 4.6 writes 1 - cos(P(h_r - h_s), h_t - h_r); `PredictorTarget` picks one. Without a predictor
the loss is the paper's STP loss whatever the target says. The reference code has no triplet
form of "Pred": its `--linear_predictor` maps its first view (before + after in the span form,
see `span_loss_per_span`; the query view in its two-view `e2e` form) and compares it with the
other, which is the `section_4_6` shape.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

import torch

# Norms below this count as zero length. A zero-length step has no direction: its cosine is 0
# (loss 1) and passes no gradient, instead of 0/0. On the bypassed trajectory the query's last
# state and the answer's first are one point (Appendix G), so a step between them is exactly zero.
NORM_EPS = 1e-8


def safe_cosine(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Cosine similarity along the last dim; 0, with zero gradient, where u or v has zero length.

    u, v: (..., dim) -> (...). Computed in float32 whatever the input dtype, since bf16
    dot products over thousands of dims lose the small angles STP is about.
    """
    u, v = _at_least_fp32(u), _at_least_fp32(v)
    norms = torch.linalg.vector_norm(u, dim=-1) * torch.linalg.vector_norm(v, dim=-1)
    has_direction = norms >= NORM_EPS * NORM_EPS
    # the masked branch divides by 1, so neither branch of the where makes a non-finite gradient
    cosine = (u * v).sum(-1) / torch.where(has_direction, norms, torch.ones_like(norms))
    return torch.where(has_direction, cosine, torch.zeros_like(cosine))


def _at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.promote_types(x.dtype, torch.float32))


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


def _check_skip(hidden_states: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor | None:
    """skip: None, (batch, 2) or (batch, G, 2) [g0, g1) -> (batch, G, 2) LongTensor, or None."""
    if skip is None:
        return None
    if skip.dim() == 2:
        skip = skip.unsqueeze(1)
    if skip.dim() != 3 or skip.shape[0] != hidden_states.shape[0] or skip.shape[2] != 2:
        raise ValueError(f"skip must be (batch={hidden_states.shape[0]}, 2) or (batch, G, 2), got shape {tuple(skip.shape)}")
    if skip.dtype != torch.long:
        raise ValueError(f"skip must be a LongTensor, got {skip.dtype}")
    return skip


def displacement(hidden_states: torch.Tensor, a: torch.Tensor, b: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
    """h_b - h_a for a <= b, bypassing each gap [g0, g1) of `skip` that the step crosses.

    hidden_states: (batch, seq, dim); a, b: (batch, K) positions (-1 allowed, masked by the caller);
    skip: None or (batch, G, 2) from `_check_skip`, a gap with g0 < 1 or g1 <= g0 bypasses nothing.
    Returns (batch, K, dim), at least float32. A step crosses a gap when a < g0 and b >= g1 - 1;
    crossing subtracts the gap's own step h_(g1-1) - h_(g0-1), which is h_b - h_(g1-1) + h_(g0-1) - h_a
    for one gap: the steps of tokens g0..g1-1 are left out, and h_(g1-1) is where the part after
    the gap starts (the same point as h_(g0-1) on the bypassed trajectory).
    """
    # fp32 before subtracting: a bf16 difference of two nearby states loses the small steps STP compares
    ends = gather_positions(hidden_states, torch.stack([a, b], dim=-1))
    ends = _at_least_fp32(ends)  # (batch, K, 2, dim)
    step = ends[:, :, 1] - ends[:, :, 0]
    if skip is None:
        return step
    g0, g1 = skip.unbind(dim=-1)  # (batch, G)
    active = (g0 >= 1) & (g1 > g0)
    edges = gather_positions(hidden_states, torch.stack([g0 - 1, g1 - 1], dim=-1).clamp_min(0))
    edges = _at_least_fp32(edges)  # (batch, G, 2, dim)
    gap_step = (edges[:, :, 1] - edges[:, :, 0]) * active.unsqueeze(-1)  # (batch, G, dim)
    crosses = (a.unsqueeze(-1) < g0.unsqueeze(1)) & (b.unsqueeze(-1) >= g1.unsqueeze(1) - 1)  # (batch, K, G)
    # an elementwise sum, not a matmul: with TF32 matmuls a gap step would be rounded to 10 bits,
    # and a step whose two parts cancel (the merged point) would not come out exactly zero
    return step - (crosses.unsqueeze(-1).to(step.dtype) * gap_step.unsqueeze(1)).sum(dim=2)


class PredictorTarget(str, Enum):
    """What a predicted first step P(h_r - h_s) is compared with (the paper states both)."""

    APPENDIX_L = "appendix_l"  # Appendix L "Pred": 1 - cos(P(h_r - h_s), h_t - h_s)
    SECTION_4_6 = "section_4_6"  # Sec. 4.6: 1 - cos(P(h_r - h_s), h_t - h_r)


Predictor = Callable[[torch.Tensor], torch.Tensor]


def apply_predictor(predictor: Predictor | None, x: torch.Tensor) -> torch.Tensor:
    """P(x) for x: (..., dim) -> (..., dim); None is the identity.

    x is passed as it is (the displacements here are at least float32); a predictor whose weights
    are in another dtype must cast itself. Raises ValueError if P changes the shape, since its
    output is compared by cosine with a vector of x's shape.
    """
    if predictor is None:
        return x
    out = predictor(x)
    if out.shape != x.shape:
        raise ValueError(f"predictor must map (..., dim) to the same shape {tuple(x.shape)}, got {tuple(out.shape)}")
    return out


def _check(hidden_states: torch.Tensor, positions: torch.Tensor, width: int, name: str) -> None:
    if hidden_states.dim() != 3:
        raise ValueError(f"hidden_states must be (batch, seq, dim), got shape {tuple(hidden_states.shape)}")
    if positions.dim() != 3 or positions.shape[0] != hidden_states.shape[0] or positions.shape[2] != width:
        raise ValueError(
            f"{name} must be (batch={hidden_states.shape[0]}, K, {width}), got shape {tuple(positions.shape)}"
        )
    if positions.dtype != torch.long:
        raise ValueError(f"{name} must be a LongTensor, got {positions.dtype}")
    check_in_range(positions, hidden_states.shape[1], name)


def check_in_range(positions: torch.Tensor, length: int, name: str) -> None:
    """Positions must index a sequence of `length`. Checked only for CPU tensors: reading a device
    tensor's maximum would stall the step on a host sync, so callers that move positions to a
    device check them on the CPU first (as STPTrainer does)."""
    if positions.device.type == "cpu" and positions.numel() and int(positions.max()) >= length:
        raise ValueError(f"{name} holds a position >= seq length {length}")


def tube_loss_per_triplet(
    hidden_states: torch.Tensor,
    triplets: torch.Tensor,
    skip: torch.Tensor | None = None,
    *,
    predictor: Predictor | None = None,
    predictor_target: PredictorTarget | str = PredictorTarget.APPENDIX_L,
) -> tuple[torch.Tensor, torch.Tensor]:
    """1 - cos(h_t - h_r, h_r - h_s) for each triplet (s, r, t), each step bypassing `skip`.

    hidden_states: (batch, seq, dim); triplets: (batch, K, 3) positions, a row with any -1 is
    absent; skip: None, (batch, 2) or (batch, G, 2). Returns (loss, present), both (batch, K).

    predictor: None, or a callable (..., dim) -> (..., dim) such as a `torch.nn.Linear` (Appendix L
    "Pred"). With one, the loss is 1 - cos(P(h_r - h_s), h_t - h_s) for `appendix_l` and
    1 - cos(P(h_r - h_s), h_t - h_r) for `section_4_6`; P receives the float32 (or wider)
    displacement (batch, K, dim). With None it is the paper's 1 - cos(h_t - h_r, h_r - h_s) for
    either target: the identity predictor is what STP stands for (P5), and an explicit identity
    with `appendix_l` would compare with h_t - h_s instead.
    """
    _check(hidden_states, triplets, 3, "triplets")
    skip = _check_skip(hidden_states, skip)
    predictor_target = PredictorTarget(predictor_target)
    s, r, t = triplets.unbind(dim=-1)
    first = displacement(hidden_states, s, r, skip)  # (batch, K, dim)
    if predictor is None:
        loss = 1.0 - safe_cosine(displacement(hidden_states, r, t, skip), first)
    else:
        start = s if predictor_target is PredictorTarget.APPENDIX_L else r
        loss = 1.0 - safe_cosine(apply_predictor(predictor, first), displacement(hidden_states, start, t, skip))
    return loss, (triplets >= 0).all(dim=-1)


def stp_loss(
    hidden_states: torch.Tensor,
    triplets: torch.Tensor,
    skip: torch.Tensor | None = None,
    *,
    predictor: Predictor | None = None,
    predictor_target: PredictorTarget | str = PredictorTarget.APPENDIX_L,
) -> torch.Tensor:
    """The paper's STP loss: mean of 1 - cos(h_t - h_r, h_r - h_s) over present triplets.

    hidden_states: (batch, seq, dim) float; triplets: (batch, K, 3) LongTensor of positions
    (s, r, t), a triplet containing -1 is absent; skip: (batch, 2) LongTensor [g0, g1), the gap
    `template_gap` gives (Appendix G; g0 == g1 or -1: nothing), or (batch, G, 2) for several
    gaps, or None to measure straight across. Returns a scalar, 0 when no triplet is present.
    This is the `tube`, `anchored` and `zero` forms; they differ only in how triplets are drawn.
    predictor / predictor_target: the Appendix L "Pred" variant, see `tube_loss_per_triplet`.
    """
    loss, present = tube_loss_per_triplet(hidden_states, triplets, skip, predictor=predictor, predictor_target=predictor_target)
    return masked_mean(loss, present)


def span_loss_per_span(
    hidden_states: torch.Tensor, spans: torch.Tensor, skip: torch.Tensor | None = None, *, predictor: Predictor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The public reference code's form: a random sub-span against its complement.

    spans: (batch, K, 4) positions (first, a, b, last) with first <= a < b <= last, where first
    and last are the trajectory's ends and [a, b] the sub-span. With P = h_b - h_a the span's
    displacement and T = h_last - h_first the whole trajectory's, the loss is
    1 - cos(T - P, P): the rest of the trajectory, (h_a - h_first) + (h_last - h_b), should keep
    the span's direction. Returns (loss, present), both (batch, K).

    It differs from the paper's form in what it compares: the paper takes two adjacent steps
    (s->r, r->t); the reference code compares one span with the sum of the two pieces around it.
    Every displacement bypasses `skip` as in `stp_loss`, which is how the reference drops the
    template step between query and answer (its `get_embeddings`).

    predictor: None (identity) or a callable (..., dim) -> (..., dim); with one the loss is
    1 - cos(P(T - P_span), P_span): P maps the rest of the trajectory, as the reference's
    `--linear_predictor` maps its `user_embedding` (before + after) before the cosine.
    """
    _check(hidden_states, spans, 4, "spans")
    skip = _check_skip(hidden_states, skip)
    first, a, b, last = spans.unbind(dim=-1)
    patch = displacement(hidden_states, a, b, skip)
    rest = displacement(hidden_states, first, last, skip) - patch
    loss = 1.0 - safe_cosine(apply_predictor(predictor, rest), patch)
    return loss, (spans >= 0).all(dim=-1)


def span_loss(
    hidden_states: torch.Tensor, spans: torch.Tensor, skip: torch.Tensor | None = None, *, predictor: Predictor | None = None
) -> torch.Tensor:
    """Mean of `span_loss_per_span` over present spans (skip and predictor as there); 0 when none is present."""
    loss, present = span_loss_per_span(hidden_states, spans, skip, predictor=predictor)
    return masked_mean(loss, present)
