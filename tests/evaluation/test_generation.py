"""Batched greedy generation on tiny random models (float32): stop tokens and decoding."""

from __future__ import annotations

import pytest

from semantic_tube.evaluation.generation import _decode, end_of_turn_id, generate_answers, stop_token_ids
from tests.evaluation.chat_data import examples
from tests.tiny_models import tiny_tokenizer


def test_batched_and_one_at_a_time_decoding_agree(tiny):
    model, tokenizer = tiny
    batched = generate_answers(model, tokenizer, examples(), max_new_tokens=12, batch_size=4)
    single = generate_answers(model, tokenizer, examples(), max_new_tokens=12, batch_size=1)
    assert [g.text for g in batched] == [g.text for g in single]
    assert all(g.text for g in batched)


@pytest.mark.parametrize(("family", "token"), [("chatml", "<|im_end|>"), ("llama3", "<|eot_id|>"), ("gemma", "<end_of_turn>")])
def test_end_of_turn_token_is_a_stop_token(family, token):
    tokenizer = tiny_tokenizer(family)
    assert tokenizer.convert_ids_to_tokens(end_of_turn_id(tokenizer)) == token
    assert tokenizer.convert_tokens_to_ids(token) in stop_token_ids(tokenizer)


def test_decoding_cuts_at_the_first_stop_token():
    tokenizer = tiny_tokenizer("chatml")
    stop, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    text_ids = tokenizer("dog", add_special_tokens=False)["input_ids"]
    stopped = _decode(tokenizer, text_ids + [stop, pad, pad], [stop], max_new_tokens=5)
    assert stopped.text == "dog" and not stopped.truncated
    assert _decode(tokenizer, text_ids * 5, [stop], max_new_tokens=len(text_ids) * 5).truncated
