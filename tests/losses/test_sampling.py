"""The index sampler: always inside the trajectory, every valid draw possible, reproducible."""

import itertools
from collections import Counter

import pytest
import torch

from semantic_tube.losses.sampling import KeyedDraws, STPForm, hash_keys, mix32, sample_positions, sample_trajectory_indices

# Query tokens 2..4, answer tokens 8..11: the trajectory is positions 2,3,4,8,9,10,11 (L = 7).
QUERY = torch.tensor([[2, 5], [1, 2], [0, 2]])
ANSWER = torch.tensor([[8, 12], [4, 5], [5, 6]])


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_tube_draws_are_ordered_positions_inside_the_trajectory():
    positions = sample_positions(QUERY, ANSWER, 500, STPForm.TUBE, gen())
    allowed = {2, 3, 4, 8, 9, 10, 11}
    for s, r, t in positions[0].tolist():
        assert s < r < t and {s, r, t} <= allowed
    # Example 1 has 2 trajectory positions: too short, absent. Example 2 has exactly 3.
    assert (positions[1] == -1).all()
    assert positions[2].tolist() == [[0, 1, 5]] * 500


def test_every_triplet_occurs_roughly_uniformly():
    lengths = torch.tensor([6])
    drawn = sample_trajectory_indices(lengths, 6000, STPForm.TUBE, gen())
    counts = Counter(map(tuple, drawn[0].tolist()))
    assert set(counts) == set(itertools.combinations(range(6), 3))  # all 20 triplets
    assert min(counts.values()) > 0.6 * 6000 / 20 and max(counts.values()) < 1.4 * 6000 / 20


def test_anchored_fixes_the_ends():
    positions = sample_positions(QUERY, ANSWER, 300, STPForm.ANCHORED, gen())
    s, r, t = positions[0].unbind(-1)
    assert (s == 2).all() and (t == 11).all()
    assert set(r.tolist()) == {3, 4, 8, 9, 10}


def test_span_draws_as_the_reference_code_does():
    """Over 5 points the reference draws a uniform in [0, 4), then b uniform in [a+1, 4] except
    the whole (0, 4): P(a) = 1/4, P(b | a=0) = 1/3, and (3, 4) has probability 1/4 (uniform over
    the 9 proper pairs would give 1/9)."""
    n = 6000
    drawn = sample_trajectory_indices(torch.tensor([5]), n, STPForm.SPAN, gen())
    assert (drawn[0, :, 0] == 0).all() and (drawn[0, :, 3] == 4).all()
    counts = Counter(map(tuple, drawn[0, :, 1:3].tolist()))
    assert set(counts) == set(itertools.combinations(range(5), 2)) - {(0, 4)}
    expected = {(a, b): 1 / 4 * 1 / ((4 - a) - (a == 0)) for a, b in counts}
    for pair, probability in expected.items():
        assert counts[pair] / n == pytest.approx(probability, abs=0.02), pair


def test_span_points_start_at_the_state_before_the_query():
    """The reference's points are the states before each content token plus the last one:
    query 2..4 and answer 8..11 give points 1,2,3,4 and 8,...,11."""
    positions = sample_positions(QUERY[:1], ANSWER[:1], 400, STPForm.SPAN, gen())
    first, a, b, last = positions[0].unbind(-1)
    assert (first == 1).all() and (last == 11).all()
    assert set(a.tolist()) | set(b.tolist()) == {1, 2, 3, 4, 8, 9, 10, 11}


def test_same_seed_same_draws_and_different_seed_different_draws():
    for form in STPForm:
        a = sample_positions(QUERY, ANSWER, 8, form, gen(3))
        b = sample_positions(QUERY, ANSWER, 8, form, gen(3))
        c = sample_positions(QUERY, ANSWER, 8, form, gen(4))
        assert torch.equal(a, b)
        assert not torch.equal(a, c)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="batch, 2"):
        sample_positions(QUERY, ANSWER[:2], 1, STPForm.TUBE, gen())
    with pytest.raises(ValueError, match="k"):
        sample_positions(QUERY, ANSWER, 0, STPForm.TUBE, gen())


def lowbias32(x: int) -> int:
    """The hash written out on Python ints, as published for uint32."""
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def test_mix32_is_lowbias32_on_uint32():
    values = [0, 1, 2, 12345, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 2**40 + 7]
    assert mix32(torch.tensor(values)).tolist() == [lowbias32(v) for v in values]


def keyed(keys):
    return KeyedDraws(torch.tensor(keys))


def test_keyed_draws_do_not_depend_on_the_batch_or_its_padding():
    """An example's draws depend on its key alone: drawn with others (of any length, so any
    padded width) or alone, they are the same; another key draws otherwise."""
    for form in STPForm:
        together = sample_positions(QUERY, ANSWER, 5, form, keyed([11, 12, 13]))
        alone = [sample_positions(QUERY[i : i + 1], ANSWER[i : i + 1], 5, form, keyed([key])) for i, key in enumerate([11, 12, 13])]
        assert torch.equal(together, torch.cat(alone)), form
        assert not torch.equal(together[0], sample_positions(QUERY[:1], ANSWER[:1], 5, form, keyed([99]))[0])


def test_keyed_triplets_are_uniform():
    """6000 examples of length 6, one draw each with its own key: every one of the 20 triplets
    about equally often, as with a generator."""
    keys = hash_keys(7, torch.arange(6000))
    drawn = sample_trajectory_indices(torch.full((6000,), 6), 1, STPForm.TUBE, KeyedDraws(keys))
    counts = Counter(map(tuple, drawn[:, 0].tolist()))
    assert set(counts) == set(itertools.combinations(range(6), 3))
    assert min(counts.values()) > 0.75 * 300 and max(counts.values()) < 1.25 * 300


def test_zero_fixes_s_at_the_start_and_draws_every_pair_uniformly():
    """Appendix L "Zero": s = 0, (r, t) uniform over the pairs r < t of 1..L-1. For L = 6 the
    10 pairs of {1, ..., 5} each have probability 1/10."""
    n = 6000
    drawn = sample_trajectory_indices(torch.tensor([6]), n, STPForm.ZERO, gen())
    assert (drawn[0, :, 0] == 0).all()
    counts = Counter(map(tuple, drawn[0, :, 1:].tolist()))
    assert set(counts) == set(itertools.combinations(range(1, 6), 2))
    for pair in counts:
        assert counts[pair] / n == pytest.approx(1 / 10, abs=0.02), pair


def test_keyed_zero_draws_are_uniform():
    keys = hash_keys(5, torch.arange(5000))
    drawn = sample_trajectory_indices(torch.full((5000,), 6), 1, STPForm.ZERO, KeyedDraws(keys))
    counts = Counter(map(tuple, drawn[:, 0].tolist()))
    assert set(counts) == {(0, r, t) for r, t in itertools.combinations(range(1, 6), 2)}
    assert min(counts.values()) > 0.75 * 500 and max(counts.values()) < 1.25 * 500


def test_zero_positions_are_mapped_like_tube():
    """s is the query's first content token (position 2, not the state before it as in `span`);
    r < t lie among the other content positions; L = 2 is absent, L = 3 has one draw."""
    positions = sample_positions(QUERY, ANSWER, 400, STPForm.ZERO, gen())
    s, r, t = positions[0].unbind(-1)
    assert (s == 2).all() and (r < t).all()
    assert set(r.tolist()) | set(t.tolist()) == {3, 4, 8, 9, 10, 11}
    assert (positions[1] == -1).all()
    assert positions[2].tolist() == [[0, 1, 5]] * 400
