"""How strongly a run's auxiliary loss was applied: its value before and after training, measured
on the same examples with the same draws, so a single run shows whether lambda did anything.

A comparison only tests STP where STP changed the model: at lambda 0.02 for 100 steps of 8
examples the trained STP value ended 0.02 below plain fine-tuning's, and no accuracy difference
could be expected. `measure_losses` runs the model (no gradient, evaluation mode, so the draws
are the evaluation's keyed draws: the same triplets every call) over the first
`treatment_batches` batches of the training set in file order, once before training and once
after. metrics.json records both as `treatment/initial_<series>` and `treatment/trained_<series>`
(series: ntp_loss, aux_loss, the method's own name and any `stp_<form>_loss`), and the closing
summary prints the fall. A resumed run reads the measurement its first start saved.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import torch

from semantic_tube.run_folder import (
    AUX_SERIES,
    INITIAL_LOSSES_FILE,
    TREATMENT_EXAMPLES,
    TREATMENT_INITIAL,
    TREATMENT_TRAINED,
    read_json,
    treatment_key,
    write_json_atomic,
)


def measure_losses(trainer, batches: int) -> dict[str, float]:
    """{series: mean over the examples} for every series the trainer records in evaluation,
    on the first `batches` batches of its training set in order; {} when nothing is measured
    (batches 0, or no auxiliary loss computed). Leaves the weights, the RNG and the logs as they were."""
    if batches <= 0 or trainer.objective is None or not trainer.args.stp_active:
        return {}
    model = trainer.model
    was_training = model.training
    model.eval()
    records = trainer._stp_metrics["eval"]
    saved = {key: list(values) for key, values in records.items()}
    records.clear()
    try:
        loader = trainer.get_eval_dataloader(trainer.train_dataset)  # sequential, in file order
        # a DataLoader iterator draws its base seed from the CPU RNG: keep training's data order as it was
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            for batch in itertools.islice(loader, batches):
                trainer.compute_loss(model, trainer._prepare_inputs(batch))
        measured = {key: trainer._reduce("eval", values) for key, values in records.items() if values}
    finally:
        records.clear()
        records.update(saved)
        model.train(was_training)
    return {key: round(value, 6) for key, value in measured.items()}


def initial_losses(trainer, output_dir: Path, batches: int, resuming: bool) -> dict[str, float]:
    """The measurement before training: taken now and saved in the run folder for a later
    resume, or, when resuming, read from there ({} if the first start did not save one)."""
    path = Path(output_dir) / INITIAL_LOSSES_FILE
    if resuming:
        return read_json(path) or {}
    measured = measure_losses(trainer, batches)
    if measured and trainer.is_world_process_zero():
        write_json_atomic(path, measured)
    return measured


def treatment_metrics(initial: dict[str, float], trained: dict[str, float], examples: int) -> dict[str, float]:
    """metrics.json's `treatment/*` keys: each series before and after training, the examples measured."""
    if not trained:
        return {}
    metrics = {TREATMENT_EXAMPLES: examples}
    metrics |= {treatment_key(TREATMENT_INITIAL, key): value for key, value in initial.items()}
    metrics |= {treatment_key(TREATMENT_TRAINED, key): value for key, value in trained.items()}
    return metrics


def treatment_line(metrics: dict, log_history: list[dict] | None = None) -> str | None:
    """The summary line: how far the auxiliary loss fell from the model's starting value (same
    examples and draws) and from its first logged training value to its last; None when not measured."""
    before, after = metrics.get(treatment_key(TREATMENT_INITIAL, AUX_SERIES)), metrics.get(treatment_key(TREATMENT_TRAINED, AUX_SERIES))
    parts = []
    if before is not None and after is not None:
        ratio = f", x{after / before:.3f}" if before else ""
        examples = metrics.get(TREATMENT_EXAMPLES, "?")
        parts.append(f"{before:.4f} before training -> {after:.4f} after on the same {examples} examples and draws ({after - before:+.4f}{ratio})")
    elif after is not None:
        parts.append(f"{after:.4f} after training (no measurement before it was saved)")
    logged = [(entry["step"], entry[AUX_SERIES]) for entry in log_history or [] if AUX_SERIES in entry and "loss" in entry]
    if len(logged) >= 2:
        (first_step, first), (last_step, last) = logged[0], logged[-1]
        parts.append(f"logged {first:.4f} at step {first_step} -> {last:.4f} at step {last_step} ({last - first:+.4f})")
    if not parts:
        return None
    return f"treatment: {metrics.get('method', 'the method')}'s loss " + "; ".join(parts)
