"""Packed rows: per-example draws moved into row coordinates give the unpacked loss."""

import pytest
import torch

from semantic_tube.losses.packing import group_by_row, offset_gaps, offset_positions
from semantic_tube.losses.sampling import KeyedDraws, STPForm, sample_positions, template_gap
from semantic_tube.losses.stp import span_loss, stp_loss


def test_group_by_row_stacks_each_rows_examples_then_fills():
    values = torch.tensor([[[1, 1]], [[2, 2]], [[3, 3]]])  # (N=3, K=1, 2)
    grouped = group_by_row(values, torch.tensor([0, 1, 0]), rows=3, fill=-1)
    assert grouped.shape == (3, 2, 2)
    assert grouped.tolist() == [[[1, 1], [3, 3]], [[2, 2], [-1, -1]], [[-1, -1], [-1, -1]]]


def test_offsets_keep_absent_positions_and_idle_gaps():
    positions = torch.tensor([[[1, 2, 3], [-1, -1, -1]]])
    assert offset_positions(positions, torch.tensor([10])).tolist() == [[[11, 12, 13], [-1, -1, -1]]]
    gaps = torch.tensor([[4, 7], [0, 3], [5, 5]])
    assert offset_gaps(gaps, torch.tensor([10, 10, 10])).tolist() == [[14, 17], [0, 0], [0, 0]]


@pytest.mark.parametrize("form", [STPForm.TUBE, STPForm.SPAN, STPForm.ZERO])
def test_packed_rows_give_the_unpacked_loss(form):
    """Three examples of different lengths, padded one per row versus packed two in one row and
    one in another: the same states, draws and gaps give the same loss."""
    torch.manual_seed(0)
    lengths = [11, 8, 14]
    query = torch.tensor([[1, 4], [0, 3], [2, 7]])
    answer = torch.tensor([[6, 10], [5, 8], [9, 13]])
    states = [torch.randn(n, 16) for n in lengths]
    keys = torch.tensor([5, 9, 2])
    positions = sample_positions(query, answer, 3, form, KeyedDraws(keys))
    gaps = template_gap(query, answer)
    padded = torch.zeros(3, max(lengths), 16)
    for i, h in enumerate(states):
        padded[i, : len(h)] = h
    loss = span_loss if form is STPForm.SPAN else stp_loss
    unpacked = loss(padded, positions, gaps)

    row, offset = torch.tensor([0, 0, 1]), torch.tensor([0, lengths[0], 0])
    packed_states = torch.zeros(2, lengths[0] + lengths[1], 16)
    packed_states[0] = torch.cat(states[:2])
    packed_states[1, : lengths[2]] = states[2]
    packed = loss(
        packed_states,
        group_by_row(offset_positions(positions, offset), row, 2, fill=-1),
        group_by_row(offset_gaps(gaps, offset).unsqueeze(1), row, 2, fill=0),
    )
    torch.testing.assert_close(packed, unpacked)
