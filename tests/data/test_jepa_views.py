"""LLM-JEPA's views: each rendered alone with the chat template, Enc at the right token, and how
the views travel through encode_examples and STPCollator."""

import pytest
import torch

from semantic_tube.data.chat import encode_chat
from semantic_tube.data.collator import STPCollator, encode_examples
from semantic_tube.data.jepa_views import JEPA_BATCH_KEYS, JepaViewOptions, encode_jepa_views, predictor_token_names
from semantic_tube.data.messages import ChatExample, DataError
from semantic_tube.methods.tokens import add_special_tokens
from tests.tiny_models import GEMMA, TEMPLATES, tiny_model, tiny_tokenizer

EXAMPLE = ChatExample(
    user="lines with a vowel before a number",
    assistant=".*[AEIOUaeiou].*([0-9]).*",
    system="Convert natural language to regular expression.",
    source="train.jsonl:7",
)
# Gemma's real templates refuse a conversation that does not start with the user.
STRICT_GEMMA = (
    "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% endfor %}"
) + GEMMA
# The rendered view of each family: header, content, what closes the turn.
RENDERED = {
    "chatml": ("<|im_start|>{role}\n", "<|im_end|>\n"),
    "llama3": ("<|begin_of_text|><|start_header_id|>{role}<|end_header_id|>\n\n", "<|eot_id|>"),
    "gemma": ("<bos><start_of_turn>{role}\n", "<end_of_turn>\n"),
}


def with_predictors(family, k):
    tokenizer = tiny_tokenizer(family)
    add_special_tokens(tiny_model(tokenizer), tokenizer, predictor_token_names(k))
    return tokenizer


@pytest.mark.parametrize("family", sorted(TEMPLATES))
def test_views_are_the_query_alone_and_the_answer_alone(family):
    """No system prompt in the Text view (the reference's messages[1:2]), the answer as a
    conversation of its own, and Enc at each content's last token."""
    tokenizer = tiny_tokenizer(family)
    views = encode_jepa_views(tokenizer, EXAMPLE, JepaViewOptions(), max_length=512)
    header, end = RENDERED[family]
    assistant_role = "model" if family == "gemma" else "assistant"
    assert tokenizer.decode(views.text_ids) == header.format(role="user") + EXAMPLE.user + end
    assert tokenizer.decode(views.code_ids) == header.format(role=assistant_role) + EXAMPLE.assistant + end
    assert tokenizer.decode(views.text_ids[: views.text_last + 1]).endswith(EXAMPLE.user)
    assert not tokenizer.decode(views.text_ids[views.text_last + 1 :]).strip(" \n").startswith(EXAMPLE.user[-1])
    assert tokenizer.decode(views.code_ids[: views.code_last + 1]).endswith(EXAMPLE.assistant)
    assert tokenizer.decode(views.code_ids[views.code_last + 1 :]) == end


@pytest.mark.parametrize("family", sorted(TEMPLATES))
@pytest.mark.parametrize("k", [1, 2])
def test_predictor_tokens_end_the_text_view_and_hold_enc(family, k):
    tokenizer = with_predictors(family, k)
    views = encode_jepa_views(tokenizer, EXAMPLE, JepaViewOptions(predictor_tokens=k), max_length=512)
    suffix = "".join(f"<|predictor_{i}|>" for i in range(k, 0, -1))  # counting down, as the reference appends them
    header, end = RENDERED[family]
    assert tokenizer.decode(views.text_ids) == header.format(role="user") + EXAMPLE.user + suffix + end
    assert tokenizer.convert_ids_to_tokens(views.text_ids[views.text_last]) == "<|predictor_1|>"
    predictor_ids = set(tokenizer.convert_tokens_to_ids(predictor_token_names(k)))
    assert len(predictor_ids & set(views.text_ids)) == k and not predictor_ids & set(views.code_ids)
    no_predictors = encode_jepa_views(tokenizer, EXAMPLE, JepaViewOptions(), max_length=512)
    assert views.code_ids == no_predictors.code_ids and len(views.text_ids) == len(no_predictors.text_ids) + k


