"""Datasets of encoded examples and the batch collator (dynamic padding, spans as tensors)."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from semantic_tube.data.chat import IGNORE_INDEX, EncodedExample, LabelMode, encode_chat
from semantic_tube.data.jepa_views import JEPA_ITEM_KEYS, JepaViewOptions, encode_jepa_views
from semantic_tube.data.messages import ChatExample, DataError, read_chat_jsonl

logger = logging.getLogger(__name__)


class EncodedDataset(torch.utils.data.Dataset):
    """Encoded examples, plus the problems met on the way when skipping was asked for.

    Items are plain mappings (the fields of `EncodedExample`), as the Trainer's samplers expect:
    `group_by_length` reads `item["input_ids"]`. The LLM-JEPA view fields appear only when they
    were encoded, so other methods' items are what they always were.
    """

    def __init__(self, items: list[EncodedExample], skipped: list[DataError]):
        self.items, self.skipped = items, skipped

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        item = dataclasses.asdict(self.items[index])
        return {key: value for key, value in item.items() if key not in JEPA_ITEM_KEYS or value is not None}


def encode_examples(
    tokenizer,
    examples: list[ChatExample],
    *,
    max_length: int,
    label_mode: LabelMode = LabelMode.ANSWER,
    use_views: bool = True,
    template_kwargs: dict | None = None,
    skip_invalid: bool = False,
    skipped: list[DataError] | None = None,
    jepa_views: JepaViewOptions | None = None,
) -> EncodedDataset:
    """Encode examples; with `skip_invalid`, examples that fail are collected and logged, not raised.

    With `jepa_views` (LLM-JEPA), each item also carries its two views rendered alone (`data.jepa_views`).
    """
    skipped = list(skipped or [])
    items = []
    for example in examples:
        try:
            encoded = encode_chat(
                tokenizer, example, max_length=max_length, label_mode=label_mode, use_views=use_views, template_kwargs=template_kwargs
            )
            if jepa_views is not None:
                views = encode_jepa_views(
                    tokenizer, example, jepa_views, max_length=max_length, use_views=use_views, template_kwargs=template_kwargs
                )
                encoded = dataclasses.replace(
                    encoded,
                    jepa_text_ids=views.text_ids,
                    jepa_text_last=views.text_last,
                    jepa_code_ids=views.code_ids,
                    jepa_code_last=views.code_last,
                )
            items.append(dataclasses.replace(encoded, example_index=len(items)))
        except DataError as err:
            if not skip_invalid:
                raise
            skipped.append(err)
    if skipped:
        logger.warning("skipped %d invalid example(s); first: %s", len(skipped), skipped[0])
    if not items:
        path = examples[0].source.rpartition(":")[0] if examples else "<memory>"
        raise DataError(path, 0, "file", f"no trainable examples left out of {len(examples)} (first problem: {skipped[0] if skipped else 'none'})")
    return EncodedDataset(items, skipped)


def load_encoded_file(tokenizer, path: str | Path, *, max_length: int, skip_invalid: bool = False, **options) -> EncodedDataset:
    """Read a messages-format JSONL file and encode it (errors name the file and line); options
    are `encode_examples`'s (label_mode, use_views, template_kwargs, jepa_views)."""
    data = read_chat_jsonl(path, skip_invalid=skip_invalid)
    return encode_examples(tokenizer, data.examples, max_length=max_length, skip_invalid=skip_invalid, skipped=data.skipped, **options)


@dataclass
class STPCollator:
    """Pads a batch to its own longest example (never to max_length) on the right.

    Returns input_ids, attention_mask, labels (padding = IGNORE_INDEX), and for the STP sampler
    query_span / answer_span as (batch, 2) LongTensors and example_index as a (batch,) LongTensor.
    When the items carry LLM-JEPA views, also jepa_text_input_ids / jepa_text_attention_mask
    (batch, text_len) and jepa_text_last (batch,), each view padded on the right to its own longest,
    and the same for jepa_code_*.
    """

    pad_token_id: int
    pad_to_multiple_of: int | None = None

    def __call__(self, batch: list[dict]) -> dict[str, torch.Tensor]:
        longest = max(len(item["input_ids"]) for item in batch)
        if self.pad_to_multiple_of:
            longest = -(-longest // self.pad_to_multiple_of) * self.pad_to_multiple_of
        input_ids = torch.full((len(batch), longest), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(batch), longest), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((len(batch), longest), dtype=torch.long)
        for row, item in enumerate(batch):
            n = len(item["input_ids"])
            input_ids[row, :n] = torch.tensor(item["input_ids"])
            labels[row, :n] = torch.tensor(item["labels"])
            attention_mask[row, :n] = 1
        collated = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "labels": labels,
            "query_span": torch.tensor([item["query_span"] for item in batch], dtype=torch.long),
            "answer_span": torch.tensor([item["answer_span"] for item in batch], dtype=torch.long),
            "example_index": torch.tensor([item["example_index"] for item in batch], dtype=torch.long),
        }
        with_views = [item.get("jepa_text_ids") is not None for item in batch]
        if any(with_views):
            if not all(with_views):
                raise ValueError("a batch mixes items with LLM-JEPA views and items without; encode every example with jepa_views")
            for view in ("text", "code"):
                collated |= self._pad_view(batch, view)
        return collated

    def _pad_view(self, batch: list[dict], view: str) -> dict[str, torch.Tensor]:
        """jepa_<view>_input_ids, jepa_<view>_attention_mask (batch, longest view) and jepa_<view>_last (batch,)."""
        sequences = [item[f"jepa_{view}_ids"] for item in batch]
        longest = max(len(ids) for ids in sequences)
        if self.pad_to_multiple_of:
            longest = -(-longest // self.pad_to_multiple_of) * self.pad_to_multiple_of
        input_ids = torch.full((len(batch), longest), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(batch), longest), dtype=torch.long)
        for row, ids in enumerate(sequences):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention_mask[row, : len(ids)] = 1
        return {
            f"jepa_{view}_input_ids": input_ids,
            f"jepa_{view}_attention_mask": attention_mask,
            f"jepa_{view}_last": torch.tensor([item[f"jepa_{view}_last"] for item in batch], dtype=torch.long),
        }
