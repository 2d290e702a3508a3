"""The STP loss against hand-derived values and a plain per-example loop."""

import pytest
import torch
import torch.nn.functional as F

from semantic_tube.losses.sampling import GapOrigin, template_gap, trajectory_answer_span
from semantic_tube.losses.stp import PredictorTarget, span_loss, stp_loss


def line(points):
    return torch.tensor([points], dtype=torch.float32)


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        # Evenly spaced points on a line: both steps are (1, 0), cos = 1, loss 0.
        ([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]], 0.0),
        # Unevenly spaced but collinear and in order: still cos = 1.
        ([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0]], 0.0),
        # Reversal: steps (1, 0) then (-1, 0), cos = -1, loss 2.
        ([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]], 2.0),
        # Right angle: steps (1, 0) then (0, 1), cos = 0, loss 1.
        ([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]], 1.0),
        # 60 degrees: steps (1, 0) and (1/2, sqrt(3)/2), cos = 1/2, loss 1/2.
        ([[0.0, 0.0], [1.0, 0.0], [1.5, 3**0.5 / 2]], 0.5),
    ],
)
def test_hand_derived_values(points, expected):
    loss = stp_loss(line(points), torch.tensor([[[0, 1, 2]]]))
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_span_hand_derived():
    """Trajectory (0,0) (1,0) (2,0) (2,1): span [1, 2] has P = (1, 0); T = (2, 1); T - P = (1, 1);
    cos = 1/sqrt(2), so the loss is 1 - 1/sqrt(2)."""
    h = line([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [2.0, 1.0]])
    loss = span_loss(h, torch.tensor([[[0, 1, 2, 3]]]))
    assert loss.item() == pytest.approx(1 - 2**-0.5, abs=1e-6)


def loop_tube(hidden, triplets):
    values = []
    for b in range(hidden.shape[0]):
        for s, r, t in triplets[b].tolist():
            if min(s, r, t) < 0:
                continue
            values.append(1 - F.cosine_similarity(hidden[b, t] - hidden[b, r], hidden[b, r] - hidden[b, s], dim=0))
    return torch.stack(values).mean()


def loop_span(hidden, spans):
    values = []
    for b in range(hidden.shape[0]):
        for first, a, c, last in spans[b].tolist():
            if min(first, a, c, last) < 0:
                continue
            patch = hidden[b, c] - hidden[b, a]
            rest = (hidden[b, a] - hidden[b, first]) + (hidden[b, last] - hidden[b, c])
            values.append(1 - F.cosine_similarity(rest, patch, dim=0))
    return torch.stack(values).mean()


def random_tuples(batch, k, seq, width, generator):
    tuples = torch.stack(
        [torch.randperm(seq, generator=generator)[:width].sort().values for _ in range(batch * k)]
    ).view(batch, k, width)
    tuples[0, 0] = -1  # one absent draw
    return tuples


@pytest.mark.parametrize(("fn", "loop", "width"), [(stp_loss, loop_tube, 3), (span_loss, loop_span, 4)])
def test_vectorized_equals_plain_loop_values_and_gradients(fn, loop, width):
    g = torch.Generator().manual_seed(1)
    hidden = torch.randn(3, 9, 16, generator=g, dtype=torch.float64)
    tuples = random_tuples(3, 4, 9, width, g)
    a = hidden.clone().requires_grad_(True)
    b = hidden.clone().requires_grad_(True)
    fast, slow = fn(a, tuples), loop(b, tuples)
    fast.backward()
    slow.backward()
    torch.testing.assert_close(fast.double(), slow, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6)


def test_no_present_triplet_gives_zero_with_zero_gradient():
    hidden = torch.randn(2, 5, 4, requires_grad=True)
    loss = stp_loss(hidden, torch.full((2, 3, 3), -1))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.isfinite(hidden.grad).all() and hidden.grad.abs().sum() == 0


def test_zero_length_steps_are_finite():
    """h_s == h_r: the first step has no direction; loss 1 (cos taken as 0), gradients finite."""
    hidden = torch.tensor([[[1.0, 2.0], [1.0, 2.0], [3.0, 2.0], [3.0, 2.0]]], requires_grad=True)
    loss = stp_loss(hidden, torch.tensor([[[0, 1, 2], [1, 2, 3]]]))
    loss.backward()
    assert loss.item() == pytest.approx(1.0)
    assert torch.isfinite(hidden.grad).all()


