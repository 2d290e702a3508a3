"""`STPTrainer`: the Hugging Face Trainer plus lambda * (the method's loss) from the same forward pass.

The STP logic is `STPMixin`, which adds it to any `transformers.Trainer` subclass whose batches
carry the spans (`STPTrainer(STPMixin, Trainer)` here, `semantic_tube.trl.STPSFTTrainer(STPMixin,
SFTTrainer)` for TRL). It overrides only `compute_loss` (add the method's term), `_prepare_inputs`
(draw on the CPU) and `log` (report NTP and the method's loss as their own series, `ntp_loss` /
`stp_loss` (or `jepa_loss`, ...), and `eval_` versions), plus saving and loading the Pred options'
predictor, so accumulation, schedules, checkpoints, resume, `report_to` and multi-process training
work unchanged. The method (`--method`, Sec. 4.6 / Appendix L) is an `Objective` from
`semantic_tube.methods`.

The hidden states are those of the main forward pass, taken from the model's backbone by a forward
hook while the base class computes its own loss: the NTP loss is the base class's, untouched (TRL's
SFTTrainer scores tokens with a fused LM head whose outputs carry no hidden states).

Packed batches (several examples per row: `packing`, `padding_free`) carry the spans per example
with each example's row and offset (`PACKING_KEYS`); the objective draws per example, as unpacked,
and places the draws in the rows (`losses.packing`).
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from contextlib import contextmanager

import torch
from transformers import Trainer
from transformers.trainer_utils import IntervalStrategy

from semantic_tube.data.jepa_views import JEPA_BATCH_KEYS
from semantic_tube.losses.sampling import KeyedDraws, hash_keys
from semantic_tube.losses.stp import check_in_range
from semantic_tube.methods import build_objective
from semantic_tube.methods.base import DRAWN_PREFIX, PACKING_KEYS, SEGMENT_BATCH_KEY, SEGMENT_ITEM_KEY, SPAN_KEYS
from semantic_tube.methods.predictor import base_model, load_predictor, predictor_of, save_predictor
from semantic_tube.run_folder import AUX_SERIES
from semantic_tube.training.config import NTPLogits, STPArguments

BATCH_KEYS = SPAN_KEYS  # what STPCollator adds for the sampler
# every CPU field STPCollator may add: never passed to the model
AUXILIARY_BATCH_KEYS = SPAN_KEYS + PACKING_KEYS + JEPA_BATCH_KEYS + (SEGMENT_BATCH_KEY,)


class STPMixin:
    """NTP + stp_lambda * aux, aux the method's loss (Huang et al., Sec. 3, Eq. 1), for a
    `transformers.Trainer` subclass: `class MyTrainer(STPMixin, SomeTrainer)`.

    Needs arguments with the method's fields (`STPArguments`) and batches with the spans
    (`query_span`, `answer_span`, `example_index`, as `STPCollator` or `semantic_tube.trl`'s
    collator add them); the base class computes NTP as it always does.
    """

    args: STPArguments

    def __init__(self, model=None, args=None, *rest, **kwargs):
        # The objective may add tokens or a predictor to the model: before the Trainer wraps it and builds the optimizer.
        # A model given by name (TRL loads it itself) gets its objective once the base class has loaded it.
        ready = args is not None and model is not None and not isinstance(model, str)
        self.objective = build_objective(args, model, kwargs.get("processing_class")) if ready else None
        super().__init__(model, args, *rest, **kwargs)
        if not ready and self.model is not None:
            self.objective = build_objective(self.args, self.model, self.processing_class)
        predictor = predictor_of(self.model) if self.model is not None else None
        if predictor is not None:
            predictor.requires_grad_(True)  # a peft adapter added by the base class (peft_config=) freezes it
        self._stp_metrics: dict[str, dict[str, list[tuple[torch.Tensor, int]]]] = {"train": defaultdict(list), "eval": defaultdict(list)}
        self._stp_steps_seen: dict[str, set[int]] = {"train": set(), "eval": set()}
        self._grad_balance: dict[str, float] = {}
        self._grad_balance_step: int | None = None

    @property
    def batch_keys(self) -> tuple[str, ...]:
        return self.objective.batch_keys if self.objective is not None else BATCH_KEYS

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

    def current_lambda(self) -> float:
        """stp_lambda, raised linearly from 0 over the first stp_lambda_warmup_ratio of training
        (as the reference's --lbd_warmup: by optimizer step over max_steps)."""
        ratio = self.args.stp_lambda_warmup_ratio
        if ratio <= 0 or not self.state.max_steps:
            return self.args.stp_lambda
        return self.args.stp_lambda * min(1.0, self.state.global_step / (ratio * self.state.max_steps))

    def _prepare_inputs(self, inputs):
        """Draw what the method needs on the CPU from the collator's CPU fields, before the batch
        goes to the device: no device-to-host copy or sync in the step. Those fields never go to
        the model."""
        # Every auxiliary field comes off, also those this method does not read (a data set encoded
        # for LLM-JEPA trains any method); the objective gets what it asked for.
        fields = {key: inputs.pop(key) for key in AUXILIARY_BATCH_KEYS + self.batch_keys if key in inputs}
        layout = {key: fields[key] for key in PACKING_KEYS if key in fields}
        if layout:
            # Packed rows get a block-diagonal causal mask from their restarting position ids only
            # without a cache (transformers' masking_utils._preprocess_mask_arguments).
            inputs["use_cache"] = False
        segments = {key: fields[key] for key in (SEGMENT_BATCH_KEY,) if key in fields}  # a conversation batch's
        fields = {key: fields[key] for key in self.batch_keys if key in fields}
        drawn = {}
        if self.objective is not None and self.args.stp_active and len(fields) == len(self.batch_keys):
            fields |= segments
            cpu = fields if layout else fields | {key: inputs[key] for key in ("input_ids", "attention_mask") if key in inputs}
            drawn = self.objective.draw(cpu, KeyedDraws(self.example_keys(fields["example_index"], self.model.training)))
            if layout:
                drawn = self.objective.pack(drawn, layout["example_row"], layout["example_offset"], rows=inputs["input_ids"].shape[0])
            for name, positions in self.objective.sequence_length_checks(drawn).items():
                check_in_range(positions, inputs["input_ids"].shape[1], name)
        if self.labelled_logits and "labels" in inputs:
            drawn[LABELLED_POSITIONS] = labelled_positions(inputs["labels"])
        inputs = super()._prepare_inputs(inputs)
        device = self.args.device
        cpu_keys = self.objective.cpu_keys if self.objective is not None else ()
        return inputs | {key: value if key in cpu_keys else value.to(device, non_blocking=True) for key, value in drawn.items()}

    def _set_signature_columns_if_needed(self):
        """Keep the spans (and the method's other fields) when `remove_unused_columns` drops what
        the model's forward does not take."""
        super()._set_signature_columns_if_needed()
        item_keys = self.objective.item_keys if self.objective is not None else BATCH_KEYS
        self._signature_columns = list(dict.fromkeys([*self._signature_columns, *item_keys, SEGMENT_ITEM_KEY]))

    labelled_logits = False  # whether NTP may run the LM head on the labelled positions only (`ntp_loss`)

    def ntp_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The base class's NTP loss; with `LABELLED_POSITIONS` in `inputs` (`ntp_logits: labelled`)
        and no outputs asked for, the same loss from logits of the positions whose next token is
        labelled in some row (`labelled_ntp_loss`)."""
        positions = inputs.pop(LABELLED_POSITIONS, None)
        if positions is None or return_outputs or self.label_smoother is not None or self.compute_loss_func is not None:
            return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        divisor = num_items_in_batch if self.model_accepts_loss_kwargs else None
        loss = labelled_ntp_loss(model, inputs, positions, divisor)
        if self.args.average_tokens_across_devices and self.model_accepts_loss_kwargs and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes // self.get_tp_size())  # as Trainer.compute_loss scales its own
        return loss

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        drawn = {key: inputs.pop(key) for key in list(inputs) if key.startswith(DRAWN_PREFIX)}
        if LABELLED_POSITIONS in drawn:
            inputs[LABELLED_POSITIONS] = drawn.pop(LABELLED_POSITIONS)
        if self.objective is None or not self.args.stp_active:
            return self.ntp_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        if not drawn:
            raise ValueError(f"method={self.args.method.value} needs {', '.join(self.batch_keys)} in every batch; use semantic_tube's STPCollator")
        with main_pass_hidden_states(model) as captured:
            result = self.ntp_loss(
                model, {**inputs, "output_hidden_states": True}, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
            )
        inputs.pop(LABELLED_POSITIONS, None)
        ntp, outputs = result if return_outputs else (result, None)
        hidden = captured.hidden_states[self.args.stp_layer]
        if outputs is not None and "hidden_states" in outputs:
            # Return the outputs without the stack of every layer's states: prediction and
            # compute_metrics would otherwise gather and accumulate all of them.
            outputs = type(outputs)(**{key: value for key, value in outputs.items() if key != "hidden_states"})
        trained = self.args.aux_trained
        with torch.set_grad_enabled(torch.is_grad_enabled() and trained):
            aux = self.objective.loss(model, inputs, hidden, drawn)
        logged = self.objective.logged(model, hidden, drawn, aux)
        lam = self.current_lambda()
        aux_term = aux
        if model.training:
            # Log both terms on the footing of the loss the Trainer reports: per optimizer step,
            # summed over accumulation micro-batches. If the Trainer will divide our loss by the
            # accumulation steps, it does so for both terms; if not, NTP already is normalised over
            # the accumulated batch and the per-batch aux mean must be divided here.
            ga_steps = self.current_gradient_accumulation_steps
            scaled = self._loss_scaled_for_ga(num_items_in_batch)
            values = {"ntp_loss": ntp if scaled else ntp / ga_steps, self.objective.log_name: aux / ga_steps, AUX_SERIES: aux / ga_steps}
            values |= {name: value / ga_steps for name, value in logged.items()}
            if trained and self.args.stp_lambda_warmup_ratio > 0:
                values["stp_lambda"] = torch.tensor(lam / ga_steps, device=ntp.device)  # the mean lambda used over the logging window
            self._record("train", values)
            aux_term = aux / ga_steps if scaled else aux
        else:
            self._record("eval", {"ntp_loss": ntp, self.objective.log_name: aux, AUX_SERIES: aux, **logged}, weight=len(inputs["input_ids"]))
        if trained and model.training and self.args.stp_log_grad_balance and self._grad_balance_due():
            self._grad_balance = gradient_balance(model, ntp, lam * aux)
        loss = ntp + lam * aux_term if trained else ntp
        return (loss, outputs) if return_outputs else loss

    def _grad_balance_due(self) -> bool:
        """Whether the step now running ends in a log (`logging_steps`, `logging_first_step`) and
        this is its first micro-batch: the gradient balance is measured once per logged step."""
        step = self.state.global_step + 1
        every = self.state.logging_steps
        by_steps = self.args.logging_strategy == IntervalStrategy.STEPS
        due = by_steps and bool(every) and step % every == 0 or (self.args.logging_first_step and step == 1)
        if not due or step == self._grad_balance_step:
            return False
        self._grad_balance_step = step
        return True

    def _loss_scaled_for_ga(self, num_items_in_batch) -> bool:
        """Whether the Trainer treats our loss as already normalised over the accumulated batch
        (then it will not divide by the accumulation steps itself). Mirrors `training_step`; the
        `loss_is_scaled_for_ga` override is in later transformers 5.x (5.24 has it, 5.17 not)."""
        override = getattr(self, "loss_is_scaled_for_ga", None)
        if override is not None:
            return override
        return (self.model_accepts_loss_kwargs and num_items_in_batch is not None) or self.compute_loss_func is not None

    def _record(self, mode: str, values: dict[str, torch.Tensor], weight: int = 1) -> None:
        """Keep (weight * value, weight) per batch, the value left on the device (no sync here):
        training weighs each micro-batch 1, evaluation each batch by its examples, as the Trainer
        averages `eval_loss`."""
        self._stp_steps_seen[mode].add(self.state.global_step)
        for key, value in values.items():
            self._stp_metrics[mode][key].append((weight * value.detach().float(), weight))

    def _reduce(self, mode: str, records: list[tuple[torch.Tensor, int]]) -> float:
        """The logged mean over all ranks: one gather (and one host sync) per logging step."""
        total = torch.stack([value for value, _ in records]).sum()
        weights = torch.tensor(float(sum(weight for _, weight in records)), device=total.device)
        gathered = self.accelerator.gather(torch.stack([total, weights]).view(1, 2)).view(-1, 2).sum(0)
        if mode == "train":  # a sum over micro-batches per optimizer step, averaged over the steps and ranks
            return (gathered[0] / (len(self._stp_steps_seen["train"]) * self.accelerator.num_processes)).item()
        return (gathered[0] / gathered[1]).item()

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the NTP and the method's loss means: per optimizer step for training (so that
        loss = ntp_loss + lambda * stp_loss; while lambda warms up, `stp_lambda` is the mean lambda
        used over the window and the identity holds up to that averaging), per example for evaluation."""
        mode = "eval" if any(key.startswith("eval_") for key in logs) else "train" if "loss" in logs else None
        if mode is not None:
            prefix = "eval_" if mode == "eval" else ""
            for key, records in self._stp_metrics[mode].items():
                if records:
                    logs[prefix + key] = round(self._reduce(mode, records), 6)
            self._stp_metrics[mode].clear()
            self._stp_steps_seen[mode].clear()
        if mode == "train" and self._grad_balance:
            logs.update({key: round(value, 6) for key, value in self._grad_balance.items()})
            self._grad_balance = {}
        super().log(logs, start_time)

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        """The Trainer's save, plus the predictor's weights beside the model (Pred options)."""
        super()._save(output_dir, state_dict)
        if self.args.should_save:
            save_predictor(self.model, output_dir if output_dir is not None else self.args.output_dir)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        super()._load_from_checkpoint(resume_from_checkpoint, model)
        load_predictor(model if model is not None else self.model, resume_from_checkpoint)


def gradient_balance(model, ntp: torch.Tensor, weighted_aux: torch.Tensor) -> dict[str, float]:
    """{"grad_norm_ntp", "grad_norm_aux", "grad_balance"}: the L2 norms over every trained
    parameter of d NTP / d theta and of d (lambda * aux) / d theta on the same micro-batch, and
    their ratio aux / ntp (NaN when NTP's gradient is zero).

    Two extra backward passes through the retained graph (`torch.autograd.grad`, which leaves
    `.grad` untouched), so the step's own backward is unchanged. On this process's micro-batch only
    (no all-reduce); needs a graph that can be differentiated twice (no reentrant checkpointing).
    """
    params = [param for param in model.parameters() if param.requires_grad]
    norms = {}
    for name, loss in (("grad_norm_ntp", ntp), ("grad_norm_aux", weighted_aux)):
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        squares = [grad.detach().float().pow(2).sum() for grad in grads if grad is not None]
        norms[name] = torch.stack(squares).sum().sqrt().item() if squares else 0.0
    norms["grad_balance"] = norms["grad_norm_aux"] / norms["grad_norm_ntp"] if norms["grad_norm_ntp"] > 0 else float("nan")
    return norms


LABELLED_POSITIONS = "stp_labelled_positions"  # (K,) drawn on the CPU with the method's draws, moved with them


def labelled_positions(labels: torch.Tensor) -> torch.Tensor:
    """(K,) the sequence positions whose next token carries a label in at least one row.

    labels: (batch, seq) with -100 on unlabelled tokens. Position i predicts token i + 1, so the
    last position predicts nothing. Computed on the CPU, where the labels are before the batch
    moves, so the step has no host sync."""
    return (labels[:, 1:] != -100).any(dim=0).nonzero().flatten()


def labelled_ntp_loss(model, inputs: dict, positions: torch.Tensor, divisor=None) -> torch.Tensor:
    """The causal LM loss of `model` on `inputs` (its `labels` shifted as the model's own loss
    shifts them), with the LM head run only at `positions` (`logits_to_keep`): the (batch, seq,
    vocab) logits of the unlabelled positions are never made.

    positions: (K,) from `labelled_positions`. The cross-entropy is summed over labelled tokens
    in float32 and divided by `divisor` (the Trainer's num_items_in_batch) or, without one, by
    the number of labelled tokens: the model's own reduction, to rounding.
    """
    labels = inputs["labels"]
    forward = {key: value for key, value in inputs.items() if key != "labels"}
    logits = model(**forward, logits_to_keep=positions).logits  # (batch, K, vocab)
    targets = labels[:, 1:].index_select(1, positions.to(labels.device))  # the next token of each kept position
    summed = torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1).to(logits.device), ignore_index=-100, reduction="sum"
    )
    if divisor is None:
        divisor = (targets != -100).sum()
    return summed / torch.as_tensor(divisor, device=summed.device).clamp_min(1)


