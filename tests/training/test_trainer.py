"""STPTrainer on a tiny random model: learning, logging, resume, and lambda = 0 parity."""

import shutil

import numpy as np
import pytest
import torch
from transformers import Trainer

from semantic_tube.data.collator import STPCollator, load_encoded_file
from semantic_tube.training.config import STPTrainingArguments
from semantic_tube.training.model import load_model, load_tokenizer
from semantic_tube.training.trainer import BATCH_KEYS, STPTrainer


def args(output_dir, **overrides):
    values = dict(
        output_dir=str(output_dir),
        max_steps=12,
        per_device_train_batch_size=4,
        learning_rate=5e-3,
        logging_steps=2,
        report_to="none",
        save_strategy="no",
        seed=82,
        disable_tqdm=True,
        use_cpu=True,
    )
    values.update(overrides)
    return STPTrainingArguments(**values)


def make_trainer(tiny_dir, train_file, training_args, trainer_class=STPTrainer, collator=None):
    tokenizer = load_tokenizer(str(tiny_dir))
    dataset = load_encoded_file(tokenizer, train_file, max_length=256)
    return trainer_class(
        model=load_model(str(tiny_dir), dtype="float32"),
        args=training_args,
        train_dataset=dataset,
        data_collator=collator or STPCollator(pad_token_id=tokenizer.pad_token_id),
        processing_class=tokenizer,
    )


def losses(trainer, key="loss"):
    return [entry[key] for entry in trainer.state.log_history if key in entry]


def test_both_losses_are_logged_and_add_up(tiny_dir, train_file, tmp_path):
    trainer = make_trainer(tiny_dir, train_file, args(tmp_path, stp_lambda=0.5))
    trainer.train()
    entries = [e for e in trainer.state.log_history if "loss" in e]
    assert len(entries) == 6  # 12 steps, logged every 2
    for entry in entries:
        assert entry["loss"] == pytest.approx(entry["ntp_loss"] + 0.5 * entry["stp_loss"], rel=1e-4, abs=1e-4)
        assert 0.0 <= entry["stp_loss"] <= 2.0


def test_gradient_accumulation_keeps_the_loss_identity(tiny_dir, train_file, tmp_path):
    trainer = make_trainer(
        tiny_dir, train_file, args(tmp_path, stp_lambda=0.5, per_device_train_batch_size=2, gradient_accumulation_steps=2)
    )
    trainer.train()
    entries = [e for e in trainer.state.log_history if "loss" in e]
    assert entries
    for entry in entries:
        assert entry["loss"] == pytest.approx(entry["ntp_loss"] + 0.5 * entry["stp_loss"], rel=1e-4, abs=1e-4)


def test_loss_scaling_rule_without_the_trainers_override(tiny_dir, train_file, tmp_path, monkeypatch):
    """transformers 5.17 (the GPU machine's) has no `Trainer.loss_is_scaled_for_ga`; there the
    rule is its `training_step`'s: scaled when the model takes loss kwargs and the batch's token
    count is known, or a custom `compute_loss_func` is set."""
    from transformers import Trainer

    trainer = make_trainer(tiny_dir, train_file, args(tmp_path))
    cases = [(accepts, count, func) for accepts in (False, True) for count in (None, 7) for func in (None, len)]
    expected = []
    for accepts, count, func in cases:
        trainer.model_accepts_loss_kwargs, trainer.compute_loss_func = accepts, func
        expected.append(trainer._loss_scaled_for_ga(count))
    assert expected == [False, True, False, True, False, True, True, True]
    monkeypatch.delattr(Trainer, "loss_is_scaled_for_ga", raising=False)
    assert not hasattr(trainer, "loss_is_scaled_for_ga")
    for (accepts, count, func), scaled in zip(cases, expected):
        trainer.model_accepts_loss_kwargs, trainer.compute_loss_func = accepts, func
        assert trainer._loss_scaled_for_ga(count) == scaled


