"""Appendix L "Mask": the span draw, the masked ids and the loss, against hand values and plain loops."""

import itertools
from collections import Counter

import pytest
import torch
import torch.nn.functional as F

from semantic_tube.losses.mask import MaskTarget, mask_loss, mask_loss_per_example, mask_span_ids, sample_mask_span
from semantic_tube.losses.sampling import GapOrigin, KeyedDraws, hash_keys, template_gap

# Query content 2..4, template 5..7, answer 8..11 (L = 7); L = 2 (absent); exactly 3 points.
QUERY = torch.tensor([[2, 5], [1, 2], [0, 2]])
ANSWER = torch.tensor([[8, 12], [4, 5], [5, 6]])
MASK = 99


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def trajectory(q, a):
    return list(range(*q)) + list(range(*a))


def test_span_draws_every_pair_uniformly_and_ends_at_the_last_point():
    """s < r uniform over the 10 pairs of [0, 4] for L = 5 (query 0..2, answer 5..6), t = L-1
    (position 6); the indices come back as sequence positions."""
    n = 5000
    q, a = torch.tensor([[0, 3]]).expand(n, 2), torch.tensor([[5, 7]]).expand(n, 2)
    drawn = sample_mask_span(q, a, KeyedDraws(hash_keys(3, torch.arange(n))))
    assert drawn.shape == (n, 3) and (drawn[:, 2] == 6).all()
    index = {0: 0, 1: 1, 2: 2, 5: 3, 6: 4}
    counts = Counter((index[s], index[r]) for s, r in drawn[:, :2].tolist())
    assert set(counts) == set(itertools.combinations(range(5), 2))
    for pair in counts:
        assert counts[pair] / n == pytest.approx(1 / 10, abs=0.02), pair


def test_span_draw_positions_short_rows_and_generator():
    drawn = sample_mask_span(QUERY, ANSWER, gen())
    assert drawn.dtype == torch.long and drawn.device.type == "cpu"
    s, r, t = drawn[0].tolist()
    assert s < r and {s, r} <= {2, 3, 4, 8, 9, 10, 11} and t == 11
    assert drawn[1].tolist() == [-1, -1, -1]
    assert drawn[2, 2].item() == 5 and drawn[2, 0] < drawn[2, 1]
    assert torch.equal(drawn, sample_mask_span(QUERY, ANSWER, gen()))


def test_keyed_span_draws_do_not_depend_on_the_batch():
    keys = [11, 12, 13]
    together = sample_mask_span(QUERY, ANSWER, KeyedDraws(torch.tensor(keys)))
    alone = [sample_mask_span(QUERY[i : i + 1], ANSWER[i : i + 1], KeyedDraws(torch.tensor([k]))) for i, k in enumerate(keys)]
    assert torch.equal(together, torch.cat(alone))


def test_mask_span_ids_by_hand():
    """Span from position 3 (query) to 9 (answer): masks content 3, 4, 8, 9; template 5..7 and
    the rest stay. The absent row is unchanged; the input is not modified."""
    ids = torch.arange(24).view(2, 12)
    before = ids.clone()
    masked = mask_span_ids(ids, QUERY[:2], ANSWER[:2], torch.tensor([[3, 9, 11], [-1, -1, -1]]), MASK)
    expected = before[0].clone()
    expected[[3, 4, 8, 9]] = MASK
    assert masked[0].tolist() == expected.tolist()
    assert masked[1].tolist() == before[1].tolist()
    assert torch.equal(ids, before)


def test_mask_span_ids_equals_plain_loop():
    """Every drawn span: a token is masked exactly when its trajectory index lies in [s, r]."""
    q, a = torch.tensor([[2, 5], [0, 3], [1, 2], [3, 6]]), torch.tensor([[8, 12], [3, 7], [4, 5], [9, 10]])
    ids = torch.randint(0, 50, (4, 12), generator=gen())
    for seed in range(20):
        span = sample_mask_span(q, a, gen(seed))
        masked = mask_span_ids(ids, q, a, span, MASK)
        for row in range(4):
            expected = ids[row].clone()
            points = trajectory(q[row].tolist(), a[row].tolist())
            s, r, _ = span[row].tolist()
            if s >= 0:
                i, j = points.index(s), points.index(r)
                for index in range(i, j + 1):
                    expected[points[index]] = MASK
            assert masked[row].tolist() == expected.tolist()