def test_bfloat16_hidden_states_are_computed_in_float32():
    hidden = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]], dtype=torch.bfloat16)
    loss = stp_loss(hidden, torch.tensor([[[0, 1, 2]]]))
    assert loss.dtype == torch.float32 and loss.item() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("hidden_shape", "triplets", "message"),
    [
        ((2, 5), torch.zeros(2, 1, 3, dtype=torch.long), "batch, seq, dim"),
        ((2, 5, 4), torch.zeros(2, 1, 2, dtype=torch.long), "triplets must be"),
        ((2, 5, 4), torch.zeros(3, 1, 3, dtype=torch.long), "triplets must be"),
        ((2, 5, 4), torch.zeros(2, 1, 3), "LongTensor"),
        ((2, 5, 4), torch.full((2, 1, 3), 5), ">= seq length"),
    ],
)
def test_bad_shapes_raise(hidden_shape, triplets, message):
    with pytest.raises(ValueError, match=message):
        stp_loss(torch.randn(hidden_shape), triplets)


# ---------------------------------------------------------------- template gap (Appendix G)


def appendix_g_step(h, a, b, q_end, origin):
    """One displacement written literally: Appendix G's (h_r - h_s) + (h_t - h_r') for a step from
    the query (a < q_end, its last token r = q_end - 1) into the answer (b >= origin = r'), that
    is h_b - h_origin + h_(q_end-1) - h_a; straight h_b - h_a otherwise."""
    if a < q_end and b >= origin:
        return h[b] - h[origin] + h[q_end - 1] - h[a]
    return h[b] - h[a]


def answer_origin(answer_start, origin):
    """r': the answer's first token (the paper) or the state before it (the reference code)."""
    return answer_start if GapOrigin(origin) is GapOrigin.ANSWER_START else answer_start - 1


def loop_tube_skip(hidden, triplets, query_span, answer_span, origin):
    values = []
    for row in range(hidden.shape[0]):
        q_end, a_start = query_span[row, 1].item(), answer_span[row, 0].item()
        for s, r, t in triplets[row].tolist():
            if min(s, r, t) < 0:
                continue
            h, o = hidden[row], answer_origin(a_start, origin)
            values.append(1 - F.cosine_similarity(appendix_g_step(h, r, t, q_end, o), appendix_g_step(h, s, r, q_end, o), dim=0))
    return torch.stack(values).mean()


@pytest.mark.parametrize("origin", list(GapOrigin))
def test_gap_skip_equals_the_hand_written_formula_values_and_gradients(origin):
    """Query at positions 1-4, template 5-7, answer 8-11: triplets on both sides and across, one of
    them (4, 8, 9) from the query's last token to the answer's first."""
    g = torch.Generator().manual_seed(3)
    hidden = torch.randn(2, 12, 8, generator=g, dtype=torch.float64)
    triplets = torch.tensor([[[1, 3, 9], [2, 8, 11], [1, 2, 4]], [[8, 9, 10], [4, 8, 9], [1, 4, 8]]])
    query_span, answer_span = torch.tensor([[1, 5], [1, 5]]), torch.tensor([[8, 12], [8, 12]])
    skip = template_gap(query_span, answer_span, origin)
    a, b = hidden.clone().requires_grad_(True), hidden.clone().requires_grad_(True)
    fast, slow = stp_loss(a, triplets, skip), loop_tube_skip(b, triplets, query_span, answer_span, origin)
    fast.backward()
    slow.backward()
    assert fast.item() == pytest.approx(slow.item(), abs=1e-6)
    torch.testing.assert_close(a.grad, b.grad, atol=1e-6, rtol=1e-6)
    assert fast.item() != pytest.approx(stp_loss(hidden, triplets).item(), abs=1e-3)  # the gap matters


