"""Datasets of encoded examples and the batch collator (dynamic padding or packed rows, spans as tensors)."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from semantic_tube.data.chat import IGNORE_INDEX, EncodedExample, LabelMode, encode_example
from semantic_tube.data.jepa_views import JEPA_ITEM_KEYS, JepaViewOptions, encode_jepa_views
from semantic_tube.data.messages import DataError, Example, TextExample, read_chat_jsonl

logger = logging.getLogger(__name__)


class EncodedDataset(torch.utils.data.Dataset):
    """Encoded examples, plus the problems met on the way when skipping was asked for.

    Items are plain mappings (the fields of `EncodedExample`), as the Trainer's samplers expect:
    `group_by_length` reads `item["input_ids"]`. The LLM-JEPA view fields appear only when they
    were encoded, and `segments` only for conversations of several exchanges, so other items are
    what they always were.
    """

    def __init__(self, items: list[EncodedExample], skipped: list[DataError]):
        self.items, self.skipped = items, skipped

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        item = dataclasses.asdict(self.items[index])
        return {key: value for key, value in item.items() if key not in (*JEPA_ITEM_KEYS, "segments") or value is not None}


def encode_examples(
    tokenizer,
    examples: list[Example],
    *,
    max_length: int,
    label_mode: LabelMode = LabelMode.ANSWER,
    use_views: bool = True,
    template_kwargs: dict | None = None,
    skip_invalid: bool = False,
    skipped: list[DataError] | None = None,
    jepa_views: JepaViewOptions | None = None,
) -> EncodedDataset:
    """Encode examples (conversations and plain text, `chat.encode_example`); with `skip_invalid`,
    examples that fail are collected and logged, not raised.

    With `jepa_views` (LLM-JEPA), each item also carries its two views rendered alone
    (`data.jepa_views`): one query and one answer each, so a conversation or a plain-text row is
    an error there.
    """
    skipped = list(skipped or [])
    items = []
    for example in examples:
        try:
            encoded = encode_example(
                tokenizer, example, max_length=max_length, label_mode=label_mode, use_views=use_views, template_kwargs=template_kwargs
            )
            if jepa_views is not None:
                _check_jepa_example(example)
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


def _check_jepa_example(example: Example) -> None:
    if isinstance(example, TextExample) or example.history:
        path, _, line = example.source.rpartition(":")
        what = "plain text" if isinstance(example, TextExample) else "a conversation of several exchanges"
        field = "text" if isinstance(example, TextExample) else "messages"
        raise DataError(path or "<memory>", int(line) if line.isdigit() else 0, field, f"method=llm-jepa needs one query and one answer, not {what}")


def load_encoded_file(tokenizer, path: str | Path, *, max_length: int, skip_invalid: bool = False, **options) -> EncodedDataset:
    """Read a messages-format JSONL file and encode it (errors name the file and line); options
    are `encode_examples`'s (label_mode, use_views, template_kwargs, jepa_views)."""
    data = read_chat_jsonl(path, skip_invalid=skip_invalid)
    return encode_examples(tokenizer, data.examples, max_length=max_length, skip_invalid=skip_invalid, skipped=data.skipped, **options)


def collate_spans(items: list[dict], padding_free: bool = False) -> dict[str, torch.Tensor]:
    """The span tensors of a batch, for the trainer's sampler.

    Each item is one example (query_span and answer_span [start, end), example_index, and for a
    conversation of several exchanges its `segments`), or a packed row of several (TRL's packing:
    one [start, end) pair per example, an example_index per example, a list of segments per
    example, and `seq_lengths`, each example's length, its spans counted from its own start).
    With `padding_free` the items are laid one after the other in a single row.

    One example per row: query_span, answer_span (batch, 2), example_index (batch,), as always.
    Otherwise (packed rows, or padding_free) the same per example (N of them), in each example's
    own coordinates, plus example_row and example_offset (N,): where each example starts.
    When any example has more than two segments, also segment_spans (N, S, 2): every example's
    content segments in order (query_span then answer_span for the others), padded at the end
    with empty segments; the trajectory runs over them (`losses.sampling.segments_to_positions`).
    """
    keys = ("query_span", "answer_span", "example_index")
    spans: dict[str, list] = {key: [] for key in (*keys, "example_row", "example_offset", "segments")}
    packed = padding_free
    start = 0
    for row, item in enumerate(items):
        lengths = item.get("seq_lengths")
        if lengths is None:
            lengths, pieces = [len(item["input_ids"])], {key: [item[key]] for key in keys}
            pieces["segments"] = [item.get("segments")]
        else:
            packed = True
            lengths = list(lengths)
            pieces = {key: list(item[key]) for key in keys}
            pieces["segments"] = list(item["segments"]) if item.get("segments") is not None else [None] * len(lengths)
            if any(len(values) != len(lengths) for values in pieces.values()):
                raise ValueError(f"a packed row has {len(lengths)} examples but spans for {[len(v) for v in pieces.values()]}")
        if not padding_free:
            start = 0
        for i, length in enumerate(lengths):
            for key, values in pieces.items():
                spans[key].append(values[i])
            spans["example_row"].append(0 if padding_free else row)
            spans["example_offset"].append(start)
            start += int(length)
    segments = [
        [list(map(int, pair)) for pair in (found if found is not None else (query, answer))]
        for found, query, answer in zip(spans.pop("segments"), spans["query_span"], spans["answer_span"])
    ]
    collated = {
        key: torch.tensor([[int(x) for x in v] if key.endswith("_span") else int(v) for v in values], dtype=torch.long)
        for key, values in spans.items()
    }
    if not packed:
        del collated["example_row"], collated["example_offset"]
    most = max((len(found) for found in segments), default=0)
    if most > 2:
        collated["segment_spans"] = torch.tensor(
            [found + [[found[-1][1]] * 2] * (most - len(found)) for found in segments], dtype=torch.long
        )
    return collated


