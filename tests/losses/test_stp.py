"""The STP loss against hand-derived values and a plain per-example loop."""

import pytest
import torch
import torch.nn.functional as F

from semantic_tube.losses.stp import span_loss, stp_loss


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
