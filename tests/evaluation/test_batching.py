"""Length-sorted batches, left padding, positions from the mask, and the one forward pass the
analyses share: a padded row sees what the sequence alone would."""

from __future__ import annotations

import pytest
import torch

from semantic_tube.evaluation.batching import (
    last_layer_states,
    length_sorted_batches,
    model_device,
    pad_left,
    positions_from_mask,
    progress_bar,
)
from tests.tiny_models import tiny_model, tiny_tokenizer


def test_batches_go_longest_first_in_batches_of_the_size():
    """Lengths 2, 5, 1, 5, 3 sorted longest first (a stable sort keeps 1 before 3): 1, 3, 4, 0, 2."""
    assert list(length_sorted_batches([2, 5, 1, 5, 3], 2)) == [[1, 3], [4, 0], [2]]
    assert list(length_sorted_batches([2, 5, 1, 5, 3], 5)) == [[1, 3, 4, 0, 2]]
    assert list(length_sorted_batches([], 4)) == []


def test_a_batch_size_below_one_is_rejected():
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        list(length_sorted_batches([1, 2], 0))


def test_pad_left_right_aligns_every_sequence():
    input_ids, attention_mask = pad_left([[5, 6, 7], [8], []], pad_id=0)
    assert input_ids.tolist() == [[5, 6, 7], [0, 0, 8], [0, 0, 0]]
    assert attention_mask.tolist() == [[1, 1, 1], [0, 0, 1], [0, 0, 0]]
    assert input_ids.dtype == attention_mask.dtype == torch.long


def test_positions_start_at_zero_on_the_first_real_token():
    """cumsum - 1 of [0, 0, 1, 1] is [-1, -1, 0, 1]; the padding's -1 is clamped to 0."""
    mask = torch.tensor([[1, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0]])
    assert positions_from_mask(mask).tolist() == [[0, 1, 2, 3], [0, 0, 0, 1], [0, 0, 0, 0]]


def test_a_padded_row_has_the_hidden_states_of_the_sequence_alone():
    tokenizer = tiny_tokenizer("chatml")
    model = tiny_model(tokenizer, seed=2).eval()
    short = tokenizer("dog", add_special_tokens=False)["input_ids"]
    long = tokenizer("lines with a vowel before a number", add_special_tokens=False)["input_ids"]
    assert len(short) < len(long)
    states = last_layer_states(model, tokenizer.pad_token_id, [short, long])
    assert states.shape == (2, len(long), 32) and states.dtype == torch.float32
    for row, sequence in enumerate((short, long)):
        with torch.inference_mode():
            alone = model(input_ids=torch.tensor([sequence]), output_hidden_states=True).hidden_states[-1][0]
        assert torch.allclose(states[row, -len(sequence) :], alone, atol=1e-5)
    assert model_device(model) == torch.device("cpu")


def test_progress_goes_to_stderr_only_when_enabled(capsys):
    with progress_bar(3, "scoring", "prompt", enabled=True) as bar:
        bar.update(3)
    captured = capsys.readouterr()
    assert "scoring" in captured.err and "3/3" in captured.err and captured.out == ""
    with progress_bar(3, "scoring", "prompt", enabled=False) as bar:
        bar.update(3)
    assert capsys.readouterr().err == ""