def test_the_gap_is_appendix_g_by_default():
    hidden = torch.randn(1, 12, 4, dtype=torch.float64)
    query_span, answer_span = torch.tensor([[1, 5]]), torch.tensor([[8, 12]])
    triplets = torch.tensor([[[1, 3, 10], [2, 9, 11]]])
    default = stp_loss(hidden, triplets, template_gap(query_span, answer_span))
    assert default.item() == pytest.approx(loop_tube_skip(hidden, triplets, query_span, answer_span, "answer_start").item(), abs=1e-12)
    assert default.item() != pytest.approx(stp_loss(hidden, triplets, template_gap(query_span, answer_span, "before_answer")).item())


@pytest.mark.parametrize(("origin", "expected"), [(GapOrigin.ANSWER_START, 0.0), (GapOrigin.BEFORE_ANSWER, 1 - 5 / 221**0.5)])
def test_appendix_g_two_view_case_by_hand(origin, expected):
    """s = query start, r = query end, t = answer end: L = 1 - cos(h_t - h_r', h_r - h_s).
    Points: h_0 = (0,0), h_1 = (1,0) [query]; h_2 = (5,5) [template]; h_3 = (9,-9), h_4 = (10,-9)
    [answer]. Appendix G, r' = 3 (the answer's first token): h_4 - h_3 = (1,0), cos = 1, loss 0.
    The reference code, r' = 2 (the state before it): h_4 - h_2 = (5,-14), cos = 5/sqrt(221).
    Straight across the gap the steps (1,0) and (9,-9) give cos = 1/sqrt(2)."""
    h = line([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [9.0, -9.0], [10.0, -9.0]]).double()
    triplet = torch.tensor([[[0, 1, 4]]])
    skip = template_gap(torch.tensor([[0, 2]]), torch.tensor([[3, 5]]), origin)
    assert stp_loss(h, triplet, skip).item() == pytest.approx(expected, abs=1e-9)
    assert stp_loss(h, triplet).item() == pytest.approx(1 - 2**-0.5, abs=1e-6)


def random_content_positions(query_span, answer_span, width, count, g):
    """(batch, count, width) sorted distinct positions among each row's query and answer tokens."""
    rows = []
    for (q0, q1), (a0, a1) in zip(query_span.tolist(), answer_span.tolist()):
        allowed = torch.tensor([*range(q0, q1), *range(a0, a1)])
        rows.append([sorted(allowed[torch.randperm(len(allowed), generator=g)[:width]].tolist()) for _ in range(count)])
    return torch.tensor(rows)


@pytest.mark.parametrize(("fn", "width"), [(stp_loss, 3), (span_loss, 4)])
def test_template_states_never_enter_the_paper_loss(fn, width):
    """With Appendix G's gap, replacing every template state by anything changes neither the loss
    nor any gradient; with the reference code's gap it changes the loss."""
    g = torch.Generator().manual_seed(5)
    hidden = torch.randn(3, 14, 6, generator=g, dtype=torch.float64)
    query_span, answer_span = torch.tensor([[1, 6], [2, 5], [1, 4]]), torch.tensor([[9, 14], [10, 13], [8, 12]])
    positions = random_content_positions(query_span, answer_span, width, 5, g)
    skip = template_gap(query_span, answer_span)
    noise = hidden.clone()
    for row, (q_end, a_start) in enumerate(zip(query_span[:, 1].tolist(), answer_span[:, 0].tolist())):
        noise[row, q_end:a_start] = torch.randn(a_start - q_end, 6, generator=g, dtype=torch.float64) * 10
    base, moved = hidden.clone().requires_grad_(True), noise.clone().requires_grad_(True)
    fn(base, positions, skip).backward()
    fn(moved, positions, skip).backward()
    assert fn(noise, positions, skip).item() == pytest.approx(fn(hidden, positions, skip).item(), abs=1e-9)
    torch.testing.assert_close(base.grad, moved.grad)
    reference = template_gap(query_span, answer_span, GapOrigin.BEFORE_ANSWER)  # reads the template's last state
    assert fn(noise, positions, reference).item() != pytest.approx(fn(hidden, positions, reference).item(), abs=1e-4)


