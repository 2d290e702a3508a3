"""Drawing the positions STP compares, for a whole batch at once.

An example's trajectory is its query-content positions followed by its answer-content positions
(Appendix G: template and system tokens between them are skipped; with Appendix G's origin the
caller drops the answer's first position, `trajectory_answer_span`). Indices are first drawn in
this "trajectory index" space, 0..L-1 with L = query length + answer length, then mapped to
sequence positions. Sampling runs on the CPU, so the same seed gives the same draws on any device.

The uniform numbers come from a `torch.Generator`, or from `KeyedDraws`: a counter-based hash of
each example's own key (the trainer keys it by seed, step and the example's index). Keyed draws
are one vectorised computation for the whole batch, with no Python loop and no generator state,
and an example draws the same whatever batch it lands in, however the batch is padded.
"""

from __future__ import annotations

import functools
from enum import Enum

import torch

_MASK32 = 0xFFFF_FFFF


class STPForm(str, Enum):
    """Which STP objective to use (see `losses.stp`)."""

    TUBE = "tube"  # paper: s < r < t uniform over the trajectory
    ANCHORED = "anchored"  # Appendix G: s = query start, t = answer end, r uniform in between
    SPAN = "span"  # public reference code: a random sub-span against its complement (exactly as it draws)
    ZERO = "zero"  # Appendix L "Zero": s = 0 (the trajectory's start), r < t uniform over 1..L-1


def check_spans(query_span: torch.Tensor, answer_span: torch.Tensor, batch: int | None = None, seq_len: int | None = None) -> None:
    """Raise ValueError unless query_span and answer_span are (batch, 2) integer [start, end) spans
    (of `batch` rows, ending within `seq_len` positions, when given; the end is checked for CPU
    tensors only, as in `stp.check_in_range`)."""
    if query_span.shape != answer_span.shape or query_span.dim() != 2 or query_span.shape[1] != 2:
        raise ValueError(
            f"query_span and answer_span must both be (batch, 2), got {tuple(query_span.shape)} and {tuple(answer_span.shape)}"
        )
    if query_span.is_floating_point() or answer_span.is_floating_point():
        raise ValueError(f"query_span and answer_span must be integer tensors, got {query_span.dtype} and {answer_span.dtype}")
    if batch is not None and query_span.shape[0] != batch:
        raise ValueError(f"query_span and answer_span must have batch={batch} rows, got {query_span.shape[0]}")
    for name, span in (("query_span", query_span), ("answer_span", answer_span)):
        if seq_len is not None and span.device.type == "cpu" and span.numel() and int(span.max()) > seq_len:
            raise ValueError(f"{name} ends past the sequence length {seq_len}")


def trajectory_lengths(query_span: torch.Tensor, answer_span: torch.Tensor) -> torch.Tensor:
    """query_span, answer_span: (batch, 2) [start, end) token positions -> (batch,) lengths."""
    return (query_span[:, 1] - query_span[:, 0]) + (answer_span[:, 1] - answer_span[:, 0])


class GapOrigin(str, Enum):
    """Where the answer part of a displacement that crosses the template gap starts (Appendix G)."""

    ANSWER_START = "answer_start"  # the paper, literally: h_r' with x[r', t] the answer, r' its first token
    BEFORE_ANSWER = "before_answer"  # the reference code (`get_embeddings`): the state before the answer's first token


