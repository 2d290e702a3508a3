"""What `stp train` prints when it ends: what the run was for, where the user is looking.

The task scores with their 95% intervals (the same table `stp eval` prints), the final NTP and
STP losses, the run time and the output folder with its main files. Everything here is read
from the metrics `train()` returned, so the summary and metrics.json cannot disagree.
"""

from __future__ import annotations

from pathlib import Path

from semantic_tube.evaluation.report import EvalReport
from semantic_tube.run_folder import CONFIG_FILE, EVAL_GLOB, METRICS_FILE, STATE_FILE, TASK_PREFIX
from semantic_tube.training.treatment import treatment_line


def task_tables(metrics: dict) -> list[str]:
    """One `stp eval`-style table per task scored at the end of training."""
    tasks = sorted({key[len(TASK_PREFIX) :].partition("/")[0] for key in metrics if key.startswith(TASK_PREFIX) and "/" in key})
    tables = []
    for task in tasks:
        prefix = f"{TASK_PREFIX}{task}/"
        scores = {key[len(prefix) :]: value for key, value in metrics.items() if key.startswith(prefix)}
        if "count" in scores:
            tables.append(EvalReport(task=task, metrics=scores, predictions=[]).table())
    return tables


def format_duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {seconds:02d}s" if hours else f"{minutes}m {seconds:02d}s"


AUX_LOSSES = ("stp", "jepa", "mask", "curvature")  # the methods' logged series (<name>_loss)


def _losses(metrics: dict) -> str:
    parts = [f"{name} {metrics[f'final_{name}_loss']:.4f}" for name in ("ntp", *AUX_LOSSES) if f"final_{name}_loss" in metrics]
    if "eval_ntp_loss" in metrics:
        parts.append(f"held-out ntp {metrics['eval_ntp_loss']:.4f}")
    return ", ".join(parts) or "none logged (fewer steps than logging_steps?)"


def run_summary(metrics: dict, output_dir: str | Path, elapsed_seconds: float, log_history: list[dict] | None = None) -> str:
    """The closing lines of `stp train`; elapsed_seconds is the whole command's time, log_history
    the Trainer's (for the first and last logged values of the method's loss)."""
    folder = Path(output_dir)
    lines = [
        f"stp train: done in {format_duration(elapsed_seconds)} ({format_duration(metrics.get('train_runtime', 0.0))} of "
        f"training), {metrics.get('train_examples', '?')} training examples, seed {metrics.get('seed')}, "
        f"method {metrics.get('method', 'stp')}, stp_lambda {metrics.get('stp_lambda')}"
    ]
    tables = task_tables(metrics)
    lines += tables or ["no task scored (set eval_task to score one at the end)"]
    lines.append(f"final losses: {_losses(metrics)}")
    treatment = treatment_line(metrics, log_history)
    if treatment:
        lines.append(treatment)
    if "cost/step_time_vs_ntp" in metrics:
        lines.append(
            f"cost: {metrics['cost/forward_passes_per_step']} forward pass(es) per step, "
            f"step time {metrics['cost/step_time_vs_ntp']:.2f} x NTP's on the same batches"
        )
    main_files = [METRICS_FILE, CONFIG_FILE, STATE_FILE]
    main_files += [str(path.relative_to(folder)) for path in sorted(folder.glob(EVAL_GLOB))]
    weights = next((name for name in ("model.safetensors", "adapter_model.safetensors") if (folder / name).is_file()), None)
    main_files += [weights] if weights else []
    lines.append(f"output: {folder}/  ({', '.join(name for name in main_files if (folder / name).is_file())})")
    return "\n".join(lines)