@pytest.mark.parametrize(("fn", "width"), [(stp_loss, 3), (span_loss, 4)])
def test_the_reference_gap_reads_only_the_template_last_state(fn, width):
    """With the reference code's gap, the template's last state is the answer part's origin: adding
    any v to it and to every answer state changes no displacement, while changing the template's
    other states changes nothing at all."""
    g = torch.Generator().manual_seed(6)
    hidden = torch.randn(3, 14, 6, generator=g, dtype=torch.float64)
    query_span, answer_span = torch.tensor([[1, 6], [2, 5], [1, 4]]), torch.tensor([[9, 14], [10, 13], [8, 12]])
    positions = random_content_positions(query_span, answer_span, width, 5, g)
    skip = template_gap(query_span, answer_span, GapOrigin.BEFORE_ANSWER)
    moved = hidden.clone()
    for row, (q_end, a_start) in enumerate(zip(query_span[:, 1].tolist(), answer_span[:, 0].tolist())):
        moved[row, a_start - 1 :] += torch.randn(6, generator=g, dtype=torch.float64) * 10
        moved[row, q_end : a_start - 1] = torch.randn(a_start - 1 - q_end, 6, generator=g, dtype=torch.float64)
    assert fn(moved, positions, skip).item() == pytest.approx(fn(hidden, positions, skip).item(), abs=1e-9)
    assert fn(moved, positions).item() != pytest.approx(fn(hidden, positions).item(), abs=1e-4)


def test_no_template_means_no_gap():
    """Query and answer back to back: template_gap is empty for either origin and bypasses nothing."""
    hidden = torch.randn(1, 8, 4)
    query_span, answer_span = torch.tensor([[1, 4]]), torch.tensor([[4, 8]])
    triplets = torch.tensor([[[1, 3, 4], [2, 4, 7]]])
    for origin in GapOrigin:
        skip = template_gap(query_span, answer_span, origin)
        assert skip[0, 0] == skip[0, 1]
        assert stp_loss(hidden, triplets, skip).item() == pytest.approx(stp_loss(hidden, triplets).item(), abs=1e-7)


@pytest.mark.parametrize(
    ("query", "answer", "origin", "expected"),
    [
        ([1, 5], [8, 12], "answer_start", [9, 12]),  # the answer's first state is the query's last: one point
        ([1, 5], [8, 12], "before_answer", [8, 12]),
        ([1, 5], [8, 12], None, [8, 12]),
        ([1, 5], [5, 9], "answer_start", [5, 9]),  # no template between them
        ([1, 5], [8, 8], "answer_start", [8, 8]),  # no answer
        ([5, 5], [8, 12], "answer_start", [8, 12]),  # no query
    ],
)
def test_trajectory_answer_span(query, answer, origin, expected):
    assert trajectory_answer_span(torch.tensor([query]), torch.tensor([answer]), origin).tolist() == [expected]


def test_query_end_to_answer_start_is_a_zero_step_with_no_gradient():
    """On Appendix G's bypassed trajectory the query's last state and the answer's first are one
    point: a triplet with r there and t the answer's first token has h_t - h_r' = 0, so loss 1
    (no direction) and no gradient from that triplet."""
    hidden = torch.randn(1, 10, 4, requires_grad=True)
    skip = template_gap(torch.tensor([[0, 4]]), torch.tensor([[7, 10]]))
    loss = stp_loss(hidden, torch.tensor([[[1, 3, 7]]]), skip)
    loss.backward()
    assert loss.item() == pytest.approx(1.0)
    assert torch.count_nonzero(hidden.grad) == 0


@pytest.mark.parametrize("skip", [torch.tensor([[3, 3]]), torch.tensor([[-1, -1]])])
def test_empty_gap_skips_nothing(skip):
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(1, 8, 4, generator=g)
    triplets = torch.tensor([[[0, 2, 5], [1, 4, 7]]])
    assert stp_loss(hidden, triplets, skip).item() == pytest.approx(stp_loss(hidden, triplets).item(), abs=1e-7)


