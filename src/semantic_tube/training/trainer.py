"""`STPTrainer`: the Hugging Face Trainer plus lambda * STP from the same forward pass.

It overrides only `compute_loss` (add the STP term) and `log` (report NTP and STP as their own
series, `ntp_loss` / `stp_loss`, or `eval_ntp_loss` / `eval_stp_loss`), so accumulation,
schedules, checkpoints, resume, `report_to` and multi-process training work unchanged.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from transformers import Trainer

from semantic_tube.losses.sampling import KeyedDraws, STPForm, hash_keys, sample_positions, template_gap
from semantic_tube.losses.stp import check_in_range, span_loss, stp_loss
from semantic_tube.training.config import STPTrainingArguments

BATCH_KEYS = ("query_span", "answer_span", "example_index")  # what STPCollator adds for the sampler
DRAWN_KEYS = ("stp_positions", "stp_skip")  # what _prepare_inputs draws from them, on the CPU


def stp_objective(hidden_states: torch.Tensor, positions: torch.Tensor, form: STPForm, skip: torch.Tensor | None) -> torch.Tensor:
    """The STP loss of one batch for any form: (batch, seq, dim), drawn positions and the gap to
    bypass (or None) -> scalar."""
    loss = span_loss if form is STPForm.SPAN else stp_loss
    return loss(hidden_states, positions, skip)


class STPTrainer(Trainer):
    """Trainer whose loss is NTP + stp_lambda * STP (Huang et al., Sec. 3, Eq. 1)."""

    args: STPTrainingArguments

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._metrics: dict[str, dict[str, list[tuple[torch.Tensor, int]]]] = {"train": defaultdict(list), "eval": defaultdict(list)}
        self._steps_seen: dict[str, set[int]] = {"train": set(), "eval": set()}

    def example_keys(self, example_index: torch.Tensor, training: bool) -> torch.Tensor:
        """(batch,) draw keys: a hash of (seed, global step, example index) in training, and of
        (seed, example index) alone in evaluation.

        Keyed by the example, not by the batch, the draws are the same whatever the batch size,
        accumulation or number of processes, and the same after a resume from a checkpoint as in
        an uninterrupted run, with no generator state to save. Evaluation draws the same triplets
        every time, so `eval_stp_loss` moves only when the model does.
        """
        step = self.state.global_step if training else 0
        return hash_keys(self.args.seed, step, int(training), example_index)

    def _prepare_inputs(self, inputs):
        """Draw the STP positions on the CPU from the collator's CPU spans, before the batch goes
        to the device: no device-to-host copy or sync in the step. The spans themselves never go
        to the model."""
        spans = {key: inputs.pop(key) for key in BATCH_KEYS if key in inputs}
        drawn = self._draw(spans) if self.args.stp_active and len(spans) == len(BATCH_KEYS) else {}
        if drawn:
            check_in_range(drawn["stp_positions"], inputs["input_ids"].shape[1], "stp_positions")
        inputs = super()._prepare_inputs(inputs)
        device = self.args.device
        return inputs | {key: value.to(device, non_blocking=True) for key, value in drawn.items()}

    def _draw(self, spans: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        query, answer = spans["query_span"], spans["answer_span"]
        keys = self.example_keys(spans["example_index"], self.model.training)
        drawn = {"stp_positions": sample_positions(query, answer, self.args.stp_draws, self.args.stp_form, KeyedDraws(keys))}
        if self.args.stp_skip_gap:
            drawn["stp_skip"] = template_gap(query, answer)
        return drawn

    def _set_signature_columns_if_needed(self):
        """Keep the spans when `remove_unused_columns` drops what the model's forward does not take."""
        super()._set_signature_columns_if_needed()
        self._signature_columns = list(dict.fromkeys([*self._signature_columns, *BATCH_KEYS]))

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        drawn = {key: inputs.pop(key) for key in DRAWN_KEYS if key in inputs}
        if not self.args.stp_active:
            return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        if "stp_positions" not in drawn:
            raise ValueError(f"STP needs {', '.join(BATCH_KEYS)} in every batch; use semantic_tube's STPCollator")
        ntp, outputs = super().compute_loss(
            model, {**inputs, "output_hidden_states": True}, return_outputs=True, num_items_in_batch=num_items_in_batch
        )
        hidden = outputs.hidden_states[self.args.stp_layer]
        # Return the outputs without the stack of every layer's states: prediction and
        # compute_metrics would otherwise gather and accumulate all of them.
        outputs = type(outputs)(**{key: value for key, value in outputs.items() if key != "hidden_states"})
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.args.stp_lambda > 0):
            stp = stp_objective(hidden, drawn["stp_positions"], self.args.stp_form, drawn.get("stp_skip"))
        stp_term = stp
        if model.training:
            # Log both terms on the footing of the loss the Trainer reports: per optimizer step,
            # summed over accumulation micro-batches. If the Trainer will divide our loss by the
            # accumulation steps, it does so for both terms; if not, NTP already is normalised over
            # the accumulated batch and the per-batch STP mean must be divided here.
            ga_steps = self.current_gradient_accumulation_steps
            scaled = self._loss_scaled_for_ga(num_items_in_batch)
            self._record("train", ntp if scaled else ntp / ga_steps, stp / ga_steps)
            stp_term = stp / ga_steps if scaled else stp
        else:
            self._record("eval", ntp, stp, weight=len(drawn["stp_positions"]))
        loss = ntp + self.args.stp_lambda * stp_term if self.args.stp_lambda > 0 else ntp
        return (loss, outputs) if return_outputs else loss

    def _loss_scaled_for_ga(self, num_items_in_batch) -> bool:
        """Whether the Trainer treats our loss as already normalised over the accumulated batch
        (then it will not divide by the accumulation steps itself). Mirrors `training_step`."""
        if self.loss_is_scaled_for_ga is not None:
            return self.loss_is_scaled_for_ga
        return (self.model_accepts_loss_kwargs and num_items_in_batch is not None) or self.compute_loss_func is not None

    def _record(self, mode: str, ntp: torch.Tensor, stp: torch.Tensor, weight: int = 1) -> None:
        """Keep (weight * value, weight) per batch, the value left on the device (no sync here):
        training weighs each micro-batch 1, evaluation each batch by its examples, as the Trainer
        averages `eval_loss`."""
        self._steps_seen[mode].add(self.state.global_step)
        for key, value in (("ntp_loss", ntp), ("stp_loss", stp)):
            self._metrics[mode][key].append((weight * value.detach().float(), weight))

    def _reduce(self, mode: str, records: list[tuple[torch.Tensor, int]]) -> float:
        """The logged mean over all ranks: one gather (and one host sync) per logging step."""
        total = torch.stack([value for value, _ in records]).sum()
        weights = torch.tensor(float(sum(weight for _, weight in records)), device=total.device)
        gathered = self.accelerator.gather(torch.stack([total, weights]).view(1, 2)).view(-1, 2).sum(0)
        if mode == "train":  # a sum over micro-batches per optimizer step, averaged over the steps and ranks
            return (gathered[0] / (len(self._steps_seen["train"]) * self.accelerator.num_processes)).item()
        return (gathered[0] / gathered[1]).item()

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the NTP and STP means: per optimizer step for training (so that
        loss = ntp_loss + stp_lambda * stp_loss), per example for evaluation."""
        mode = "eval" if any(key.startswith("eval_") for key in logs) else "train" if "loss" in logs else None
        if mode is not None:
            prefix = "eval_" if mode == "eval" else ""
            for key, records in self._metrics[mode].items():
                if records:
                    logs[prefix + key] = round(self._reduce(mode, records), 6)
            self._metrics[mode].clear()
            self._steps_seen[mode].clear()
        super().log(logs, start_time)
