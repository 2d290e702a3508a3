"""One training run, end to end: data, model, STPTrainer, and everything written to output_dir.

    from semantic_tube.training.run import train
    train(ModelArguments(), DataArguments(train_file="train.jsonl"), STPTrainingArguments(output_dir="out"))

output_dir receives: stp_config.yaml (the resolved configuration, usable as `--config` again),
trainer_state.json (the Trainer's log history, with ntp_loss and stp_loss as their own keys),
the final model or LoRA adapter with its tokenizer, stp_model.json (the base model), and
metrics.json.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from enum import Enum
from pathlib import Path

import yaml
from transformers import set_seed

from semantic_tube.data.collator import EncodedDataset, STPCollator, encode_examples
from semantic_tube.data.jepa_views import JepaViewOptions
from semantic_tube.data.messages import ChatData, ChatExample, nested_subset, read_chat_dataset, read_chat_jsonl
from semantic_tube.data.nlrx.leakage import find_leakage
from semantic_tube.methods import Method, method_tokens
from semantic_tube.methods.predictor import PREDICTOR_FILE, load_predictor
from semantic_tube.methods.tokens import add_special_tokens
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
from semantic_tube.training.treatment import initial_losses, measure_losses, treatment_metrics
from semantic_tube.training.model import load_model, load_tokenizer, write_model_record
from semantic_tube.training.task_eval import TaskEvalCallback, TaskEvaluator, evaluation_shard
from semantic_tube.training.trainer import STPTrainer

logger = logging.getLogger(__name__)
CONFIG_FILE = "stp_config.yaml"
METRICS_FILE = "metrics.json"


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
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / CONFIG_FILE).write_text(yaml.safe_dump(resolved_config(*configs), sort_keys=True))


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
    """Fine-tune with NTP + stp_lambda * (the method's loss) and write the run's files; returns metrics.json's content."""
    task_args = task_args or TaskEvalArguments()
    output_dir = Path(training_args.output_dir)
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
    result = trainer.train(resume_from_checkpoint=checkpoint)
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
    trainer.save_state()  # after the final evaluations, so trainer_state.json holds them too
    if trainer.is_world_process_zero():
        (output_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        # The Trainer's usual files too: train_results.json, eval_results.json and all_results.json.
        trainer.save_metrics("train", result.metrics)
        if evaluated:
            trainer.save_metrics("eval", evaluated)
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
    """`--resume_from_checkpoint last` picks the newest checkpoint in output_dir (none: start fresh)."""
    if training_args.resume_from_checkpoint != "last":
        return training_args.resume_from_checkpoint
    from transformers.trainer_utils import get_last_checkpoint

    found = get_last_checkpoint(training_args.output_dir) if Path(training_args.output_dir).is_dir() else None
    logger.info("resume_from_checkpoint=last: %s", found or "no checkpoint yet, starting fresh")
    return found


def logged_loss_keys(trainer) -> tuple[str, ...]:
    """The logged training series whose last values metrics.json keeps as final_<key>."""
    aux = trainer.objective.log_name if trainer.objective else "stp_loss"
    forms = tuple(f"stp_{form.value}_loss" for form in trainer.args.stp_log_forms)
    return ("loss", "ntp_loss", aux, *forms)


def last_logged(log_history: list[dict], keys: tuple[str, ...]) -> dict:
    """The last logged value of each key, as `final_<key>`."""
    found = {}
    for entry in log_history:
        found.update({f"final_{key}": entry[key] for key in keys if key in entry})
    return found
