"""What a method costs: forward passes per step, and step time relative to NTP on the same batches.

The paper's case for STP over LLM-JEPA and Mask is that it needs no extra forward pass (Sec. 3).
`measure_step_cost` times forward + backward of the method and of NTP alone, interleaved on the
same batches after a warm-up, on the trained model and without updating it, so every run's
metrics.json records its own overhead; benchmarks/method_cost.py compares all methods in one run.
"""

from __future__ import annotations

import itertools
import time

import torch

from semantic_tube.training.trainer import LABELLED_POSITIONS


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_step(trainer, model, inputs: dict, plain: bool) -> float:
    """Seconds for one forward + backward (no optimizer step); gradients discarded.

    Runs under the trainer's mixed precision (`accelerator.autocast()`: bf16 on a CUDA GPU by
    default), which training applies by wrapping the model and which an unwrapped model lacks.
    """
    batch = dict(inputs)
    device = trainer.args.device
    _synchronize(device)
    start = time.perf_counter()
    with trainer.accelerator.autocast(), trainer.compute_loss_context_manager():
        if plain:  # NTP as the trainer computes it (on the labelled positions' logits where it does), nothing drawn
            batch = {key: value for key, value in batch.items() if not key.startswith("stp_") or key == LABELLED_POSITIONS}
            loss = trainer.ntp_loss(model, batch)
        else:
            loss = trainer.compute_loss(model, batch)
    loss.backward()
    _synchronize(device)
    elapsed = time.perf_counter() - start
    model.zero_grad(set_to_none=True)
    return elapsed


def measure_step_cost(trainer, batches: int, repeats: int = 2) -> dict[str, float]:
    """{"cost/forward_passes_per_step", "cost/step_time_vs_ntp", "cost/ntp_step_seconds"} for
    `trainer`'s method, timed on the first `batches` training batches (each `repeats` times per
    side, alternating NTP and method, after one untimed warm-up of each).

    Runs on the unwrapped model (no collective communication), leaves its weights untouched and
    its gradients cleared; the logged-loss records it adds are dropped.
    """
    passes = trainer.args.forward_passes_per_step
    if batches <= 0:
        return {"cost/forward_passes_per_step": passes}
    model = trainer.model
    was_training = model.training
    model.train()
    accumulation = getattr(trainer, "current_gradient_accumulation_steps", None)
    trainer.current_gradient_accumulation_steps = 1  # one micro-batch is one step here
    loader = trainer.get_train_dataloader()
    prepared = [trainer._prepare_inputs(batch) for batch in itertools.islice(loader, batches)]
    seconds = {True: 0.0, False: 0.0}
    try:
        for inputs in prepared[:1]:
            timed_step(trainer, model, inputs, plain=True)
            timed_step(trainer, model, inputs, plain=False)
        for _ in range(repeats):
            for inputs in prepared:
                for plain in (True, False):
                    seconds[plain] += timed_step(trainer, model, inputs, plain)
    finally:
        model.train(was_training)
        if accumulation is not None:
            trainer.current_gradient_accumulation_steps = accumulation
        for records in trainer._stp_metrics["train"].values():
            records.clear()
        trainer._stp_steps_seen["train"].clear()
    steps = repeats * len(prepared)
    return {
        "cost/forward_passes_per_step": passes,
        "cost/step_time_vs_ntp": round(seconds[False] / seconds[True], 4),
        "cost/ntp_step_seconds": round(seconds[True] / steps, 4),
    }
