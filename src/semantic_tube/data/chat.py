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

from semantic_tube.data.messages import ChatExample, DataError, TextExample

IGNORE_INDEX = -100  # label of a position that gets no NTP loss (the Trainer's convention)


class LabelMode(str, Enum):
    """Which tokens get the next-token loss."""

    ANSWER = "answer"  # the answer and the template's end-of-turn tokens after it (this project's default)
    ALL = "all"  # every token of the conversation
    REFERENCE = "reference"  # the reference collator: every token whose id is not the eos id (its pad id)


class ChatTemplateError(ValueError):
    """A chat template this project cannot train with as it renders (named in the message)."""


@dataclass(frozen=True)
class EncodedExample:
    """Token ids and labels of one example, the [start, end) token spans of its STP trajectory
    (the query and the answer, or the `text`/`code` views when the line has them; the template
    tokens between them form the gap STP bypasses), and its position in its data set (which keys
    its STP draws, so they do not depend on how batches are formed). For LLM-JEPA, the `jepa_*`
    fields hold the two views rendered alone and Enc's index in each (`data.jepa_views`); None
    for every other method.

    A conversation of several exchanges also has `segments`: the [start, end) token spans of
    every content turn in order (user, assistant, user, ...; the system turn left out), the
    trajectory STP draws from, a template stretch bypassed between each two (`losses.sampling.
    segment_gaps`); query_span / answer_span are then its last exchange. None for one query and
    one answer (the trajectory is query_span then answer_span) and for plain text (query_span
    empty at the text's start, answer_span the text's own tokens)."""

    input_ids: list[int]
    labels: list[int]
    query_span: tuple[int, int]
    answer_span: tuple[int, int]
    example_index: int = 0
    segments: list[tuple[int, int]] | None = None
    jepa_text_ids: list[int] | None = None
    jepa_text_last: int | None = None
    jepa_code_ids: list[int] | None = None
    jepa_code_last: int | None = None


def render_chat(tokenizer, example: ChatExample, *, with_answer: bool = True, template_kwargs: dict | None = None) -> str:
    """The template's text for the conversation; without the answer it ends with the generation prompt.

    template_kwargs go to `apply_chat_template` (e.g. {"enable_thinking": False}); training and
    evaluation pass the same ones, so a model is scored on the prompts it was trained on.
    """
    return tokenizer.apply_chat_template(
        example.messages(with_answer=with_answer),
        tokenize=False,
        add_generation_prompt=not with_answer,
        **(template_kwargs or {}),
    )


def encode_prompt(tokenizer, example: ChatExample, template_kwargs: dict | None = None) -> list[int]:
    """Token ids of the prompt a model generates the answer from (same tokenization as training)."""
    rendered = render_chat(tokenizer, example, with_answer=False, template_kwargs=template_kwargs)
    return tokenizer(rendered, add_special_tokens=False)["input_ids"]


def _locate(rendered: str, content: str, cursor: int, example: ChatExample, field_name: str, end: int | None = None) -> tuple[int, int]:
    """Character span of `content` in rendered[cursor:end] (turns come in order).

    Templates that trim contents are handled by falling back to the stripped text.
    """
    for candidate in (content, content.strip()):
        start = rendered.find(candidate, cursor, len(rendered) if end is None else end)
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


def _template_name(tokenizer) -> str:
    return f"the chat template of {getattr(tokenizer, 'name_or_path', '') or type(tokenizer).__name__}"


def _rendered_pair(tokenizer, example: ChatExample, template_kwargs: dict | None) -> tuple[str, str]:
    """(prompt with generation prompt, full conversation), checking the first is a prefix of the second.

    Generation conditions on the prompt, training on the full text: they must agree token for
    token. Templates that render a past assistant turn differently from the one being generated
    (thinking templates drop or add <think> blocks) break that.
    """
    prompt = render_chat(tokenizer, example, with_answer=False, template_kwargs=template_kwargs)
    full = render_chat(tokenizer, example, template_kwargs=template_kwargs)
    if not full.startswith(prompt):
        raise ChatTemplateError(
            f"{_template_name(tokenizer)} renders the generation prompt {prompt[-60:]!r} differently from the start of "
            f"the full conversation {full[: len(prompt)][-60:]!r}, so a model would be scored on prompts it was not "
            "trained on; thinking templates do this: set chat_template_kwargs (e.g. '{\"enable_thinking\": false}')"
        )
    return prompt, full


