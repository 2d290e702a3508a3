"""Packed batches: several examples share one row of the model's input (`packing`, `padding_free`).

The positions and gaps a method draws are computed per example, in the example's own coordinates,
exactly as in an unpacked batch (so the keyed draws do not change). These pure functions move
them into row coordinates: each example's positions are shifted by its offset in its row, and the
examples of a row are stacked along the draw dimension, so `stp_loss(hidden, triplets, skip)` reads
a row of several examples as one sequence with several gaps (`skip` (rows, G, 2)). A triplet lies
inside its own example and so can only ever cross its own example's gap; absent triplets (-1) and
unused slots contribute nothing, and the loss is the mean over the same present triplets as
unpacked.
"""

from __future__ import annotations

import torch


def offset_positions(positions: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """positions (N, K, P) in each example's coordinates, -1 = absent; offset (N,) -> row coordinates (-1 stays)."""
    shifted = positions + offset.view(-1, *([1] * (positions.dim() - 1)))
    return torch.where(positions < 0, torch.full_like(positions, -1), shifted)


def offset_gaps(skip: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """skip (N, 2) gaps [g0, g1), or (N, G, 2) for a conversation's several gaps, in each example's
    coordinates -> row coordinates.

    A gap that bypasses nothing (g0 < 1 or g1 <= g0, see `stp.displacement`) becomes [0, 0], so it
    still bypasses nothing after the shift.
    """
    active = (skip[..., 0] >= 1) & (skip[..., 1] > skip[..., 0])
    shifted = skip + offset.view(-1, *([1] * (skip.dim() - 1)))
    return torch.where(active.unsqueeze(-1), shifted, torch.zeros_like(skip))


def group_by_row(values: torch.Tensor, row: torch.Tensor, rows: int, fill: int) -> torch.Tensor:
    """Stack each row's examples along dim 1.

    values: (N, K, ...) per example; row: (N,) the row each example lies in; rows: the number of
    rows. Returns (rows, M * K, ...) with M the most examples in any row: row r holds its examples'
    K entries one example after the other (in their order in `values`), then `fill`.
    """
    n, k = values.shape[0], values.shape[1]
    counts = torch.bincount(row, minlength=rows) if n else torch.zeros(rows, dtype=torch.long)
    most = int(counts.max()) if rows else 0
    order = torch.argsort(row, stable=True)
    first = torch.cumsum(counts, 0) - counts  # index in `order` of each row's first example
    slot = torch.empty_like(row)
    slot[order] = torch.arange(n) - first[row[order]]
    grouped = torch.full((rows, max(most, 1), *values.shape[1:]), fill, dtype=values.dtype)
    grouped[row, slot] = values
    return grouped.reshape(rows, max(most, 1) * k, *values.shape[2:])
