"""Scoring a task during and after training, through the same `evaluate` as `stp eval`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from transformers import TrainerCallback

from semantic_tube.data.messages import ChatExample
from semantic_tube.run_folder import EVAL_DIR, TASK_PREFIX
from semantic_tube.training.config import EvalRanks, TaskEvalArguments

logger = logging.getLogger(__name__)


class TaskEvaluator:
    """A task, its examples and where reports go; `run` scores a model and returns flat metrics."""

    def __init__(self, config: TaskEvalArguments, data_file: str, output_dir: Path, template_kwargs: dict | None = None):
        from semantic_tube.evaluation import get_task

        self.task = get_task(config.eval_task)
        self.examples: list[ChatExample] = self.task.load(data_file, limit=config.eval_task_limit)
        self.options = config.score_options()  # the database folder and time limits, as `stp eval` takes them
        self.suffixes = config.suffixes()
        self.batch_size = config.eval_task_batch_size
        self.max_new_tokens = config.eval_task_max_new_tokens
        self.output_dir = output_dir / EVAL_DIR / self.task.name
        self.template_kwargs = template_kwargs  # the training run's, so prompts render as in training
        self.scored_step: int | None = None  # the optimizer step of the last report, kept for reuse
        self._last_report = None

    def run(self, model, tokenizer, step: int, folder: str | None = None, shard: tuple[int, int] = (0, 1)) -> dict[str, float]:
        """Score the model as it is at optimizer `step` and write the report into the task's
        folder (or its sub-folder `folder`). A step already scored is not generated again: the
        end-of-training scores reuse the last periodic evaluation when it was at the final step.

        shard = (rank, world): every process of a launched run calls this together; each
        generates its share of the prompts, the predictions are gathered in order (every process
        returns the same metrics) and only rank 0 writes the report."""
        from semantic_tube.evaluation import evaluate

        rank, _ = shard
        target = self.output_dir / folder if folder else self.output_dir
        if step != self.scored_step:
            self._last_report = evaluate(
                model,
                tokenizer,
                self.task,
                self.examples,
                batch_size=self.batch_size,
                max_new_tokens=self.max_new_tokens,
                score_options=self.options,
                suffixes=self.suffixes,
                template_kwargs=self.template_kwargs,
                progress=rank == 0,
                shard=shard,
            )
            self.scored_step = step
        if rank == 0:
            self._last_report.write(target)
            logger.info("%s on %d examples -> %s", self.task.name, len(self.examples), target)
        return {f"{TASK_PREFIX}{self.task.name}/{key}": value for key, value in self._last_report.metrics.items()}


def evaluation_shard(args, ranks: EvalRanks, model=None) -> tuple[int, int] | None:
    """This process's (rank, world) for a task evaluation under `ranks`, or None when it sits
    this one out (ranks=main, not rank 0). A sharded model (FSDP, ZeRO-3) needs every process."""
    from semantic_tube.evaluation.runner import is_sharded

    world = args.world_size
    if ranks is EvalRanks.ALL or world == 1:
        return args.process_index, world
    if model is not None and is_sharded(model):
        raise ValueError("eval_task_ranks=main: the model is sharded (FSDP or ZeRO-3), so one process cannot generate alone; use all")
    return (0, 1) if args.process_index == 0 else None


class TaskEvalCallback(TrainerCallback):
    """Every `every` optimizer steps, score the task and log the metrics through `log` (the
    trainer's), so they reach the log history and every `report_to` integration. With
    ranks=all every process scores its share; with ranks=main rank 0 scores all of them while
    the others wait at their next collective."""

    def __init__(self, evaluator: TaskEvaluator, every: int, log: Callable[[dict[str, float]], None], ranks: EvalRanks = EvalRanks.ALL):
        self.evaluator, self.every, self.log, self.ranks = evaluator, every, log, ranks

    def on_step_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        if state.global_step % self.every:
            return
        shard = evaluation_shard(args, self.ranks, model)
        if shard is None:
            return
        metrics = self.evaluator.run(model, processing_class, state.global_step, folder=f"step-{state.global_step}", shard=shard)
        if state.is_world_process_zero:
            # Trainer.log's on_log clears control.should_log: at a logging step that would drop this
            # step's training log on rank 0 alone, and leave the ranks' collectives out of step.
            due = control.should_log
            self.log(metrics)
            control.should_log = due