def _trajectory_chars(prompt: str, full: str, example: ChatExample, use_views: bool) -> tuple[tuple[int, int], tuple[int, int]]:
    """Character spans of the STP trajectory's two pieces: the query and the answer, or the
    `text` and `code` views (Appendix G: the context and the correct ending of a multiple-choice
    line, with the distractor options between them left out)."""
    cursor = _locate(prompt, example.system, 0, example, "messages.system")[1] if example.system else 0
    query = _locate(prompt, example.user, cursor, example, "messages.user")
    if use_views and example.text is not None:
        query = _locate(full, example.text, query[0], example, "text")
    if use_views and example.code is not None:
        return query, _locate(full, example.code, query[1], example, "code")
    # The answer is searched after the generation prompt, never inside the template's header:
    # an answer like "s" or "model" also occurs in `<|im_start|>` or the role name.
    return query, _locate(full, example.assistant, len(prompt), example, "messages.assistant")


@dataclass(frozen=True)
class ChatTokens:
    """One example tokenized once with character offsets: its token ids, the [start, end) token
    spans of its STP trajectory (`EncodedExample`'s query_span / answer_span) and of the assistant
    content (where the answer's NTP labels start)."""

    input_ids: list[int]
    query_span: tuple[int, int]
    answer_span: tuple[int, int]
    answer_tokens: tuple[int, int]
    segments: tuple[tuple[int, int], ...] | None = None  # a conversation's content turns (`EncodedExample.segments`)
    assistant_tokens: tuple[tuple[int, int], ...] = ()  # a conversation's assistant contents, each turn's labels' start


def _tokens_with_spans(tokenizer, prompt: str, full: str, example: ChatExample, use_views: bool, add_special_tokens: bool) -> ChatTokens:
    query_chars, trajectory_answer_chars = _trajectory_chars(prompt, full, example, use_views)
    answer_chars = _locate(full, example.assistant, len(prompt), example, "messages.assistant")
    encoding = tokenizer(full, add_special_tokens=add_special_tokens, return_offsets_mapping=True)
    offsets = [tuple(pair) for pair in encoding["offset_mapping"]]
    query, answer = _token_span(offsets, query_chars), _token_span(offsets, trajectory_answer_chars)
    if query[0] < answer[0] < query[1]:  # one token holds the end of the query and the start of the answer: the answer's
        query = (query[0], answer[0])
    return ChatTokens(list(encoding["input_ids"]), query, answer, _token_span(offsets, answer_chars))


def tokenize_chat(tokenizer, example: ChatExample, *, use_views: bool = True, template_kwargs: dict | None = None) -> ChatTokens:
    """The conversation rendered with the chat template and tokenized once, with its spans.

    Raises `ChatTemplateError` when the template renders the prompt differently from the
    conversation's start, `DataError` when a turn's text cannot be found in the rendering.
    """
    prompt, full = _rendered_pair(tokenizer, example, template_kwargs)
    if example.history:
        return _conversation_tokens(tokenizer, prompt, full, example, template_kwargs)
    return _tokens_with_spans(tokenizer, prompt, full, example, use_views, add_special_tokens=False)


# A turn's content replaced by this shows where the template starts that turn's content: the text
# before it is the rendering up to there (when the full rendering starts with it too).
_SENTINEL = "\u2063STP-TURN-SENTINEL\u2063"


def _render_messages(tokenizer, messages: list[dict], template_kwargs: dict | None) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False, **(template_kwargs or {}))


def _turn_start(tokenizer, messages: list[dict], index: int, full: str, template_kwargs: dict | None) -> int | None:
    """Where the template puts turn `index`'s content in `full`, or None when it drops the turn.

    Searching each content only after the previous one is not enough in a conversation: a short
    answer ("s", "model") also occurs in the next turn's header. The rendering with this turn's
    content replaced by a sentinel is the same as `full` up to the content; when it is not (a
    template that looks at the content), the caller falls back to the previous turn's end.
    """
    probe = [dict(message, content=_SENTINEL) if i == index else message for i, message in enumerate(messages)]
    rendered = _render_messages(tokenizer, probe, template_kwargs)
    at = rendered.find(_SENTINEL)
    if at < 0:
        return None
    return at if full.startswith(rendered[:at]) else -1


