"""The LLM-JEPA cosine loss against hand-derived values and a plain per-example loop."""

import math

import pytest
import torch

from semantic_tube.losses.jepa import jepa_loss, jepa_loss_per_example


def test_hand_derived_values():
    """Rows: same direction (cos 1, loss 0), right angle (cos 0, loss 1), opposite (cos -1, loss 2),
    45 degrees ((1, 0) vs (1, 1): cos 1/sqrt(2)), and scale does not matter ((2, 0) vs (5, 0))."""
    text = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    code = torch.tensor([[3.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 1.0], [5.0, 0.0]])
    expected = [0.0, 1.0, 2.0, 1 - 2**-0.5, 0.0]
    assert jepa_loss_per_example(text, code).tolist() == pytest.approx(expected, abs=1e-6)
    assert jepa_loss(text, code).item() == pytest.approx(sum(expected) / 5, abs=1e-6)


def test_matches_a_plain_loop_and_is_symmetric():
    torch.manual_seed(0)
    text, code = torch.randn(6, 16), torch.randn(6, 16)
    loop = [1 - float(t @ c) / (float(t.norm()) * float(c.norm())) for t, c in zip(text, code)]
    assert jepa_loss_per_example(text, code).tolist() == pytest.approx(loop, abs=1e-5)
    assert jepa_loss(text, code).item() == pytest.approx(jepa_loss(code, text).item(), abs=1e-6)


def test_low_precision_inputs_are_computed_in_float32():
    torch.manual_seed(1)
    text, code = torch.randn(4, 64), torch.randn(4, 64)
    loss = jepa_loss_per_example(text.bfloat16(), code.bfloat16())
    assert loss.dtype == torch.float32
    assert loss.tolist() == pytest.approx(jepa_loss_per_example(text.bfloat16().float(), code.bfloat16().float()).tolist(), abs=1e-6)


def test_zero_vectors_and_empty_batches_are_finite():
    text = torch.zeros(2, 3, requires_grad=True)
    loss = jepa_loss(text, torch.ones(2, 3))
    loss.backward()
    assert loss.item() == pytest.approx(1.0) and torch.isfinite(text.grad).all()
    assert jepa_loss(torch.zeros(0, 3), torch.zeros(0, 3)).item() == 0.0
    assert not math.isnan(jepa_loss(torch.zeros(0, 3), torch.zeros(0, 3)).item())


@pytest.mark.parametrize(("text_shape", "code_shape"), [((3,), (3,)), ((2, 3), (2, 4)), ((2, 3), (3, 3)), ((1, 2, 3), (1, 2, 3))])
def test_bad_shapes_raise(text_shape, code_shape):
    with pytest.raises(ValueError, match="must"):
        jepa_loss(torch.zeros(text_shape), torch.zeros(code_shape))
