"""STPSFTTrainer: TRL's SFTTrainer with STP, on a tiny model: parity with the plain SFTTrainer at
lambda = 0, the loss identity, the same spans, labels and STP values as our own trainer, and
packed batches giving the unpacked losses."""

import dataclasses
import json
import subprocess
import sys

import pytest
import torch

pytest.importorskip("datasets", reason="the trl extra is not installed (pip install -e '.[trl]')")
pytest.importorskip("trl", reason="the trl extra is not installed (pip install -e '.[trl]')")

from datasets import Dataset
from trl import SFTConfig, SFTTrainer

from semantic_tube.data.chat import LabelMode
from semantic_tube.data.collator import STPCollator, load_encoded_file
from semantic_tube.data.messages import DataError
from semantic_tube.training.config import ConfigError, STPArguments, STPTrainingArguments
from semantic_tube.training.model import load_model, load_tokenizer
from semantic_tube.training.trainer import STPTrainer
from semantic_tube.trl import STPDataCollator, STPSFTConfig, STPSFTTrainer

FORMATS = ["messages", "prompt-completion", "strings"]


def common(output_dir, **overrides) -> dict:
    values = dict(
        output_dir=str(output_dir),
        max_steps=6,
        per_device_train_batch_size=4,
        learning_rate=5e-3,
        logging_steps=2,
        report_to="none",
        save_strategy="no",
        seed=82,
        disable_tqdm=True,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        max_length=256,
    )
    return values | overrides


def sft(tiny_dir, dataset, args, trainer_class=STPSFTTrainer, **kwargs):
    return trainer_class(
        model=load_model(str(tiny_dir), dtype="float32"),
        args=args,
        train_dataset=Dataset.from_list(dataset) if isinstance(dataset, list) else dataset,
        processing_class=load_tokenizer(str(tiny_dir)),
        **kwargs,
    )


def logged(trainer, key="loss"):
    return [entry[key] for entry in trainer.state.log_history if key in entry]


def batch_losses(trainer, items) -> dict[str, float]:
    """NTP and STP of one batch of dataset items through the trainer's own path."""
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1
    loss = trainer.compute_loss(trainer.model, trainer._prepare_inputs(trainer.data_collator(items)))
    return {key: records[-1][0].item() for key, records in trainer._stp_metrics["train"].items()} | {"loss": loss.item()}


def test_importing_semantic_tube_never_imports_trl():
    code = "import sys, semantic_tube, semantic_tube.training.trainer, semantic_tube.training.run; assert 'trl' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_trl_the_error_names_the_extra():
    code = "import sys; sys.modules['trl'] = None\ntry:\n import semantic_tube.trl\nexcept ImportError as err:\n print(err)"
    printed = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert "pip install 'semantic-tube[trl]'" in printed


def test_the_config_is_sftconfig_plus_the_same_stp_fields(tmp_path):
    ours = {item.name: item for item in dataclasses.fields(STPTrainingArguments)}
    for item in dataclasses.fields(STPArguments):
        shared = STPSFTConfig.__dataclass_fields__[item.name]
        assert (shared.default, shared.metadata) == (ours[item.name].default, ours[item.name].metadata), item.name
    config = STPSFTConfig(output_dir=str(tmp_path), use_cpu=True, stp_lambda=0.1, stp_form="zero")
    assert isinstance(config, SFTConfig) and config.stp_form.value == "zero" and config.stp_active and config.use_views
    assert config.learning_rate == 2e-5 and config.gradient_checkpointing  # TRL's defaults stay
    with pytest.raises(ConfigError, match="stp_lambda must be >= 0"):
        STPSFTConfig(output_dir=str(tmp_path), use_cpu=True, stp_lambda=-1)
    with pytest.raises(ConfigError, match="predictor=linear does not apply to method=curvature"):
        STPSFTConfig(output_dir=str(tmp_path), use_cpu=True, method="curvature", predictor="linear")


@pytest.mark.parametrize("form", FORMATS)
def test_lambda_zero_gives_exactly_the_plain_sft_losses(tiny_dir, rows, tmp_path, form):
    plain = sft(tiny_dir, rows(form), SFTConfig(**common(tmp_path / "plain")), SFTTrainer)
    plain.train()
    off = sft(tiny_dir, rows(form), STPSFTConfig(**common(tmp_path / "off"), stp_lambda=0.0))
    off.train()
    diagnostic = sft(tiny_dir, rows(form), STPSFTConfig(**common(tmp_path / "diag"), stp_lambda=0.0, stp_log_when_off=True))
    diagnostic.train()
    assert len(logged(plain)) == 3
    assert logged(off) == logged(plain) and logged(diagnostic) == logged(plain)
    assert logged(off, "stp_loss") == [] and len(logged(diagnostic, "stp_loss")) == 3
    assert logged(diagnostic, "mean_token_accuracy") == logged(plain, "mean_token_accuracy")  # TRL's own metrics still there