def _conversation_tokens(tokenizer, prompt: str, full: str, example: ChatExample, template_kwargs: dict | None) -> ChatTokens:
    """A conversation of several exchanges: every content turn's token span, in order.

    Each turn's content is found by characters where the template starts it (`_turn_start`), so
    no template token is inside a span; a token holding the end of one turn and the start of the
    next goes to the next (as between query and answer). The last answer is searched after the
    generation prompt, as for one exchange. Raises `DataError` naming the turn (`messages[i]`,
    the index in the row's turns with the system turn first) when the template drops a turn or
    changes its text beyond trimming.
    """
    messages = example.messages()
    first = 1 if example.system else 0
    chars, cursor = [], 0
    for index, message in enumerate(messages):
        name = f"messages[{index}]"
        start = _turn_start(tokenizer, messages, index, full, template_kwargs)
        if start is None:
            raise _error(example, name, f"the chat template drops this {message['role']!r} turn (it renders the conversation without it)")
        if index == len(messages) - 1:
            start = max(start, len(prompt))
        span = _locate(full, message["content"], max(start, cursor), example, name)
        chars.append(span)
        cursor = span[1]
    encoding = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    offsets = [tuple(pair) for pair in encoding["offset_mapping"]]
    segments = [_token_span(offsets, span) for span in chars[first:]]
    for i in range(1, len(segments)):  # a token holding the end of one turn and the start of the next: the next's
        before, after = segments[i - 1], segments[i]
        if before[0] < after[0] < before[1]:
            segments[i - 1] = (before[0], after[0])
    assistant = tuple(segments[1::2])
    return ChatTokens(
        list(encoding["input_ids"]),
        query_span=segments[-2],
        answer_span=segments[-1],
        answer_tokens=assistant[-1],
        segments=tuple(segments),
        assistant_tokens=assistant,
    )


def tokenize_text_pair(tokenizer, example: ChatExample, *, use_views: bool = True, suffix: str = "") -> ChatTokens:
    """A prompt and a completion as plain strings, without a chat template (`example.user` and
    `example.assistant`, TRL's non-conversational prompt-completion rows), tokenized as TRL does:
    `tokenizer(prompt + completion + suffix)` with the tokenizer's special tokens (`suffix`: the
    end-of-sequence text TRL appends to the completion). The query is the prompt, the answer the
    completion (or the `text` / `code` views), located by characters."""
    return _tokens_with_spans(tokenizer, example.user, example.user + example.assistant + suffix, example, use_views, add_special_tokens=True)


def encode_chat(
    tokenizer,
    example: ChatExample,
    *,
    max_length: int,
    label_mode: LabelMode = LabelMode.ANSWER,
    use_views: bool = True,
    template_kwargs: dict | None = None,
) -> EncodedExample:
    """Tokenize one example for training.

    Raises `DataError` (naming the example's file and line) when `max_length` cuts into the answer
    or the end-of-turn token after it, since training on such an example teaches the model to
    stop early or never. Raises `ChatTemplateError` when the template renders the prompt
    differently from the conversation's start.
    """
    tokens = tokenize_chat(tokenizer, example, use_views=use_views, template_kwargs=template_kwargs)
    if tokens.segments is not None:
        return _encode_conversation(tokenizer, example, tokens, max_length, label_mode)
    answer_start, answer_end = tokens.answer_tokens
    needed = min(answer_end + 1, len(tokens.input_ids))  # the answer and the end-of-turn token after it
    if answer_start >= max_length:  # the prompt alone fills max_length: the turn too long is the user's (or the system's)
        turn = "messages.system" if example.system and tokens.query_span[0] >= max_length else "messages.user"
        raise _error(
            example,
            turn,
            f"max_length={max_length} cuts the prompt: the answer would start at token {answer_start + 1}; raise max_length or skip such lines",
        )
    if needed > max_length:
        part = "the answer" if answer_end > max_length else "the end-of-turn token after the answer"
        raise _error(
            example,
            "messages.assistant",
            f"max_length={max_length} cuts {part} (it needs {needed} tokens); raise max_length or skip such lines",
        )
    input_ids = tokens.input_ids[:max_length]
    return EncodedExample(
        input_ids=input_ids,
        labels=make_labels(input_ids, answer_start, label_mode, tokenizer.eos_token_id),
        query_span=tokens.query_span,
        answer_span=tokens.answer_span,
    )


