"""Running a grid of `stp train` runs: one folder per point, resumable, shardable, one process per point.

    stp sweep --config sweeps/quick.yaml --out runs/quick [--shard i/n] [--dry-run] [--field value ...]

The sweep folder (--out):
  sweep.yaml          the sweep file as run (byte for byte); another sweep in the folder is an error
  sweep_state.json    every point's status (`run_folder.Status`), rewritten after each run
  <point_id>/         what `stp train` writes (stp_config.yaml, provenance.json, trainer_state.json,
                      eval/<task>/eval.json, the final model, metrics.json last; its checkpoints are
                      removed once it is finished, since only an interrupted run needs them), plus:
    sweep_point.json    where the point sits in the grid and how it was run, written before training;
                        on success "finished_at" and "seconds" (that attempt's wall time) are added
    sweep_config.yaml   the point's whole configuration, the `--config` of its `stp train`
    train.log           the run's output (each attempt appended; never read by the sweep)
    failed.json         when the run failed: `stp train`'s own record (error, type, message,
                        traceback) plus "exit_code" and "finished_at"
    .lock               while a process works on the point (experiments.locks)

A point's status is the run-folder contract's (`semantic_tube.run_folder.folder_status`):
finished when metrics.json is readable, failed, running (a live lock) or incomplete. Each run is
its own `python -m semantic_tube train` process, so a crash or an out-of-memory kill fails that
point only; it is recorded and the sweep goes on. Started again, a sweep tidies finished points
a killed sweep left (checkpoints, a stale lock), skips them, retries failed ones and resumes an
interrupted one from its newest complete checkpoint (`resume_from_checkpoint: last`).

By concern: `check` (before anything trains), `point` (one point's run and what its folder says),
`timing` (steps and time estimates), `runner` (the grid, the dry run, the summary).
"""

from semantic_tube.experiments.sweep.check import (
    FILE_FIELDS,
    FOLDER_FIELDS,
    CheckedSweep,
    check_field_names,
    check_folder,
    check_sweep,
    missing_paths,
)
from semantic_tube.experiments.sweep.point import (
    Outcome,
    Score,
    ended_how,
    point_config,
    point_record,
    point_seconds,
    point_status,
    read_score,
    remove_incomplete_checkpoints,
    run_point,
    sweep_hash,
    train_command,
)
from semantic_tube.experiments.sweep.runner import SweepRunner, plan, run_sweep
from semantic_tube.experiments.sweep.timing import (
    CostModel,
    TimeModel,
    cost_model_seconds,
    count_lines,
    duration,
    estimate_steps,
    launcher_processes,
    test_prompts,
    train_examples,
)
from semantic_tube.run_folder import Status, provenance

__all__ = [
    "FILE_FIELDS", "FOLDER_FIELDS", "CheckedSweep", "CostModel", "Outcome", "Score", "Status", "SweepRunner", "TimeModel",
    "check_field_names", "check_folder", "check_sweep", "cost_model_seconds", "count_lines", "duration", "ended_how",
    "estimate_steps", "launcher_processes", "missing_paths", "plan", "point_config", "point_record", "point_seconds",
    "point_status", "provenance", "read_score", "remove_incomplete_checkpoints", "run_point", "run_sweep", "sweep_hash",
    "test_prompts", "train_command", "train_examples",
]  # fmt: skip
