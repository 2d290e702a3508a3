"""`evaluate` on tiny random models: the task's fixed budget, prompts rendered as in training,
training mode restored, progress, the analyses, and the errors raised before any work."""

from __future__ import annotations

import json
import math

import pytest

from semantic_tube.data.chat import encode_chat
from semantic_tube.data.messages import ChatExample
from semantic_tube.evaluation import evaluate
from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.representations import text_code_embeddings
from semantic_tube.evaluation.scorers import ScoreOptions
from semantic_tube.evaluation.straightness import trajectory_straightness
from semantic_tube.evaluation.tasks import get_task
from tests.evaluation.chat_data import examples, hellaswag
from tests.tiny_models import CHATML, tiny_model, tiny_tokenizer


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


def test_analyses_on_a_tiny_model(tmp_path):
    tokenizer = tiny_tokenizer("chatml")
    model = tiny_model(tokenizer, seed=1).eval()
    data = [ChatExample(user=f"lines with a vowel {i}", assistant=f"dog.*{i}") for i in range(5)]
    text, code = text_code_embeddings(model, tokenizer, data, batch_size=2)
    assert text.shape == code.shape == (5, 32)
    values = trajectory_straightness(model, tokenizer, data, batch_size=2, triplets=4)
    assert 0 <= values["stp"] <= 2 and 0 <= values["curvature_deg"] <= 180 and values["stp_triplets"] == 20
    assert not math.isnan(values["curvature_deg"])
    report = evaluate(model, tokenizer, "nq_open", data, max_new_tokens=2, analyses=("svd", "straightness"), output_dir=tmp_path)
    assert report.metrics["svd/rank_raw"] <= 5 and "straightness/stp" in report.metrics
    assert json.loads((tmp_path / "svd.json").read_text())["count"] == 5
    assert (tmp_path / "svd.png").stat().st_size > 0


class Untouched:
    """Stands in for a model and a tokenizer that must not be used: any attribute read fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"the model was used ({name}) before the arguments were checked")


@pytest.mark.parametrize(
    ("task", "data", "settings", "message"),
    [
        ("synth", [ChatExample(user="q", assistant="a")], {"analyses": ("svd", "pca")}, "unknown analysis pca; known: svd, straightness"),
        ("synth", [], {}, "no examples to evaluate task synth on"),
        ("synth", [ChatExample(user="q", assistant="a")], {"max_new_tokens": -2}, "max_new_tokens must be >= 1, got -2"),
        ("mmlu", [ChatExample(user="q", assistant="a")], {}, "unknown task 'mmlu'"),
        ("spider", [ChatExample(user="For db_id:[x]\n\nq", assistant="SELECT 1")], {}, "--db_dir"),
    ],
)
def test_bad_arguments_fail_before_the_model_runs(task, data, settings, message):
    with pytest.raises(EvalError, match=message):
        evaluate(Untouched(), Untouched(), task, data, **settings)


def test_a_spider_prediction_is_scored_on_the_named_database(tiny, spider_db_dir, tmp_path):
    """Whatever the tiny model writes, the reference runs on concert_mini: 5 singers."""
    model, tokenizer = tiny
    example = ChatExample(user="For db_id:[concert_mini]\n\nhow many singers?", assistant="SELECT count(*) FROM singer", source="mem:0")
    report = evaluate(model, tokenizer, "spider", [example], max_new_tokens=3, score_options=ScoreOptions(db_dir=spider_db_dir, sqlite_shell=None))
    (record,) = report.predictions
    assert {key: record[key] for key in ("source", "system", "prompt", "reference")} == {
        "source": "mem:0",
        "system": None,
        "prompt": example.user,
        "reference": "SELECT count(*) FROM singer",
    }
    assert report.metrics["count"] == 1 and report.meta["max_new_tokens"] == 3
    assert record["verdicts"]["execution"] is False  # three tokens cannot spell the query