def test_several_gaps_compose():
    """Two gaps, [1, 3) and [5, 7) (system->query and query->answer, say). Crossing each subtracts
    its own step: 0 -> 4 is h_4 - h_2 + h_0 - h_0 = (2, 0), 4 -> 7 is h_7 - h_6 + h_4 - h_4 = (1, 0).
    Collinear: loss 0, while straight across the detours it is not."""
    h = line([[0.0, 0.0], [3.0, 7.0], [0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [8.0, 8.0], [0.0, -5.0], [1.0, -5.0]])
    skip = torch.tensor([[[1, 3], [5, 7]]])
    triplet = torch.tensor([[[0, 4, 7]]])
    assert stp_loss(h, triplet, skip).item() == pytest.approx(0.0, abs=1e-6)
    assert stp_loss(h, triplet).item() > 0.1


def reference_get_embeddings(h, user, assistant, start, end):
    """The reference code's `get_embeddings`, written out from its text: user/assistant are
    [start, end) content token spans, offsets index the L + 1 points h[user_start - 1], ..."""
    us, ue = user
    as_, ae = assistant
    q = ue - us

    def point(offset):
        return us + offset if offset + us < ue else as_ + offset - q

    ps, pe = point(start), point(end)
    if ps >= as_:
        before = h[ue - 1] - h[us - 1] + h[ps - 1] - h[as_ - 1]
        patch = h[pe - 1] - h[ps - 1]
        after = h[ae - 1] - h[pe - 1]
    elif pe <= ue:
        before = h[ps - 1] - h[us - 1]
        patch = h[pe - 1] - h[ps - 1]
        after = h[ue - 1] - h[pe - 1] + h[ae - 1] - h[as_ - 1]
    else:
        before = h[ps - 1] - h[us - 1]
        patch = h[ue - 1] - h[ps - 1] + h[pe - 1] - h[as_ - 1]
        after = h[ae - 1] - h[pe - 1]
    return 1 - F.cosine_similarity(before + after, patch, dim=0)


def test_span_form_with_skip_equals_the_reference_code():
    """Every (start, end) offset pair of the reference, mapped to our (first, a, b, last)
    positions through the sampler's own mapping, gives the reference's loss."""
    from semantic_tube.losses.sampling import to_positions

    g = torch.Generator().manual_seed(9)
    hidden = torch.randn(1, 16, 5, generator=g, dtype=torch.float64)
    user, assistant = (3, 7), (11, 15)  # content spans; gap [7, 11)
    points_query = torch.tensor([[user[0] - 1, user[1]]])  # the span form's points start one earlier
    length = (user[1] - user[0]) + (assistant[1] - assistant[0])
    for start in range(length):
        for end in range(start + 1, length + 1):
            if end - start >= length:
                continue
            index = torch.tensor([[[0, start, end, length]]])
            spans = to_positions(index, points_query, torch.tensor([assistant]))
            ours = span_loss(hidden, spans, template_gap(torch.tensor([user]), torch.tensor([assistant]), GapOrigin.BEFORE_ANSWER))
            expected = reference_get_embeddings(hidden[0], user, assistant, start, end)
            assert ours.item() == pytest.approx(expected.item(), abs=1e-9), (start, end)


def test_bad_skip_shape_raises():
    with pytest.raises(ValueError, match="skip must be"):
        stp_loss(torch.zeros(2, 5, 3), torch.tensor([[[0, 1, 2]], [[0, 1, 2]]]), torch.tensor([1, 3]))


# ---------------------------------------------------------------- predictor (Appendix L "Pred", Sec. 4.6)


def linear(weight):
    """A bias-free nn.Linear with the given (out, in) weight, in float64."""
    weight = torch.tensor(weight, dtype=torch.float64)
    layer = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(weight)
    return layer


ROTATE_90 = [[0.0, -1.0], [1.0, 0.0]]  # P(x, y) = (-y, x)


@pytest.mark.parametrize(("target", "expected"), [(PredictorTarget.APPENDIX_L, 1 - 2**-0.5), (PredictorTarget.SECTION_4_6, 0.0)])
def test_predictor_hand_derived(target, expected):
    """h_s = (0,0), h_r = (1,0), h_t = (1,1); P rotates by 90 degrees, so P(h_r - h_s) = (0, 1).
    appendix_l: h_t - h_s = (1, 1), cos = 1/sqrt(2), loss 1 - 1/sqrt(2).
    section_4_6: h_t - h_r = (0, 1), cos = 1, loss 0. Without P: cos((0,1), (1,0)) = 0, loss 1."""
    h = line([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]).double()
    triplet = torch.tensor([[[0, 1, 2]]])
    assert stp_loss(h, triplet, predictor=linear(ROTATE_90), predictor_target=target).item() == pytest.approx(expected, abs=1e-9)
    assert stp_loss(h, triplet, predictor_target=target).item() == pytest.approx(1.0, abs=1e-9)


def loop_tube_predictor(hidden, triplets, skip, predictor, target):
    """1 - cos(P(h_r - h_s), h_t - h_s) (appendix_l) or 1 - cos(P(h_r - h_s), h_t - h_r) (section_4_6),
    each displacement written out with `appendix_g_step` (a gap [g0, g1): q_end = g0, r' = g1 - 1), one triplet at a time."""
    values = []
    for row in range(hidden.shape[0]):
        g0, g1 = skip[row].tolist() if skip is not None else (-1, -1)
        h = hidden[row]
        for s, r, t in triplets[row].tolist():
            if min(s, r, t) < 0:
                continue
            start = s if target == "appendix_l" else r
            values.append(1 - F.cosine_similarity(predictor(appendix_g_step(h, s, r, g0, g1 - 1)), appendix_g_step(h, start, t, g0, g1 - 1), dim=0))
    return torch.stack(values).mean()


@pytest.mark.parametrize("target", list(PredictorTarget))
@pytest.mark.parametrize("skip", [None, torch.tensor([[5, 8], [4, 8]])])
def test_predictor_equals_plain_loop_values_and_gradients(target, skip):
    """A random nn.Linear, triplets on both sides of and across the gap [g0, g1): the vectorised
    loss and its gradients (of the states and of P's weights) equal the literal formula's."""
    g = torch.Generator().manual_seed(11)
    hidden = torch.randn(2, 12, 6, generator=g, dtype=torch.float64)
    triplets = torch.tensor([[[1, 3, 9], [2, 8, 11], [1, 2, 4], [-1, -1, -1]], [[8, 9, 10], [2, 8, 9], [1, 3, 8], [0, 2, 11]]])
    torch.manual_seed(0)
    predictor = torch.nn.Linear(6, 6, dtype=torch.float64)
    a, b = hidden.clone().requires_grad_(True), hidden.clone().requires_grad_(True)
    fast = stp_loss(a, triplets, skip, predictor=predictor, predictor_target=target)
    fast.backward()
    fast_weight_grad = predictor.weight.grad.clone()
    predictor.zero_grad()
    slow = loop_tube_predictor(b, triplets, skip, predictor, PredictorTarget(target).value)
    slow.backward()
    assert fast.item() == pytest.approx(slow.item(), abs=1e-9)
    torch.testing.assert_close(a.grad, b.grad)
    torch.testing.assert_close(fast_weight_grad, predictor.weight.grad)


@pytest.mark.parametrize("target", [*PredictorTarget, "appendix_l", "section_4_6"])
def test_no_predictor_is_the_paper_loss_whatever_the_target(target):
    g = torch.Generator().manual_seed(2)
    hidden = torch.randn(3, 9, 5, generator=g)
    triplets = random_tuples(3, 4, 9, 3, g)
    skip = torch.tensor([[3, 5], [4, 4], [2, 6]])
    assert stp_loss(hidden, triplets, skip, predictor_target=target).item() == stp_loss(hidden, triplets, skip).item()
    # An explicit identity compares P(h_r - h_s) = h_r - h_s with h_t - h_r for section_4_6: cos is symmetric.
    identity = stp_loss(hidden, triplets, skip, predictor=lambda x: x, predictor_target=PredictorTarget.SECTION_4_6)
    assert identity.item() == pytest.approx(stp_loss(hidden, triplets, skip).item(), abs=1e-6)


def test_predictor_receives_float32_from_bfloat16_states():
    seen = []

    def predictor(x):
        seen.append(x.dtype)
        return x * 2

    hidden = torch.randn(1, 4, 8).to(torch.bfloat16)
    loss = stp_loss(hidden, torch.tensor([[[0, 1, 3]]]), predictor=predictor)
    assert seen == [torch.float32] and loss.dtype == torch.float32


@pytest.mark.parametrize("target", list(PredictorTarget))
@pytest.mark.parametrize("points", [3, 6])
def test_predictor_gradients_are_finite_on_degenerate_input(target, points):
    """All states equal: every displacement is 0, the cosine is taken as 0 (loss 1), and the
    gradients of the states and of P stay finite; also for a trajectory of exactly 3 tokens."""
    torch.manual_seed(0)
    predictor = torch.nn.Linear(4, 4)
    hidden = torch.ones(2, points, 4, requires_grad=True)
    triplets = torch.tensor([[[0, 1, 2]], [[0, 1, points - 1]]])
    loss = stp_loss(hidden, triplets, predictor=predictor, predictor_target=target)
    loss.backward()
    assert loss.item() == pytest.approx(1.0)
    assert torch.isfinite(hidden.grad).all() and torch.isfinite(predictor.weight.grad).all()
    three = torch.randn(1, 3, 4, requires_grad=True)
    stp_loss(three, torch.tensor([[[0, 1, 2]]]), predictor=predictor, predictor_target=target).backward()
    assert torch.isfinite(three.grad).all()


def test_predictor_with_no_present_triplet_gives_zero():
    predictor = torch.nn.Linear(4, 4)
    hidden = torch.randn(2, 5, 4, requires_grad=True)
    loss = stp_loss(hidden, torch.full((2, 1, 3), -1), predictor=predictor)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(hidden.grad).all()


def test_predictor_bad_arguments_raise():
    hidden, triplets = torch.randn(1, 4, 3), torch.tensor([[[0, 1, 2]]])
    with pytest.raises(ValueError, match="predictor must map"):
        stp_loss(hidden, triplets, predictor=torch.nn.Linear(3, 2))
    with pytest.raises(ValueError, match="PredictorTarget"):
        stp_loss(hidden, triplets, predictor=torch.nn.Linear(3, 3), predictor_target="section_4")
    with pytest.raises(ValueError, match="predictor must map"):
        span_loss(hidden, torch.tensor([[[0, 1, 2, 3]]]), predictor=torch.nn.Linear(3, 2))


def test_span_predictor_hand_derived():
    """Trajectory (0,0) (1,0) (2,0) (2,1), span [1, 2]: P_span = (1, 0), T - P_span = (1, 1).
    P rotates by 90 degrees: P(1, 1) = (-1, 1), cos with (1, 0) is -1/sqrt(2): loss 1 + 1/sqrt(2)."""
    h = line([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [2.0, 1.0]]).double()
    loss = span_loss(h, torch.tensor([[[0, 1, 2, 3]]]), predictor=linear(ROTATE_90))
    assert loss.item() == pytest.approx(1 + 2**-0.5, abs=1e-9)


@pytest.mark.parametrize("skip", [None, torch.tensor([[4, 6], [3, 7], [5, 5]])])
def test_span_predictor_equals_plain_loop(skip):
    """1 - cos(P(T - P_span), P_span), each displacement written out with `appendix_g_step`."""
    g = torch.Generator().manual_seed(4)
    hidden = torch.randn(3, 9, 5, generator=g, dtype=torch.float64)
    spans = random_tuples(3, 4, 9, 4, g)
    torch.manual_seed(1)
    predictor = torch.nn.Linear(5, 5, dtype=torch.float64)
    a, b = hidden.clone().requires_grad_(True), hidden.clone().requires_grad_(True)
    fast = span_loss(a, spans, skip, predictor=predictor)
    values = []
    for row in range(3):
        g0, g1 = skip[row].tolist() if skip is not None else (-1, -1)
        for first, s, e, last in spans[row].tolist():
            if min(first, s, e, last) < 0:
                continue
            patch = appendix_g_step(b[row], s, e, g0, g1 - 1)
            rest = appendix_g_step(b[row], first, last, g0, g1 - 1) - patch
            values.append(1 - F.cosine_similarity(predictor(rest), patch, dim=0))
    slow = torch.stack(values).mean()
    fast.backward()
    slow.backward()
    assert fast.item() == pytest.approx(slow.item(), abs=1e-9)
    torch.testing.assert_close(a.grad, b.grad)
