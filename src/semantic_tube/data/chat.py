"""From a chat example to token ids, NTP labels and the query/answer spans STP needs.

The conversation is rendered with the tokenizer's own chat template, tokenized once with
offsets, and each span is the set of tokens whose characters overlap that turn's content in the
rendered text. Working on characters, never on token sequences of the content encoded alone,
keeps it right when the answer tokenizes differently inside the template than on its own
(a leading space or newline merged into its first token, say).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from semantic_tube.data.messages import ChatExample, DataError

IGNORE_INDEX = -100  # label of a position that gets no NTP loss (the Trainer's convention)


class LabelMode(str, Enum):
    """Which tokens get the next-token loss."""

    ANSWER = "answer"  # the answer and the template's end-of-turn tokens after it (paper)
    ALL = "all"  # every token, as the public reference code's collator does


@dataclass(frozen=True)
class EncodedExample:
    """Token ids and labels of one example, its [start, end) token spans, and its position in
    its data set (which keys its STP draws, so they do not depend on how batches are formed)."""

    input_ids: list[int]
    labels: list[int]
    query_span: tuple[int, int]
    answer_span: tuple[int, int]
    index: int = 0


def render_chat(tokenizer, example: ChatExample, *, with_answer: bool = True) -> str:
    """The template's text for the conversation; without the answer it ends with the generation prompt."""
    return tokenizer.apply_chat_template(
        example.messages(with_answer=with_answer), tokenize=False, add_generation_prompt=not with_answer
    )


def encode_prompt(tokenizer, example: ChatExample) -> list[int]:
    """Token ids of the prompt a model generates the answer from (same tokenization as training)."""
    return tokenizer(render_chat(tokenizer, example, with_answer=False), add_special_tokens=False)["input_ids"]


def _locate(rendered: str, content: str, cursor: int, example: ChatExample, field_name: str) -> tuple[int, int]:
    """Character span of `content` in the rendered text, searching from `cursor` (turns come in order).

    Templates that trim contents are handled by falling back to the stripped text.
    """
    for candidate in (content, content.strip()):
        start = rendered.find(candidate, cursor)
        if candidate and start >= 0:
            return start, start + len(candidate)
    raise _error(example, field_name, "the chat template changed this text beyond trimming; cannot locate it")


def _token_span(offsets: list[tuple[int, int]], chars: tuple[int, int]) -> tuple[int, int]:
    """[start, end) of the tokens whose characters overlap `chars` (end == start when none do)."""
    inside = [i for i, (a, b) in enumerate(offsets) if b > chars[0] and a < chars[1]]
    return (inside[0], inside[-1] + 1) if inside else (0, 0)


def _error(example: ChatExample, field_name: str, problem: str) -> DataError:
    path, _, line = example.source.rpartition(":")
    return DataError(path or "<memory>", int(line) if line.isdigit() else 0, field_name, problem)


def encode_chat(tokenizer, example: ChatExample, *, max_length: int, label_mode: LabelMode = LabelMode.ANSWER) -> EncodedExample:
    """Tokenize one example for training.

    Raises `DataError` (naming the example's file and line) when `max_length` cuts into the answer,
    since training on a truncated answer teaches the model to stop early.
    """
    rendered = render_chat(tokenizer, example)
    cursor = 0
    if example.system:
        cursor = _locate(rendered, example.system, 0, example, "messages.system")[1]
    query_chars = _locate(rendered, example.user, cursor, example, "messages.user")
    answer_chars = _locate(rendered, example.assistant, query_chars[1], example, "messages.assistant")
    encoding = tokenizer(rendered, add_special_tokens=False, return_offsets_mapping=True)
    offsets = [tuple(pair) for pair in encoding["offset_mapping"]]
    query_span = _token_span(offsets, query_chars)
    answer_span = _token_span(offsets, answer_chars)
    if answer_span[1] > max_length:
        raise _error(
            example,
            "messages.assistant",
            f"max_length={max_length} cuts the answer (it ends at token {answer_span[1]}); raise max_length or skip such lines",
        )
    input_ids = list(encoding["input_ids"][:max_length])
    if label_mode is LabelMode.ALL:
        labels = list(input_ids)
    else:
        # The answer plus whatever the template closes the turn with (<|im_end|>, <|eot_id|>, ...),
        # so the model learns to stop.
        labels = [IGNORE_INDEX] * answer_span[0] + input_ids[answer_span[0] :]
    return EncodedExample(input_ids=input_ids, labels=labels, query_span=query_span, answer_span=answer_span)
