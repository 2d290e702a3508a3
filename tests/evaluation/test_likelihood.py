"""Multiple choice by likelihood on tiny random models: the next-token fast path equals per-option
scoring on one-token answers, batching changes nothing, and per-option scores are the plain sum of
the answer tokens' log-probabilities."""

from __future__ import annotations

import pytest
import torch

from semantic_tube.data.chat import encode_chat
from semantic_tube.data.messages import ChatExample
from semantic_tube.evaluation import evaluate
from semantic_tube.evaluation.likelihood import (
    NEXT_TOKEN,
    PER_OPTION,
    choose_options,
    next_token_log_probs,
    option_log_likelihoods,
    single_token_ids,
)
from tests.evaluation.chat_data import QUERIES, hellaswag


def test_option_likelihoods_do_not_depend_on_batching(tiny):
    model, tokenizer = tiny
    queries = [ChatExample(user=f"context {q}\nA) one\nB) two\nC) three", assistant="B") for q in QUERIES[:3]]
    options = [["A", "B", "C"]] * 3
    batched = option_log_likelihoods(model, tokenizer, queries, options, batch_size=9)
    single = option_log_likelihoods(model, tokenizer, queries, options, batch_size=1)
    for a, b in zip(batched, single):
        assert a.keys() == {"A", "B", "C"} and all(a[k] == pytest.approx(b[k], abs=1e-4) for k in a)


def test_next_token_letters_score_as_the_per_option_answers(tiny):
    """A one-token answer's log-likelihood is the log-probability read at the prompt's last
    position, so both methods give the same numbers, hence the same ranking."""
    model, tokenizer = tiny
    data, options = hellaswag(4), [["A", "B", "C", "D"]] * 4
    token_ids = single_token_ids(tokenizer, data[0], ["A", "B", "C", "D"])
    assert token_ids is not None
    fast = next_token_log_probs(model, tokenizer, data, options, token_ids, batch_size=3)
    slow = option_log_likelihoods(model, tokenizer, data, options, batch_size=3)
    for a, b in zip(fast, slow):
        assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], abs=1e-4) for k in a)
        assert sorted(a, key=a.get) == sorted(b, key=b.get)


def forward_rows(model, run) -> list[int]:
    """The batch size of every forward pass `run()` makes."""
    rows = []
    handle = model.register_forward_pre_hook(lambda module, args, kwargs: rows.append(kwargs["input_ids"].shape[0]), with_kwargs=True)
    try:
        run()
    finally:
        handle.remove()
    return rows


def test_hellaswag_runs_one_forward_per_example(tiny):
    model, tokenizer = tiny
    report = None

    def run():
        nonlocal report
        report = evaluate(model, tokenizer, "hellaswag", hellaswag(3), batch_size=1)

    assert forward_rows(model, run) == [1, 1, 1]
    assert report.meta["choice_scoring"] == NEXT_TOKEN
    assert forward_rows(model, lambda: evaluate(model, tokenizer, "hellaswag", hellaswag(3), batch_size=8)) == [3]


def test_multi_token_options_fall_back_to_per_option_scoring(tiny):
    model, tokenizer = tiny
    data, options = hellaswag(2), [["dog.*", "truck or ring"]] * 2
    scores, method = choose_options(model, tokenizer, data, options, batch_size=4)
    assert method == PER_OPTION
    assert scores == option_log_likelihoods(model, tokenizer, data, options, batch_size=4)


def test_views_do_not_move_the_scored_answer(tiny):
    """A line with `text`/`code` views (the paper's HellaSwag file) is scored on its option
    letters, not on the view STP trains on."""
    import dataclasses

    model, tokenizer = tiny
    data, options = hellaswag(2), [["dog.*", "truck or ring"]] * 2
    viewed = [dataclasses.replace(example, text=example.user.split("\n")[0], code="z") for example in data]
    assert option_log_likelihoods(model, tokenizer, viewed, options) == option_log_likelihoods(model, tokenizer, data, options)


def test_an_options_score_is_the_sum_of_its_answer_tokens_log_probabilities(tiny):
    """Parity with a plain loop: run the whole conversation alone, and add log p(token | before)
    over the answer span's tokens (the end-of-turn token after them left out)."""
    model, tokenizer = tiny
    example = ChatExample(user=f"context {QUERIES[1]}", assistant="unused")
    options = ["dog.*", "truck or ring"]
    (scores,) = option_log_likelihoods(model, tokenizer, [example], [options], batch_size=2)
    for option in options:
        encoded = encode_chat(tokenizer, ChatExample(user=example.user, assistant=option), max_length=1 << 30, use_views=False)
        start, end = encoded.answer_span
        assert end - start > 1
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([encoded.input_ids])).logits[0]
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        expected = sum(float(log_probs[p - 1, encoded.input_ids[p]]) for p in range(start, end))
        assert scores[option] == pytest.approx(expected, abs=1e-4)


def test_letters_are_one_token_each_and_multi_token_options_are_not(tiny):
    model, tokenizer = tiny
    example = hellaswag(1)[0]
    token_ids = single_token_ids(tokenizer, example, ["A", "B", "C", "D"])
    assert {letter: tokenizer.decode([token]) for letter, token in token_ids.items()} == {letter: letter for letter in "ABCD"}
    assert single_token_ids(tokenizer, example, ["A", "truck or ring"]) is None


def test_one_token_options_are_scored_by_the_next_token(tiny):
    model, tokenizer = tiny
    data, options = hellaswag(2), [["A", "B", "C", "D"], ["A", "B"]]
    scores, method = choose_options(model, tokenizer, data, options, batch_size=2)
    assert method == NEXT_TOKEN
    assert [set(s) for s in scores] == [{"A", "B", "C", "D"}, {"A", "B"}]  # each example's own options
    token_ids = single_token_ids(tokenizer, data[0], ["A", "B", "C", "D"])
    assert scores == next_token_log_probs(model, tokenizer, data, options, token_ids, batch_size=2)
    assert all(value < 0 for s in scores for value in s.values())
