"""Drawing the positions STP compares, for a whole batch at once.

An example's trajectory is its query-content positions followed by its answer-content positions
(Appendix G: template and system tokens between them are skipped). Indices are first drawn in
this "trajectory index" space, 0..L-1 with L = query length + answer length, then mapped to
sequence positions. Sampling runs on a CPU `torch.Generator`, so the same seed gives the same
draws on any device.
"""

from __future__ import annotations

from enum import Enum

import torch


class STPForm(str, Enum):
    """Which STP objective to use (see `losses.stp`)."""

    TUBE = "tube"  # paper: s < r < t uniform over the trajectory
    ANCHORED = "anchored"  # Appendix G: s = query start, t = answer end, r uniform in between
    SPAN = "span"  # public reference code: a random sub-span against its complement (exactly as it draws)


# How many positions one draw of each form holds.
POSITIONS_PER_DRAW = {STPForm.TUBE: 3, STPForm.ANCHORED: 3, STPForm.SPAN: 4}


def trajectory_lengths(query_span: torch.Tensor, answer_span: torch.Tensor) -> torch.Tensor:
    """query_span, answer_span: (batch, 2) [start, end) token positions -> (batch,) lengths."""
    return (query_span[:, 1] - query_span[:, 0]) + (answer_span[:, 1] - answer_span[:, 0])


def template_gap(query_span: torch.Tensor, answer_span: torch.Tensor) -> torch.Tensor:
    """(batch, 2) [g0, g1): the template tokens between the trajectory's query and answer pieces,
    the `skip` argument of `stp_loss` / `span_loss`."""
    return torch.stack([query_span[:, 1], answer_span[:, 0]], dim=1)


def to_positions(index: torch.Tensor, query_span: torch.Tensor, answer_span: torch.Tensor) -> torch.Tensor:
    """Map trajectory indices (batch, K, P) to sequence positions; -1 stays -1."""
    q_start = query_span[:, 0].view(-1, 1, 1)
    q_len = (query_span[:, 1] - query_span[:, 0]).view(-1, 1, 1)
    a_start = answer_span[:, 0].view(-1, 1, 1)
    positions = torch.where(index < q_len, q_start + index, a_start + (index - q_len))
    return torch.where(index < 0, torch.full_like(index, -1), positions)


