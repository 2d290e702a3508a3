"""Span finding and labels across chat-template families."""

import pytest

from semantic_tube.data.chat import IGNORE_INDEX, ChatTemplateError, LabelMode, encode_chat, encode_prompt, render_chat
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


def test_max_length_cutting_the_end_of_turn_token_is_an_error():
    """Without its end-of-turn token an example never learns to stop; what follows it may go."""
    tokenizer = tiny_tokenizer("chatml")
    full = encode_chat(tokenizer, EXAMPLE, max_length=512)
    assert tokenizer.convert_ids_to_tokens(full.input_ids[full.answer_span[1]]) == "<|im_end|>"
    with pytest.raises(DataError, match="cuts the end-of-turn token"):
        encode_chat(tokenizer, EXAMPLE, max_length=full.answer_span[1])
    cut = encode_chat(tokenizer, EXAMPLE, max_length=full.answer_span[1] + 1)
    assert len(cut.input_ids) == full.answer_span[1] + 1 < len(full.input_ids)


@pytest.mark.parametrize("answer", ["s", "m", "user", "assistant", "_"])
def test_short_answers_are_found_after_the_generation_prompt(answer):
    """An answer like 's' also occurs in '<|im_start|>' and in the role names: searched from the
    end of the query it landed in the template header. It must be the assistant's text."""
    tokenizer = tiny_tokenizer("chatml")
    example = ChatExample(user="the letter", assistant=answer, system="sys")
    encoded = encode_chat(tokenizer, example, max_length=512)
    prompt = encode_prompt(tokenizer, example)
    assert encoded.answer_span[0] == len(prompt)
    assert tokenizer.decode(encoded.input_ids[slice(*encoded.answer_span)]) == answer


THINKING = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% if enable_thinking is not defined or enable_thinking %}{{ '<think>\n' }}{% endif %}{% endif %}"
)


def test_a_template_whose_prompt_is_not_a_prefix_is_named_and_kwargs_fix_it():
    tokenizer = tiny_tokenizer("chatml")
    tokenizer.chat_template = THINKING
    tokenizer.name_or_path = "thinking-model"
    with pytest.raises(ChatTemplateError, match="thinking-model.*enable_thinking"):
        encode_chat(tokenizer, EXAMPLE, max_length=512)
    kwargs = {"enable_thinking": False}
    encoded = encode_chat(tokenizer, EXAMPLE, max_length=512, template_kwargs=kwargs)
    assert encoded.input_ids[: encoded.answer_span[0]] == encode_prompt(tokenizer, EXAMPLE, kwargs)


HELLASWAG = ChatExample(
    system="Which one of A), B), C), or D) is the best ending? Answer A, B, C, or D.",
    user="A man walks a dog.\nA) He throws a ball.\nB) The dog sits down calmly.\nC) It rains.\nD) A car passes.",
    assistant="B",
    source="hellaswag.jsonl:3",
    text="A man walks a dog.",
    code="The dog sits down calmly.",
)


@pytest.mark.parametrize("family", sorted(TEMPLATES))
def test_views_give_the_trajectory_from_context_to_the_correct_ending(family):
    """Appendix G, multiple choice: STP runs from the context to the correct ending, the
    distractor options (and the template) left in the gap; NTP still trains the letter."""
    tokenizer = tiny_tokenizer(family)
    encoded = encode_chat(tokenizer, HELLASWAG, max_length=512)
    assert tokenizer.decode(encoded.input_ids[slice(*encoded.query_span)]).strip() == HELLASWAG.text
    assert tokenizer.decode(encoded.input_ids[slice(*encoded.answer_span)]).strip() == HELLASWAG.code
    gap = tokenizer.decode(encoded.input_ids[encoded.query_span[1] : encoded.answer_span[0]])
    assert "A) He throws a ball." in gap and "B)" in gap
    trained = [label for label in encoded.labels if label != IGNORE_INDEX]
    assert tokenizer.decode(trained).startswith("B")
    plain = encode_chat(tokenizer, HELLASWAG, max_length=512, use_views=False)
    assert tokenizer.decode(plain.input_ids[slice(*plain.answer_span)]) == "B"
    assert plain.labels == encoded.labels


def test_label_mode_reference_drops_only_the_eos_positions():
    """The reference collator (pad = eos) trains every token except those equal to the eos id."""
    tokenizer = tiny_tokenizer("chatml")
    encoded = encode_chat(tokenizer, EXAMPLE, max_length=512, label_mode=LabelMode.REFERENCE)
    eos = tokenizer.eos_token_id
    assert eos in encoded.input_ids
    for token, label in zip(encoded.input_ids, encoded.labels):
        assert label == (IGNORE_INDEX if token == eos else token)
    assert encoded.labels[: encoded.query_span[0]].count(IGNORE_INDEX) < encoded.query_span[0]  # the template is trained
