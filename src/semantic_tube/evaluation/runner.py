"""`evaluate`: generate (or rank options) with a model on a task's examples, score, analyse.

The same function serves `stp eval` and the trainer's end-of-training (or every-N-steps)
evaluation, so both report identical numbers for identical predictions.

Prompts are rendered exactly as training renders them: an example with its own system turn, or
with none (a template such as SmolLM2's then inserts its own default, as it did in training),
and with the run's chat-template arguments (`template_kwargs`). A task's system prompt is never
added: a model scored on prompts it was not trained on measures the mismatch, not the model.
"""

from __future__ import annotations

import time
from pathlib import Path

from semantic_tube.data.messages import ChatExample
from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.generation import generate_answers
from semantic_tube.evaluation.likelihood import choose_options
from semantic_tube.evaluation.report import EvalReport
from semantic_tube.evaluation.representations import difference_spectra, text_code_embeddings
from semantic_tube.evaluation.scorers import ScoreOptions
from semantic_tube.evaluation.scoring import check_records, score_records
from semantic_tube.evaluation.straightness import trajectory_straightness
from semantic_tube.evaluation.tasks import CHOOSE, Task, choices_of, get_task

ANALYSES = ("svd", "straightness")  # optional extras; the suffix split is part of NL-RX scoring


def evaluate(
    model,
    tokenizer,
    task: str | Task,
    examples: list[ChatExample],
    *,
    batch_size: int = 16,
    max_new_tokens: int | None = None,
    output_dir: str | Path | None = None,
    score_options: ScoreOptions | None = None,
    suffixes: tuple[str, ...] | None = None,
    analyses: tuple[str, ...] = (),
    template_kwargs: dict | None = None,
    progress: bool = True,
    shard: tuple[int, int] = (0, 1),
) -> EvalReport:
    """Score `model` on `examples`; writes predictions.jsonl and eval.json when `output_dir` is given.

    max_new_tokens defaults to the task's fixed budget (`Task.max_new_tokens`), never to one
    derived from these examples' references, so an example gets the same verdict whatever else
    is evaluated with it. Examples are rendered as they are, as in training (no system prompt is
    added), with the training run's `template_kwargs` when given. The model's train/eval mode is
    restored afterwards, so a trainer can call this mid-training. `progress` shows prompts done /
    total on stderr while generating or scoring options.

    shard = (rank, world): under a launcher, each of `world` processes (torch.distributed
    initialised) predicts every world-th example from its rank, and the predictions are gathered
    in order, so every process returns the same report as one process would.
    """
    task = get_task(task)
    unknown = set(analyses) - set(ANALYSES)
    if unknown:
        raise EvalError(f"unknown analysis {', '.join(sorted(unknown))}; known: {', '.join(ANALYSES)}")
    if not examples:
        raise EvalError(f"no examples to evaluate task {task.name} on")
    if max_new_tokens is not None and max_new_tokens < 1:
        raise EvalError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    options = score_options or ScoreOptions()
    records = [_record(example) for example in examples]
    check_records(task, records, options)  # a missing database fails now, not after generating
    was_training = model.training
    model.eval()
    try:
        started = time.monotonic()
        settings = {"batch_size": batch_size, "template_kwargs": template_kwargs, "progress": progress}
        meta = _predict_shard(model, tokenizer, task, examples, records, max_new_tokens, settings, shard)
        meta["predict_seconds"] = round(time.monotonic() - started, 3)
        report = score_records(task, records, options, suffixes=suffixes)
        report.meta |= meta | {"batch_size": batch_size}
        _analyse(report, model, tokenizer, examples, analyses, batch_size, template_kwargs)
    finally:
        model.train(was_training)
    if output_dir is not None:
        report.write(output_dir)
    return report


def _record(example: ChatExample) -> dict:
    return {"source": example.source, "system": example.system, "prompt": example.user, "reference": example.assistant}


def _predict_shard(model, tokenizer, task: Task, examples, records, max_new_tokens, settings: dict, shard: tuple[int, int]) -> dict:
    """`_predict` on this process's share of the examples, then every share gathered in order."""
    rank, world = shard
    if world == 1:
        return _predict(model, tokenizer, task, examples, records, max_new_tokens, settings)
    import torch.distributed as dist

    mine = list(range(rank, len(examples), world))
    # A sharded model (FSDP, ZeRO-3) gathers its weights in every forward, so every rank must run
    # the same number of batches: shares are topped up with repeats of an example, then dropped.
    # (generate itself keeps the ranks in step within a batch: synced_gpus, set by transformers.)
    padded = mine + [mine[-1] if mine else 0] * (-(-len(examples) // world) - len(mine)) if is_sharded(model) else mine
    part = [dict(records[i]) for i in padded]
    meta = _predict(model, tokenizer, task, [examples[i] for i in padded], part, max_new_tokens, settings)
    part = part[: len(mine)]
    if "truncated" in meta:
        meta["truncated"] = sum(bool(record.get("truncated")) for record in part)
    shares: list = [None] * world
    dist.all_gather_object(shares, (mine, part, meta))
    for indices, predicted, _ in shares:
        for i, record in zip(indices, predicted):
            records[i] = record
    if "truncated" in meta:
        meta["truncated"] = sum(share_meta["truncated"] for _, _, share_meta in shares)
    return meta | {"processes": world}


def is_sharded(model) -> bool:
    """Whether the model's weights are sharded across processes (FSDP or DeepSpeed ZeRO-3)."""
    from transformers.integrations import is_deepspeed_zero3_enabled
    from transformers.integrations.fsdp import is_fsdp_managed_module

    return is_deepspeed_zero3_enabled() or is_fsdp_managed_module(model)


def _predict(model, tokenizer, task: Task, examples, records, max_new_tokens: int | None, settings: dict) -> dict:
    """Fill each record's `prediction` (and `choices` or `truncated`); returns what to record in meta.

    settings: batch_size, template_kwargs and progress, passed to generation or option scoring.
    """
    if task.mode == CHOOSE:
        options = [choices_of(example.user) for example in examples]
        scores, method = choose_options(model, tokenizer, examples, options, **settings)
        for record, option_scores in zip(records, scores):
            record["prediction"] = max(option_scores, key=option_scores.get)
            record["choices"] = option_scores
        return {"choice_scoring": method}
    budget = max_new_tokens or task.max_new_tokens
    generations = generate_answers(model, tokenizer, examples, max_new_tokens=budget, **settings)
    for record, generation in zip(records, generations):
        record["prediction"] = generation.text
        record["truncated"] = generation.truncated
    return {"max_new_tokens": budget, "truncated": sum(generation.truncated for generation in generations)}


def _analyse(report: EvalReport, model, tokenizer, examples, analyses, batch_size: int, template_kwargs) -> None:
    if "svd" in analyses:
        embeddings = text_code_embeddings(model, tokenizer, examples, batch_size=batch_size, template_kwargs=template_kwargs)
        spectra = difference_spectra(*embeddings)
        report.analyses["svd"] = spectra
        report.metrics |= {"svd/rank_raw": spectra["rank_raw"], "svd/rank_normalized": spectra["rank_normalized"]}
    if "straightness" in analyses:
        values = trajectory_straightness(model, tokenizer, examples, batch_size=batch_size, template_kwargs=template_kwargs)
        report.analyses["straightness"] = values
        report.metrics |= {f"straightness/{key}": value for key, value in values.items()}
