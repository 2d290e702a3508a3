"""One point of a sweep: its configuration, its `stp train` process under the point's lock, and
what the point's folder says about it afterwards (status, score, wall time).

The last writes of a point are ordered so that every moment's folder has one meaning (the
run-folder contract's `folder_status`): `stp train` writes metrics.json last, so a child killed
after it leaves a finished point whatever its exit code, and a child that fails writes its own
failed.json (error type, message, traceback); the sweep adds the exit code, or writes the record
itself for a child that died without one (a signal, the out-of-memory killer), never reading
train.log. Then the sweep records the wall time, removes the checkpoints and releases the lock;
a sweep killed in between leaves a finished point that the next sweep tidies.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from semantic_tube.experiments.grid import Point, Sweep
from semantic_tube.experiments.locks import PointLock, acquire
from semantic_tube.run_folder import (
    CI_HIGH_SUFFIX,
    CI_LOW_SUFFIX,
    FAILED_FILE,
    LOCK_FILE,
    LOG_FILE,
    METRICS_FILE,
    POINT_CONFIG,
    POINT_FILE,
    Status,
    UnreadableRecord,
    folder_status,
    main_metric,
    newest_complete_checkpoint,
    now,
    read_lock,
    read_record,
    task_key,
    tidy_finished,
    write_json_atomic,
    write_yaml_atomic,
)

TERMINATE_GRACE_S = 30  # how long a stopped sweep waits for its `stp train` to exit before killing it


@dataclass(frozen=True)
class Outcome:
    point: Point
    status: Status
    seconds: float | None = None
    message: str | None = None  # the error of a failed run, the holder of a locked one


def point_config(point: Point, folder: Path) -> dict:
    """What the point's `stp train` reads: its config, its folder, and resume from the newest
    checkpoint (a fresh start when there is none)."""
    return {**point.config, "output_dir": str(folder), "resume_from_checkpoint": "last"}


def train_command(folder: Path, launcher: tuple[str, ...] = ()) -> list[str]:
    """`python -m semantic_tube train --config <folder>/sweep_config.yaml`, or the sweep's launcher
    (`torchrun --nproc_per_node=8 -m semantic_tube train ...`) in place of the Python."""
    return [*(launcher or (sys.executable,)), "-m", "semantic_tube", "train", "--config", str(folder / POINT_CONFIG)]


def point_status(folder: Path) -> Status:
    """The point's status: the run-folder contract's `folder_status`, without the reason."""
    return folder_status(folder)[0]


def run_point(sweep: Sweep, point: Point, folder: Path, provenance: dict) -> Outcome:
    """Train one point under its lock; a failure is written to failed.json, never raised.

    Stopping the sweep (Ctrl-C, SIGTERM from a scheduler) stops the run, releases the lock and
    re-raises: the point is left to resume, not marked failed."""
    lock = acquire(folder)
    if lock is None:
        holder = read_lock(folder / LOCK_FILE)
        where = holder.describe() if holder else "a process that is writing its lock"
        return Outcome(point, Status.RUNNING, message=f"locked by {where}; delete {folder / LOCK_FILE} if that process is gone")
    try:
        if point_status(folder) is Status.FINISHED:
            tidy_finished(folder)
            return Outcome(point, Status.FINISHED, message="finished by another process")
        (folder / FAILED_FILE).unlink(missing_ok=True)  # a retry
        (folder / METRICS_FILE).unlink(missing_ok=True)  # a damaged one (a readable one is finished, above)
        remove_incomplete_checkpoints(folder)
        return _train(sweep, point, folder, provenance, lock)
    finally:
        lock.release()


def remove_incomplete_checkpoints(folder: Path) -> list[Path]:
    """Checkpoints newer than the newest complete one (killed mid-save: no readable
    trainer_state.json); `resume_from_checkpoint: last` skips them too, this frees their disk."""
    import shutil

    skipped = newest_complete_checkpoint(folder)[1]
    for checkpoint in skipped:
        shutil.rmtree(checkpoint, ignore_errors=True)
    return skipped


def point_record(sweep: Sweep, point: Point, command: list[str], provenance: dict) -> dict:
    """sweep_point.json as written before training. `overrides.output_dir` is the point's folder
    relative to the sweep folder (its name), so the record holds for a copied or moved folder."""
    return {
        "sweep": sweep.name,
        "sweep_file": sweep.source,
        "sweep_sha256": sweep_hash(sweep),
        "point_id": point.point_id,
        "coordinates": point.coordinates,
        # everything the point sets beyond the sweep file's config: `--field value`, then the grid's
        "overrides": {**sweep.overrides, **point.overrides, "output_dir": point.point_id, "resume_from_checkpoint": "last"},
        "command": shlex.join(command),
        "started_at": now(),
        **provenance,
    }


def _train(sweep: Sweep, point: Point, folder: Path, provenance: dict, lock: PointLock) -> Outcome:
    command = train_command(folder, sweep.launcher)
    write_yaml_atomic(folder / POINT_CONFIG, point_config(point, folder))
    record = point_record(sweep, point, command, provenance)
    write_json_atomic(folder / POINT_FILE, record)
    started = time.monotonic()
    with (folder / LOG_FILE).open("a", encoding="utf-8") as log:
        log.write(f"=== {now()} {shlex.join(command)}\n")
        log.flush()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
        lock.set_child(process.pid)
        try:
            code = process.wait()
        except BaseException:  # Ctrl-C or SIGTERM: stop the run, leave the point to resume
            _stop(process)
            raise
    seconds = time.monotonic() - started
    status, problem = folder_status(folder)  # metrics.json is written last: there means finished, whatever the exit code
    if status is Status.FINISHED:
        write_json_atomic(folder / POINT_FILE, {**record, "finished_at": now(), "seconds": round(seconds, 1)})
        tidy_finished(folder)  # its checkpoints: only a run to resume needs them; the final model stays
        return Outcome(point, Status.FINISHED, seconds)
    failure = _child_failure(folder)
    failure = {**failure, "error": failure.get("error") or ended_how(code), "exit_code": code, "finished_at": failure.get("finished_at") or now()}
    write_json_atomic(folder / FAILED_FILE, failure)
    return Outcome(point, Status.FAILED, seconds, failure["error"])


def _child_failure(folder: Path) -> dict:
    """The failed.json `stp train` wrote for itself, or {} (it died without writing one)."""
    try:
        return read_record(folder / FAILED_FILE) or {}
    except UnreadableRecord:
        return {}


def ended_how(code: int) -> str:
    """How a `stp train` that wrote no failed.json ended: a negative code is the signal that killed it."""
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        reason = " (the kernel's out-of-memory killer sends it)" if -code == signal.SIGKILL else ""
        return f"stp train killed by {name}{reason}"
    if code == 0:
        return f"stp train exited normally but wrote no {METRICS_FILE}"
    return f"stp train exited with code {code} without writing {FAILED_FILE} (its output is in {LOG_FILE})"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(TERMINATE_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sweep_hash(sweep: Sweep) -> str:
    return hashlib.sha256(sweep.text.encode("utf-8")).hexdigest()


# -------------------------------------------------------------------------------------------
# What a finished point's folder says


@dataclass(frozen=True)
class Score:
    """A finished point's main task score (the task's main metric) with its 95% interval."""

    name: str
    value: float
    low: float | None
    high: float | None

    def __str__(self) -> str:
        interval = f" [{self.low:.3f}, {self.high:.3f}]" if self.low is not None and self.high is not None else ""
        return f"{self.name} {self.value:.3f}{interval}"


def read_score(folder: Path, config: dict, metric: str | None = None) -> Score | None:
    """The point's score on its eval_task (`metric`, else the task's main metric); None when the
    point has none, or its metrics.json cannot be read."""
    task = config.get("eval_task")
    name = metric or main_metric(task)
    if name is None:
        return None
    try:
        metrics = read_record(folder / METRICS_FILE) or {}
    except UnreadableRecord:
        return None
    key = task_key(task, name)
    if metrics.get(key) is None:
        return None
    return Score(name, float(metrics[key]), metrics.get(key + CI_LOW_SUFFIX), metrics.get(key + CI_HIGH_SUFFIX))


def point_seconds(folder: Path) -> float | None:
    """Wall time of a finished point's last attempt, as the sweep recorded it; None for a point
    without the record (not file times: a copied or checked-out folder has new ones)."""
    return point_timing(folder)[0]


def point_timing(folder: Path) -> tuple[float | None, str]:
    """(seconds, finished_at) of a point's last attempt as the sweep recorded them; finished_at is
    an ISO time ("" where not recorded), so the newest points sort last."""
    try:
        record = read_record(folder / POINT_FILE) or {}
    except UnreadableRecord:
        return None, ""
    seconds = record.get("seconds")
    return (float(seconds) if isinstance(seconds, (int, float)) else None), str(record.get("finished_at") or "")
