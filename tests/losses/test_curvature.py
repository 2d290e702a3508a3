"""Appendix L "Curvature": the mean turning angle, against hand values and a plain loop."""

import math

import pytest
import torch
import torch.nn.functional as F

from semantic_tube.losses.curvature import ANGLE_EPS, CurvatureAngle, curvature_loss, curvature_loss_per_example
from semantic_tube.losses.sampling import GapOrigin

# Query content 2..4, template 5..7, answer 8..11 (L = 7); L = 2 (absent); exactly 3 points; all in the query.
QUERY = torch.tensor([[2, 5], [1, 2], [0, 2], [0, 6]])
ANSWER = torch.tensor([[8, 12], [4, 5], [5, 6], [6, 6]])
FLOOR = math.acos(1 - ANGLE_EPS)  # the clamp's floor for a straight step, about 1.4e-3 rad


def whole(n):
    """Spans for a trajectory made of the first n positions, all query (no gap)."""
    return torch.tensor([[0, n]]), torch.tensor([[n, n]])


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        # One right angle: steps (1,0), (0,1): theta = pi/2, n = 1.
        ([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]], math.pi / 2),
        # Reversal: steps (1,0), (-1,0): theta = pi (clamped: arccos(-1 + eps) = pi - FLOOR).
        ([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]], math.pi - FLOOR),
        # Three sides of a square: two right angles, mean pi/2.
        ([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], math.pi / 2),
        # Steps (1,0), (1,1), (1,0): 45 degrees twice, mean pi/4.
        ([[0.0, 0.0], [1.0, 0.0], [2.0, 1.0], [3.0, 1.0]], math.pi / 4),
        # Steps (1,0), (1,1), (1,1): 45 degrees then straight (FLOOR): (pi/4 + FLOOR)/2.
        ([[0.0, 0.0], [1.0, 0.0], [2.0, 1.0], [3.0, 2.0]], (math.pi / 4 + FLOOR) / 2),
        # A straight line, unevenly spaced: FLOOR (the clamp's), not 0.
        ([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [7.0, 0.0]], FLOOR),
    ],
)
def test_hand_derived_values(points, expected):
    h = torch.tensor([points], dtype=torch.float64)
    q, a = whole(len(points))
    assert curvature_loss(h, q, a).item() == pytest.approx(expected, abs=1e-9)
    assert FLOOR == pytest.approx(math.sqrt(2 * ANGLE_EPS), rel=1e-3)


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ("answer_start", math.pi / 2),
        ("before_answer", (FLOOR + math.pi / 2) / 2),
        (None, (math.acos(4 / 17**0.5) + math.acos(-1 / 17**0.5)) / 2),
    ],
)
def test_gap_bypass_by_hand(origin, expected):
    """Query 0..1, template 2..3, answer 4..5; h_0 = (0,0), h_1 = (1,0), h_3 = (4,-1), h_4 = (5,-1), h_5 = (5,0).
    Appendix G: h_4 is the same point as h_1, so the steps are h_1 - h_0 = (1,0) and h_5 - h_4 = (0,1):
    one angle, pi/2. The reference code's origin h_3: steps (1,0), h_4 - h_3 = (1,0), (0,1): angles
    FLOOR and pi/2. Straight across: h_4 - h_1 = (4,-1), then (0,1): arccos(4/sqrt(17)) and arccos(-1/sqrt(17))."""
    h = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [7.0, 7.0], [4.0, -1.0], [5.0, -1.0], [5.0, 0.0]]], dtype=torch.float64)
    q, a = torch.tensor([[0, 2]]), torch.tensor([[4, 6]])
    assert curvature_loss(h, q, a, gap_origin=origin).item() == pytest.approx(expected, abs=1e-9)


def test_appendix_g_is_the_default():
    h = torch.randn(4, 12, 6, generator=torch.Generator().manual_seed(2))
    assert curvature_loss(h, QUERY, ANSWER).item() == curvature_loss(h, QUERY, ANSWER, gap_origin=GapOrigin.ANSWER_START).item()


def loop_curvature(hidden, query, answer, origin, signed=False):
    """(1/t) sum_(i<=t) |theta_i| over the t angles, theta_i = acos(clamp(cos(d_(i-1), d_i))), one
    example and one angle at a time. Across a gap the step from the query's last token to the
    next point is Appendix G's h_next - h_r' + h_r - h_r = h_next - h_r' (r' the answer's first token,
    or the state before it for the reference code's origin); Appendix G's r' itself is not a new
    point (it is the query's last), so the trajectory skips it."""
    values = []
    for row, (q, a) in enumerate(zip(query.tolist(), answer.tolist())):
        gap = origin is not None and a[0] > q[1] and a[1] > a[0]
        r_prime = (a[0] if GapOrigin(origin) is GapOrigin.ANSWER_START else a[0] - 1) if gap else None
        answer_points = list(range(*a))
        if gap and GapOrigin(origin) is GapOrigin.ANSWER_START:
            answer_points = answer_points[1:]
        points = list(range(*q)) + answer_points
        if len(points) < 3:
            continue
        h = hidden[row]
        steps = []
        for p, p_next in zip(points[:-1], points[1:]):
            if gap and p == q[1] - 1:
                steps.append(h[p_next] - h[r_prime] + h[q[1] - 1] - h[p])
            else:
                steps.append(h[p_next] - h[p])
        angles = []
        for prev, curr in zip(steps[:-1], steps[1:]):
            cosine = torch.clamp(F.cosine_similarity(prev, curr, dim=0, eps=1e-12), -1 + ANGLE_EPS, 1 - ANGLE_EPS)
            theta = torch.acos(cosine)
            angles.append(theta if signed else torch.abs(theta))
        values.append(torch.stack(angles).sum() / len(angles))
    return torch.stack(values).mean()


