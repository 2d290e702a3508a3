"""Span finding and labels across chat-template families."""

import pytest

from semantic_tube.data.chat import IGNORE_INDEX, LabelMode, encode_chat, encode_prompt, render_chat
from semantic_tube.data.messages import ChatExample, DataError
from tests.tiny_models import TEMPLATES, tiny_tokenizer

EXAMPLE = ChatExample(
    user="lines with a vowel before a number",
    assistant=".*[AEIOUaeiou].*([0-9]).*",
    system="Convert natural language to regular expression.",
    source="train.jsonl:7",
)


@pytest.mark.parametrize("family", sorted(TEMPLATES))
def test_spans_cover_exactly_the_query_and_answer(family):
    tokenizer = tiny_tokenizer(family)
    encoded = encode_chat(tokenizer, EXAMPLE, max_length=512)
    query = tokenizer.decode(encoded.input_ids[slice(*encoded.query_span)])
    answer = tokenizer.decode(encoded.input_ids[slice(*encoded.answer_span)])
    assert query == EXAMPLE.user
    assert answer == EXAMPLE.assistant
    assert encoded.query_span[1] <= encoded.answer_span[0]


@pytest.mark.parametrize("family", sorted(TEMPLATES))
def test_labels_are_answer_plus_end_of_turn(family):
    tokenizer = tiny_tokenizer(family)
    encoded = encode_chat(tokenizer, EXAMPLE, max_length=512)
    start = encoded.answer_span[0]
    assert all(label == IGNORE_INDEX for label in encoded.labels[:start])
    assert encoded.labels[start:] == encoded.input_ids[start:]
    trained = tokenizer.decode(encoded.labels[start:])
    assert trained.startswith(EXAMPLE.assistant) and TEMPLATES[family][1] in trained


def test_label_mode_all_trains_every_token():
    tokenizer = tiny_tokenizer("chatml")
    encoded = encode_chat(tokenizer, EXAMPLE, max_length=512, label_mode=LabelMode.ALL)
    assert encoded.labels == encoded.input_ids


def test_prompt_is_a_prefix_of_the_training_text():
    """Generation must see exactly the tokens training conditioned on."""
    for family in TEMPLATES:
        tokenizer = tiny_tokenizer(family)
        encoded = encode_chat(tokenizer, EXAMPLE, max_length=512)
        prompt = encode_prompt(tokenizer, EXAMPLE)
        assert encoded.input_ids[: len(prompt)] == prompt
        assert len(prompt) <= encoded.answer_span[0]


def test_answer_that_tokenizes_differently_inside_the_template():
    """With 'assistant: ' + answer, byte-level BPE glues the space to the answer's first word,
    so the answer's tokens in context differ from the answer encoded alone. The span still
    covers exactly the tokens carrying the answer's characters."""
    tokenizer = tiny_tokenizer("chatml")
    tokenizer.chat_template = "{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '<|im_end|>' }}{% endfor %}"
    example = ChatExample(user="lines with dog", assistant="with dog truck")
    encoded = encode_chat(tokenizer, example, max_length=512)
    span_ids = encoded.input_ids[slice(*encoded.answer_span)]
    alone = tokenizer(example.assistant, add_special_tokens=False)["input_ids"]
    assert span_ids != alone
    assert tokenizer.decode(span_ids).strip() == example.assistant
    rendered = render_chat(tokenizer, example)
    assert rendered.endswith("assistant: with dog truck<|im_end|>")


def test_max_length_cutting_the_answer_names_file_and_line():
    tokenizer = tiny_tokenizer("chatml")
    full = encode_chat(tokenizer, EXAMPLE, max_length=512)
    with pytest.raises(DataError, match=r"train.jsonl:7: messages.assistant: max_length=") as info:
        encode_chat(tokenizer, EXAMPLE, max_length=full.answer_span[1] - 1)
    assert info.value.line == 7
    # Cutting only the end-of-turn suffix is allowed: the answer is intact.
    cut = encode_chat(tokenizer, EXAMPLE, max_length=full.answer_span[1])
    assert len(cut.input_ids) == full.answer_span[1]
