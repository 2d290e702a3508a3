"""Batching token sequences for inference: length-sorted batches and left padding.

Left padding puts every sequence's last token in the last column, which generation needs (new
tokens are appended there) and which lets likelihood scoring keep only the last few logits.
Position ids are computed from the attention mask, so a padded sequence sees the same
positions as it would alone: batched and one-at-a-time runs then agree.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import torch
from tqdm import tqdm


def length_sorted_batches(lengths: list[int], batch_size: int) -> Iterator[list[int]]:
    """Indices in batches of similar length (longest first), so little compute is spent on padding."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def pad_left(sequences: list[list[int]], pad_id: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask), both (batch, longest), sequences right-aligned."""
    width = max(len(sequence) for sequence in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        if sequence:
            input_ids[row, width - len(sequence) :] = torch.tensor(sequence, dtype=torch.long)
            attention_mask[row, width - len(sequence) :] = 1
    return input_ids.to(device), attention_mask.to(device)


def positions_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 on each sequence's first real token."""
    return (attention_mask.cumsum(-1) - 1).clamp_min(0)


def progress_bar(total: int, description: str, unit: str, enabled: bool) -> tqdm:
    """Units done / total on stderr (stdout carries the report), so a long evaluation shows it is alive."""
    return tqdm(total=total, desc=description, unit=unit, file=sys.stderr, disable=not enabled)


def model_device(model) -> torch.device:
    return next(model.parameters()).device


@torch.inference_mode()
def last_layer_states(model, pad_id: int, sequences: list[list[int]]) -> torch.Tensor:
    """Left-pad `sequences`, run the model once, and return its last layer's hidden states,
    (batch, longest, dim) in float32 on the CPU; row b's tokens sit in its last len(b) columns."""
    input_ids, attention_mask = pad_left(sequences, pad_id, model_device(model))
    output = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=positions_from_mask(attention_mask),
        output_hidden_states=True,
        logits_to_keep=1,
    )
    return output.hidden_states[-1].float().cpu()