@pytest.mark.parametrize("origin", [*GapOrigin, None])
@pytest.mark.parametrize("angle", list(CurvatureAngle))
def test_equals_plain_loop_values_and_gradients(origin, angle):
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(4, 12, 6, generator=g, dtype=torch.float64)
    a, b = hidden.clone().requires_grad_(True), hidden.clone().requires_grad_(True)
    fast = curvature_loss(a, QUERY, ANSWER, angle, origin)
    slow = loop_curvature(b, QUERY, ANSWER, origin, signed=angle is CurvatureAngle.SIGNED)
    fast.backward()
    slow.backward()
    assert fast.item() == pytest.approx(slow.item(), abs=1e-9)
    torch.testing.assert_close(a.grad, b.grad)
    _, present = curvature_loss_per_example(hidden, QUERY, ANSWER, gap_origin=origin)
    assert present.tolist() == [True, False, origin is not GapOrigin.ANSWER_START, True]


def test_signed_equals_absolute():
    """arccos is in [0, pi], so theta_i = |theta_i|: the two options give the same values and gradients."""
    g = torch.Generator().manual_seed(1)
    hidden = torch.randn(4, 12, 6, generator=g)
    a, b = hidden.clone().requires_grad_(True), hidden.clone().requires_grad_(True)
    signed = curvature_loss(a, QUERY, ANSWER, "signed")
    absolute = curvature_loss(b, QUERY, ANSWER, CurvatureAngle.ABSOLUTE)
    signed.backward()
    absolute.backward()
    assert signed.item() == absolute.item()
    torch.testing.assert_close(a.grad, b.grad)


@pytest.mark.parametrize("origin", [*GapOrigin, None])
def test_gradients_are_finite_on_degenerate_input(origin):
    """All states equal: every step has zero length, its cosine is taken as 0, every angle is pi/2.
    A trajectory of exactly 3 tokens, and exactly straight / reversed steps (cos = +-1, where
    d arccos/dc is infinite without the clamp): gradients finite."""
    q, a = torch.tensor([[0, 2], [0, 3]]), torch.tensor([[3, 4], [3, 3]])
    same = torch.ones(2, 4, 5, requires_grad=True)
    loss = curvature_loss(same, q, a, gap_origin=origin)
    loss.backward()
    assert loss.item() == pytest.approx(math.pi / 2)
    assert torch.isfinite(same.grad).all()
    three = torch.randn(2, 4, 5, requires_grad=True)
    curvature_loss(three, q, a, gap_origin=origin).backward()
    assert torch.isfinite(three.grad).all()
    for points in ([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]], [[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]):
        h = torch.tensor([points], requires_grad=True)
        curvature_loss(h, *whole(3), gap_origin=origin).backward()
        assert torch.isfinite(h.grad).all()


def test_bfloat16_is_computed_in_float32():
    h = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]]).to(torch.bfloat16)
    loss = curvature_loss(h, *whole(3))
    assert loss.dtype == torch.float32 and loss.item() == pytest.approx(math.pi / 2, abs=1e-6)


def test_nothing_present_gives_zero():
    """Trajectories of 0, 1 and 2 points: no angle anywhere, loss 0 with a zero gradient."""
    hidden = torch.randn(3, 5, 4, requires_grad=True)
    q, a = torch.tensor([[0, 0], [0, 1], [0, 1]]), torch.tensor([[2, 2], [2, 2], [3, 4]])
    loss = curvature_loss(hidden, q, a)
    loss.backward()
    assert loss.item() == 0.0 and loss.requires_grad and hidden.grad.abs().sum() == 0


@pytest.mark.parametrize(
    ("hidden_shape", "query", "answer", "message"),
    [
        ((4, 12), QUERY, ANSWER, "batch, seq, dim"),
        ((4, 12, 3), QUERY, ANSWER[:3], "batch, 2"),
        ((3, 12, 3), QUERY, ANSWER, "batch=3"),
        ((4, 11, 3), QUERY, ANSWER, "sequence length 11"),
    ],
)
def test_bad_shapes_raise(hidden_shape, query, answer, message):
    with pytest.raises(ValueError, match=message):
        curvature_loss(torch.randn(hidden_shape), query, answer)


def test_bad_angle_raises():
    with pytest.raises(ValueError, match="CurvatureAngle"):
        curvature_loss(torch.randn(1, 3, 2), *whole(3), angle="sign")
