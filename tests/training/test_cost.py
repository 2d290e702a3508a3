"""What a method costs (training/cost.py): forward passes per step, and its step time against
NTP's on the same batches, timed without changing the model."""

from types import SimpleNamespace

import pytest
import torch

from semantic_tube.training.cost import measure_step_cost
from tests.training.test_trainer import args, make_trainer


def test_cost_record_counts_passes_and_times_against_ntp(tiny_dir, train_file, tmp_path):
    stp = make_trainer(tiny_dir, train_file, args(tmp_path / "a", max_steps=1))
    cost = measure_step_cost(stp, batches=1, repeats=1)
    assert cost["cost/forward_passes_per_step"] == 1 and cost["cost/step_time_vs_ntp"] > 0
    mask = make_trainer(tiny_dir, train_file, args(tmp_path / "b", method="mask", max_steps=1))
    before = [value.detach().clone() for value in mask.model.parameters()]
    cost = measure_step_cost(mask, batches=1, repeats=1)
    assert cost["cost/forward_passes_per_step"] == 2
    assert all(torch.equal(a, b) for a, b in zip(before, mask.model.parameters()))
    assert all(value.grad is None for value in mask.model.parameters())


@pytest.mark.parametrize("bf16", [False, True])
def test_cost_record_times_the_steps_under_the_mixed_precision_training_uses(tiny_dir, train_file, tmp_path, bf16):
    # Training autocasts by wrapping the model; the cost record times the unwrapped model, so it must
    # enter the same autocast itself, or on a GPU it would time float32 steps against bf16 training.
    trainer = make_trainer(tiny_dir, train_file, args(tmp_path, max_steps=1, bf16=bf16, use_cpu=True))
    autocast_seen = []
    trainer.model.register_forward_hook(lambda *_: autocast_seen.append(torch.is_autocast_enabled("cpu")))
    measure_step_cost(trainer, batches=1, repeats=1)
    assert len(autocast_seen) == 4 and set(autocast_seen) == {bf16}



def test_no_batches_records_the_passes_only_and_times_nothing():
    trainer = SimpleNamespace(args=SimpleNamespace(forward_passes_per_step=3))  # nothing else is touched
    assert measure_step_cost(trainer, batches=0) == {"cost/forward_passes_per_step": 3}


def test_the_logged_loss_records_of_the_timing_are_dropped_and_the_accumulation_restored(tiny_dir, train_file, tmp_path):
    trainer = make_trainer(tiny_dir, train_file, args(tmp_path, max_steps=1))
    trainer.current_gradient_accumulation_steps = 5
    trainer.model.eval()
    cost = measure_step_cost(trainer, batches=2, repeats=1)
    assert set(cost) == {"cost/forward_passes_per_step", "cost/step_time_vs_ntp", "cost/ntp_step_seconds"}
    series = trainer._stp_metrics["train"]
    assert {"ntp_loss", "stp_loss"} <= set(series) and all(not records for records in series.values())  # logged, then dropped
    assert trainer.current_gradient_accumulation_steps == 5 and not trainer.model.training
