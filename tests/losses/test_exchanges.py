"""Draws within one exchange of a conversation (`stp_draw_scope=exchange`): one exchange gives the
two-span draws and losses bit for bit; on two exchanges no draw crosses from one to the other,
each exchange is picked about equally often, and the loss is the one of each exchange alone."""

import pytest
import torch

from semantic_tube.losses.sampling import (
    GapOrigin,
    KeyedDraws,
    STPForm,
    exchange_gaps,
    sample_exchange_positions,
    sample_positions,
    sample_segment_positions,
    segment_exchanges,
    template_gap,
    trajectory_answer_span,
    trajectory_segments,
)
from semantic_tube.losses.stp import span_loss, stp_loss
from tests.losses.test_segments import random_spans

# Two exchanges: user [2, 5), assistant [7, 10), user [13, 16), assistant [18, 22); a template between each two.
TWO = torch.tensor([[[2, 5], [7, 10], [13, 16], [18, 22]]])
FIRST, SECOND = set(range(2, 5)) | set(range(7, 10)), set(range(13, 16)) | set(range(18, 22))


def origin_of(form):
    return GapOrigin.BEFORE_ANSWER if form is STPForm.SPAN else GapOrigin.ANSWER_START


@pytest.mark.parametrize("form", list(STPForm))
@pytest.mark.parametrize("origin", [GapOrigin.ANSWER_START, GapOrigin.BEFORE_ANSWER, None])
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_one_exchange_draws_and_loses_exactly_as_query_and_answer(form, origin, padding):
    """A row of one exchange, alone or padded by empty exchanges (a batch with longer
    conversations): the positions and the loss of the two-span path, bit for bit."""
    query, answer = random_spans()
    keys = torch.arange(len(query)) * 7919 + 3
    expected = sample_positions(query, trajectory_answer_span(query, answer, origin), 4, form, KeyedDraws(keys))
    empty = answer[:, 1:].repeat(1, 2).unsqueeze(1).expand(-1, 2 * padding, -1)
    segments = torch.cat([torch.stack([query, answer], 1), empty], 1)
    found = sample_exchange_positions(segments, 4, form, KeyedDraws(keys), origin)
    assert torch.equal(found, expected)
    hidden = torch.randn(len(query), 24, 16, generator=torch.Generator().manual_seed(1))
    loss = span_loss if form is STPForm.SPAN else stp_loss
    skip = None if origin is None else template_gap(query, answer, origin)
    gaps = None if origin is None else exchange_gaps(segments, origin)
    assert torch.equal(loss(hidden, found, gaps), loss(hidden, expected, skip))


@pytest.mark.parametrize("form", list(STPForm))
def test_no_draw_spans_two_exchanges_and_each_is_picked_about_equally(form):
    """Every drawn tuple lies in the first exchange's content or in the second's (span: its first
    point is the state before its user turn, the reference code's start), and is what that
    exchange alone draws with the same numbers; each exchange is picked in about half the draws."""
    k = 2000
    found = sample_exchange_positions(TWO, k, form, KeyedDraws(torch.tensor([11])), origin_of(form))[0]
    alone = [
        sample_positions(query, trajectory_answer_span(query, answer, origin_of(form)), k, form, KeyedDraws(torch.tensor([11])))[0]
        for query, answer in zip(*(part[0].unsqueeze(1) for part in segment_exchanges(TWO)))
    ]
    in_first = torch.zeros(k, dtype=torch.bool)
    for i, drawn in enumerate(found.tolist()):
        before = ({1}, {12}) if form is STPForm.SPAN else (set(), set())  # span: the state before the user turn too
        inside = [set(drawn) <= FIRST | before[0], set(drawn) <= SECOND | before[1]]
        assert inside.count(True) == 1, drawn
        in_first[i] = inside[0]
        assert drawn == alone[0 if inside[0] else 1][i].tolist()
        if form is STPForm.SPAN:
            assert drawn[0] == (1 if inside[0] else 12)
    assert 0.45 < in_first.double().mean().item() < 0.55


def test_the_whole_conversation_does_draw_across_exchanges():
    """The default scope (`sample_segment_positions`) is one trajectory over both exchanges: some
    triplets take points from each."""
    found = sample_segment_positions(trajectory_segments(TWO, GapOrigin.ANSWER_START), 500, STPForm.TUBE, KeyedDraws(torch.tensor([11])))
    crossing = [drawn for drawn in found[0].tolist() if not (set(drawn) <= FIRST or set(drawn) <= SECOND)]
    assert crossing and all(set(drawn) <= FIRST | SECOND for drawn in crossing)


def test_each_exchange_bypasses_its_own_gap_only():
    """Appendix G's origin: the first exchange's gap is [5, 8) (answer drawn from 8), the second's
    [16, 19); the stretch between the exchanges, [10, 13), is never a gap, since no draw crosses it.
    The loss of two hand-picked triplets is 1 - cos(h_t - h_r, h_r - h_s), each crossing step
    restarting at its exchange's answer start: h_t - h_(g1-1) + h_(g0-1) - h_r."""
    assert exchange_gaps(TWO, GapOrigin.ANSWER_START).tolist() == [[[5, 8], [16, 19]]]
    assert exchange_gaps(TWO, GapOrigin.BEFORE_ANSWER).tolist() == [[[5, 7], [16, 18]]]
    h = torch.randn(1, 24, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))[0]
    triplets = torch.tensor([[[2, 4, 9], [14, 19, 21]]])
    found = stp_loss(h.unsqueeze(0), triplets, exchange_gaps(TWO, GapOrigin.ANSWER_START))
    first = 1 - torch.cosine_similarity(h[9] - h[7] + h[4] - h[4], h[4] - h[2], dim=0)
    second = 1 - torch.cosine_similarity(h[21] - h[19], h[19] - h[18] + h[15] - h[14], dim=0)
    torch.testing.assert_close(found, (first + second) / 2)


def test_an_exchange_too_short_to_draw_from_is_never_picked():
    """The first exchange has two points (nothing to draw): every draw is in the second; a row
    whose exchanges are all too short draws nothing (-1)."""
    segments = torch.tensor([[[2, 3], [5, 6], [9, 12], [14, 17]], [[2, 3], [5, 6], [8, 9], [11, 12]]])
    found = sample_exchange_positions(segments, 50, STPForm.TUBE, KeyedDraws(torch.tensor([1, 2])), GapOrigin.BEFORE_ANSWER)
    assert (found[0] >= 9).all()
    assert (found[1] == -1).all()


def test_an_odd_number_of_segments_is_refused():
    with pytest.raises(ValueError, match="S even"):
        sample_exchange_positions(TWO[:, :3], 1, STPForm.TUBE, KeyedDraws(torch.tensor([1])), GapOrigin.ANSWER_START)
