"""A trajectory of several content segments (a conversation): on (query, answer) it is exactly
the two-span path, with padding segments too; across several gaps each displacement is the sum of
its pieces, and no draw or gap edge ever lands on a template token."""

import pytest
import torch

from semantic_tube.losses.sampling import (
    GapOrigin,
    KeyedDraws,
    STPForm,
    sample_positions,
    sample_segment_positions,
    segment_gaps,
    segments_to_positions,
    template_gap,
    trajectory_answer_span,
    trajectory_segments,
)
from semantic_tube.losses.stp import displacement, span_loss, stp_loss


def random_spans(batch=64, seed=0):
    """(query, answer) spans with a template between them, some queries empty (plain text), some short."""
    g = torch.Generator().manual_seed(seed)
    q0 = torch.randint(0, 5, (batch,), generator=g)
    q1 = q0 + torch.randint(0, 6, (batch,), generator=g)
    a0 = q1 + torch.randint(0, 4, (batch,), generator=g)
    a1 = a0 + torch.randint(1, 8, (batch,), generator=g)
    return torch.stack([q0, q1], 1), torch.stack([a0, a1], 1)


@pytest.mark.parametrize("form", list(STPForm))
@pytest.mark.parametrize("origin", [GapOrigin.ANSWER_START, GapOrigin.BEFORE_ANSWER, None])
@pytest.mark.parametrize("padding", [0, 2])
def test_two_segments_draw_and_lose_exactly_as_query_and_answer(form, origin, padding):
    query, answer = random_spans()
    keys = torch.arange(len(query)) * 7919 + 3
    expected = sample_positions(query, trajectory_answer_span(query, answer, origin), 4, form, KeyedDraws(keys))
    empty = answer[:, 1:].repeat(1, 2).unsqueeze(1).expand(-1, padding, -1)
    segments = torch.cat([torch.stack([query, answer], 1), empty], 1)
    found = sample_segment_positions(trajectory_segments(segments, origin), 4, form, KeyedDraws(keys))
    assert torch.equal(found, expected)
    hidden = torch.randn(len(query), 24, 16, generator=torch.Generator().manual_seed(1))
    loss = span_loss if form is STPForm.SPAN else stp_loss
    skip = None if origin is None else template_gap(query, answer, origin)
    gaps = None if origin is None else segment_gaps(segments, origin)
    assert torch.equal(loss(hidden, found, gaps), loss(hidden, expected, skip))  # bit for bit


def test_positions_follow_the_segments_in_order():
    segments = torch.tensor([[[2, 4], [6, 7], [9, 12], [12, 12]]])
    index = torch.arange(6).view(1, 1, 6)
    assert segments_to_positions(index, segments).tolist() == [[[2, 3, 6, 9, 10, 11]]]
    assert segments_to_positions(torch.tensor([[[-1, 0, 5]]]), segments).tolist() == [[[-1, 2, 11]]]


def test_each_segment_after_a_gap_starts_one_later_with_appendix_g_origin():
    segments = torch.tensor([[[2, 4], [6, 8], [10, 13], [13, 13]]])
    assert segment_gaps(segments, GapOrigin.ANSWER_START).tolist() == [[[4, 7], [8, 11], [13, 13]]]
    assert segment_gaps(segments, GapOrigin.BEFORE_ANSWER).tolist() == [[[4, 6], [8, 10], [13, 13]]]
    assert trajectory_segments(segments, GapOrigin.ANSWER_START).tolist() == [[[2, 4], [7, 8], [11, 13], [13, 13]]]
    assert torch.equal(trajectory_segments(segments, GapOrigin.BEFORE_ANSWER), segments)


def test_a_displacement_across_two_gaps_is_the_sum_of_its_three_pieces():
    """Segments [1, 3), [5, 7), [9, 11), Appendix G origin: gaps [3, 6) and [7, 10). From a = 1 to
    b = 10 the bypassed step is (h_2 - h_1) + (h_6 - h_5) + (h_10 - h_9): each piece inside one
    segment, each restarting at the next segment's first content state."""
    h = torch.randn(1, 12, 8, dtype=torch.float64)
    segments = torch.tensor([[[1, 3], [5, 7], [9, 11]]])
    gaps = segment_gaps(segments, GapOrigin.ANSWER_START)
    step = displacement(h, torch.tensor([[1]]), torch.tensor([[10]]), gaps)
    expected = (h[0, 2] - h[0, 1]) + (h[0, 6] - h[0, 5]) + (h[0, 10] - h[0, 9])
    torch.testing.assert_close(step[0, 0], expected)


@pytest.mark.parametrize("form", list(STPForm))
def test_no_draw_and_no_gap_edge_is_a_template_token(form):
    """Every state a displacement reads (the drawn positions and each crossed gap's two edges,
    g0 - 1 and g1 - 1) is a content token, except `span`'s documented start one state before the
    first segment (the reference code's trajectory points)."""
    segments = torch.tensor([[[3, 6], [8, 10], [13, 17], [20, 21]], [[1, 2], [4, 9], [12, 13], [15, 19]]])
    content = torch.zeros(2, 24, dtype=torch.bool)
    for row, spans in enumerate(segments.tolist()):
        for a, b in spans:
            content[row, a:b] = True
    origin = GapOrigin.BEFORE_ANSWER if form is STPForm.SPAN else GapOrigin.ANSWER_START
    positions = sample_segment_positions(trajectory_segments(segments, origin), 64, form, KeyedDraws(torch.tensor([5, 6])))
    gaps = segment_gaps(segments, origin)
    for row in range(2):
        drawn = positions[row][positions[row] >= 0]
        if form is STPForm.SPAN:
            drawn = drawn[drawn != segments[row, 0, 0] - 1]
        assert content[row, drawn].all()
        edges = gaps[row][gaps[row, :, 1] > gaps[row, :, 0]]
        if form is STPForm.SPAN:  # before_answer restarts at the template's last state: the reference code's choice
            assert content[row, edges[:, 0] - 1].all()
        else:
            assert content[row, edges[:, 0] - 1].all() and content[row, edges[:, 1] - 1].all()
