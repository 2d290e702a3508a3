"""LLM-JEPA's two views of an example, each rendered as a conversation of its own (Huang et al. 2025).

LLM-JEPA encodes Text and Code separately: Enc(Text) is the hidden state at the last token of the
query rendered alone with the chat template, Enc(Code) the same for the answer rendered alone.
What each view holds follows the reference code (galilai-group/llm-jepa, stp.py):

- Text view: the user turn only, `messages[1:2]` in `get_user_messages`, so the system prompt is
  left out. The system prompt is the same instruction in every example of a data set: it carries
  nothing about this example's Text, and leaving it out keeps the view what the paper calls Text.
  (A template that always injects a default system block, as Llama 3's does, still renders it.)
  When the line has a `text` view (HellaSwag's context, Appendix G) that is the content instead.
- Code view: the assistant turn alone, `messages[2:3]` in `get_assistant_messages`, rendered as a
  conversation that starts with the assistant. Templates that refuse that (Gemma's raises "roles
  must alternate") or drop the turn get it as a user turn, as the reference does for Gemma; here
  that is detected from the template itself (it raises, or the content is not in its output), not
  from the model's name. A line's `code` view replaces the content.
- Predictor tokens: with k > 0, `<|predictor_k|>...<|predictor_1|>` are appended to the Text
  view's content (`load_and_prepare_dataset`; the reference appends them counting down, so the
  last one is always `<|predictor_1|>`). They must be special tokens of the tokenizer
  (`semantic_tube.methods.tokens.add_special_tokens`) before encoding.

Enc's position. The reference takes a fixed offset from the end of the rendered view per model
family (`_last_token_index`: Llama -2, Qwen -3, ...), which lands on the last content token of the
family's template. By default this module finds that token by character offsets instead, as
chat.py finds spans (the last token overlapping the content, the last predictor token when k > 0),
so it is the same token for every template. `last_token_offset` reproduces the reference's
offsets; they count from the end of the view tokenized without added special tokens (as chat.py
tokenizes), which matches the reference's for tokenizers that add nothing at the end.
"""

from __future__ import annotations

import os.path
from dataclasses import dataclass

from semantic_tube.data.chat import _error, _locate, _token_span
from semantic_tube.data.messages import ChatExample, DataError

# The collated fields STPCollator adds when the items carry views (right padded).
JEPA_BATCH_KEYS = (
    "jepa_text_input_ids",
    "jepa_text_attention_mask",
    "jepa_text_last",
    "jepa_code_input_ids",
    "jepa_code_attention_mask",
    "jepa_code_last",
)
# The EncodedExample fields they come from.
JEPA_ITEM_KEYS = ("jepa_text_ids", "jepa_text_last", "jepa_code_ids", "jepa_code_last")

_PROBE = "\ue000"  # a private-use character no content starts with: where the content starts in a render


def predictor_token_names(k: int) -> list[str]:
    """The k predictor tokens, `<|predictor_1|>` .. `<|predictor_k|>` (the reference's names)."""
    if k < 0:
        raise ValueError(f"the number of predictor tokens must be >= 0, got {k}")
    return [f"<|predictor_{i}|>" for i in range(1, k + 1)]


@dataclass(frozen=True)
class JepaViewOptions:
    """How `encode_examples` encodes the views: k predictor tokens, and Enc's position (None: the
    view's last content token; a negative int: that offset from the end of the rendered view)."""

    predictor_tokens: int = 0
    last_token_offset: int | None = None

    def __post_init__(self):
        if self.predictor_tokens < 0:
            raise ValueError(f"predictor_tokens must be >= 0, got {self.predictor_tokens}")
        if self.last_token_offset is not None and self.last_token_offset >= 0:
            raise ValueError(f"last_token_offset counts from the end of the view and must be negative (-1 = last token), got {self.last_token_offset}")

    @classmethod
    def from_args(cls, args) -> JepaViewOptions:
        """From STPTrainingArguments' `jepa_predictor_tokens` and `jepa_last_token`."""
        return cls(predictor_tokens=args.jepa_predictor_tokens, last_token_offset=args.jepa_last_token)