def test_batch_size_times_accumulation_does_not_change_the_losses(tiny_dir, train_file, tmp_path):
    """Batch 4 x accumulation 1 and batch 1 x accumulation 4 see the same examples per optimizer
    step, draw the same triplets (keyed by example, not batch) and so log the same losses."""
    whole = make_trainer(tiny_dir, train_file, args(tmp_path / "whole", stp_lambda=0.5, max_steps=6))
    whole.train()
    split = make_trainer(
        tiny_dir,
        train_file,
        args(tmp_path / "split", stp_lambda=0.5, max_steps=6, per_device_train_batch_size=1, gradient_accumulation_steps=4),
    )
    split.train()
    for key in ("loss", "ntp_loss", "stp_loss"):
        assert losses(split, key) == pytest.approx(losses(whole, key), rel=1e-4), key


def test_same_seed_same_losses(tiny_dir, train_file, tmp_path):
    runs = []
    for name in ("a", "b"):
        trainer = make_trainer(tiny_dir, train_file, args(tmp_path / name, stp_lambda=0.1))
        trainer.train()
        runs.append((losses(trainer, "ntp_loss"), losses(trainer, "stp_loss")))
    assert runs[0] == runs[1]


class DropSpans(STPCollator):
    """The same batches without the span tensors, for the plain Trainer."""

    def __call__(self, batch):
        return {key: value for key, value in super().__call__(batch).items() if key not in BATCH_KEYS}


def test_lambda_zero_gives_exactly_the_plain_trainer_losses(tiny_dir, train_file, tmp_path):
    pad = load_tokenizer(str(tiny_dir)).pad_token_id
    # The plain Trainer would drop the span fields before DropSpans sees them.
    plain = make_trainer(tiny_dir, train_file, args(tmp_path / "plain", remove_unused_columns=False), Trainer, DropSpans(pad_token_id=pad))
    plain.train()
    off = make_trainer(tiny_dir, train_file, args(tmp_path / "off", stp_lambda=0.0, ntp_logits="all"))
    off.train()
    diagnostic = make_trainer(tiny_dir, train_file, args(tmp_path / "diag", stp_lambda=0.0, stp_log_when_off=True, ntp_logits="all"))
    diagnostic.train()
    labelled = make_trainer(tiny_dir, train_file, args(tmp_path / "labelled", stp_lambda=0.0))
    labelled.train()
    assert len(losses(plain)) == 6
    assert losses(off) == losses(plain)
    assert losses(diagnostic) == losses(plain)
    assert losses(off, "stp_loss") == []  # no STP work at all
    assert len(losses(diagnostic, "stp_loss")) == len(losses(plain))
    # the LM head on the labelled positions only: the same losses, to float32 rounding
    assert losses(labelled) == pytest.approx(losses(plain), rel=1e-5)


def test_stp_changes_training(tiny_dir, train_file, tmp_path):
    plain = make_trainer(tiny_dir, train_file, args(tmp_path / "a", stp_lambda=0.0, stp_log_when_off=True))
    plain.train()
    tube = make_trainer(tiny_dir, train_file, args(tmp_path / "b", stp_lambda=1.0))
    tube.train()
    assert losses(plain, "ntp_loss")[0] == pytest.approx(losses(tube, "ntp_loss")[0], rel=0.05)
    # With lambda = 1 the tube straightens far more than NTP alone does.
    assert losses(tube, "stp_loss")[-1] < losses(plain, "stp_loss")[-1]


@pytest.mark.parametrize("form", ["anchored", "span"])
def test_other_forms_train(tiny_dir, train_file, tmp_path, form):
    trainer = make_trainer(tiny_dir, train_file, args(tmp_path, stp_lambda=0.1, stp_form=form, stp_draws=3, max_steps=4))
    trainer.train()
    assert len(losses(trainer, "stp_loss")) == 2
    assert all(0.0 <= value <= 2.0 for value in losses(trainer, "stp_loss"))


def test_resume_from_checkpoint_ends_at_the_same_loss(tiny_dir, train_file, tmp_path):
    full = make_trainer(tiny_dir, train_file, args(tmp_path / "full", stp_lambda=0.2))
    full.train()
    first = make_trainer(tiny_dir, train_file, args(tmp_path / "part", stp_lambda=0.2, save_strategy="steps", save_steps=6))
    first.train()
    shutil.rmtree(tmp_path / "part" / "checkpoint-12")  # as if the run had died after step 6
    resumed = make_trainer(tiny_dir, train_file, args(tmp_path / "part", stp_lambda=0.2))
    resumed.train(resume_from_checkpoint=str(tmp_path / "part" / "checkpoint-6"))
    assert losses(resumed)[-1] == pytest.approx(losses(full)[-1], rel=1e-5)
    assert losses(resumed, "stp_loss")[-1] == pytest.approx(losses(full, "stp_loss")[-1], rel=1e-5)


