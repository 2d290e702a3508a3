"""What every training method provides to `STPTrainer`: its draws and its auxiliary loss.

A method (Sec. 4.6, Appendix L) is NTP + lambda * aux. The trainer does the rest the same way
for all of them: it pops `batch_keys` from the collated batch while it is still on the CPU,
calls `draw` there (keyed randomness, no host sync on the device), moves what `draw` returns to
the device, runs the main forward pass with hidden states, and adds `lambda * loss(...)`.
"""

from __future__ import annotations

import torch

from semantic_tube.losses.sampling import KeyedDraws

SPAN_KEYS = ("query_span", "answer_span", "example_index")  # what STPCollator adds for every method
# In a packed batch (several examples per row), the spans are per example, in the example's own
# coordinates, and these say where each example lies: its row and its offset in that row.
PACKING_KEYS = ("example_row", "example_offset")
# A conversation of several exchanges also carries its content segments: the item field `segments`
# (a list of [start, end) per example), collated to `segment_spans` (batch, S, 2) when any example
# of the batch has more than two (`data.collator.collate_spans`); batches without it are as always.
SEGMENT_ITEM_KEY, SEGMENT_BATCH_KEY = "segments", "segment_spans"
DRAWN_PREFIX = "stp_"  # every tensor `draw` returns is named stp_*, so the trainer can pop them before the model


class Objective:
    """One auxiliary loss. Subclasses set `log_name` and `forward_passes` and implement `draw` and `loss`.

    log_name: the logged series (`<log_name>`, `eval_<log_name>`), e.g. stp_loss.
    forward_passes: model forward passes per training step, the main one included (NTP and STP: 1).
    batch_keys: the CPU fields of the collated batch this objective reads (never passed to the model).
    item_keys: the dataset items' fields the collator turns into them (kept by remove_unused_columns).
    cpu_keys: drawn tensors that stay on the CPU (spans a loss reads on the host to size its gathers).
    supports_packing: whether `pack` can place its draws in packed rows (`losses.packing`).
    """

    log_name = "stp_loss"
    forward_passes = 1
    batch_keys: tuple[str, ...] = SPAN_KEYS
    item_keys: tuple[str, ...] = SPAN_KEYS
    cpu_keys: tuple[str, ...] = ()
    supports_packing = False

    def __init__(self, args):
        self.args = args  # STPTrainingArguments

    def draw(self, batch: dict[str, torch.Tensor], draws: KeyedDraws) -> dict[str, torch.Tensor]:
        """Everything random or index-like the loss needs, computed on the CPU from `batch` (the
        popped `batch_keys` plus the CPU `input_ids` and `attention_mask`). Keys start with `stp_`."""
        raise NotImplementedError

    def pack(self, drawn: dict[str, torch.Tensor], row: torch.Tensor, offset: torch.Tensor, rows: int) -> dict[str, torch.Tensor]:
        """The draws of a packed batch in row coordinates: `draw` ran per example (N of them, in
        their own coordinates); example i lies in row `row[i]` from position `offset[i]`."""
        raise ValueError(
            f"method={self.args.method.value} does not run on packed batches (packing, padding_free): it reads whole rows "
            "or runs a forward pass of its own; turn packing off for it"
        )

    def sequence_length_checks(self, drawn: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The drawn position tensors that must index the main sequence (checked on the CPU)."""
        return {}

    def loss(self, model, inputs: dict[str, torch.Tensor], hidden: torch.Tensor, drawn: dict[str, torch.Tensor]) -> torch.Tensor:
        """The auxiliary loss (a scalar) from the main pass's hidden states (batch, seq, dim) of
        layer `args.stp_layer`; `model` is there for methods that need another forward pass."""
        raise NotImplementedError

    def logged(self, model, hidden: torch.Tensor, drawn: dict[str, torch.Tensor], aux: torch.Tensor) -> dict[str, torch.Tensor]:
        """Extra series logged beside the loss, without gradient (name -> scalar); none by default."""
        return {}


def unwrap(model):
    """The module under DDP / accelerate wrappers (where `stp_predictor` lives)."""
    while hasattr(model, "module"):
        model = model.module
    return model