def template_gap(query_span: torch.Tensor, answer_span: torch.Tensor, origin: GapOrigin | str = GapOrigin.ANSWER_START) -> torch.Tensor:
    """(batch, 2) [g0, g1): the `skip` argument of `stp_loss` / `span_loss` for a trajectory that
    runs from the query's content to the answer's, the template tokens between them bypassed.

    A displacement that crosses it becomes h_b - h_(g1-1) + h_(g0-1) - h_a (see `stp.displacement`):
    h_(g0-1) is the query's last state and h_(g1-1) the answer part's origin. `answer_start`
    (Appendix G: L = 1 - cos(h_t - h_r', h_r - h_s), x[r', t] the answer) puts the origin at the
    answer's first token, so g1 = answer start + 1: the template's steps and the step into the
    answer's first token are left out, and the query's last state and the answer's first state are
    one point of the bypassed trajectory. `before_answer` (the reference code) puts it at the
    state before the answer's first token, g1 = answer start: only the template's steps are left
    out. With nothing between query and answer, or no query or no answer, the gap is empty
    (g1 = g0): nothing is bypassed.
    """
    q_end, a_start = query_span[:, 1], answer_span[:, 0]
    end = a_start + 1 if GapOrigin(origin) is GapOrigin.ANSWER_START else a_start
    # template tokens, with a query before them and an answer after them
    between = (a_start > q_end) & (answer_span[:, 1] > a_start) & (q_end > query_span[:, 0])
    return torch.stack([q_end, torch.where(between, end, q_end)], dim=1)


def trajectory_answer_span(query_span: torch.Tensor, answer_span: torch.Tensor, origin: GapOrigin | str | None) -> torch.Tensor:
    """(batch, 2) the answer positions that are points of their own on the bypassed trajectory.

    With Appendix G's origin (`answer_start`) and a template gap, the answer's first state is the
    query's last on the bypassed trajectory (a step between them is zero), so the trajectory's
    answer part starts one token later: draws over (query_span, this) never pick two positions
    that are one point. With `before_answer`, or None (straight across), it is `answer_span`.
    """
    if origin is None or GapOrigin(origin) is not GapOrigin.ANSWER_START:
        return answer_span
    gap = template_gap(query_span, answer_span, origin)
    merged = (gap[:, 1] > gap[:, 0]).long()  # a template between them, and an answer after it
    return answer_span + torch.stack([merged, torch.zeros_like(merged)], dim=1)


def to_positions(index: torch.Tensor, query_span: torch.Tensor, answer_span: torch.Tensor) -> torch.Tensor:
    """Map trajectory indices (batch, K, P) to sequence positions; -1 stays -1."""
    q_start = query_span[:, 0].view(-1, 1, 1)
    q_len = (query_span[:, 1] - query_span[:, 0]).view(-1, 1, 1)
    a_start = answer_span[:, 0].view(-1, 1, 1)
    positions = torch.where(index < q_len, q_start + index, a_start + (index - q_len))
    return torch.where(index < 0, torch.full_like(index, -1), positions)


# --- conversations: a trajectory of several content segments -----------------------------------------
#
# A conversation's trajectory is its content turns in order (user, assistant, user, ...), with a
# template stretch between each two. `segments` (batch, S, 2) holds them as [start, end) token
# positions, padded at the end with empty segments; with S = 2 they are (query_span, answer_span),
# and every function below gives exactly what its two-span counterpart gives.


def segment_gaps(segments: torch.Tensor, origin: GapOrigin | str = GapOrigin.ANSWER_START) -> torch.Tensor:
    """(batch, S - 1, 2): the `template_gap` between each two consecutive segments, the `skip`
    argument of `stp_loss` / `span_loss` (several gaps per example). Each displacement that
    crosses one restarts at the next segment's first content token (`answer_start`, Appendix G)
    or at the state before it (`before_answer`); a gap next to an empty (padding) segment bypasses
    nothing."""
    batch, count, _ = segments.shape
    if count < 2:
        return segments.new_zeros((batch, 0, 2))
    before, after = segments[:, :-1].reshape(-1, 2), segments[:, 1:].reshape(-1, 2)
    return template_gap(before, after, origin).view(batch, count - 1, 2)


