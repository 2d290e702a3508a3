"""STP inside TRL's `SFTTrainer`: one import away for a TRL user.

    from semantic_tube.trl import STPSFTConfig, STPSFTTrainer   # or STPMixin for another Trainer subclass
    trainer = STPSFTTrainer(model=model, args=STPSFTConfig(stp_lambda=0.02, ...), train_dataset=ds,
                            processing_class=tokenizer, peft_config=lora)

`STPSFTConfig` is `trl.SFTConfig` plus the method's fields (`training.config.STPArguments`, the same
definition `stp train` uses, with `use_views`), and `STPSFTTrainer` is `SFTTrainer` with `STPMixin`.

Tokenization is TRL's: its `_prepare_dataset` renders, tokenizes, builds the labels
(`assistant_only_loss`, `completion_only_loss`) and truncates to `max_length` exactly as the plain
`SFTTrainer` does, so the NTP loss is the one it trains. Then, once per example, the spans are
found by characters in the same rendered text (`data.chat.tokenize_chat`, or for prompt and
completion strings `tokenize_text_pair`), checked to tokenize to TRL's very ids, and cut at TRL's
truncation. With `packing`, the examples are packed by TRL's own `pack_dataset` (best-fit
decreasing), their spans carried through it as per-token columns and turned back into spans per
example (in each example's own coordinates) right after; the collator (TRL's, with the spans
added) lays them out per row or, padding-free, in one row (`data.collator.collate_spans`).

Rows: TRL's conversational `messages`, or `prompt` / `completion` (each a list of turns or a
string): an optional system turn, then user and assistant turns alternating (a conversation of
several exchanges trains STP over every content turn, `data.chat`), a single exchange optionally
with the `text` / `code` views; ShareGPT `conversations` (roles human / gpt / system, renamed
user / assistant / system before TRL renders them: TRL keeps the names, which templates render
literally or refuse); and TRL's language-modelling rows, a `dataset_text_field` string and no
turns (plain text: STP over the text's own tokens, no template, no gap; TRL truncates or, with
packing, packs it as any row). A `formatting_func` turns rows into text STP cannot split into
turns: an error while STP is on. With STP off (stp_lambda = 0 or method = ntp, no
stp_log_when_off) this is the plain `SFTTrainer`, batch for batch.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

try:
    import datasets
    from trl import SFTConfig, SFTTrainer
    from trl.data_utils import get_dataset_column_names, is_conversational, pack_dataset
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling
except ImportError as err:  # pragma: no cover - exercised by a test that hides trl
    raise ImportError("semantic_tube.trl needs TRL and datasets, the optional extra: pip install 'semantic-tube[trl]'") from err

from semantic_tube.data.chat import text_tokens, tokenize_chat, tokenize_text_pair
from semantic_tube.data.collator import collate_spans
from semantic_tube.data.messages import SHAREGPT_ROLES, DataError, TextExample, chat_example_from_record
from semantic_tube.methods.base import SPAN_KEYS
from semantic_tube.methods.options import Method
from semantic_tube.training.config import DataArguments, STPArguments
from semantic_tube.training.trainer import STPMixin

__all__ = ["STPDataCollator", "STPMixin", "STPSFTConfig", "STPSFTTrainer", "add_spans", "pack_with_spans"]



@dataclass
class STPSFTConfig(STPArguments, SFTConfig):
    """`trl.SFTConfig` (its defaults: bf16 unless fp16, gradient checkpointing, lr 2e-5, ...) plus
    the method's fields of `stp train` (`method`, `stp_lambda`, `stp_form`, ...), and `use_views`."""

    use_views: bool = field(default=True, metadata=DataArguments.__dataclass_fields__["use_views"].metadata)


@dataclass
class STPDataCollator(DataCollatorForLanguageModeling):
    """TRL's collator (dynamic padding, or padding-free with position ids) plus the span tensors
    of `collate_spans` when the items carry them."""

    def torch_call(self, examples: list[dict]) -> dict:
        batch = super().torch_call(examples)
        if examples and all(key in examples[0] for key in SPAN_KEYS):
            batch.update(collate_spans(examples, padding_free=self.padding_free))
        return batch


