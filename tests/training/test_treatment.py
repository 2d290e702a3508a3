"""The treatment strength of one run: the method's loss before and after training on the same
examples and draws, and the summary line that says how far it fell."""

import json

import pytest
import torch

from semantic_tube.cli import main
from semantic_tube.run_folder import INITIAL_LOSSES_FILE
from semantic_tube.training.treatment import measure_losses, treatment_line, treatment_metrics
from tests.training.test_trainer import args, losses, make_trainer


def test_the_measurement_is_the_first_training_examples_in_order_and_changes_nothing(tiny_dir, train_file, tmp_path):
    trainer = make_trainer(tiny_dir, train_file, args(tmp_path, stp_lambda=0.5, per_device_eval_batch_size=8))
    weights = [param.detach().clone() for param in trainer.model.parameters()]
    rng = torch.get_rng_state()
    first = measure_losses(trainer, batches=1)
    assert set(first) == {"ntp_loss", "stp_loss", "aux_loss"} and first["aux_loss"] == first["stp_loss"]
    assert measure_losses(trainer, batches=1) == first  # fixed draws: the same value every time
    assert torch.equal(torch.get_rng_state(), rng) and not trainer._stp_metrics["eval"]
    assert all(torch.equal(before, after) for before, after in zip(weights, trainer.model.parameters(), strict=True))
    # NTP by hand on the training set's first eight examples, collated as training collates them
    batch = trainer.data_collator([trainer.train_dataset[index] for index in range(8)])
    with torch.no_grad():
        trainer.model.eval()
        by_hand = trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
    assert first["ntp_loss"] == pytest.approx(by_hand.item(), rel=1e-5)


def test_measuring_leaves_the_training_as_it_was(tiny_dir, train_file, tmp_path):
    plain = make_trainer(tiny_dir, train_file, args(tmp_path / "plain", stp_lambda=0.5, max_steps=4))
    plain.train()
    measured = make_trainer(tiny_dir, train_file, args(tmp_path / "measured", stp_lambda=0.5, max_steps=4))
    measure_losses(measured, batches=2)
    measured.train()
    assert losses(measured) == losses(plain) and losses(measured, "stp_loss") == losses(plain, "stp_loss")


def test_nothing_is_measured_without_an_auxiliary_loss(tiny_dir, train_file, tmp_path):
    assert measure_losses(make_trainer(tiny_dir, train_file, args(tmp_path, method="ntp")), batches=2) == {}


def test_the_summary_line_gives_the_fall_from_the_start_and_along_the_log():
    metrics = {"method": "stp", **treatment_metrics({"aux_loss": 1.4}, {"aux_loss": 0.7}, examples=32)}
    history = [{"step": 10, "loss": 2.0, "aux_loss": 1.3}, {"step": 20, "loss": 1.0, "aux_loss": 0.8}, {"train_loss": 1.5}]
    line = treatment_line(metrics, history)
    assert line == (
        "treatment: stp's loss 1.4000 before training -> 0.7000 after on the same 32 examples and draws (-0.7000, x0.500); "
        "logged 1.3000 at step 10 -> 0.8000 at step 20 (-0.5000)"
    )
    assert treatment_line({"method": "ntp"}, []) is None


def test_stp_train_records_and_prints_the_treatment_and_a_resume_keeps_the_start(tiny_dir, train_file, tmp_path, capsys):
    common = ["train", "--model_name_or_path", str(tiny_dir), "--train_file", str(train_file), "--max_steps", "6",
              "--per_device_train_batch_size", "4", "--learning_rate", "0.005", "--logging_steps", "2", "--stp_lambda", "1.0",
              "--report_to", "none", "--use_cpu", "true", "--cost_batches", "0", "--treatment_batches", "2"]  # fmt: skip
    out = tmp_path / "run"
    assert main([*common, "--output_dir", str(out), "--save_strategy", "steps", "--save_steps", "3"]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    before, after = metrics["treatment/initial_aux_loss"], metrics["treatment/trained_aux_loss"]
    assert metrics["treatment/examples"] == 16 and after < before
    assert f"treatment: stp's loss {before:.4f} before training -> {after:.4f} after on the same 16 examples" in printed
    assert json.loads((out / INITIAL_LOSSES_FILE).read_text())["aux_loss"] == before
    # a resume from the step-3 checkpoint keeps the measurement its first start saved
    (out / "metrics.json").unlink()
    for extra in out.glob("checkpoint-6"):
        for path in sorted(extra.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        extra.rmdir()
    assert main([*common, "--output_dir", str(out), "--resume_from_checkpoint", "last"]) == 0
    resumed = json.loads((out / "metrics.json").read_text())
    assert resumed["treatment/initial_aux_loss"] == before
    assert resumed["treatment/trained_aux_loss"] == pytest.approx(after, rel=1e-4)