@dataclass(frozen=True)
class EncodedViews:
    """Token ids of the two views rendered alone, and the index of Enc's token in each."""

    text_ids: list[int]
    text_last: int
    code_ids: list[int]
    code_last: int


def _render(tokenizer, role: str, content: str, template_kwargs: dict | None) -> str:
    return tokenizer.apply_chat_template([{"role": role, "content": content}], tokenize=False, add_generation_prompt=False, **(template_kwargs or {}))


def _content_start(tokenizer, role: str, rendered: str, template_kwargs: dict | None) -> int:
    """Where the turn's content starts in `rendered`: the length of the part it shares with the same
    turn rendered around a probe character. Searching from there, never from 0, keeps a content
    such as "user" or "2024" from being found in the role header or a default system block."""
    return len(os.path.commonprefix([rendered, _render(tokenizer, role, _PROBE, template_kwargs)]))


def _encode_view(
    tokenizer,
    example: ChatExample,
    roles: tuple[str, ...],
    content: str,
    field_name: str,
    options: JepaViewOptions,
    max_length: int,
    template_kwargs: dict | None,
) -> tuple[list[int], int]:
    """(ids, Enc index) of `content` rendered as a one-turn conversation in the first of `roles`
    the template renders it in."""
    import jinja2

    problem = None
    for role in roles:
        try:
            rendered = _render(tokenizer, role, content, template_kwargs)
            chars = _locate(rendered, content, _content_start(tokenizer, role, rendered, template_kwargs), example, field_name)
            break
        except (jinja2.exceptions.TemplateError, DataError) as err:
            problem = err
    else:
        raise _error(example, field_name, f"the chat template cannot render this LLM-JEPA view as a {' or '.join(roles)} turn alone: {problem}")
    encoding = tokenizer(rendered, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(encoding["input_ids"])
    if len(ids) > max_length:
        raise _error(
            example,
            field_name,
            f"max_length={max_length} cuts the LLM-JEPA view rendered alone (it needs {len(ids)} tokens); raise max_length or skip such lines",
        )
    if options.last_token_offset is not None:
        last = len(ids) + options.last_token_offset
        if last < 0:
            raise _error(example, field_name, f"last_token_offset={options.last_token_offset} is before the start of the {len(ids)}-token view")
        return ids, last
    start, end = _token_span([tuple(pair) for pair in encoding["offset_mapping"]], chars)
    if end == start:
        raise _error(example, field_name, "no token of the LLM-JEPA view carries its content")
    return ids, end - 1


def _check_predictor_tokens(tokenizer, names: list[str]) -> None:
    for name in names:
        if len(tokenizer(name, add_special_tokens=False)["input_ids"]) != 1:
            raise ValueError(
                f"{name} is not a single token of the tokenizer; add the predictor tokens first "
                "(semantic_tube.methods.tokens.add_special_tokens) and resize the model"
            )


def encode_jepa_views(
    tokenizer,
    example: ChatExample,
    options: JepaViewOptions,
    *,
    max_length: int,
    use_views: bool = True,
    template_kwargs: dict | None = None,
) -> EncodedViews:
    """Encode the Text and Code views of one example (see the module docstring for what they hold).

    Raises `DataError` naming the field (messages.user / text, messages.assistant / code) when a
    view rendered alone is longer than `max_length` or cannot be rendered, and ValueError when the
    predictor tokens are not single tokens of the tokenizer.
    """
    names = predictor_token_names(options.predictor_tokens)
    _check_predictor_tokens(tokenizer, names)
    text_field, text = ("text", example.text) if use_views and example.text is not None else ("messages.user", example.user)
    code_field, code = ("code", example.code) if use_views and example.code is not None else ("messages.assistant", example.assistant)
    text += "".join(reversed(names))
    text_ids, text_last = _encode_view(tokenizer, example, ("user",), text, text_field, options, max_length, template_kwargs)
    code_ids, code_last = _encode_view(tokenizer, example, ("assistant", "user"), code, code_field, options, max_length, template_kwargs)
    return EncodedViews(text_ids, text_last, code_ids, code_last)