def add_spans(
    example: dict, tokenizer, chat_template: str | None, use_views: bool, eos_token: str | None, dataset_name: str, text_field: str = "text"
) -> dict:
    """query_span, answer_span and segments ([start, end) token positions) of one example that TRL
    has tokenized (its `input_ids`, maybe truncated), found by characters in the same text: the chat
    rendering TRL tokenized (same template, tools and chat_template_kwargs), prompt + completion for
    strings, or the text of a language-modelling row. `segments` is every content turn of a
    conversation ([query_span, answer_span] for one exchange or plain text), cut at TRL's
    truncation. Raises `DataError` (the data set and the 1-based row) when the row cannot be read,
    when the text does not tokenize to TRL's ids, or when TRL's truncation cuts every answer."""
    row = int(example["example_index"]) + 1
    segments = None
    if "prompt" not in example and "messages" not in example and isinstance(example.get(text_field), str):
        text = example[text_field]
        suffix = eos_token if eos_token and text.endswith(eos_token) else ""  # TRL appended it
        ids, (start, end) = text_tokens(tokenizer, TextExample(text[: len(text) - len(suffix)]), suffix=suffix)
        tokens = type("Tokens", (), {"input_ids": ids, "query_span": (start, start), "answer_span": (start, end), "segments": None})
    elif "prompt" in example and not is_conversational(example):
        completion = example["completion"]
        suffix = eos_token if eos_token and completion.endswith(eos_token) else ""  # TRL appended it
        record = {**example, "completion": completion[: len(completion) - len(suffix)]}
        tokens = tokenize_text_pair(tokenizer, chat_example_from_record(record, dataset_name, row), use_views=use_views, suffix=suffix)
    elif "prompt" in example or "messages" in example:
        tools = example.get("tools")
        template_kwargs = {
            "chat_template": chat_template,
            "tools": json.loads(tools) if isinstance(tools, str) else tools,
            **(example.get("chat_template_kwargs") or {}),
        }
        tokens = tokenize_chat(tokenizer, chat_example_from_record(example, dataset_name, row), use_views=use_views, template_kwargs=template_kwargs)
    else:
        raise DataError(dataset_name, row, "messages", f"STP needs turns (messages, prompt and completion, conversations) or a {text_field!r} string")
    trained = list(example["input_ids"])
    if tokens.input_ids[: len(trained)] != trained:
        raise DataError(dataset_name, row, "input_ids", "the rendered text does not tokenize to TRL's input ids, so the spans cannot be placed")
    length = len(trained)  # TRL's max_length truncation (keep_start) cuts the spans too
    segments = tokens.segments or (tokens.query_span, tokens.answer_span)
    if tokens.segments and segments[1][0] >= length:
        raise DataError(dataset_name, row, "messages", f"TRL's max_length={length} cuts every assistant turn; raise max_length or drop such rows")
    return {
        "query_span": [min(position, length) for position in tokens.query_span],
        "answer_span": [min(position, length) for position in tokens.answer_span],
        "segments": [[min(position, length) for position in span] for span in segments],
    }


def _token_marks(example: dict) -> dict:
    """Per-token marks: which segment (1, 2, ...) each token belongs to, 0 for template tokens."""
    length = len(example["input_ids"])
    roles = [0] * length
    for role, (start, end) in enumerate(example["segments"], start=1):
        roles[start:end] = [role] * (end - start)
    count = len(example["segments"])
    return {"stp_role": roles, "stp_example": [int(example["example_index"])] * length, "stp_count": [count] * length}


def _span_of(roles: list[int], role: int) -> list[int]:
    inside = [i for i, value in enumerate(roles) if value == role]
    return [inside[0], inside[-1] + 1] if inside else [0, 0]


def _spans_from_marks(row: dict) -> dict:
    spans: dict[str, list] = {"query_span": [], "answer_span": [], "example_index": [], "segments": []}
    start = 0
    for length in row["seq_lengths"]:
        roles = row["stp_role"][start : start + length]
        segments = [_span_of(roles, role) for role in range(1, row["stp_count"][start] + 1)]
        spans["query_span"].append(segments[-2])
        spans["answer_span"].append(segments[-1])
        spans["segments"].append(segments)
        spans["example_index"].append(row["stp_example"][start])
        start += length
    return spans