def supports_logits_to_keep(model) -> bool:
    """Whether the causal LM's forward takes `logits_to_keep` (most transformers 5 models do)."""
    return "logits_to_keep" in inspect.signature(type(base_model(model)).forward).parameters


class STPTrainer(STPMixin, Trainer):
    """The Hugging Face Trainer whose loss is NTP + stp_lambda * aux, aux the method's loss
    (Huang et al., Sec. 3, Eq. 1); takes `STPTrainingArguments` and batches from `STPCollator`.

    With `ntp_logits: labelled` (the default) the NTP loss runs the LM head only on the positions
    whose next token is labelled (`labelled_ntp_loss`): the same loss, without the logits of the
    prompt tokens an answer-only loss never reads."""

    @property
    def labelled_logits(self) -> bool:
        if getattr(self, "_labelled_logits", None) is None:
            self._labelled_logits = self.args.ntp_logits is NTPLogits.LABELLED and supports_logits_to_keep(self.model)
        return self._labelled_logits


class _Captured:
    hidden_states: tuple[torch.Tensor, ...] | None = None


@contextmanager
def main_pass_hidden_states(model):
    """Capture the hidden states of the first forward pass of `model`'s backbone (the base
    PreTrainedModel's `base_model`: LlamaModel under LlamaForCausalLM, under DDP and peft
    wrappers) while the block runs; the caller asks for them with output_hidden_states=True."""
    captured = _Captured()

    def hook(module, args, output):
        if captured.hidden_states is None:
            captured.hidden_states = getattr(output, "hidden_states", None)

    handle = base_model(model).base_model.register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()
    if captured.hidden_states is None:
        raise ValueError(f"{type(base_model(model)).__name__}'s backbone returned no hidden states for output_hidden_states=True")
