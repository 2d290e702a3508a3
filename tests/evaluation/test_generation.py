"""Batched generation and likelihood ranking on tiny random models (float32)."""

from __future__ import annotations

import json

import pytest

from semantic_tube.data.chat import encode_chat
from semantic_tube.data.messages import ChatExample
from semantic_tube.evaluation import evaluate
from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.generation import _decode, end_of_turn_id, generate_answers, stop_token_ids
from semantic_tube.evaluation.likelihood import (
    NEXT_TOKEN,
    PER_OPTION,
    choose_options,
    next_token_log_probs,
    option_log_likelihoods,
    single_token_ids,
)
from semantic_tube.evaluation.tasks import get_task
from tests.tiny_models import CHATML, tiny_model, tiny_tokenizer

QUERIES = ["lines with a vowel", "lines containing the string 'dog' followed by a capital letter", "a", "lines with a number " * 3, "dog", "truck or ring"]


@pytest.fixture(scope="module", params=["chatml", "llama3"])
def tiny(request):
    tokenizer = tiny_tokenizer(request.param)
    return tiny_model(tokenizer, seed=3).eval(), tokenizer


def examples(system="Convert natural language to regular expression."):
    return [ChatExample(user=query, assistant=".*dog.*", system=system, source=f"mem:{i}") for i, query in enumerate(QUERIES)]


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


def test_budget_does_not_depend_on_the_examples():
    """An example evaluated alone or beside a long reference (another --limit) gets the task's
    fixed budget, hence the same prediction and verdict."""
    tokenizer = tiny_tokenizer("chatml")
    model = tiny_model(tokenizer, seed=3).eval()
    first = examples()[0]
    alone = evaluate(model, tokenizer, "nq_open", [first])
    beside_long = evaluate(model, tokenizer, "nq_open", [first, ChatExample(user="q", assistant="x " * 300)])
    assert alone.meta["max_new_tokens"] == beside_long.meta["max_new_tokens"] == get_task("nq_open").max_new_tokens == 128
    assert alone.predictions[0]["prediction"] == beside_long.predictions[0]["prediction"]
    assert alone.predictions[0]["verdicts"] == beside_long.predictions[0]["verdicts"]
    assert get_task("gsm8k").max_new_tokens == 512
    with pytest.raises(EvalError, match="max_new_tokens must be >= 1"):
        evaluate(model, tokenizer, "nq_open", [first], max_new_tokens=0)


def test_option_likelihoods_do_not_depend_on_batching(tiny):
    model, tokenizer = tiny
    queries = [ChatExample(user=f"context {q}\nA) one\nB) two\nC) three", assistant="B") for q in QUERIES[:3]]
    options = [["A", "B", "C"]] * 3
    batched = option_log_likelihoods(model, tokenizer, queries, options, batch_size=9)
    single = option_log_likelihoods(model, tokenizer, queries, options, batch_size=1)
    for a, b in zip(batched, single):
        assert a.keys() == {"A", "B", "C"} and all(a[k] == pytest.approx(b[k], abs=1e-4) for k in a)


def hellaswag(n):
    return [ChatExample(user=f"ctx {i} {QUERIES[i % len(QUERIES)]}\nA) x\nB) y\nC) z\nD) w", assistant="C") for i in range(n)]


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


def test_evaluate_hellaswag_ranks_without_generation(tiny, tmp_path):
    model, tokenizer = tiny
    data = [ChatExample(user=f"ctx {i}\nA) x\nB) y\nC) z\nD) w", assistant="C") for i in range(3)]
    report = evaluate(model, tokenizer, "hellaswag", data, batch_size=8, output_dir=tmp_path)
    assert report.metrics["count"] == 3 and 0 <= report.metrics["accuracy"] <= 1
    first = report.predictions[0]
    assert first["prediction"] == max(first["choices"], key=first["choices"].get)
    assert (tmp_path / "predictions.jsonl").is_file() and (tmp_path / "eval.json").is_file()


def test_evaluate_restores_training_mode_and_records_truncation(tiny):
    model, tokenizer = tiny
    model.train()
    report = evaluate(model, tokenizer, "nq_open", examples(system=None)[:3], batch_size=2, max_new_tokens=4)
    assert model.training
    model.eval()
    assert report.meta["max_new_tokens"] == 4
    assert report.predictions[0]["system"] is None  # as written: no task default is filled in
    assert report.meta["truncated"] == sum(record["truncated"] for record in report.predictions)


def first_forward_ids(model, run) -> list[int]:
    """The input ids of the first sequence in the first forward pass `run()` makes."""
    seen = []
    handle = model.register_forward_pre_hook(lambda module, args, kwargs: seen.append(kwargs["input_ids"][0].tolist()), with_kwargs=True)
    try:
        run()
    finally:
        handle.remove()
    return seen[0]


DEFAULT_SYSTEM = "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"


@pytest.mark.parametrize("default_system", [False, True], ids=["plain", "template-default-system"])
def test_the_model_is_prompted_with_the_start_of_the_training_sequence(tmp_path, default_system):
    """A line without a system turn is evaluated without one (the template's own default applies,
    as in training, as SmolLM2's template does): the prompt is the training sequence up to the
    answer, token for token."""
    tokenizer = tiny_tokenizer("chatml")
    if default_system:
        tokenizer.chat_template = DEFAULT_SYSTEM + CHATML
    model = tiny_model(tokenizer, seed=3).eval()
    data = tmp_path / "nq.jsonl"
    line = {"messages": [{"role": "user", "content": "lines with a vowel"}, {"role": "assistant", "content": "dog"}]}
    data.write_text(json.dumps(line) + "\n")
    (example,) = get_task("nq_open").load(data)
    assert example.system is None
    prompt = first_forward_ids(model, lambda: evaluate(model, tokenizer, "nq_open", [example], max_new_tokens=1))
    trained = encode_chat(tokenizer, example, max_length=512)
    assert prompt == trained.input_ids[: trained.answer_span[0]]
    assert ("helpful assistant" in tokenizer.decode(prompt)) == default_system


def test_template_kwargs_reach_the_chat_template():
    tokenizer = tiny_tokenizer("chatml")
    tokenizer.chat_template = "{{ marker or '' }}" + CHATML
    model = tiny_model(tokenizer, seed=3).eval()
    example = ChatExample(user="lines with a vowel", assistant="dog")
    plain = first_forward_ids(model, lambda: evaluate(model, tokenizer, "nq_open", [example], max_new_tokens=1))
    marked = first_forward_ids(
        model, lambda: evaluate(model, tokenizer, "nq_open", [example], max_new_tokens=1, template_kwargs={"marker": "dog"})
    )
    assert marked == tokenizer("dog", add_special_tokens=False)["input_ids"] + plain


@pytest.mark.parametrize("task", ["nq_open", "hellaswag"])
def test_progress_goes_to_stderr_and_can_be_turned_off(tiny, capsys, task):
    model, tokenizer = tiny
    data = hellaswag(3) if task == "hellaswag" else examples()[:3]
    evaluate(model, tokenizer, task, data, batch_size=2, max_new_tokens=2)
    captured = capsys.readouterr()
    assert "3/3" in captured.err and "3/3" not in captured.out
    evaluate(model, tokenizer, task, data, batch_size=2, max_new_tokens=2, progress=False)
    assert capsys.readouterr().err == ""