@dataclass
class STPCollator:
    """Pads a batch to its own longest example (never to max_length) on the right, or with
    `packing`, lays its examples one after the other in a single row with no padding at all.

    Returns input_ids, attention_mask, labels (padding = IGNORE_INDEX), and for the STP sampler
    query_span / answer_span as (batch, 2) LongTensors and example_index as a (batch,) LongTensor.
    When the items carry LLM-JEPA views, also jepa_text_input_ids / jepa_text_attention_mask
    (batch, text_len) and jepa_text_last (batch,), each view padded on the right to its own longest,
    and the same for jepa_code_*.

    Packed (`packing=True`, TRL's padding-free layout): input_ids and labels (1, total), each
    example's first label IGNORE_INDEX (it would be the target of the previous example's last
    token), position_ids restarting at 0 for each example and no attention_mask, so the model
    builds a causal mask per example (transformers' masking_utils, for eager and sdpa attention),
    cu_seq_lens_q / cu_seq_lens_k and max_length_q / max_length_k for flash attention, and the
    spans per example with their row and offset (`collate_spans`). The same examples as padded, so
    the same NTP and STP losses.
    """

    pad_token_id: int
    pad_to_multiple_of: int | None = None
    packing: bool = False

    def __call__(self, batch: list[dict]) -> dict[str, torch.Tensor]:
        if self.packing:
            return self._packed(batch)
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
        collated = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels, **collate_spans(batch)}
        with_views = [item.get("jepa_text_ids") is not None for item in batch]
        if any(with_views):
            if not all(with_views):
                raise ValueError("a batch mixes items with LLM-JEPA views and items without; encode every example with jepa_views")
            for view in ("text", "code"):
                collated |= self._pad_view(batch, view)
        return collated

    def _packed(self, batch: list[dict]) -> dict[str, torch.Tensor]:
        if any(item.get("jepa_text_ids") is not None for item in batch):
            raise ValueError("LLM-JEPA's views are not packed; train method=llm-jepa without packing")
        input_ids = torch.cat([torch.tensor(item["input_ids"], dtype=torch.long) for item in batch])
        labels = torch.cat([torch.tensor([IGNORE_INDEX, *item["labels"][1:]], dtype=torch.long) for item in batch])
        position_ids = torch.cat([torch.arange(len(item["input_ids"])) for item in batch])
        total = len(input_ids)
        width = -(-total // self.pad_to_multiple_of) * self.pad_to_multiple_of if self.pad_to_multiple_of else total
        if width > total:  # padding tokens at position 0 each: sequences of their own, with no loss
            input_ids = torch.cat([input_ids, torch.full((width - total,), self.pad_token_id, dtype=torch.long)])
            labels = torch.cat([labels, torch.full((width - total,), IGNORE_INDEX, dtype=torch.long)])
            position_ids = torch.cat([position_ids, torch.zeros(width - total, dtype=torch.long)])
        starts = (position_ids == 0).nonzero().flatten()
        cu_seq_lens = torch.cat([starts, torch.tensor([width])]).to(torch.int32)
        longest = int(cu_seq_lens.diff().max())
        return {
            "input_ids": input_ids[None],
            "labels": labels[None],
            "position_ids": position_ids[None],
            "cu_seq_lens_q": cu_seq_lens,
            "cu_seq_lens_k": cu_seq_lens,
            "max_length_q": longest,
            "max_length_k": longest,
            **collate_spans(batch, padding_free=True),
        }

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