def _encode_conversation(tokenizer, example: ChatExample, tokens: ChatTokens, max_length: int, label_mode: LabelMode) -> EncodedExample:
    """A conversation cut to `max_length`: where the whole does not fit, it ends after the last
    assistant turn that fits with its end-of-turn token, and the turns after it are left out (no
    turn is half trained, as for one answer); an error naming the first assistant turn when none fits."""
    ids = tokens.input_ids
    needed = [min(end + 1, len(ids)) for _, end in tokens.assistant_tokens]  # each answer and its end-of-turn token
    if needed[-1] <= max_length:
        kept, input_ids = len(needed), ids[:max_length]
    else:
        kept = sum(1 for n in needed if n <= max_length)
        if kept == 0:
            raise _error(
                example,
                f"messages[{2 if example.system else 1}]",
                f"max_length={max_length} cuts every assistant turn (the first needs {needed[0]} tokens); raise max_length or skip such lines",
            )
        input_ids = ids[: needed[kept - 1]]
    segments = list(tokens.segments[: 2 * kept])
    labels = make_labels(input_ids, segments[1][0], label_mode, tokenizer.eos_token_id)
    if LabelMode(label_mode) is LabelMode.ANSWER:
        # every assistant turn and its end-of-turn token; after the last, whatever closes the text (as for one answer)
        labels = [IGNORE_INDEX] * len(input_ids)
        for i, (start, end) in enumerate(tokens.assistant_tokens[:kept]):
            stop = len(input_ids) if i == kept - 1 else end + 1
            labels[start:stop] = input_ids[start:stop]
    return EncodedExample(
        input_ids=input_ids, labels=labels, query_span=segments[-2], answer_span=segments[-1], segments=segments
    )


def text_tokens(tokenizer, example: TextExample, suffix: str | None = None) -> tuple[list[int], tuple[int, int]]:
    """(token ids, [start, end) of the text's own tokens) of a plain-text row, tokenized as TRL
    tokenizes its language-modelling rows: `tokenizer(text + eos)` with the tokenizer's special
    tokens (`suffix`: what is appended, the eos token by default, nothing when the text ends with it)."""
    if suffix is None:
        eos = tokenizer.eos_token or ""
        suffix = "" if example.text.endswith(eos) else eos
    encoding = tokenizer(example.text + suffix, return_offsets_mapping=True)
    offsets = [tuple(pair) for pair in encoding["offset_mapping"]]
    return list(encoding["input_ids"]), _token_span(offsets, (0, len(example.text)))


def encode_text(tokenizer, example: TextExample, *, max_length: int, label_mode: LabelMode = LabelMode.ANSWER) -> EncodedExample:
    """A plain-text row for continued pretraining: NTP on every token (label_mode reference drops
    the eos id's positions, as that collator does), STP over the text's own tokens (no template, no
    gap: query_span empty at the text's start, answer_span the text). A text longer than
    `max_length` is truncated, its start kept, as TRL truncates (`truncation_mode=keep_start`);
    packing does not split it either (TRL's `bfd` packing truncates too)."""
    ids, (start, end) = text_tokens(tokenizer, example)
    input_ids = ids[:max_length]
    mode = LabelMode(label_mode)
    labels = make_labels(input_ids, 0, LabelMode.ALL if mode is LabelMode.ANSWER else mode, tokenizer.eos_token_id)
    start, end = min(start, len(input_ids)), min(end, len(input_ids))
    return EncodedExample(input_ids=input_ids, labels=labels, query_span=(start, start), answer_span=(start, end))


def encode_example(tokenizer, example: ChatExample | TextExample, **options) -> EncodedExample:
    """`encode_text` for plain text, `encode_chat` for a conversation (options as theirs; plain text
    has no template and no views, so it ignores use_views and template_kwargs)."""
    if isinstance(example, TextExample):
        return encode_text(tokenizer, example, max_length=options["max_length"], label_mode=options.get("label_mode", LabelMode.ANSWER))
    return encode_chat(tokenizer, example, **options)


def make_labels(input_ids: list[int], answer_start: int, label_mode: LabelMode, eos_token_id: int | None) -> list[int]:
    """NTP labels for one sequence (IGNORE_INDEX = no loss).

    answer: the answer plus whatever the template closes the turn with (<|im_end|>, <|eot_id|>,
    ...), so the model learns to stop. all: every token. reference: the public reference code's
    collator (DataCollatorForLanguageModeling with pad = eos), which drops the loss at every
    position holding the eos id, wherever it is (on SmolLM2 that is each <|im_end|>).
    """
    label_mode = LabelMode(label_mode)
    if label_mode is LabelMode.ALL:
        return list(input_ids)
    if label_mode is LabelMode.REFERENCE:
        return [IGNORE_INDEX if token == eos_token_id else token for token in input_ids]
    return [IGNORE_INDEX] * answer_start + input_ids[answer_start:]
