"""One training run, end to end: data, model, STPTrainer, and everything written to output_dir.

    from semantic_tube.training.run import train
    train(ModelArguments(), DataArguments(train_file="train.jsonl"), STPTrainingArguments(output_dir="out"))

output_dir receives (file names: `semantic_tube.run_folder`): provenance.json (the command,
commit and package versions) and stp_config.yaml (the resolved configuration, usable as
`--config` again) when the run starts; checkpoints while it trains; then the final model or LoRA
adapter with its tokenizer, stp_model.json (the base model), eval/<task>/ (the task evaluation),
trainer_state.json (the Trainer's log history, with ntp_loss and stp_loss as their own keys) and,
last of all, metrics.json: a folder with metrics.json is finished, one without it is not. A run
that fails writes failed.json (error type, message, traceback) instead.

A resumed run ends where the uninterrupted one does. `resume_from_checkpoint: last` takes the
newest complete checkpoint (one killed mid-save is skipped, with a warning); a checkpoint already
at max_steps (a run killed during its final save, cost measurement or task evaluation) is loaded
and not trained further, where the Trainer would take one more step; and metrics.json's
train_loss and train_runtime cover the whole run, not the part after the resume (`RunClock`).
"""

from __future__ import annotations

import dataclasses
import logging
import shlex
import sys
import time
from enum import Enum
from pathlib import Path

from transformers import TrainerCallback, set_seed
from transformers.trainer_callback import ExportableState
from transformers.trainer_utils import TrainOutput

from semantic_tube.data.collator import EncodedDataset, STPCollator, encode_examples
from semantic_tube.data.jepa_views import JepaViewOptions
from semantic_tube.data.messages import ChatData, ChatExample, nested_subset, read_chat_dataset, read_chat_jsonl
from semantic_tube.data.nlrx.leakage import find_leakage
from semantic_tube.methods import Method, method_tokens
from semantic_tube.methods.predictor import PREDICTOR_FILE, load_predictor
from semantic_tube.methods.tokens import add_special_tokens
from semantic_tube.run_folder import (
    CONFIG_FILE,
    FAILED_FILE,
    METRICS_FILE,
    STATE_FILE,
    UnreadableRecord,
    failure_record,
    final_key,
    newest_complete_checkpoint,
    read_record,
    write_json_atomic,
    write_provenance,
    write_yaml_atomic,
)
from semantic_tube.training.config import (
    ConfigError,
    DataArguments,
    Finetuning,
    InvalidLines,
    ModelArguments,
    STPTrainingArguments,
    TaskEvalArguments,
)
from semantic_tube.training.cost import measure_step_cost
from semantic_tube.training.model import load_model, load_tokenizer, write_model_record
from semantic_tube.training.task_eval import TaskEvalCallback, TaskEvaluator, evaluation_shard
from semantic_tube.training.trainer import STPTrainer
from semantic_tube.training.treatment import initial_losses, measure_losses, treatment_metrics

logger = logging.getLogger(__name__)


def resolved_config(*configs) -> dict:
    """All fields of the given dataclasses as one flat dict of plain values (enums by value).

    Secrets are left out, and so are the placeholders `TrainingArguments.to_dict` puts in their
    place (`hub_token: <HUB_TOKEN>`): read back with --config, a placeholder would become the token.
    """
    flat = {}
    for config in configs:
        values = config.to_dict() if hasattr(config, "to_dict") else dataclasses.asdict(config)
        flat.update({key: plain_value(value) for key, value in values.items()})
    return {key: value for key, value in flat.items() if value != f"<{key.upper()}>"}


