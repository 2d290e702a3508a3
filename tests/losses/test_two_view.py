"""Appendix L "Two Views": the fixed triplet and the "Mean" option, against hand values and plain loops."""

import pytest
import torch
import torch.nn.functional as F

from semantic_tube.losses.sampling import GapOrigin, template_gap
from semantic_tube.losses.stp import PredictorTarget, stp_loss
from semantic_tube.losses.two_view import mean_view_loss, mean_view_loss_per_example, two_view_triplets

# Query content 2..4, template 5..7, answer content 8..11 (L = 7); a 1-token query; L = 2;
# exactly 3 points (query 0..1, answer 5); an empty answer.
QUERY = torch.tensor([[2, 5], [1, 2], [0, 1], [0, 2], [1, 4]])
ANSWER = torch.tensor([[8, 12], [4, 7], [3, 4], [5, 6], [6, 6]])


def trajectory(q, a):
    return list(range(*q)) + list(range(*a))


def test_triplets_are_query_start_query_end_answer_end():
    triplets = two_view_triplets(QUERY, ANSWER)
    assert triplets.shape == (5, 1, 3) and triplets.dtype == torch.long and triplets.device.type == "cpu"
    assert triplets[:, 0].tolist() == [[2, 4, 11], [-1, -1, -1], [-1, -1, -1], [0, 1, 5], [-1, -1, -1]]


@pytest.mark.parametrize(("origin", "expected"), [("answer_start", 0.0), ("before_answer", 1 - 5**-0.5), (None, 1 - 5 / 26**0.5)])
def test_two_view_with_the_gap_bypassed_by_hand(origin, expected):
    """Query 0..1, template 2..3, answer 4..5: s = 0, r = 1, t = 5.
    h_0 = (0,0), h_1 = (1,0), h_2 = (7,7), h_3 = (5,-3), h_4 = (5,-1), h_5 = (6,-1); h_r - h_s = (1, 0).
    Appendix G, r' = 4 (the answer's first token): h_t - h_r' = (1, 0): cos 1, loss 0.
    The reference code, r' = 3 (the state before it): (1, 2), cos = 1/sqrt(5).
    Straight across: h_t - h_r = (5, -1): cos = 5/sqrt(26)."""
    h = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [7.0, 7.0], [5.0, -3.0], [5.0, -1.0], [6.0, -1.0]]], dtype=torch.float64)
    q, a = torch.tensor([[0, 2]]), torch.tensor([[4, 6]])
    skip = None if origin is None else template_gap(q, a, origin)
    assert stp_loss(h, two_view_triplets(q, a), skip).item() == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("origin", [*GapOrigin, None])
@pytest.mark.parametrize("target", [None, *PredictorTarget])
def test_two_view_stp_equals_the_literal_formula(origin, target):
    """1 - cos(h_t - h_r', h_r - h_s) with r' = the answer's first token (Appendix G), the state
    before it (the reference code), or r (straight across, no gap), and with a predictor
    1 - cos(P(h_r - h_s), h_t - h_s) / 1 - cos(P(h_r - h_s), h_t - h_r'), looped."""
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(5, 12, 6, generator=g, dtype=torch.float64)
    torch.manual_seed(0)
    predictor = None if target is None else torch.nn.Linear(6, 6, dtype=torch.float64)
    a, b = hidden.clone().requires_grad_(True), hidden.clone().requires_grad_(True)
    skip = None if origin is None else template_gap(QUERY, ANSWER, origin)
    kwargs = {} if target is None else {"predictor": predictor, "predictor_target": target}
    fast = stp_loss(a, two_view_triplets(QUERY, ANSWER), skip, **kwargs)
    values = []
    for row, (q, ans) in enumerate(zip(QUERY.tolist(), ANSWER.tolist())):
        if q[1] - q[0] < 2 or ans[1] == ans[0]:
            continue
        s, r, t = q[0], q[1] - 1, ans[1] - 1
        h = b[row]
        gap = ans[0] > q[1]
        r_prime = {GapOrigin.ANSWER_START: ans[0], GapOrigin.BEFORE_ANSWER: ans[0] - 1}.get(origin, r) if gap else r
        first, second = h[r] - h[s], h[t] - h[r_prime]
        if target is None:
            values.append(1 - F.cosine_similarity(second, first, dim=0))
        elif target is PredictorTarget.APPENDIX_L:
            values.append(1 - F.cosine_similarity(predictor(first), first + second, dim=0))
        else:
            values.append(1 - F.cosine_similarity(predictor(first), second, dim=0))
    slow = torch.stack(values).mean()
    fast.backward()
    slow.backward()
    assert fast.item() == pytest.approx(slow.item(), abs=1e-9)
    torch.testing.assert_close(a.grad, b.grad)


# ---------------------------------------------------------------- Mean