@pytest.mark.parametrize("form", FORMATS)
def test_the_logged_loss_is_ntp_plus_lambda_stp(tiny_dir, rows, tmp_path, form):
    trainer = sft(tiny_dir, rows(form), STPSFTConfig(**common(tmp_path), stp_lambda=0.5, gradient_accumulation_steps=2))
    trainer.train()
    entries = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(entries) == 3
    for entry in entries:
        assert entry["loss"] == pytest.approx(entry["ntp_loss"] + 0.5 * entry["stp_loss"], rel=1e-4, abs=1e-4)
        assert 0.0 < entry["stp_loss"] < 2.0


@pytest.mark.parametrize(("form", "options", "label_mode"), [("prompt-completion", {}, LabelMode.ANSWER), ("messages", {}, LabelMode.ALL)])
def test_labels_are_trls_and_spans_are_ours(tiny_dir, rows, train_file, tmp_path, form, options, label_mode):
    """TRL tokenizes and labels (completion-only for prompt-completion rows, every token for
    messages), and the spans equal those of our own data path on the same examples."""
    trainer = sft(tiny_dir, rows(form), STPSFTConfig(**common(tmp_path), **options))
    ours = load_encoded_file(trainer.processing_class, train_file, max_length=256, label_mode=label_mode)
    assert len(trainer.train_dataset) == len(ours)
    for item in trainer.train_dataset:
        expected = ours[item["example_index"]]
        for key in ("input_ids", "labels", "query_span", "answer_span"):
            assert list(item[key]) == list(expected[key]), key
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(5)])
    expected = STPCollator(pad_token_id=trainer.processing_class.pad_token_id)([ours[i] for i in range(5)])
    for key in ("input_ids", "labels", "attention_mask", "query_span", "answer_span", "example_index"):
        assert torch.equal(batch[key], expected[key]), key


def test_string_rows_span_the_prompt_and_the_completion(tiny_dir, rows, tmp_path):
    trainer = sft(tiny_dir, rows("strings"), STPSFTConfig(**common(tmp_path)))
    tokenizer, raw = trainer.processing_class, rows("strings")
    for item in trainer.train_dataset:
        row = raw[item["example_index"]]
        (q0, q1), (a0, a1) = item["query_span"], item["answer_span"]
        assert q1 <= a0 and tokenizer.decode(item["input_ids"][q0:q1]) == row["prompt"]
        assert tokenizer.decode(item["input_ids"][a0:a1]) == row["completion"]
        assert item["labels"][:a0] == [-100] * a0  # completion-only loss: TRL's default for prompt-completion rows


def test_stp_values_equal_our_trainers(tiny_dir, rows, train_file, tmp_path):
    """The same examples, order, draws and labels: STPSFTTrainer logs the losses STPTrainer logs
    (TRL's fused LM head computes the same NTP to float precision)."""
    trl_run = sft(tiny_dir, rows("prompt-completion"), STPSFTConfig(**common(tmp_path / "trl"), stp_lambda=0.5))
    trl_run.train()
    values = {key: value for key, value in common(tmp_path / "ours").items() if key != "max_length"}
    ours = STPTrainer(
        model=load_model(str(tiny_dir), dtype="float32"),
        args=STPTrainingArguments(**values, stp_lambda=0.5),
        train_dataset=load_encoded_file(trl_run.processing_class, train_file, max_length=256),
        data_collator=STPCollator(pad_token_id=trl_run.processing_class.pad_token_id),
        processing_class=trl_run.processing_class,
    )
    ours.train()
    for key in ("loss", "ntp_loss", "stp_loss"):
        assert logged(trl_run, key) == pytest.approx(logged(ours, key), rel=1e-4), key


@pytest.mark.parametrize("layout", [{"packing": True}, {"padding_free": True, "max_length": None}])
@pytest.mark.parametrize("options", [{}, {"stp_form": "span", "stp_draws": 2}, {"method": "two-view"}])
def test_packed_batches_give_the_unpacked_losses(tiny_dir, rows, tmp_path, layout, options):
    """Every example in one batch, padded versus packed (TRL's best-fit-decreasing rows, several
    examples each) or padding-free (one row): the same NTP and STP, so attention stays per example,
    triplets stay in their example and the draws do not change."""
    unpacked = sft(tiny_dir, rows("prompt-completion"), STPSFTConfig(**common(tmp_path / "a"), stp_lambda=0.5, **options))
    packed = sft(tiny_dir, rows("prompt-completion"), STPSFTConfig(**common(tmp_path / "b", **layout), stp_lambda=0.5, **options))
    assert isinstance(packed.data_collator, STPDataCollator) and packed.padding_free
    if "packing" in layout:
        assert len(packed.train_dataset) < len(unpacked.train_dataset)
        assert max(len(row["seq_lengths"]) for row in packed.train_dataset) > 1
    expected = batch_losses(unpacked, list(unpacked.train_dataset))
    found = batch_losses(packed, list(packed.train_dataset))
    assert found.keys() == expected.keys() >= {"loss", "ntp_loss", "stp_loss"}
    for key in expected:
        assert found[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-6), key