def test_predictor_tokens_must_be_added_first():
    with pytest.raises(ValueError, match="not a single token"):
        encode_jepa_views(tiny_tokenizer("chatml"), EXAMPLE, JepaViewOptions(predictor_tokens=1), max_length=512)


@pytest.mark.parametrize(("family", "offset"), [("llama3", -2), ("chatml", -3), ("gemma", -3)])
def test_last_token_offset_counts_from_the_end(family, offset):
    """The reference's fixed offsets: on these templates, the offset that lands on the last content token."""
    tokenizer = tiny_tokenizer(family)
    default = encode_jepa_views(tokenizer, EXAMPLE, JepaViewOptions(), max_length=512)
    fixed = encode_jepa_views(tokenizer, EXAMPLE, JepaViewOptions(last_token_offset=offset), max_length=512)
    assert fixed.text_ids == default.text_ids and fixed.code_ids == default.code_ids
    assert (fixed.text_last, fixed.code_last) == (len(fixed.text_ids) + offset, len(fixed.code_ids) + offset)
    assert (fixed.text_last, fixed.code_last) == (default.text_last, default.code_last)
    last = encode_jepa_views(tokenizer, EXAMPLE, JepaViewOptions(last_token_offset=-1), max_length=512)
    assert (last.text_last, last.code_last) == (len(last.text_ids) - 1, len(last.code_ids) - 1)


def test_last_token_offset_must_be_negative_and_inside_the_view():
    with pytest.raises(ValueError, match="negative"):
        JepaViewOptions(last_token_offset=0)
    with pytest.raises(ValueError, match=">= 0"):
        JepaViewOptions(predictor_tokens=-1)
    with pytest.raises(DataError, match="train.jsonl:7: messages.user: last_token_offset=-1000"):
        encode_jepa_views(tiny_tokenizer("chatml"), EXAMPLE, JepaViewOptions(last_token_offset=-1000), max_length=512)


def test_from_args():
    class Args:
        jepa_predictor_tokens, jepa_last_token = 2, -3

    assert JepaViewOptions.from_args(Args) == JepaViewOptions(predictor_tokens=2, last_token_offset=-3)


def test_a_template_that_refuses_an_assistant_first_conversation_gets_a_user_turn():
    """Gemma's templates raise on a conversation that starts with the assistant; the reference then
    re-roles the answer as a user turn, and so does this, detected from the template's error."""
    tokenizer = tiny_tokenizer("gemma")
    tokenizer.chat_template = STRICT_GEMMA
    with pytest.raises(Exception, match="alternate"):
        tokenizer.apply_chat_template([{"role": "assistant", "content": "x"}], tokenize=False)
    views = encode_jepa_views(tokenizer, EXAMPLE, JepaViewOptions(), max_length=512)
    assert tokenizer.decode(views.code_ids) == "<bos><start_of_turn>user\n" + EXAMPLE.assistant + "<end_of_turn>\n"
    assert tokenizer.decode(views.code_ids[: views.code_last + 1]).endswith(EXAMPLE.assistant)


def test_a_template_that_drops_the_turn_gets_a_user_turn():
    tokenizer = tiny_tokenizer("chatml")
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] != 'assistant' %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endif %}{% endfor %}"
    )
    views = encode_jepa_views(tokenizer, EXAMPLE, JepaViewOptions(), max_length=512)
    assert tokenizer.decode(views.code_ids) == "<|im_start|>user\n" + EXAMPLE.assistant + "<|im_end|>\n"


def test_a_template_that_renders_neither_is_a_data_error():
    tokenizer = tiny_tokenizer("chatml")
    tokenizer.chat_template = "{% for m in messages %}{% if m['role'] == 'user' %}{{ raise_exception('no') }}{% endif %}{{ m['role'] }}{% endfor %}"
    with pytest.raises(DataError, match="messages.user: the chat template cannot render"):
        encode_jepa_views(tokenizer, EXAMPLE, JepaViewOptions(), max_length=512)