def test_mask_span_ids_bad_shapes_raise():
    ids = torch.zeros(3, 12, dtype=torch.long)
    with pytest.raises(ValueError, match="input_ids must be"):
        mask_span_ids(ids[0], QUERY, ANSWER, torch.zeros(3, 3, dtype=torch.long), MASK)
    with pytest.raises(ValueError, match="span_positions must be"):
        mask_span_ids(ids, QUERY, ANSWER, torch.zeros(3, 2, dtype=torch.long), MASK)
    with pytest.raises(ValueError, match="sequence length"):
        mask_span_ids(ids[:, :10], QUERY, ANSWER, torch.zeros(3, 3, dtype=torch.long), MASK)


# ---------------------------------------------------------------- the loss


def rotation():
    layer = torch.nn.Linear(2, 2, bias=False, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.0, -1.0], [1.0, 0.0]]))  # P(x, y) = (-y, x)
    return layer


def test_mask_loss_by_hand():
    """h_0 = (0,0), h_1 = (1,0), h_2 = (1,1); g_2 = (1,1); (s, r, t) = (0, 1, 2).
    span: h_r - h_s = (1, 0), cos with (1, 1) = 1/sqrt(2): loss 1 - 1/sqrt(2).
    full: h_t = (1, 1) = g_t: loss 0.
    span + P (90 degrees): P(1, 0) = (0, 1), cos 1/sqrt(2): 1 - 1/sqrt(2);
    full + P: P(1, 1) = (-1, 1), cos 0: loss 1."""
    h = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]], dtype=torch.float64)
    g = torch.tensor([[[5.0, 5.0], [0.0, 3.0], [1.0, 1.0]]], dtype=torch.float64)
    pos = torch.tensor([[0, 1, 2]])
    assert mask_loss(h, g, pos).item() == pytest.approx(1 - 2**-0.5, abs=1e-9)
    assert mask_loss(h, g, pos, target=MaskTarget.FULL).item() == pytest.approx(0.0, abs=1e-9)
    assert mask_loss(h, g, pos, predictor=rotation()).item() == pytest.approx(1 - 2**-0.5, abs=1e-9)
    assert mask_loss(h, g, pos, target="full", predictor=rotation()).item() == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(("origin", "expected"), [("answer_start", 0.0), ("before_answer", 1 - 3 / 10**0.5), (None, 1 - 4 / 52**0.5)])
def test_mask_loss_span_bypasses_the_gap_by_hand(origin, expected):
    """Query 0..1, template 2..3, answer 4..5; s = 0, r = 5 (a span crossing the gap), t = 5; g_t = (1, 1).
    Appendix G (r' = 4): h_r - h_s = h_5 - h_4 + h_1 - h_0 = (0, 1) + (1, 0) = (1, 1): loss 0.
    The reference code (r' = 3): h_5 - h_3 + (1, 0) = (1, 2): cos = 3/sqrt(10).
    Straight across: h_5 - h_0 = (5, -1): cos = 4/sqrt(52)."""
    h = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [7.0, 7.0], [5.0, -3.0], [5.0, -2.0], [5.0, -1.0]]], dtype=torch.float64)
    g = torch.ones(1, 6, 2, dtype=torch.float64)
    pos = torch.tensor([[0, 5, 5]])
    skip = None if origin is None else template_gap(torch.tensor([[0, 2]]), torch.tensor([[4, 6]]), origin)
    assert mask_loss(h, g, pos, skip).item() == pytest.approx(expected, abs=1e-9)


def step(h, a, b, q_end, r_prime):
    """h_b - h_a, or Appendix G's (h_b - h_r') + (h_(q_end-1) - h_a) for a step from the query into the answer."""
    if r_prime is not None and a < q_end and b >= r_prime:
        return h[b] - h[r_prime] + h[q_end - 1] - h[a]
    return h[b] - h[a]