def test_gap_skipping_is_on_by_default_and_changes_the_measured_value(tiny_dir, train_file, tmp_path):
    skipping = make_trainer(tiny_dir, train_file, args(tmp_path / "a", stp_lambda=0.1, max_steps=2))
    assert skipping.args.gap_origin is not None
    skipping.train()
    across = make_trainer(tiny_dir, train_file, args(tmp_path / "b", stp_lambda=0.1, max_steps=2, stp_gap="none"))
    across.train()
    assert losses(skipping, "stp_loss") and losses(across, "stp_loss")
    assert losses(skipping, "stp_loss")[0] != pytest.approx(losses(across, "stp_loss")[0], abs=1e-4)


def test_predict_returns_logits_only(tiny_dir, train_file, tmp_path):
    """The hidden states STP reads are dropped from the outputs: prediction must not gather and
    accumulate every layer's states."""
    trainer = make_trainer(tiny_dir, train_file, args(tmp_path, stp_lambda=0.1, prediction_loss_only=False))
    dataset = trainer.train_dataset
    output = trainer.predict(torch.utils.data.Subset(dataset, range(3)))
    assert isinstance(output.predictions, np.ndarray)
    assert output.predictions.shape[0] == 3 and output.predictions.shape[-1] == trainer.model.config.vocab_size


@pytest.mark.parametrize(
    "overrides",
    [{"train_sampling_strategy": "group_by_length"}, {"dataloader_num_workers": 1}, {"remove_unused_columns": True}, {"remove_unused_columns": False}],
)
def test_trainer_options_on_the_data_path_work(tiny_dir, train_file, tmp_path, overrides):
    trainer = make_trainer(tiny_dir, train_file, args(tmp_path, stp_lambda=0.1, max_steps=4, **overrides))
    trainer.train()
    assert len(losses(trainer, "stp_loss")) == 2


def test_eval_stp_draws_depend_on_the_example_only_and_average_per_example(tiny_dir, train_file, tmp_path):
    """Two evaluations of the same model at different global steps give the same eval_stp_loss
    (no resampling noise), and with lambda = 0 eval_ntp_loss equals the Trainer's per-example
    eval_loss even when the last batch is smaller."""
    trainer = make_trainer(
        tiny_dir, train_file, args(tmp_path, stp_lambda=0.0, stp_log_when_off=True, per_device_eval_batch_size=4)
    )
    evaluation = torch.utils.data.Subset(trainer.train_dataset, range(7))  # batches of 4 and 3
    first = trainer.evaluate(evaluation)
    trainer.state.global_step = 40
    second = trainer.evaluate(evaluation)
    assert first["eval_stp_loss"] == second["eval_stp_loss"]
    assert first["eval_ntp_loss"] == pytest.approx(first["eval_loss"], rel=1e-5)


def test_positions_are_drawn_on_the_cpu_before_the_batch_moves(tiny_dir, train_file, tmp_path):
    """_prepare_inputs turns the collator's CPU spans into positions (and the gap) and sends no
    span to the model; the draws are the sampler's keyed draws for those examples."""
    from semantic_tube.losses.sampling import KeyedDraws, sample_positions, trajectory_answer_span

    trainer = make_trainer(tiny_dir, train_file, args(tmp_path, stp_lambda=0.1))
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    # Appendix G: the answer's first token is the query's last point, so draws start at the answer's second
    drawn_answer = trajectory_answer_span(batch["query_span"], batch["answer_span"], "answer_start")
    assert (drawn_answer[:, 0] == batch["answer_span"][:, 0] + 1).all()
    expected = sample_positions(batch["query_span"], drawn_answer, 1, "tube", KeyedDraws(trainer.example_keys(batch["example_index"], True)))
    trainer.model.train()
    prepared = trainer._prepare_inputs(dict(batch))
    assert not set(BATCH_KEYS) & set(prepared)
    assert torch.equal(prepared["stp_positions"].cpu(), expected)
    # Appendix G's gap: the template, and the step into the answer's first token (the answer part's origin r')
    assert prepared["stp_skip"].tolist() == [[q[1], a[0] + 1] for q, a in zip(batch["query_span"].tolist(), batch["answer_span"].tolist())]
    short = dict(batch, input_ids=batch["input_ids"][:, :5], attention_mask=batch["attention_mask"][:, :5], labels=batch["labels"][:, :5])
    with pytest.raises(ValueError, match="stp_positions holds a position >= seq length 5"):
        trainer._prepare_inputs(short)