def plain_value(value):
    """An enum by its value, a tuple or list of them as a list of values; anything else as it is."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [plain_value(item) for item in value]
    return value


def write_resolved_config(output_dir: Path, *configs) -> None:
    write_yaml_atomic(Path(output_dir) / CONFIG_FILE, resolved_config(*configs))


def default_nlrx_files(output_dir: Path, data_args: DataArguments) -> tuple[str, str]:
    """Generate NL-RX data into output_dir/data (so the run records exactly what it saw)."""
    from semantic_tube.data.nlrx import write_nlrx

    train_path, test_path = write_nlrx(output_dir / "data", data_args.nlrx_examples, data_args.nlrx_seed)
    logger.info("no train_file given: generated %d NL-RX examples into %s", data_args.nlrx_examples, train_path.parent)
    return str(train_path), str(test_path)


def attach_lora(model, model_args: ModelArguments):
    from peft import LoraConfig, get_peft_model

    targets = model_args.lora_target_modules
    config = LoraConfig(
        task_type="CAUSAL_LM",
        r=model_args.lora_r,
        lora_alpha=model_args.lora_alpha,
        lora_dropout=model_args.lora_dropout,
        target_modules=targets if targets == "all-linear" else [name.strip() for name in targets.split(",")],
    )
    return get_peft_model(model, config)


def encode_split(tokenizer, path: str, data: ChatData, data_args: DataArguments, jepa_views: JepaViewOptions | None = None) -> EncodedDataset:
    dataset = encode_examples(
        tokenizer,
        data.examples,
        max_length=data_args.max_length,
        label_mode=data_args.label_mode,
        use_views=data_args.use_views,
        template_kwargs=data_args.chat_template_kwargs,
        skip_invalid=data_args.invalid_lines is InvalidLines.SKIP,
        skipped=data.skipped,
        jepa_views=jepa_views,
    )
    logger.info("%s: %d examples, %d skipped", path, len(dataset), len(dataset.skipped))
    return dataset


def train(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: STPTrainingArguments,
    task_args: TaskEvalArguments | None = None,
) -> dict:
    """Fine-tune with NTP + stp_lambda * (the method's loss) and write the run's files; returns metrics.json's content.

    A failure (any exception) is recorded in output_dir/failed.json before it propagates, so a
    sweep or a user reads what went wrong from the folder, never from a log; an interruption
    (Ctrl-C, a signal) is not a failure and leaves the folder to resume."""
    task_args = task_args or TaskEvalArguments()
    output_dir = Path(training_args.output_dir)
    main_process = training_args.process_index == 0
    if main_process:
        start_attempt(output_dir)
    try:
        return _train(model_args, data_args, training_args, task_args, output_dir)
    except Exception as error:
        record_failure(output_dir, error, training_args.process_index)
        raise


def start_attempt(output_dir: Path) -> None:
    """A new attempt decides the folder's state: an earlier attempt's failed.json and metrics.json
    are removed (the weights and evaluations they describe are about to be replaced), and
    provenance.json records this command, commit and versions."""
    output_dir.mkdir(parents=True, exist_ok=True)
    for name in (FAILED_FILE, METRICS_FILE):
        (output_dir / name).unlink(missing_ok=True)
    write_provenance(output_dir, command_line())


def command_line(argv: list[str] | None = None) -> str:
    """The command this process runs, as typed: `stp train ...` or `python -m semantic_tube train ...`."""
    argv = list(sys.argv if argv is None else argv)
    program = Path(argv[0]).name if argv else "python"
    if Path(argv[0] if argv else "").parent.name == "semantic_tube" and program == "__main__.py":
        return shlex.join([sys.executable, "-m", "semantic_tube", *argv[1:]])
    return shlex.join([program, *argv[1:]])


def record_failure(output_dir: Path, error: BaseException, process_index: int = 0) -> None:
    """failed.json for the first process that fails (under a launcher the others usually fail
    after it, on a collective that times out)."""
    path = output_dir / FAILED_FILE
    if path.exists():
        return
    try:
        write_json_atomic(path, {**failure_record(error), "process_index": process_index})
    except OSError as err:  # an unwritable folder must not hide the error itself
        logger.warning("could not write %s: %s", path, err)


def _train(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: STPTrainingArguments,
    task_args: TaskEvalArguments,
    output_dir: Path,
) -> dict:
    set_seed(training_args.seed)
    generated_test = None
    if data_args.train_file is None and data_args.dataset_name is None:
        data_args.train_file, generated_test = default_nlrx_files(output_dir, data_args)
    write_resolved_config(output_dir, model_args, data_args, training_args, task_args)

    skip_invalid = data_args.invalid_lines is InvalidLines.SKIP
    train_source = data_args.dataset_name or data_args.train_file
    if data_args.dataset_name:
        train_data = read_chat_dataset(data_args.dataset_name, skip_invalid=skip_invalid)
    else:
        train_data = read_chat_jsonl(data_args.train_file, skip_invalid=skip_invalid)
    train_data.examples = nested_subset(
        train_data.examples, data_args.train_fraction, data_args.train_subset_seed, limit=data_args.max_train_examples
    )
    eval_data = read_chat_jsonl(data_args.eval_file, skip_invalid=skip_invalid) if data_args.eval_file else None
    tokenizer = load_tokenizer(model_args.model_name_or_path, model_init_kwargs=model_args.model_init_kwargs)
    # auto: float32 master weights for training, whatever the device (bf16 math comes from --bf16 autocast)
    dtype = "float32" if model_args.dtype == "auto" else model_args.dtype
    model = load_model(model_args.model_name_or_path, dtype=dtype, model_init_kwargs=model_args.model_init_kwargs)
    add_special_tokens(model, tokenizer, method_tokens(training_args))  # before encoding, and before LoRA wraps the model
    jepa_views = JepaViewOptions.from_args(training_args) if training_args.method is Method.LLM_JEPA else None
    train_set = encode_split(tokenizer, train_source, train_data, data_args, jepa_views)
    eval_set = encode_split(tokenizer, data_args.eval_file, eval_data, data_args, jepa_views) if eval_data else None

    evaluator = None
    if task_args.eval_task:
        task_file = task_args.eval_task_file or generated_test or data_args.eval_file
        if not task_file:
            raise ConfigError(f"eval_task={task_args.eval_task} needs eval_task_file (or eval_file)")
        evaluator = TaskEvaluator(task_args, task_file, output_dir, template_kwargs=data_args.chat_template_kwargs)

    held_out = {}
    if eval_data:
        held_out["eval_file"] = eval_data.examples
    if evaluator:
        held_out["eval_task_file"] = evaluator.examples
    leakage = leakage_counts(train_data.examples, held_out)

    if model_args.finetuning is Finetuning.LORA:
        model = attach_lora(model, model_args)
    trainer = STPTrainer(
        model=model,
        args=training_args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=STPCollator(pad_token_id=tokenizer.pad_token_id, packing=data_args.packing),
        processing_class=tokenizer,
    )
    if model_args.model_name_or_path and load_predictor(trainer.model, model_args.model_name_or_path):
        logger.info("predictor: continuing from %s", Path(model_args.model_name_or_path) / PREDICTOR_FILE)
    if data_args.packing and trainer.objective is not None and not trainer.objective.supports_packing:
        raise ConfigError(f"packing: method={training_args.method.value} with these options does not run on packed batches")
    if evaluator and task_args.eval_task_steps:
        trainer.add_callback(TaskEvalCallback(evaluator, task_args.eval_task_steps, trainer.log, task_args.eval_task_ranks))
    checkpoint = checkpoint_to_resume(training_args)
    initial = initial_losses(trainer, output_dir, training_args.treatment_batches, resuming=checkpoint is not None)
    result = run_training(trainer, checkpoint)
    trained = measure_losses(trainer, training_args.treatment_batches)
    cost = measure_step_cost(trainer, training_args.cost_batches)
    trainer.save_model()
    write_model_record(output_dir, model_args.model_name_or_path)

    metrics = {
        **result.metrics,
        **last_logged(trainer.state.log_history, logged_loss_keys(trainer)),
        "train_examples": len(train_set),
        "train_fraction": data_args.train_fraction,
        "train_skipped_lines": len(train_set.skipped),
        **leakage,
        "seed": training_args.seed,
        "method": training_args.method.value,
        "stp_lambda": training_args.stp_lambda,
        "stp_form": training_args.stp_form.value,
        **treatment_metrics(initial, trained, min(len(train_set), training_args.treatment_batches * training_args.per_device_eval_batch_size)),
        **cost,
    }
    evaluated = trainer.evaluate() if eval_set is not None else {}
    shard = evaluation_shard(training_args, task_args.eval_task_ranks, trainer.model) if evaluator is not None else None
    if shard is not None:
        logged = evaluator.scored_step == trainer.state.global_step  # the periodic evaluation just scored this model
        task_metrics = evaluator.run(trainer.model, tokenizer, trainer.state.global_step, shard=shard)
        if not logged and trainer.is_world_process_zero():
            trainer.log(task_metrics)  # through the Trainer, so report_to (TensorBoard, W&B) sees the scores
        evaluated.update(task_metrics)
    metrics.update(evaluated)
    if trainer.is_world_process_zero():
        # after the final evaluations, so trainer_state.json holds them too
        write_json_atomic(output_dir / STATE_FILE, dataclasses.asdict(trainer.state))
        # The Trainer's usual files too: train_results.json, eval_results.json and all_results.json.
        trainer.save_metrics("train", result.metrics)
        if evaluated:
            trainer.save_metrics("eval", evaluated)
        write_json_atomic(output_dir / METRICS_FILE, metrics)  # last: its presence means the run finished
    return metrics


def leakage_counts(train: list[ChatExample], held_out: dict[str, list[ChatExample]]) -> dict[str, int]:
    """Queries and answers of each held-out set also found in the training data: logged as a
    warning when any, and returned for metrics.json (a leaked test example measures memory)."""
    counts = {}
    for name, examples in held_out.items():
        leakage = find_leakage(train, examples)
        counts[f"leakage/{name}/queries"] = len(leakage.descriptions)
        counts[f"leakage/{name}/answers"] = len(leakage.regexes)
        if leakage:
            logger.warning("%s shares text with the training data:\n%s", name, leakage.format(limit=3))
    return counts


def checkpoint_to_resume(training_args: STPTrainingArguments) -> str | None:
    """`--resume_from_checkpoint last` picks the newest complete checkpoint in output_dir (none:
    start fresh); a newer one killed mid-save (no readable trainer_state.json) is skipped with a
    warning, where the Trainer would pick it and fail ("Can't find a valid checkpoint")."""
    if training_args.resume_from_checkpoint != "last":
        return training_args.resume_from_checkpoint
    found, skipped = newest_complete_checkpoint(training_args.output_dir)
    for path in skipped:
        logger.warning("resume_from_checkpoint=last: skipping %s, written in part (no readable %s: killed while saving?)", path, STATE_FILE)
    logger.info("resume_from_checkpoint=last: %s", found or "no checkpoint yet, starting fresh")
    return str(found) if found is not None else None


# -------------------------------------------------------------------------------------------
# Training that a resume ends where an uninterrupted run does


class TrainingComplete(Exception):
    """The resumed checkpoint is already at max_steps: nothing is left to train."""


class RunClock(TrainerCallback, ExportableState):
    """Training seconds of the whole run, saved in every checkpoint's trainer_state.json
    (`stateful_callbacks`), so a resumed run's train_runtime covers every session up to its
    checkpoint, not the last one only. It also ends a resume from a checkpoint already at
    max_steps before the first step: the Trainer fast-forwards into the epoch and takes one more
    step before it checks max_steps (whenever max_steps is not a whole number of epochs)."""

    def __init__(self, seconds: float = 0.0):
        self.seconds = float(seconds)  # training seconds before this session
        self._started: float | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self._started = time.monotonic()
        state.stateful_callbacks.setdefault(type(self).__name__, self.state())  # a checkpoint written before this record
        if state.max_steps > 0 and state.global_step >= state.max_steps:
            raise TrainingComplete(f"checkpoint at step {state.global_step} of {state.max_steps}")

    def state(self) -> dict:
        elapsed = time.monotonic() - self._started if self._started is not None else 0.0
        return {"args": {"seconds": round(self.seconds + elapsed, 3)}, "attributes": {}}


def clock_seconds(checkpoint: str | None) -> float | None:
    """Training seconds recorded in a checkpoint by `RunClock`; 0 for a fresh start, None for a
    checkpoint without the record (written by an older version)."""
    if checkpoint is None:
        return 0.0
    try:
        state = read_record(Path(checkpoint) / STATE_FILE) or {}
    except UnreadableRecord:
        return None
    recorded = (state.get("stateful_callbacks") or {}).get(RunClock.__name__)
    recorded = recorded[-1] if isinstance(recorded, list) and recorded else recorded
    seconds = recorded.get("args", {}).get("seconds") if isinstance(recorded, dict) else None
    return float(seconds) if isinstance(seconds, (int, float)) else None


def run_training(trainer, checkpoint: str | None) -> TrainOutput:
    """`trainer.train(resume_from_checkpoint=checkpoint)` with whole-run train_loss and
    train_runtime (see `whole_run`); a checkpoint already at max_steps is loaded, not trained on."""
    before = clock_seconds(checkpoint)
    trainer.add_callback(RunClock(before or 0.0))
    resumed_step = 0
    if checkpoint is not None:
        try:
            resumed_step = int((read_record(Path(checkpoint) / STATE_FILE) or {}).get("global_step", 0))
        except (UnreadableRecord, TypeError, ValueError):
            resumed_step = 0
    try:
        result = trainer.train(resume_from_checkpoint=checkpoint)
    except TrainingComplete as done:
        logger.info("resume_from_checkpoint: %s is already at max_steps (%s); nothing left to train", checkpoint, done)
        trainer.is_in_train = False
        trainer.control = trainer.callback_handler.on_train_end(trainer.args, trainer.state, trainer.control)
        summary = {"train_runtime": 0.0, "train_samples_per_second": 0.0, "train_steps_per_second": 0.0, "total_flos": trainer.state.total_flos}
        result = TrainOutput(trainer.state.global_step, float("nan"), summary)
        trainer.log(summary)  # the summary entry an uninterrupted run's log history ends with (filled in below)
    if checkpoint is None:
        return result
    if before is None:
        logger.warning("%s records no training time (an older version wrote it): train_runtime covers the resumed part only", checkpoint)
    return whole_run(trainer, result, resumed_step, before)


def whole_run(trainer, result: TrainOutput, resumed_step: int, before_seconds: float | None) -> TrainOutput:
    """The Trainer's train_loss and train_runtime after a resume cover the resumed steps only.
    train_loss becomes the mean per-step loss of the whole run: the steps before the resume from
    the log history (each logged `loss` is the mean over its logging interval; exact when the
    checkpoint is a logging step, as in every preset), the rest the Trainer's; train_runtime adds
    the training seconds the checkpoint recorded. The rates are over the whole run when nothing
    was trained in this session. The log history's summary entry is set to the same values."""
    session_steps = trainer.state.global_step - resumed_step
    logged_sum, logged_steps = logged_loss_sum(trainer.state.log_history, resumed_step)
    session_sum = result.training_loss * session_steps if session_steps else 0.0
    steps = logged_steps + session_steps
    metrics = dict(result.metrics)
    if steps:
        metrics["train_loss"] = (logged_sum + session_sum) / steps
    if before_seconds is not None:
        metrics["train_runtime"] = round(before_seconds + float(metrics.get("train_runtime", 0.0)), 4)
    if not session_steps and metrics.get("train_runtime"):
        batch = trainer.args.per_device_train_batch_size * trainer.args.gradient_accumulation_steps * trainer.args.world_size
        metrics["train_steps_per_second"] = round(trainer.state.global_step / metrics["train_runtime"], 3)
        metrics["train_samples_per_second"] = round(trainer.state.global_step * batch / metrics["train_runtime"], 3)
    entry = next((entry for entry in reversed(trainer.state.log_history) if "train_runtime" in entry), None)
    if entry is not None:
        entry.update({key: metrics[key] for key in ("train_loss", "train_runtime", "train_steps_per_second", "train_samples_per_second") if key in metrics})
    return TrainOutput(result.global_step, metrics.get("train_loss", result.training_loss), metrics)


def logged_loss_sum(log_history: list[dict], up_to_step: int) -> tuple[float, int]:
    """(sum of per-step training losses, steps they cover) from the logged `loss` values up to a
    step: each logged value is the mean over the steps since the previous log."""
    total, previous = 0.0, 0
    for entry in log_history:
        step = entry.get("step")
        if "loss" in entry and isinstance(step, int) and previous < step <= up_to_step:
            total += float(entry["loss"]) * (step - previous)
            previous = step
    return total, previous


def logged_loss_keys(trainer) -> tuple[str, ...]:
    """The logged training series whose last values metrics.json keeps as final_<key>."""
    aux = trainer.objective.log_name if trainer.objective else "stp_loss"
    forms = tuple(f"stp_{form.value}_loss" for form in trainer.args.stp_log_forms)
    return ("loss", "ntp_loss", aux, *forms)


def last_logged(log_history: list[dict], keys: tuple[str, ...]) -> dict:
    """The last logged value of each key, as `final_<key>`."""
    found = {}
    for entry in log_history:
        found.update({final_key(key): entry[key] for key in keys if key in entry})
    return found