@pytest.mark.parametrize("target", list(MaskTarget))
@pytest.mark.parametrize("origin", [*GapOrigin, None])
@pytest.mark.parametrize("with_predictor", [False, True])
def test_mask_loss_equals_plain_loop(target, origin, with_predictor):
    g = torch.Generator().manual_seed(7)
    hidden = torch.randn(3, 12, 5, generator=g, dtype=torch.float64)
    masked_hidden = torch.randn(3, 12, 5, generator=g, dtype=torch.float64)
    torch.manual_seed(3)
    predictor = torch.nn.Linear(5, 5, dtype=torch.float64) if with_predictor else None
    pos = torch.tensor([[3, 9, 11], [-1, -1, -1], [0, 1, 5]])
    skip = None if origin is None else template_gap(QUERY, ANSWER, origin)
    a, b = hidden.clone().requires_grad_(True), hidden.clone().requires_grad_(True)
    ma, mb = masked_hidden.clone().requires_grad_(True), masked_hidden.clone().requires_grad_(True)
    fast = mask_loss(a, ma, pos, skip, target, predictor)
    values = []
    for row in (0, 2):
        s, r, t = pos[row].tolist()
        q_end, a_start = QUERY[row, 1].item(), ANSWER[row, 0].item()
        r_prime = None if origin is None else a_start if GapOrigin(origin) is GapOrigin.ANSWER_START else a_start - 1
        first = step(b[row], s, r, q_end, r_prime) if target is MaskTarget.SPAN else b[row, t]
        if predictor is not None:
            first = predictor(first)
        values.append(1 - F.cosine_similarity(first, mb[row, t], dim=0))
    slow = torch.stack(values).mean()
    fast.backward()
    slow.backward()
    assert fast.item() == pytest.approx(slow.item(), abs=1e-9)
    torch.testing.assert_close(a.grad, b.grad)
    torch.testing.assert_close(ma.grad, mb.grad)


@pytest.mark.parametrize("target", list(MaskTarget))
@pytest.mark.parametrize("with_predictor", [False, True])
def test_mask_loss_gradients_are_finite_on_degenerate_input(target, with_predictor):
    """All states equal (span: h_r - h_s = 0, cosine taken as 0, loss 1), also all zero, and a
    trajectory of exactly 3 tokens: gradients finite."""
    predictor = torch.nn.Linear(4, 4) if with_predictor else None
    pos = torch.tensor([[0, 1, 2]])
    for fill in (1.0, 0.0):
        h = torch.full((1, 3, 4), fill, requires_grad=True)
        g = torch.full((1, 3, 4), fill, requires_grad=True)
        loss = mask_loss(h, g, pos, target=target, predictor=predictor)
        loss.backward()
        if predictor is None and (target is MaskTarget.SPAN or fill == 0.0):  # P's bias would make P(0) != 0
            assert loss.item() == pytest.approx(1.0)
        assert torch.isfinite(h.grad).all() and torch.isfinite(g.grad).all()
    h, g = torch.randn(1, 3, 4, requires_grad=True), torch.randn(1, 3, 4, requires_grad=True)
    mask_loss(h, g, pos, template_gap(torch.tensor([[0, 2]]), torch.tensor([[2, 3]])), target, predictor).backward()
    assert torch.isfinite(h.grad).all() and torch.isfinite(g.grad).all()


def test_mask_loss_with_nothing_present_gives_zero():
    h, g = torch.randn(2, 5, 4, requires_grad=True), torch.randn(2, 5, 4, requires_grad=True)
    loss = mask_loss(h, g, torch.full((2, 3), -1))
    loss.backward()
    assert loss.item() == 0.0 and h.grad.abs().sum() == 0 and g.grad.abs().sum() == 0


def test_mask_loss_in_float32_from_bfloat16():
    h = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]]).to(torch.bfloat16)
    loss, present = mask_loss_per_example(h, h, torch.tensor([[0, 1, 2]]))
    assert loss.dtype == torch.float32 and present.tolist() == [True]
    assert loss.item() == pytest.approx(1 - 2**-0.5, abs=1e-6)


@pytest.mark.parametrize(
    ("hidden_shape", "masked_shape", "positions", "message"),
    [
        ((2, 5), (2, 5), torch.zeros(2, 3, dtype=torch.long), "batch, seq, dim"),
        ((2, 5, 4), (2, 5, 3), torch.zeros(2, 3, dtype=torch.long), "masked_hidden"),
        ((2, 5, 4), (2, 5, 4), torch.zeros(2, 1, 3, dtype=torch.long), "positions must be"),
        ((2, 5, 4), (2, 5, 4), torch.zeros(3, 3, dtype=torch.long), "positions must be"),
        ((2, 5, 4), (2, 5, 4), torch.zeros(2, 3), "LongTensor"),
        ((2, 5, 4), (2, 5, 4), torch.full((2, 3), 5), ">= seq length"),
    ],
)
def test_mask_loss_bad_shapes_raise(hidden_shape, masked_shape, positions, message):
    with pytest.raises(ValueError, match=message):
        mask_loss(torch.randn(hidden_shape), torch.randn(masked_shape), positions)


def test_mask_loss_bad_target_raises():
    with pytest.raises(ValueError, match="MaskTarget"):
        mask_loss(torch.randn(1, 3, 2), torch.randn(1, 3, 2), torch.tensor([[0, 1, 2]]), target="all")
