"""`stp train` end to end on the row forms beyond single exchanges: a conversation JSONL (messages
and ShareGPT rows of several exchanges, under each stp_draw_scope), a plain-text JSONL, and the
same rows as a local `datasets` data set (--dataset_name: ShareGPT, plain text, and a table mixing
both, whose rows have each other's columns as nulls), which trains exactly as the JSONL does."""

import json

import pytest
import torch
import yaml
from safetensors.torch import load_file

from semantic_tube.cli import main
from tests.tiny_models import save_tiny
from tests.training.test_conversation_training import write_rows

WORDS = ["dog", "truck", "ring", "lake"]


def sharegpt(i: int) -> dict:
    turns = [{"from": "system", "value": "Convert natural language to regular expression."}] if i % 2 else []
    for j in range(1 + i % 3):
        turns += [{"from": "human", "value": f"lines with '{WORDS[i % 4]}' {j} times"}, {"from": "gpt", "value": f"({WORDS[i % 4]}){{{j}}}.*"}]
    return {"conversations": turns}


def text(i: int) -> dict:
    return {"text": f"The {WORDS[i % 4]} stood by the lake with a truck and a ring, {i} times."}


ROWS = {
    "sharegpt": [sharegpt(i) for i in range(12)],
    "text": [text(i) for i in range(12)],
    # every row has both columns, one of them null, as a table (or datasets' JSON reader) gives them
    "mixed": [{**sharegpt(i), "text": None} if i % 2 else {"conversations": None, **text(i)} for i in range(12)],
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("rows") / "tiny", "llama3", seed=1)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps({k: v for k, v in row.items() if v is not None}) + "\n" for row in rows))
    return path


def train(model_dir, out, *options) -> dict:
    argv = ["train", "--model_name_or_path", str(model_dir), "--output_dir", str(out), "--max_steps", "4",
            "--per_device_train_batch_size", "4", "--learning_rate", "0.005", "--logging_steps", "2", "--report_to", "none",
            "--save_strategy", "no", "--use_cpu", "true", "--seed", "82", "--cost_batches", "0", "--treatment_batches", "1", *options]  # fmt: skip
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["log"] = [entry for entry in json.loads((out / "trainer_state.json").read_text())["log_history"] if "ntp_loss" in entry]
    metrics["config"] = yaml.safe_load((out / "stp_config.yaml").read_text())
    return metrics


def assert_trained(model_dir, out, metrics, examples):
    assert metrics["train_examples"] == examples
    assert len(metrics["log"]) == 2 and all("stp_loss" in entry for entry in metrics["log"])
    for entry in metrics["log"]:
        assert entry["loss"] == pytest.approx(entry["ntp_loss"] + 0.02 * entry["stp_loss"], rel=1e-4, abs=1e-4)
    before, after = load_file(model_dir / "model.safetensors"), load_file(out / "model.safetensors")
    assert [name for name in before if torch.equal(before[name], after[name])] == []


@pytest.mark.parametrize("scope", ["conversation", "exchange"])
def test_a_conversation_file_trains_end_to_end(model_dir, tmp_path, scope):
    """Messages and ShareGPT rows of one to three exchanges, with plain text among them, and a
    held-out file of the same: every weight trained, STP logged beside NTP, eval losses recorded,
    the draw scope in the resolved config."""
    train_file, eval_file = write_rows(tmp_path / "train.jsonl", 12), write_rows(tmp_path / "eval.jsonl", 4)
    out = tmp_path / "run"
    metrics = train(model_dir, out, "--train_file", str(train_file), "--eval_file", str(eval_file), "--stp_draw_scope", scope)
    assert_trained(model_dir, out, metrics, 12)
    assert "eval_loss" in metrics and "eval_stp_loss" in metrics
    assert metrics["config"]["stp_draw_scope"] == scope


@pytest.mark.parametrize("packing", ["false", "true"])
def test_a_plain_text_file_trains_end_to_end(model_dir, tmp_path, packing):
    train_file, eval_file = write_jsonl(tmp_path / "train.jsonl", ROWS["text"]), write_jsonl(tmp_path / "eval.jsonl", ROWS["text"][:4])
    out = tmp_path / "run"
    metrics = train(model_dir, out, "--train_file", str(train_file), "--eval_file", str(eval_file), "--packing", packing)
    assert_trained(model_dir, out, metrics, 12)
    assert "eval_loss" in metrics and "eval_stp_loss" in metrics


@pytest.mark.parametrize("kind", ["sharegpt", "text", "mixed"])
@pytest.mark.parametrize("saved", [True, False], ids=["save_to_disk", "load_dataset"])
def test_dataset_name_reads_sharegpt_text_and_mixed_tables_as_their_jsonl(model_dir, tmp_path, kind, saved):
    """--dataset_name on a save_to_disk folder, or a folder of JSON files datasets.load_dataset
    reads: the run logs the losses the same rows give as --train_file, and trains every weight."""
    from datasets import Dataset

    folder = tmp_path / "data"
    if saved:
        Dataset.from_list(ROWS[kind]).save_to_disk(str(folder))
    else:
        folder.mkdir()
        write_jsonl(folder / "train.jsonl", ROWS[kind])
    out = tmp_path / "from-dataset"
    from_dataset = train(model_dir, out, "--dataset_name", str(folder))
    assert_trained(model_dir, out, from_dataset, 12)
    from_file = train(model_dir, tmp_path / "from-file", "--train_file", str(write_jsonl(tmp_path / "rows.jsonl", ROWS[kind])))
    assert [(e["ntp_loss"], e["stp_loss"]) for e in from_dataset["log"]] == [(e["ntp_loss"], e["stp_loss"]) for e in from_file["log"]]
