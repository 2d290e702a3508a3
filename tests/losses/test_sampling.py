"""The index sampler: always inside the trajectory, every valid draw possible, reproducible."""

import itertools
from collections import Counter

import pytest
import torch

from semantic_tube.losses.sampling import STPForm, sample_positions, sample_positions_per_example, sample_trajectory_indices

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


def test_per_example_draws_do_not_depend_on_the_batch():
    together = sample_positions_per_example(QUERY, ANSWER, 5, STPForm.TUBE, [11, 12, 13])
    alone = [sample_positions_per_example(QUERY[i : i + 1], ANSWER[i : i + 1], 5, STPForm.TUBE, [seed]) for i, seed in enumerate([11, 12, 13])]
    assert torch.equal(together, torch.cat(alone))
    assert not torch.equal(together[0], sample_positions_per_example(QUERY[:1], ANSWER[:1], 5, STPForm.TUBE, [99])[0])
    with pytest.raises(ValueError, match="one seed per example"):
        sample_positions_per_example(QUERY, ANSWER, 5, STPForm.TUBE, [1])