def pack_with_spans(dataset, seq_length: int, map_kwargs: dict | None = None):
    """TRL's best-fit-decreasing packing (`trl.pack_dataset`, strategy bfd) of tokenized examples
    with spans: rows of at most `seq_length` tokens with `seq_lengths`, and per example (in the
    row's order) its query_span and answer_span, counted from the example's own start, and its
    example_index. The spans ride through the packing as per-token marks."""
    map_kwargs = dict(map_kwargs or {})
    marks = ["stp_role", "stp_example", "stp_count"]
    marked = dataset.map(_token_marks, **map_kwargs).select_columns(["input_ids", "labels", *marks])
    packed = pack_dataset(marked, seq_length, "bfd", map_kwargs)
    return packed.map(_spans_from_marks, remove_columns=marks, **map_kwargs)


def _sharegpt_to_messages(example: dict) -> dict:
    """A ShareGPT row ({"from", "value"} turns) as messages with the roles templates know; other
    roles are kept as they are, for the row reader to name."""
    turns = [
        {"role": SHAREGPT_ROLES.get(turn.get("from"), turn.get("from")), "content": turn.get("value")} if "from" in turn else turn
        for turn in example["conversations"]
    ]
    return {"messages": turns}


class STPSFTTrainer(STPMixin, SFTTrainer):
    """TRL's `SFTTrainer` with NTP + stp_lambda * (the method's loss): give it an `STPSFTConfig`
    and a data set of messages or prompt-completion rows (see the module's docstring)."""

    def __init__(self, model, args: STPSFTConfig | None = None, *rest, **kwargs):
        args = STPSFTConfig() if args is None else args
        if not isinstance(args, STPArguments):
            raise TypeError(f"STPSFTTrainer takes an STPSFTConfig (SFTConfig plus the STP fields), got {type(args).__name__}")
        if args.method is Method.LLM_JEPA:
            raise ValueError("method=llm-jepa encodes each example's views on their own, which this trainer does not; use stp train")
        if args.stp_active and args.packing and args.packing_strategy != "bfd":
            raise ValueError(f"packing_strategy={args.packing_strategy} splits examples across rows; STP needs whole examples: use bfd")
        super().__init__(model, args, *rest, **kwargs)
        collator = self.data_collator
        if isinstance(collator, DataCollatorForLanguageModeling) and not isinstance(collator, STPDataCollator):
            self.data_collator = STPDataCollator(**{item.name: getattr(collator, item.name) for item in dataclasses.fields(collator)})
        if self.padding_free and self.objective is not None and self.args.stp_active and not self.objective.supports_packing:
            raise ValueError(f"method={args.method.value} with these options does not run on packed batches (packing, padding_free)")

    def _prepare_dataset(self, dataset, processing_class, args, packing, formatting_func, dataset_name):
        """TRL's preparation (tokens, labels, truncation) unpacked, then the spans, then TRL's packing."""
        if not args.stp_active:
            return super()._prepare_dataset(dataset, processing_class, args, packing, formatting_func, dataset_name)
        columns = get_dataset_column_names(dataset)
        if "input_ids" in columns:
            if set(SPAN_KEYS) <= set(columns):
                return dataset  # prepared here already
            raise ValueError(
                f"the {dataset_name} data set is tokenized already: STP finds its spans in the raw rows (messages, or prompt "
                "and completion); pass those, or add query_span, answer_span and example_index columns yourself"
            )
        if formatting_func is not None:
            raise ValueError("formatting_func turns rows into plain text, which has no query and answer for STP; format the rows as messages")
        map_kwargs = {"num_proc": args.dataset_num_proc} if isinstance(dataset, datasets.Dataset) else {}
        if "conversations" in columns and "messages" not in columns:
            dataset = dataset.map(_sharegpt_to_messages, remove_columns=["conversations"], **map_kwargs)
        dataset = dataset.map(lambda _, index: {"example_index": index}, with_indices=True, **map_kwargs)
        dataset = super()._prepare_dataset(dataset, processing_class, args, False, None, dataset_name)
        tokenizer = getattr(processing_class, "tokenizer", processing_class)
        dataset = dataset.map(
            add_spans,
            fn_kwargs={
                "tokenizer": tokenizer,
                "chat_template": self.chat_template,
                "use_views": getattr(args, "use_views", True),
                "eos_token": tokenizer.eos_token,
                "dataset_name": dataset_name,
                "text_field": args.dataset_text_field,
            },
            **map_kwargs,
        )
        if packing:
            if args.max_length is None:
                raise ValueError("When packing is enabled, `max_length` can't be `None`.")
            dataset = pack_with_spans(dataset, args.max_length, map_kwargs)
            if args.shuffle_dataset:
                dataset = dataset.shuffle(seed=args.seed)
        return dataset