def test_packed_training_logs_the_loss_identity(tiny_dir, rows, tmp_path):
    trainer = sft(tiny_dir, rows("messages"), STPSFTConfig(**common(tmp_path, packing=True, max_length=128), stp_lambda=0.5))
    trainer.train()
    entries = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert entries and all(entry["loss"] == pytest.approx(entry["ntp_loss"] + 0.5 * entry["stp_loss"], rel=1e-4) for entry in entries)


def test_lora_and_a_linear_predictor_train_and_save(tiny_dir, rows, tmp_path):
    from peft import LoraConfig

    lora = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM")
    args = STPSFTConfig(**common(tmp_path, max_steps=4), stp_lambda=0.5, predictor="linear")
    trainer = sft(tiny_dir, rows("prompt-completion"), args, peft_config=lora)
    predictor = trainer.model.stp_predictor
    assert predictor.weight.requires_grad  # peft freezes what it does not add
    before = predictor.weight.detach().clone()
    trainer.train()
    assert not torch.equal(before, predictor.weight.detach())
    trainer.save_model()
    assert (tmp_path / "adapter_model.safetensors").is_file() and (tmp_path / "stp_predictor.safetensors").is_file()


def test_eval_logs_the_stp_series(tiny_dir, rows, tmp_path):
    trainer = sft(tiny_dir, rows("messages"), STPSFTConfig(**common(tmp_path), stp_lambda=0.5), eval_dataset=Dataset.from_list(rows("messages")[:6]))
    metrics = trainer.evaluate()
    assert {"eval_loss", "eval_ntp_loss", "eval_stp_loss"} <= metrics.keys()
    assert metrics["eval_loss"] == pytest.approx(metrics["eval_ntp_loss"] + 0.5 * metrics["eval_stp_loss"], rel=1e-4)


def test_truncation_cuts_the_spans_as_trl_cuts_the_tokens(tiny_dir, rows, tmp_path):
    trainer = sft(tiny_dir, rows("messages"), STPSFTConfig(**common(tmp_path, max_length=40)))
    assert all(len(item["input_ids"]) <= 40 for item in trainer.train_dataset)
    cut = [item for item in trainer.train_dataset if item["answer_span"][1] == len(item["input_ids"])]
    assert cut and all(0 <= item["answer_span"][0] <= item["answer_span"][1] <= 40 for item in trainer.train_dataset)


def test_rows_stp_cannot_use_are_errors(tiny_dir, rows, tmp_path):
    turns = rows("messages")[0]["messages"]
    not_alternating = {"messages": turns + [turns[-1]]}
    with pytest.raises(DataError, match=r"train:2: messages\[3\].role: expected a 'user' turn, got 'assistant'"):
        sft(tiny_dir, [rows("messages")[1], not_alternating], STPSFTConfig(**common(tmp_path)))
    with pytest.raises(ValueError, match="plain text, which has no query and answer"):
        sft(tiny_dir, rows("messages"), STPSFTConfig(**common(tmp_path)), formatting_func=lambda row: json.dumps(row))
    with pytest.raises(ValueError, match="packing_strategy=wrapped"):
        sft(tiny_dir, rows("messages"), STPSFTConfig(**common(tmp_path, packing=True, packing_strategy="wrapped")))
    with pytest.raises(ValueError, match="method=curvature with these options does not run on packed batches"):
        sft(tiny_dir, rows("messages"), STPSFTConfig(**common(tmp_path, packing=True), method="curvature"))


def test_jsonl_through_load_dataset_gives_the_same_examples(tiny_dir, rows, train_file, tmp_path):
    from datasets import load_dataset

    jsonl = load_dataset("json", data_files=str(train_file), split="train", cache_dir=str(tmp_path / "cache"))
    from_file = sft(tiny_dir, jsonl, STPSFTConfig(**common(tmp_path / "a")))
    from_rows = sft(tiny_dir, rows("messages"), STPSFTConfig(**common(tmp_path / "b")))
    for key in ("input_ids", "labels", "query_span", "answer_span", "example_index"):
        assert from_file.train_dataset[key] == from_rows.train_dataset[key], key