def _uniform_below(high: torch.Tensor, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Integers uniform in [0, high) with `high` broadcast over `shape` (high >= 1)."""
    u = torch.rand(shape, generator=generator)
    return (u * high).long().clamp_max(high - 1)


def _distinct_sorted(lengths: torch.Tensor, k: int, count: int, generator: torch.Generator) -> torch.Tensor:
    """`count` distinct sorted indices uniform over the count-subsets of [0, L) for each row.

    Random keys, invalid indices keyed +inf, the `count` smallest keys win: every subset is
    equally likely. lengths: (batch,) -> (batch, k, count); rows with L < count are garbage
    and must be masked by the caller.
    """
    width = max(int(lengths.max()) if lengths.numel() else 0, count)
    keys = torch.rand((lengths.shape[0], k, width), generator=generator)
    invalid = torch.arange(width).view(1, 1, -1) >= lengths.view(-1, 1, 1)
    keys = keys.masked_fill(invalid, float("inf"))
    return keys.topk(count, dim=-1, largest=False).indices.sort(dim=-1).values


def sample_trajectory_indices(lengths: torch.Tensor, k: int, form: STPForm, generator: torch.Generator) -> torch.Tensor:
    """Draw K index tuples per example in trajectory-index space.

    lengths: (batch,) trajectory lengths. Returns (batch, K, 3) triplets (s, r, t) for `tube`
    and `anchored`, (batch, K, 4) quadruples (first, a, b, last) for `span`. Examples with
    L < 3 get rows of -1 (absent): three distinct points are needed for an angle.
    """
    if k < 1:
        raise ValueError(f"k (draws per example) must be >= 1, got {k}")
    form = STPForm(form)
    lengths = lengths.detach().cpu().long()
    batch = lengths.shape[0]
    last = (lengths - 1).view(-1, 1, 1).expand(batch, k, 1)
    if form is STPForm.TUBE:
        drawn = _distinct_sorted(lengths, k, 3, generator)
    elif form is STPForm.ANCHORED:
        middle = 1 + _uniform_below((lengths - 2).clamp_min(1).view(-1, 1, 1), (batch, k, 1), generator)
        drawn = torch.cat([torch.zeros_like(middle), middle, last], dim=-1)
    else:
        drawn = torch.cat([torch.zeros_like(last), _reference_span(lengths, k, generator), last], dim=-1)
    too_short = (lengths < 3).view(-1, 1, 1)
    return drawn.masked_fill(too_short, -1)


def _reference_span(lengths: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """(a, b), a < b, drawn as the reference code's `get_s_t` draws them: a uniform in [0, L-1),
    then b uniform in [a+1, L-1], the whole trajectory (0, L-1) excluded (its complement is empty,
    and the reference redraws b). So b is uniform in [1, L-2] when a = 0. Not uniform over pairs:
    short spans late in the trajectory are likelier. lengths: (batch,) point counts, L >= 3 for
    a valid row. Returns (batch, k, 2)."""
    size = lengths.view(-1, 1, 1).clamp_min(3)
    start = _uniform_below(size - 1, (lengths.shape[0], k, 1), generator)
    high = torch.where(start == 0, size - 2, size - 1 - start)
    end = start + 1 + _uniform_below(high, (lengths.shape[0], k, 1), generator)
    return torch.cat([start, end], dim=-1)


def sample_positions(
    query_span: torch.Tensor,
    answer_span: torch.Tensor,
    k: int,
    form: STPForm,
    generator: torch.Generator,
) -> torch.Tensor:
    """Sequence positions for `stp_loss` (tube/anchored: (batch, K, 3)) or `span_loss` ((batch, K, 4)).

    query_span, answer_span: (batch, 2) [start, end) token positions of the query and answer
    content. The result lives on the spans' device.

    `tube` and `anchored` draw among the content tokens' states. `span` follows the reference
    code, whose trajectory points are the states *before* each content token plus the last one:
    it starts one position earlier, at the state before the query's first token.
    """
    if query_span.shape != answer_span.shape or query_span.dim() != 2 or query_span.shape[1] != 2:
        raise ValueError(
            f"query_span and answer_span must both be (batch, 2), got {tuple(query_span.shape)} and {tuple(answer_span.shape)}"
        )
    cpu_q, cpu_a = query_span.detach().cpu().long(), answer_span.detach().cpu().long()
    if STPForm(form) is STPForm.SPAN:
        cpu_q = torch.stack([torch.where(cpu_q[:, 0] > 0, cpu_q[:, 0] - 1, cpu_q[:, 0]), cpu_q[:, 1]], dim=1)
    index = sample_trajectory_indices(trajectory_lengths(cpu_q, cpu_a), k, form, generator)
    return to_positions(index, cpu_q, cpu_a).to(query_span.device)


def sample_positions_per_example(
    query_span: torch.Tensor,
    answer_span: torch.Tensor,
    k: int,
    form: STPForm,
    seeds: list[int],
) -> torch.Tensor:
    """`sample_positions` where row b draws from its own generator seeded with seeds[b].

    An example's draws then depend only on its seed, not on the batch it lands in: batch size
    x accumulation and the number of processes leave them unchanged. One small draw per row.
    """
    if len(seeds) != query_span.shape[0]:
        raise ValueError(f"need one seed per example: {len(seeds)} seeds for a batch of {query_span.shape[0]}")
    rows = [
        sample_positions(query_span[b : b + 1], answer_span[b : b + 1], k, form, torch.Generator().manual_seed(seed))
        for b, seed in enumerate(seeds)
    ]
    return torch.cat(rows)