def test_stp_gradient_is_the_same_with_gradient_checkpointing(tiny_dir, train_file, tmp_path):
    """Checkpointing recomputes the layers in backward; the last layer's states STP reads must
    still carry the same gradient to every parameter."""
    grads = []
    for checkpointing in (False, True):
        trainer = make_trainer(tiny_dir, train_file, args(tmp_path / str(checkpointing), stp_lambda=1.0, gradient_checkpointing=checkpointing))
        if checkpointing:
            trainer.model.gradient_checkpointing_enable()
            assert trainer.model.is_gradient_checkpointing
        trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(); the loss is computed directly here
        trainer.model.train()
        batch = trainer._prepare_inputs(trainer.data_collator([trainer.train_dataset[i] for i in range(4)]))
        trainer.compute_loss(trainer.model, batch).backward()
        grads.append({name: p.grad.clone() for name, p in trainer.model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 10
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-6, msg=name)


def batch_losses(trainer, batch) -> dict[str, float]:
    """NTP and the method's loss of one batch through the trainer's own path (draws, forward, loss)."""
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1
    loss = trainer.compute_loss(trainer.model, trainer._prepare_inputs(dict(batch)))
    values = {key: records[-1][0].item() for key, records in trainer._stp_metrics["train"].items()}
    return values | {"loss": loss.item()}


@pytest.mark.parametrize("options", [{}, {"stp_form": "span", "stp_draws": 3}, {"trajectory": "inst"}, {"method": "two-view"}])
def test_packed_batches_give_the_padded_losses(tiny_dir, train_file, tmp_path, options):
    """The same examples padded one per row and packed into one row (position ids restarting,
    attention per example): the same NTP and STP losses, the draws keyed by example."""
    trainer = make_trainer(tiny_dir, train_file, args(tmp_path, stp_lambda=0.5, **options))
    pad = trainer.processing_class.pad_token_id
    items = [trainer.train_dataset[i] for i in range(6)]
    padded = batch_losses(trainer, STPCollator(pad_token_id=pad)(items))
    packed = batch_losses(trainer, STPCollator(pad_token_id=pad, packing=True)(items))
    assert packed.keys() == padded.keys() == {"loss", "ntp_loss", "stp_loss", "aux_loss"}
    for key in padded:
        assert packed[key] == pytest.approx(padded[key], rel=1e-5, abs=1e-6), key


def test_training_on_packed_batches_logs_the_padded_losses(tiny_dir, train_file, tmp_path):
    pad = load_tokenizer(str(tiny_dir)).pad_token_id
    padded = make_trainer(tiny_dir, train_file, args(tmp_path / "padded", stp_lambda=0.5, max_steps=6))
    padded.train()
    packed = make_trainer(tiny_dir, train_file, args(tmp_path / "packed", stp_lambda=0.5, max_steps=6), collator=STPCollator(pad, packing=True))
    packed.train()
    for key in ("loss", "ntp_loss", "stp_loss"):
        assert losses(packed, key) == pytest.approx(losses(padded, key), rel=1e-4), key


def test_methods_that_read_whole_rows_refuse_packed_batches(tiny_dir, train_file, tmp_path):
    trainer = make_trainer(tiny_dir, train_file, args(tmp_path, stp_lambda=0.5, method="curvature"))
    assert not trainer.objective.supports_packing
    batch = STPCollator(trainer.processing_class.pad_token_id, packing=True)([trainer.train_dataset[i] for i in range(2)])
    trainer.model.train()
    with pytest.raises(ValueError, match="method=curvature does not run on packed batches"):
        trainer._prepare_inputs(batch)