def test_mean_view_by_hand():
    """Query 0..1, template 2, answer 3..4: trajectory h_0, h_1, h_3, h_4 with r = 1 (h_1).
    h_0 = (2,0), h_1 = (0,2), h_2 = (100,100) [template], h_3 = (-1,0), h_4 = (-1,-1).
    First mean (h_0 + h_1)/2 = (1, 1); second (h_1 + h_3 + h_4)/3 = (-2, 1)/3.
    cos = (1*(-2) + 1*1) / (sqrt(2) * sqrt(5)) = -1/sqrt(10): loss 1 + 1/sqrt(10).
    With P = 90-degree rotation, P(1, 1) = (-1, 1): cos = 3/sqrt(10), loss 1 - 3/sqrt(10)."""
    h = torch.tensor([[[2.0, 0.0], [0.0, 2.0], [100.0, 100.0], [-1.0, 0.0], [-1.0, -1.0]]], dtype=torch.float64)
    q, a = torch.tensor([[0, 2]]), torch.tensor([[3, 5]])
    assert mean_view_loss(h, q, a).item() == pytest.approx(1 + 10**-0.5, abs=1e-9)
    rotate = torch.nn.Linear(2, 2, bias=False, dtype=torch.float64)
    with torch.no_grad():
        rotate.weight.copy_(torch.tensor([[0.0, -1.0], [1.0, 0.0]]))
    assert mean_view_loss(h, q, a, rotate).item() == pytest.approx(1 - 3 / 10**0.5, abs=1e-9)


def loop_mean_view(hidden, query, answer, predictor=None):
    """The formula in trajectory-index space, one example at a time: s = 0, r = Lq - 1, t = L - 1,
    means over states[s..r] and states[r..t] (inclusive)."""
    values = []
    for row, (q, a) in enumerate(zip(query.tolist(), answer.tolist())):
        if q[1] - q[0] < 1 or a[1] - a[0] < 1:
            continue
        states = hidden[row, trajectory(q, a)]
        r, t = q[1] - q[0] - 1, len(states) - 1
        first, second = states[0 : r + 1].mean(0), states[r : t + 1].mean(0)
        if predictor is not None:
            first = predictor(first)
        values.append(1 - F.cosine_similarity(first, second, dim=0))
    return torch.stack(values).mean()


@pytest.mark.parametrize("with_predictor", [False, True])
def test_mean_view_equals_plain_loop(with_predictor):
    g = torch.Generator().manual_seed(1)
    hidden = torch.randn(5, 12, 6, generator=g, dtype=torch.float64)
    torch.manual_seed(2)
    predictor = torch.nn.Linear(6, 6, dtype=torch.float64) if with_predictor else None
    a, b = hidden.clone().requires_grad_(True), hidden.clone().requires_grad_(True)
    fast, slow = mean_view_loss(a, QUERY, ANSWER, predictor), loop_mean_view(b, QUERY, ANSWER, predictor)
    fast.backward()
    slow.backward()
    assert fast.item() == pytest.approx(slow.item(), abs=1e-9)
    torch.testing.assert_close(a.grad, b.grad)
    _, present = mean_view_loss_per_example(hidden, QUERY, ANSWER)
    assert present.tolist() == [True, True, True, True, False]  # an empty answer is absent


def test_mean_view_in_float32_from_bfloat16():
    hidden = torch.randn(2, 12, 8).to(torch.bfloat16)
    loss, _ = mean_view_loss_per_example(hidden, QUERY[:2], ANSWER[:2])
    assert loss.dtype == torch.float32
    assert loss[0].item() == pytest.approx(loop_mean_view(hidden.float()[:1], QUERY[:1], ANSWER[:1]).item(), abs=1e-5)


@pytest.mark.parametrize("with_predictor", [False, True])
def test_mean_view_gradients_are_finite_on_degenerate_input(with_predictor):
    """All states equal: both means are the same vector, cos = 1, loss 0 (P = identity); a
    trajectory of exactly 3 tokens (query 0..1, answer 5). Gradients finite."""
    predictor = torch.nn.Linear(4, 4) if with_predictor else None
    q, a = torch.tensor([[0, 2]]), torch.tensor([[5, 6]])
    same = torch.ones(1, 6, 4, requires_grad=True)
    loss = mean_view_loss(same, q, a, predictor)
    loss.backward()
    if predictor is None:
        assert loss.item() == pytest.approx(0.0, abs=1e-6)
    assert torch.isfinite(same.grad).all()
    zeros = torch.zeros(1, 6, 4, requires_grad=True)  # zero means: cosine taken as 0, loss 1
    loss = mean_view_loss(zeros, q, a, predictor)
    loss.backward()
    assert torch.isfinite(zeros.grad).all()
    three = torch.randn(1, 6, 4, requires_grad=True)
    mean_view_loss(three, q, a, predictor).backward()
    assert torch.isfinite(three.grad).all()


def test_mean_view_with_nothing_present_gives_zero():
    hidden = torch.randn(2, 6, 4, requires_grad=True)
    loss = mean_view_loss(hidden, torch.tensor([[0, 0], [1, 3]]), torch.tensor([[2, 4], [4, 4]]))
    loss.backward()
    assert loss.item() == 0.0 and loss.requires_grad and hidden.grad.abs().sum() == 0


@pytest.mark.parametrize(
    ("hidden_shape", "query", "answer", "message"),
    [
        ((2, 12), QUERY[:2], ANSWER[:2], "batch, seq, dim"),
        ((2, 12, 4), QUERY[:2], ANSWER[:1], "batch, 2"),
        ((3, 12, 4), QUERY[:2], ANSWER[:2], "batch=3"),
        ((2, 12, 4), QUERY[:2].float(), ANSWER[:2], "integer"),
        ((2, 10, 4), QUERY[:2], ANSWER[:2], "sequence length 10"),
    ],
)
def test_mean_view_bad_shapes_raise(hidden_shape, query, answer, message):
    with pytest.raises(ValueError, match=message):
        mean_view_loss(torch.randn(hidden_shape), query, answer)


def test_triplets_bad_shapes_raise():
    with pytest.raises(ValueError, match="batch, 2"):
        two_view_triplets(QUERY, ANSWER[:, :1])