def test_content_equal_to_template_text_is_found_in_the_turn_not_the_header():
    """A content that also occurs in the role header or a default system block, as Llama 3's
    templates always render one (with a date), is located where the turn's content starts."""
    tokenizer = tiny_tokenizer("llama3")
    tokenizer.chat_template = (
        "{{ '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nToday Date: 2024 user<|eot_id|>' }}"
        "{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' + m['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    )
    example = ChatExample(user="user", assistant="2024")
    views = encode_jepa_views(tokenizer, example, JepaViewOptions(), max_length=512)
    assert tokenizer.decode(views.text_ids[views.text_last + 1 :]) == "<|eot_id|>"
    assert tokenizer.decode(views.code_ids[views.code_last + 1 :]) == "<|eot_id|>"
    assert tokenizer.decode(views.code_ids[: views.code_last + 1]).endswith("assistant<|end_header_id|>\n\n2024")


def test_text_and_code_views_replace_the_turns():
    """A line's `text` and `code` (HellaSwag: the context and the correct ending) are LLM-JEPA's Text and Code."""
    tokenizer = tiny_tokenizer("chatml")
    example = ChatExample(user="Context: a dog. Options: A B", assistant="B", text="a dog", code="runs to the truck", source="h.jsonl:3")
    views = encode_jepa_views(tokenizer, example, JepaViewOptions(), max_length=512)
    assert tokenizer.decode(views.text_ids) == "<|im_start|>user\na dog<|im_end|>\n"
    assert tokenizer.decode(views.code_ids) == "<|im_start|>assistant\nruns to the truck<|im_end|>\n"
    turns = encode_jepa_views(tokenizer, example, JepaViewOptions(), max_length=512, use_views=False)
    assert tokenizer.decode(turns.code_ids) == "<|im_start|>assistant\nB<|im_end|>\n"
    with pytest.raises(DataError, match="h.jsonl:3: code: max_length=8"):
        encode_jepa_views(tokenizer, ChatExample(user="a", assistant="B", code="runs " * 20, source="h.jsonl:3"), JepaViewOptions(), max_length=8)


def test_too_long_views_name_the_field():
    tokenizer = tiny_tokenizer("chatml")
    code = encode_jepa_views(tokenizer, EXAMPLE, JepaViewOptions(), max_length=512).code_ids
    with pytest.raises(DataError, match=r"train.jsonl:7: messages.user: max_length=4 cuts the LLM-JEPA view"):
        encode_jepa_views(tokenizer, EXAMPLE, JepaViewOptions(), max_length=4)
    long_answer = ChatExample(user="a", assistant=EXAMPLE.assistant, source="train.jsonl:9")
    with pytest.raises(DataError, match=r"train.jsonl:9: messages.assistant: max_length="):
        encode_jepa_views(tokenizer, long_answer, JepaViewOptions(), max_length=len(code) - 1)


# --------------------------------------------------------------------------------------------
# encode_examples and STPCollator


def test_encode_examples_fills_the_view_fields_only_when_asked():
    tokenizer = tiny_tokenizer("chatml")
    examples = [EXAMPLE, ChatExample(user="lines with dog", assistant="dog")]
    plain = encode_examples(tokenizer, examples, max_length=512)
    assert all(item.jepa_text_ids is None and item.jepa_code_last is None for item in plain.items)
    assert not any(key.startswith("jepa_") for key in plain[0])
    assert plain.items[0] == encode_chat(tokenizer, EXAMPLE, max_length=512)
    with_views = encode_examples(tokenizer, examples, max_length=512, jepa_views=JepaViewOptions(last_token_offset=-3))
    views = encode_jepa_views(tokenizer, examples[1], JepaViewOptions(last_token_offset=-3), max_length=512)
    item = with_views[1]
    assert (item["jepa_text_ids"], item["jepa_text_last"], item["jepa_code_ids"], item["jepa_code_last"]) == (
        views.text_ids,
        views.text_last,
        views.code_ids,
        views.code_last,
    )
    assert {key: value for key, value in item.items() if not key.startswith("jepa_")} == plain[1]


def test_encode_examples_skips_examples_whose_views_are_too_long():
    """With 60 predictor tokens a Text view can be longer than its whole conversation: both of
    these conversations fit in max_length, only the first example's views do."""
    tokenizer = with_predictors("chatml", 60)
    options = JepaViewOptions(predictor_tokens=60)
    fits = ChatExample(user="dog", assistant="dog.*truck " * 12, source="d.jsonl:1")
    long_query = ChatExample(user="lines with a vowel before a number dog truck ring", assistant="dog", source="d.jsonl:2")
    max_length = len(encode_jepa_views(tokenizer, fits, options, max_length=512).text_ids)
    assert all(len(encode_chat(tokenizer, e, max_length=512).input_ids) <= max_length for e in (fits, long_query))
    with pytest.raises(DataError, match="d.jsonl:2: messages.user: max_length="):
        encode_examples(tokenizer, [fits, long_query], max_length=max_length, jepa_views=options)
    dataset = encode_examples(tokenizer, [fits, long_query], max_length=max_length, skip_invalid=True, jepa_views=options)
    assert len(dataset) == 1 and [err.line for err in dataset.skipped] == [2]
    assert len(encode_examples(tokenizer, [fits, long_query], max_length=max_length)) == 2


def test_collator_pads_each_view_to_its_own_longest():
    tokenizer = tiny_tokenizer("chatml")
    examples = [EXAMPLE, ChatExample(user="lines with dog", assistant="dog.*truck.*ring.*lake.*ring.*")]
    dataset = encode_examples(tokenizer, examples, max_length=512, jepa_views=JepaViewOptions())
    collator = STPCollator(pad_token_id=tokenizer.pad_token_id)
    batch = collator([dataset[0], dataset[1]])
    plain = collator([{k: v for k, v in dataset[i].items() if not k.startswith("jepa_")} for i in (0, 1)])
    assert set(batch) == set(plain) | set(JEPA_BATCH_KEYS)
    assert all(torch.equal(batch[key], plain[key]) for key in plain)
    for view in ("text", "code"):
        ids = [dataset[i][f"jepa_{view}_ids"] for i in (0, 1)]
        lengths = [len(x) for x in ids]
        assert batch[f"jepa_{view}_input_ids"].shape == (2, max(lengths))
        assert batch[f"jepa_{view}_attention_mask"].sum(1).tolist() == lengths
        for row in (0, 1):
            assert batch[f"jepa_{view}_input_ids"][row, : lengths[row]].tolist() == ids[row]
            assert (batch[f"jepa_{view}_input_ids"][row, lengths[row] :] == tokenizer.pad_token_id).all()
        assert batch[f"jepa_{view}_last"].tolist() == [dataset[i][f"jepa_{view}_last"] for i in (0, 1)]
        assert batch[f"jepa_{view}_last"].dtype == torch.long
    multiple = STPCollator(pad_token_id=tokenizer.pad_token_id, pad_to_multiple_of=8)([dataset[0]])
    assert multiple["jepa_text_input_ids"].shape[1] % 8 == 0 and multiple["jepa_code_input_ids"].shape[1] % 8 == 0


def test_collator_refuses_a_batch_mixing_items_with_and_without_views():
    tokenizer = tiny_tokenizer("chatml")
    with_views = encode_examples(tokenizer, [EXAMPLE], max_length=512, jepa_views=JepaViewOptions())
    plain = encode_examples(tokenizer, [EXAMPLE], max_length=512)
    with pytest.raises(ValueError, match="mixes"):
        STPCollator(pad_token_id=tokenizer.pad_token_id)([with_views[0], plain[0]])
