"""Datasets of encoded examples and the batch collator (dynamic padding, spans as tensors)."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from semantic_tube.data.chat import IGNORE_INDEX, EncodedExample, LabelMode, encode_chat
from semantic_tube.data.messages import ChatExample, DataError, read_chat_jsonl

logger = logging.getLogger(__name__)


class EncodedDataset(torch.utils.data.Dataset):
    """Encoded examples, plus the problems met on the way when skipping was asked for.

    Items are plain mappings (the fields of `EncodedExample`), as the Trainer's samplers expect:
    `group_by_length` reads `item["input_ids"]`.
    """

    def __init__(self, items: list[EncodedExample], skipped: list[DataError]):
        self.items, self.skipped = items, skipped

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return dataclasses.asdict(self.items[index])


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
) -> EncodedDataset:
    """Encode examples; with `skip_invalid`, examples that fail are collected and logged, not raised."""
    skipped = list(skipped or [])
    items = []
    for example in examples:
        try:
            encoded = encode_chat(
                tokenizer, example, max_length=max_length, label_mode=label_mode, use_views=use_views, template_kwargs=template_kwargs
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
    are `encode_examples`'s (label_mode, use_views, template_kwargs)."""
    data = read_chat_jsonl(path, skip_invalid=skip_invalid)
    return encode_examples(tokenizer, data.examples, max_length=max_length, skip_invalid=skip_invalid, skipped=data.skipped, **options)


@dataclass
class STPCollator:
    """Pads a batch to its own longest example (never to max_length) on the right.

    Returns input_ids, attention_mask, labels (padding = IGNORE_INDEX), and for the STP sampler
    query_span / answer_span as (batch, 2) LongTensors and example_index as a (batch,) LongTensor.
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
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "labels": labels,
            "query_span": torch.tensor([item["query_span"] for item in batch], dtype=torch.long),
            "answer_span": torch.tensor([item["answer_span"] for item in batch], dtype=torch.long),
            "example_index": torch.tensor([item["example_index"] for item in batch], dtype=torch.long),
        }