def trajectory_segments(segments: torch.Tensor, origin: GapOrigin | str | None) -> torch.Tensor:
    """(batch, S, 2) the positions of each segment that are points of their own on the bypassed
    trajectory: with Appendix G's origin every segment after a gap starts one token later (its
    first state is the previous segment's last), as `trajectory_answer_span` does for the answer."""
    if origin is None or GapOrigin(origin) is not GapOrigin.ANSWER_START or segments.shape[1] < 2:
        return segments
    gaps = segment_gaps(segments, origin)
    merged = (gaps[..., 1] > gaps[..., 0]).long()  # (batch, S - 1)
    shift = torch.cat([torch.zeros_like(merged[:, :1]), merged], dim=1)
    return segments + torch.stack([shift, torch.zeros_like(shift)], dim=-1)


def segments_to_positions(index: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
    """Map trajectory indices (batch, K, P) over the segments' content, in order, to sequence
    positions (batch, K, P); -1 stays -1. With two segments this is `to_positions`."""
    lengths = (segments[..., 1] - segments[..., 0]).clamp_min(0)  # (batch, S)
    ends = lengths.cumsum(dim=1)
    batch, count = lengths.shape
    which = (index.unsqueeze(-1) >= ends.view(batch, 1, 1, count)).sum(dim=-1).clamp_max(count - 1)  # (batch, K, P)
    flat = which.reshape(batch, -1)
    start = segments[..., 0].gather(1, flat).view_as(index)
    before = (ends - lengths).gather(1, flat).view_as(index)
    return torch.where(index < 0, torch.full_like(index, -1), start + index - before)


def sample_segment_positions(segments: torch.Tensor, k: int, form: STPForm, draws: torch.Generator | Draws) -> torch.Tensor:
    """`sample_positions` over a trajectory of several segments (batch, S, 2), on the CPU: the
    same draws in the same trajectory-index space (its length the segments' total), so two
    segments (query, answer) give exactly `sample_positions(query, answer, ...)`. `span` starts one
    position earlier, at the state before the first segment's first token, as there."""
    segments = segments.detach().cpu().long()
    if segments.dim() != 3 or segments.shape[-1] != 2 or segments.shape[1] < 1:
        raise ValueError(f"segments must be (batch, S >= 1, 2), got {tuple(segments.shape)}")
    if STPForm(form) is STPForm.SPAN:
        first = segments[:, 0, 0]
        segments = segments.clone()
        segments[:, 0, 0] = torch.where(first > 0, first - 1, first)
    lengths = (segments[..., 1] - segments[..., 0]).clamp_min(0).sum(dim=1)
    index = sample_trajectory_indices(lengths, k, form, draws)
    return segments_to_positions(index, segments)



# --- conversations drawn one exchange at a time (stp_draw_scope=exchange) ----------------------------
#
# An exchange is a user turn's content then its assistant turn's content: segments (2e, 2e + 1).
# Each draw lies within one exchange, the template between its two turns bypassed as between
# query and answer (Appendix G); the earlier turns are only context, read through the states.

EXCHANGE_STREAM = 9  # which exchange each draw lies in: past the forms' own streams (0, 1), inside each logged form's band of 10


def segment_exchanges(segments: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, S, 2) content segments, S even (user, assistant, ...) -> the (batch, S / 2, 2) query
    (user) and answer (assistant) spans of each exchange; padding segments make empty exchanges."""
    if segments.dim() != 3 or segments.shape[-1] != 2 or segments.shape[1] < 2 or segments.shape[1] % 2:
        raise ValueError(f"segments must be (batch, S, 2) with S even (user and assistant turns), got {tuple(segments.shape)}")
    pairs = segments.view(segments.shape[0], segments.shape[1] // 2, 2, 2)
    return pairs[:, :, 0], pairs[:, :, 1]


def exchange_gaps(segments: torch.Tensor, origin: GapOrigin | str = GapOrigin.ANSWER_START) -> torch.Tensor:
    """(batch, S / 2, 2): each exchange's `template_gap`, between its user and its assistant turn,
    the `skip` of `stp_loss` / `span_loss` for `sample_exchange_positions`' draws (a displacement
    within one exchange crosses no other gap). Empty for padding exchanges."""
    query, answer = segment_exchanges(segments)
    batch, count, _ = query.shape
    return template_gap(query.reshape(-1, 2), answer.reshape(-1, 2), origin).view(batch, count, 2)


class _PerExchange:
    """An example's numbers repeated for each of its `count` exchanges (rows example-major), so
    every exchange of an example reads the numbers the example reads alone."""

    def __init__(self, draws: Draws, count: int):
        self.draws, self.count = draws, count

    def uniform(self, shape: tuple[int, int, int], stream: int) -> torch.Tensor:
        rows, k, n = shape
        return self.draws.uniform((rows // self.count, k, n), stream).repeat_interleave(self.count, dim=0)


def sample_exchange_positions(
    segments: torch.Tensor, k: int, form: STPForm, draws: torch.Generator | Draws, origin: GapOrigin | str | None
) -> torch.Tensor:
    """Sequence positions (batch, K, P) as `sample_positions` draws them, each of the K draws
    within one exchange of the conversation (`segment_exchanges`): the exchange uniform among the
    example's exchanges of at least three points (stream `EXCHANGE_STREAM`), then the tuple drawn
    in that exchange's trajectory (its user content, then its assistant content without the first
    token under Appendix G's origin, `trajectory_answer_span`) with the numbers the example
    would draw from that exchange alone. So an example of one exchange (the others padding) draws
    exactly `sample_positions(query, trajectory_answer_span(query, answer, origin), ...)` with
    `KeyedDraws`. Rows of -1 where no exchange has three points. CPU LongTensor.

    Uniform over exchanges rather than over the triplets of all exchanges: each exchange counts
    as one of the paper's single-turn examples, whatever its length, as it would if the
    conversation were split into exchanges with the earlier turns as context."""
    segments = segments.detach().cpu().long()
    query, answer = segment_exchanges(segments)
    batch, count, _ = query.shape
    draws = _as_draws(draws)
    flat_query, flat_answer = query.reshape(-1, 2), answer.reshape(-1, 2)
    flat_answer = trajectory_answer_span(flat_query, flat_answer, origin)
    if STPForm(form) is STPForm.SPAN:
        first = flat_query[:, 0]
        flat_query = torch.stack([torch.where(first > 0, first - 1, first), flat_query[:, 1]], dim=1)
    lengths = trajectory_lengths(flat_query, flat_answer)  # (batch * E,)
    index = sample_trajectory_indices(lengths, k, form, _PerExchange(draws, count))
    positions = to_positions(index, flat_query, flat_answer)
    positions = positions.view(batch, count, k, positions.shape[-1])  # (batch, E, K, P)
    usable = lengths.view(batch, count) >= 3
    pick = _uniform_below(usable.sum(dim=1).clamp_min(1).view(-1, 1, 1), (batch, k, 1), draws, EXCHANGE_STREAM).view(batch, k)
    # the pick-th usable exchange: how many exchanges come before the (pick + 1)-th usable one
    ranks = usable.long().cumsum(dim=1)  # (batch, E)
    chosen = (ranks.unsqueeze(1) <= pick.unsqueeze(-1)).sum(dim=-1).clamp_max(count - 1)  # (batch, K)
    index = chosen.view(batch, 1, k, 1).expand(batch, 1, k, positions.shape[-1])
    return positions.gather(1, index).squeeze(1)


def mix32(x: torch.Tensor | int) -> torch.Tensor | int:
    """A 32-bit integer hash (Wellons' lowbias32), on a Python int or an int64 tensor.

    In int64, products of two 32-bit numbers overflow and wrap; masking keeps the low 32 bits,
    which wrapping leaves exact, so this is the same function as on uint32.
    """
    x = x & _MASK32
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _MASK32
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _MASK32
    return x ^ (x >> 16)


def hash_keys(*parts: torch.Tensor | int) -> torch.Tensor | int:
    """One 32-bit key from several integers, tensors broadcast: mix32(... mix32(mix32(a) ^ b) ...).

    Leading Python ints are hashed in Python (no tensor operation for constants such as the
    seed and the step); the result is a tensor as soon as one part is.
    """
    key: torch.Tensor | int = 0
    for part in parts:
        key = mix32(key ^ mix32(part))
    return key


@functools.lru_cache(maxsize=256)
def _counter(stream: int, k: int, n: int) -> torch.Tensor:
    """(1, k, n): hash(stream, draw, slot), the same for every batch: computed once."""
    return hash_keys(stream, torch.arange(k).view(1, -1, 1), torch.arange(n).view(1, 1, -1))


class KeyedDraws:
    """Uniform numbers from a hash of (example key, stream, draw, slot): counter-based randomness.

    keys: (batch,) int64, one key per example. `uniform((batch, K, n), stream)` gives element
    [b, k, j] = mix32(mix32(keys[b]) ^ hash(stream, k, j)) / 2**32, so a row depends only on its
    own key and not on the batch's size or padding width. Each call of the sampler uses its own
    stream. Two hashes over the batch per call keep it to a handful of tensor operations.
    """

    def __init__(self, keys: torch.Tensor):
        self.mixed_keys = mix32(keys.detach().cpu().long().view(-1, 1, 1))

    def uniform(self, shape: tuple[int, int, int], stream: int) -> torch.Tensor:
        _, k, n = shape
        return mix32(self.mixed_keys ^ _counter(stream, k, n)).double() / 2.0**32


class GeneratorDraws:
    """Uniform numbers from a `torch.Generator` (the stream is ignored: calls consume it in order)."""

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def uniform(self, shape: tuple[int, int, int], stream: int) -> torch.Tensor:
        return torch.rand(shape, generator=self.generator, dtype=torch.float64)


class OffsetDraws:
    """Another source's numbers on its streams shifted by `offset`: with `KeyedDraws`, draws
    independent of the source's own (streams 0, 1, ...), for a second quantity computed on the
    same examples without changing the first's draws."""

    def __init__(self, draws: KeyedDraws | GeneratorDraws, offset: int):
        self.draws, self.offset = draws, offset

    def uniform(self, shape: tuple[int, int, int], stream: int) -> torch.Tensor:
        return self.draws.uniform(shape, stream + self.offset)


Draws = KeyedDraws | GeneratorDraws | OffsetDraws


def _as_draws(source: torch.Generator | Draws) -> Draws:
    return GeneratorDraws(source) if isinstance(source, torch.Generator) else source


def _uniform_below(high: torch.Tensor, shape: tuple[int, int, int], draws: Draws, stream: int) -> torch.Tensor:
    """Integers uniform in [0, high) with `high` broadcast over `shape` (high >= 1)."""
    u = draws.uniform(shape, stream)
    return (u * high).long().clamp_max(high - 1)


def _distinct_sorted(lengths: torch.Tensor, k: int, count: int, draws: Draws, stream: int) -> torch.Tensor:
    """`count` distinct sorted indices uniform over the count-subsets of [0, L) for each row.

    Random keys, invalid indices keyed +inf, the `count` smallest keys win: every subset is
    equally likely. lengths: (batch,) -> (batch, k, count); rows with L < count are garbage
    and must be masked by the caller.
    """
    width = max(int(lengths.max()) if lengths.numel() else 0, count)
    keys = draws.uniform((lengths.shape[0], k, width), stream)
    invalid = torch.arange(width).view(1, 1, -1) >= lengths.view(-1, 1, 1)
    keys = keys.masked_fill(invalid, float("inf"))
    return keys.topk(count, dim=-1, largest=False).indices.sort(dim=-1).values


def sample_trajectory_indices(lengths: torch.Tensor, k: int, form: STPForm, draws: torch.Generator | Draws) -> torch.Tensor:
    """Draw K index tuples per example in trajectory-index space.

    lengths: (batch,) trajectory lengths; draws: a torch.Generator or `KeyedDraws`. Returns (batch, K, 3) triplets (s, r, t) for `tube`,
    `anchored` and `zero`, (batch, K, 4) quadruples (first, a, b, last) for `span`. Examples with
    L < 3 get rows of -1 (absent): three distinct points are needed for an angle.

    `zero` (Appendix L, L_STP = 1 - cos(h_r - h_0, h_t - h_r)): s = 0 and (r, t) uniform over the
    pairs r < t of 1..L-1, each of the (L-1)(L-2)/2 pairs equally likely.
    """
    if k < 1:
        raise ValueError(f"k (draws per example) must be >= 1, got {k}")
    form = STPForm(form)
    draws = _as_draws(draws)
    lengths = lengths.detach().cpu().long()
    batch = lengths.shape[0]
    last = (lengths - 1).view(-1, 1, 1).expand(batch, k, 1)
    if form is STPForm.TUBE:
        drawn = _distinct_sorted(lengths, k, 3, draws, stream=0)
    elif form is STPForm.ANCHORED:
        middle = 1 + _uniform_below((lengths - 2).clamp_min(1).view(-1, 1, 1), (batch, k, 1), draws, stream=0)
        drawn = torch.cat([torch.zeros_like(middle), middle, last], dim=-1)
    elif form is STPForm.ZERO:
        pair = 1 + _distinct_sorted(lengths - 1, k, 2, draws, stream=0)
        drawn = torch.cat([torch.zeros_like(last), pair], dim=-1)
    else:
        drawn = torch.cat([torch.zeros_like(last), _reference_span(lengths, k, draws), last], dim=-1)
    too_short = (lengths < 3).view(-1, 1, 1)
    return drawn.masked_fill(too_short, -1)


def _reference_span(lengths: torch.Tensor, k: int, draws: Draws) -> torch.Tensor:
    """(a, b), a < b, drawn as the reference code's `get_s_t` draws them: a uniform in [0, L-1),
    then b uniform in [a+1, L-1], the whole trajectory (0, L-1) excluded (its complement is empty,
    and the reference redraws b). So b is uniform in [1, L-2] when a = 0. Not uniform over pairs:
    short spans late in the trajectory are likelier. lengths: (batch,) point counts, L >= 3 for
    a valid row. Returns (batch, k, 2)."""
    size = lengths.view(-1, 1, 1).clamp_min(3)
    start = _uniform_below(size - 1, (lengths.shape[0], k, 1), draws, stream=0)
    high = torch.where(start == 0, size - 2, size - 1 - start)
    end = start + 1 + _uniform_below(high, (lengths.shape[0], k, 1), draws, stream=1)
    return torch.cat([start, end], dim=-1)


def sample_positions(
    query_span: torch.Tensor,
    answer_span: torch.Tensor,
    k: int,
    form: STPForm,
    draws: torch.Generator | Draws,
) -> torch.Tensor:
    """Sequence positions for `stp_loss` (tube/anchored/zero: (batch, K, 3)) or `span_loss` ((batch, K, 4)).

    query_span, answer_span: (batch, 2) [start, end) token positions of the query and answer
    content, on the CPU (a device tensor is copied back, a host sync: keep spans on the CPU);
    draws: a torch.Generator, or `KeyedDraws` for per-example draws independent of the batch.
    Returns a CPU LongTensor.

    `tube`, `anchored` and `zero` draw among the content tokens' states. `span` follows the reference
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
    index = sample_trajectory_indices(trajectory_lengths(cpu_q, cpu_a), k, form, draws)
    return to_positions(index, cpu_q, cpu_a)
