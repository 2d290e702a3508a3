"""Running a grid of `stp train` runs: one folder per point, resumable, shardable, one process per point.

    stp sweep --config sweeps/quick.yaml --out runs/quick [--shard i/n] [--dry-run] [--field value ...]

The sweep folder (--out):
  sweep.yaml          the sweep file as run (byte for byte); another sweep in the folder is an error
  sweep_state.json    a summary of every point's status, rewritten after each run
  <point_id>/         what `stp train` writes (stp_config.yaml, trainer_state.json, metrics.json,
                      eval/<task>/eval.json, the final model; its checkpoints are removed once
                      metrics.json exists, since only an interrupted run needs them), plus:
    sweep_point.json    where the point sits in the grid and how it was run, written before training;
                        on success "finished_at" and "seconds" (that attempt's wall time) are added
    sweep_config.yaml   the point's whole configuration, the `--config` of its `stp train`
    train.log           the run's output (each attempt appended)
    failed.json         when the run failed: {"error", "traceback", "finished_at", "exit_code"}
    .lock               while a process works on the point (experiments.locks)

A point is finished when metrics.json exists. Each run is its own `python -m semantic_tube
train` process, so a crash or an out-of-memory kill fails that point only; it is recorded and the
sweep goes on. Started again, a sweep skips finished points, retries failed ones and resumes an
interrupted one from its newest complete checkpoint (`resume_from_checkpoint: last`).
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import json
import math
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from importlib import metadata
from pathlib import Path
from typing import TextIO

import yaml

from semantic_tube.experiments.grid import (
    SWEEP_AXES,
    Point,
    Sweep,
    SweepError,
    combinations,
    expand,
)
from semantic_tube.experiments.locks import LOCK_FILE, PointLock, acquire, read_lock
from semantic_tube.experiments.shards import ALL, Shard
from semantic_tube.experiments.validate import check_configs

SWEEP_FILE = "sweep.yaml"
STATE_FILE = "sweep_state.json"
POINT_FILE = "sweep_point.json"
POINT_CONFIG = "sweep_config.yaml"
METRICS_FILE = "metrics.json"
FAILED_FILE = "failed.json"
LOG_FILE = "train.log"
FILE_FIELDS = ("train_file", "eval_file", "eval_task_file")
FOLDER_FIELDS = ("eval_db_dir",)
TERMINATE_GRACE_S = 30  # how long a stopped sweep waits for its `stp train` to exit before killing it


class Status(str, Enum):
    DONE = "done"
    FAILED = "failed"
    RUNNING = "running"  # a live lock: another process works on it
    LEFT = "left"  # not started, or interrupted (resumes from its checkpoint)


@dataclass(frozen=True)
class Score:
    """A finished point's main task score (the task's first metric) with its 95% interval."""

    name: str
    value: float
    low: float | None
    high: float | None

    def __str__(self) -> str:
        interval = f" [{self.low:.3f}, {self.high:.3f}]" if self.low is not None and self.high is not None else ""
        return f"{self.name} {self.value:.3f}{interval}"


@dataclass(frozen=True)
class Outcome:
    point: Point
    status: Status
    seconds: float | None = None
    message: str | None = None  # the error of a failed run, the holder of a locked one


# -------------------------------------------------------------------------------------------
# Checks, before anything trains


@dataclass(frozen=True)
class CheckedSweep:
    """What the checks learnt: notes for a dry run, and each point's forward passes per step."""

    notes: list[str]
    forward_passes: dict[str, int]


def check_sweep(sweep: Sweep, points: list[Point], out: Path, *, dry_run: bool) -> CheckedSweep:
    """Every field name and every point's configuration (by `stp train`'s parser), the folder,
    and (for a real run) the data files. Raises SweepError."""
    missing = missing_paths(points)
    if sweep.launcher and not shutil.which(sweep.launcher[0]):
        missing.append(f"launcher {sweep.launcher[0]}")
    if missing and not dry_run:
        raise SweepError(f"{sweep.source}: not found: {', '.join(missing)} (relative paths are read from {Path.cwd()})")
    check_folder(sweep, points, out)
    validation = check_configs({p.point_id: point_config(p, out / p.point_id) for p in points}, on_this_hardware=not dry_run)
    check_field_names(sweep, validation.fields)
    if validation.errors:
        raise SweepError(f"{sweep.source}: invalid configuration:\n" + _grouped(validation.errors))
    notes = [f"not found here (needed before a real run): {', '.join(missing)}"] if missing else []
    return CheckedSweep(notes, validation.forward_passes)


def check_field_names(sweep: Sweep, known: frozenset[str]) -> None:
    places = [(f"config.{key}", key) for key in sweep.config]
    places += [(f"methods.{name}.{key}", key) for name, bundle in sweep.methods.items() for key in bundle]
    places += [(f"grid.{key}", key) for key in sweep.axes if key not in (*SWEEP_AXES, "method")]
    places += [(f"--{key}", key) for key in sweep.overrides]
    for where, key in places:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise SweepError(f"{sweep.source}: {where}: unknown field {key!r}{hint}; any `stp train --help` field works")


def _grouped(errors: dict[str, str]) -> str:
    """One line per distinct error, with the points it hit."""
    by_error: dict[str, list[str]] = {}
    for point_id, error in errors.items():
        by_error.setdefault(error, []).append(point_id)
    lines = []
    for error, ids in by_error.items():
        more = f" and {len(ids) - 2} more" if len(ids) > 2 else ""
        lines.append(f"  {error} (point {', '.join(ids[:2])}{more})")
    return "\n".join(lines)


def check_folder(sweep: Sweep, points: list[Point], out: Path) -> None:
    """The folder holds this sweep or nothing: a different sweep.yaml, a folder that is not a
    sweep's, or a point configured differently (another `--field value`) is an error."""
    copy = out / SWEEP_FILE
    if copy.is_file():
        differences = _differences(yaml.safe_load(copy.read_text(encoding="utf-8")) or {}, sweep.document)
        if differences:
            raise SweepError(f"{out}: holds another sweep: its {SWEEP_FILE} differs from {sweep.source} in {'; '.join(differences)}; use another --out")
    elif out.is_dir() and any(out.iterdir()):
        raise SweepError(f"{out}: not empty and not a sweep folder (no {SWEEP_FILE}); use another --out")
    for point in points:
        stored = out / point.point_id / POINT_CONFIG
        if stored.is_file():
            differences = _differences(yaml.safe_load(stored.read_text(encoding="utf-8")) or {}, point_config(point, stored.parent))
            if differences:
                raise SweepError(
                    f"{stored.parent}: was run with another configuration ({'; '.join(differences)}); "
                    f"run the sweep as before, use another --out, or delete that folder"
                )


def _differences(old, new, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            found += _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return found[:5]
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]


def missing_paths(points: list[Point]) -> list[str]:
    """Data files and folders named by any point that do not exist (relative to the current folder)."""
    missing = set()
    for point in points:
        for name in (*FILE_FIELDS, *FOLDER_FIELDS):
            value = point.config.get(name)
            exists = Path(str(value)).is_file() if name in FILE_FIELDS else Path(str(value)).is_dir()
            if value and not exists:
                missing.add(f"{name}={value}")
    return sorted(missing)


# -------------------------------------------------------------------------------------------
# One point


def point_config(point: Point, folder: Path) -> dict:
    """What the point's `stp train` reads: its config, its folder, and resume from the newest
    checkpoint (a fresh start when there is none)."""
    return {**point.config, "output_dir": str(folder), "resume_from_checkpoint": "last"}


def train_command(folder: Path, launcher: tuple[str, ...] = ()) -> list[str]:
    """`python -m semantic_tube train --config <folder>/sweep_config.yaml`, or the sweep's launcher
    (`torchrun --nproc_per_node=8 -m semantic_tube train ...`) in place of the Python."""
    return [*(launcher or (sys.executable,)), "-m", "semantic_tube", "train", "--config", str(folder / POINT_CONFIG)]


def point_status(folder: Path) -> Status:
    if (folder / METRICS_FILE).is_file():
        return Status.DONE
    if (folder / FAILED_FILE).is_file():
        return Status.FAILED
    holder = read_lock(folder / LOCK_FILE)
    if (folder / LOCK_FILE).exists() and (holder is None or not holder.is_stale(folder / LOCK_FILE)):
        return Status.RUNNING
    return Status.LEFT


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
        if (folder / METRICS_FILE).is_file():
            return Outcome(point, Status.DONE, message="finished by another process")
        (folder / FAILED_FILE).unlink(missing_ok=True)  # a retry
        remove_incomplete_checkpoints(folder)
        return _train(sweep, point, folder, provenance, lock)
    finally:
        lock.release()


def remove_incomplete_checkpoints(folder: Path) -> list[Path]:
    """A checkpoint the Trainer did not finish writing (killed mid-save) has no readable
    trainer_state.json (written last); `resume_from_checkpoint: last` would pick it and fail."""
    removed = []
    for checkpoint in folder.glob("checkpoint-*"):
        try:
            json.loads((checkpoint / "trainer_state.json").read_text())
        except (OSError, ValueError):
            shutil.rmtree(checkpoint, ignore_errors=True)
            removed.append(checkpoint)
    return removed


def _train(sweep: Sweep, point: Point, folder: Path, provenance: dict, lock: PointLock) -> Outcome:
    command = train_command(folder, sweep.launcher)
    _write_atomic(folder / POINT_CONFIG, yaml.safe_dump(point_config(point, folder), sort_keys=True))
    record = {
        "sweep": sweep.name,
        "sweep_file": sweep.source,
        "sweep_sha256": sweep_hash(sweep),
        "point_id": point.point_id,
        "coordinates": point.coordinates,
        # everything the point sets beyond the sweep file's config: `--field value`, then the grid's
        "overrides": {**sweep.overrides, **point.overrides, "output_dir": str(folder), "resume_from_checkpoint": "last"},
        "command": shlex.join(command),
        "started_at": _now(),
        **provenance,
    }
    _write_atomic(folder / POINT_FILE, json.dumps(record, indent=2) + "\n")
    started = time.monotonic()
    with (folder / LOG_FILE).open("a", encoding="utf-8") as log:
        log.write(f"=== {_now()} {shlex.join(command)}\n")
        log.flush()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
        lock.set_child(process.pid)
        try:
            code = process.wait()
        except BaseException:  # Ctrl-C or SIGTERM: stop the run, leave the point to resume
            _stop(process)
            raise
    seconds = time.monotonic() - started
    if code == 0 and (folder / METRICS_FILE).is_file():
        _write_atomic(folder / POINT_FILE, json.dumps({**record, "finished_at": _now(), "seconds": round(seconds, 1)}, indent=2) + "\n")
        for checkpoint in folder.glob("checkpoint-*"):  # only a run to resume needs them; the final model stays
            shutil.rmtree(checkpoint, ignore_errors=True)
        return Outcome(point, Status.DONE, seconds)
    error, trace = failure_of(folder / LOG_FILE, code)
    failure = {"error": error, "traceback": trace, "finished_at": _now(), "exit_code": code}
    _write_atomic(folder / FAILED_FILE, json.dumps(failure, indent=2) + "\n")
    return Outcome(point, Status.FAILED, seconds, error)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(TERMINATE_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def failure_of(log: Path, code: int) -> tuple[str, str]:
    """(one-line error, the log's last lines): `stp train: error: ...`, else the exception line
    of a traceback, else how the process ended (a negative code is the signal that killed it)."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    attempt = lines[max((i for i, line in enumerate(lines) if line.startswith("=== ")), default=0):]
    tail = "\n".join(attempt[-40:])
    for line in reversed(attempt):
        if line.startswith("stp train: error: "):
            return line.removeprefix("stp train: error: "), tail
        head = line.split(":", 1)[0]
        if head and " " not in head and head.endswith(("Error", "Exception")):
            return line.strip(), tail
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        reason = " (the kernel's out-of-memory killer sends it)" if -code == signal.SIGKILL else ""
        return f"stp train killed by {name}{reason}", tail
    if code == 0:
        return f"stp train exited normally but wrote no {METRICS_FILE}", tail
    return f"stp train exited with code {code}", tail


# -------------------------------------------------------------------------------------------
# Provenance, scores and time


def sweep_hash(sweep: Sweep) -> str:
    return hashlib.sha256(sweep.text.encode("utf-8")).hexdigest()


def provenance() -> dict:
    """The code's git commit (with `-dirty` when tracked files were changed) and the versions."""
    versions = {"python": platform.python_version()}
    for name, distribution in (("torch", "torch"), ("transformers", "transformers"), ("semantic_tube", "semantic-tube")):
        try:
            versions[name] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"commit": _commit(), "versions": versions}


def _commit() -> str | None:
    source = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def main_metric(config: dict) -> tuple[str, str] | None:
    """(task, metric): the config's eval_task and its first metric, the paper's main one."""
    from semantic_tube.evaluation.tasks import TASKS

    task = config.get("eval_task")
    return (task, TASKS[task].metrics[0]) if task in TASKS else None


def read_score(folder: Path, config: dict, metric: str | None = None) -> Score | None:
    found = main_metric(config)
    path = folder / METRICS_FILE
    if found is None or not path.is_file():
        return None
    task, default = found
    key = f"task_{task}/{metric or default}"
    metrics = json.loads(path.read_text())
    if key not in metrics:
        return None
    return Score(metric or default, float(metrics[key]), metrics.get(f"{key}_ci95_low"), metrics.get(f"{key}_ci95_high"))


def point_seconds(folder: Path) -> float | None:
    """Wall time of a finished point's last attempt, as the sweep recorded it; None for a point
    without the record (not file times: a copied or checked-out folder has new ones)."""
    try:
        seconds = json.loads((folder / POINT_FILE).read_text()).get("seconds")
    except (OSError, ValueError):
        return None
    return float(seconds) if isinstance(seconds, (int, float)) else None


@dataclass(frozen=True)
class CostModel:
    """Seconds of a run as measured for the default model (SmolLM2-135M, max_length 256) on 2 CPU
    cores: 4.4 s per step of 8 examples with one forward pass, 200 test prompts scored in about a
    minute. Absolute only for that model and machine; for any other, a relative weight that the
    grid's finished points scale (TimeModel)."""

    seconds_per_example: float = 4.4 / 8
    seconds_per_prompt: float = 60 / 200

    def describe(self) -> str:
        return (
            f"estimate: {self.seconds_per_example:.2f} s per training example and {self.seconds_per_prompt:.2f} s per "
            "test prompt, as measured for the default model on 2 CPU cores; no finished point to time yet"
        )


def launcher_processes(launcher: tuple[str, ...]) -> int:
    """Training processes a torchrun-style launcher starts (--nproc_per_node x --nnodes); 1 without one."""
    count = 1
    for name in ("nproc_per_node", "nnodes"):
        value = _option(launcher, name)
        if value and value.isdigit():
            count *= int(value)
    return count


def _option(words: tuple[str, ...], name: str) -> str | None:
    spellings = {f"--{name}", f"--{name.replace('_', '-')}"}
    for index, word in enumerate(words):
        key, equals, value = word.partition("=")
        if key in spellings:
            return value if equals else (words[index + 1] if index + 1 < len(words) else None)
    return None


def estimate_steps(config: dict, processes: int = 1) -> int | None:
    """Optimizer steps, as the Trainer counts them with the data split over `processes`; None
    when the data size is unknown (a file not here yet)."""
    if float(config.get("max_steps", -1)) > 0:
        return int(config["max_steps"])
    examples = train_examples(config)
    if examples is None:
        return None
    kept = math.ceil(max(1, math.ceil(float(config.get("train_fraction", 1)) * examples)) / processes)
    batches = math.ceil(kept / int(config.get("per_device_train_batch_size", 8)))  # the Trainer's defaults
    per_epoch = max(batches // int(config.get("gradient_accumulation_steps", 1)), 1)
    return math.ceil(float(config.get("num_train_epochs", 3.0)) * per_epoch)


def train_examples(config: dict) -> int | None:
    """Lines of train_file, or the training split of the generated NL-RX data; at most max_train_examples."""
    if config.get("train_file"):
        path = Path(config["train_file"])
        count = sum(1 for line in path.open(encoding="utf-8") if line.strip()) if path.is_file() else None
    else:
        count = _nlrx_split(config)[0]
    limit = config.get("max_train_examples")
    return min(count, int(limit)) if count is not None and limit else count


def test_prompts(config: dict) -> int | None:
    """Prompts the final task evaluation scores: its file as `stp train` picks it, cut to eval_task_limit."""
    if not config.get("eval_task"):
        return 0
    limit = config.get("eval_task_limit")
    if config.get("eval_task_file") or config.get("train_file"):
        path = Path(str(config.get("eval_task_file") or config.get("eval_file")))
        count = sum(1 for line in path.open(encoding="utf-8") if line.strip()) if path.is_file() else None
    else:
        count = _nlrx_split(config)[1]
    return min(count, limit) if count is not None and limit else count if count is not None else limit


def _nlrx_split(config: dict) -> tuple[int, int]:
    """(train, test) sizes of the NL-RX data `stp train` generates when there is no train_file."""
    from semantic_tube.data.nlrx import DEFAULT_EXAMPLES, generate_nlrx

    n = int(config.get("nlrx_examples", DEFAULT_EXAMPLES))
    fraction = inspect.signature(generate_nlrx).parameters["test_fraction"].default
    test = min(n - 1, max(1, round(n * fraction)))
    return n - test, test


def cost_model_seconds(config: dict, forward_passes: int = 1, processes: int = 1, model: CostModel = CostModel()) -> float | None:
    """The cost model's seconds for a run: its training examples per process times its forward
    passes per step, plus its test prompts. None when the data size is unknown."""
    steps = estimate_steps(config, processes)
    if steps is None:
        return None
    per_step = int(config.get("per_device_train_batch_size", 8)) * int(config.get("gradient_accumulation_steps", 1))
    return steps * per_step * forward_passes * model.seconds_per_example + (test_prompts(config) or 0) * model.seconds_per_prompt


@dataclass(frozen=True)
class TimeModel:
    """Seconds each point of a grid takes. Every point weighs its cost-model seconds (so a mask or
    LLM-JEPA point, with its extra forward passes, weighs more than an NTP one); the grid's finished
    points set the scale (their wall time per unit of weight), so a grid of another model or
    machine is timed by its own runs. Before any has finished, the cost model's seconds stand as
    they are for the default model, and no time is guessed for any other."""

    weights: dict[str, float | None]  # point id -> cost-model seconds (None: data size unknown)
    processes: int  # training processes per run (the cost model's rates are for one)
    seconds_per_weight: float | None  # from the finished points; None before the first
    mean_seconds: float | None  # mean wall time of a finished point, for points without a weight
    finished: int

    @classmethod
    def of(cls, points: list[Point], out: Path, forward_passes: dict[str, int], processes: int = 1) -> TimeModel:
        weights = {p.point_id: cost_model_seconds(p.config, forward_passes.get(p.point_id, 1), processes) for p in points}
        timed = {p.point_id: s for p in points if (s := point_seconds(out / p.point_id)) is not None and s > 0}
        weighed = [point_id for point_id in timed if weights[point_id]]
        scale = sum(timed[i] for i in weighed) / sum(weights[i] for i in weighed) if weighed else None
        mean = sum(timed.values()) / len(timed) if timed else None
        return cls(weights, processes, scale, mean, len(timed))

    def seconds(self, point: Point) -> float | None:
        weight = self.weights.get(point.point_id)
        if self.seconds_per_weight is not None and weight is not None:
            return self.seconds_per_weight * weight
        if self.finished:
            return self.mean_seconds
        default_model = not point.config.get("model_name_or_path")  # where the cost model was measured
        return weight if default_model and self.processes == 1 else None

    def describe(self) -> str:
        if self.finished:
            return f"scaled from {self.finished} finished point(s) by each point's steps, forward passes per step and test prompts"
        return CostModel().describe()


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


# -------------------------------------------------------------------------------------------
# The whole grid


class SweepRunner:
    """Runs points of one sweep into one folder and reports progress on `stream`."""

    def __init__(self, sweep: Sweep, points: list[Point], out: Path, stream: TextIO | None = None, forward_passes: dict[str, int] | None = None):
        self.sweep, self.points, self.out = sweep, points, Path(out)
        self.forward_passes = forward_passes or {}  # point id -> forward passes per step (1 when absent)
        self.stream = stream or sys.stdout  # looked up now, not at import: a redirected stdout counts
        self.provenance = provenance()

    def folder(self, point: Point) -> Path:
        return self.out / point.point_id

    def prepare(self) -> None:
        """Create the folder with its sweep.yaml (atomically: shards may start together)."""
        self.out.mkdir(parents=True, exist_ok=True)
        copy = self.out / SWEEP_FILE
        if not copy.exists():
            temporary = self.out / f".{SWEEP_FILE}.{os.getpid()}.tmp"
            temporary.write_text(self.sweep.text, encoding="utf-8")
            try:
                os.link(temporary, copy)
            except FileExistsError:
                pass  # another shard wrote it first; check_folder compares it
            finally:
                temporary.unlink()
        check_folder(self.sweep, self.points, self.out)
        self.write_state()

    def statuses(self) -> dict[str, Status]:
        return {point.point_id: point_status(self.folder(point)) for point in self.points}

    def run(self, points: list[Point]) -> list[Outcome]:
        """Each unfinished point in turn; a failure is recorded and the next point runs."""
        outcomes = []
        todo = [point for point in points if point_status(self.folder(point)) is not Status.DONE]
        self.say(f"sweep {self.sweep.name}: {len(points) - len(todo)} of {len(points)} points already done; {len(todo)} to run into {self.out}")
        with _sigterm_as_exit():
            for number, point in enumerate(todo, 1):
                tag = f"[{number}/{len(todo)}] {point.point_id}"
                self.say(f"start  {tag}")
                outcome = run_point(self.sweep, point, self.folder(point), self.provenance)
                outcomes.append(outcome)
                self.say(self._outcome_line(tag, outcome))
                self.write_state()
                self.say(self.progress_line(todo[number:]))
        return outcomes

    def _outcome_line(self, tag: str, outcome: Outcome) -> str:
        folder = self.folder(outcome.point)
        if outcome.status is Status.DONE and outcome.seconds is not None:
            score = read_score(folder, outcome.point.config)
            return f"done   {tag}: {score or 'no task score'} in {duration(outcome.seconds)}"
        if outcome.status is Status.FAILED:
            return f"FAILED {tag} after {duration(outcome.seconds)}: {outcome.message} (log: {folder / LOG_FILE})"
        return f"skip   {tag}: {outcome.message}"

    def progress_line(self, left_here: list[Point]) -> str:
        counts = Counter(self.statuses().values())
        times = TimeModel.of(self.points, self.out, self.forward_passes, launcher_processes(self.sweep.launcher))
        seconds = [times.seconds(point) for point in left_here]
        known = times.finished and left_here and None not in seconds
        eta = f"; ~{duration(sum(seconds))} for this process's {len(left_here)} left ({times.describe()})" if known else ""
        grid = ", ".join(f"{counts[status]} {status.value}" for status in Status)
        return f"grid {self.sweep.name}: {grid}{eta}"

    def write_state(self) -> None:
        statuses = self.statuses()
        state = {
            "sweep": self.sweep.name,
            "sweep_file": self.sweep.source,
            "updated_at": _now(),
            "counts": {status.value: sum(s is status for s in statuses.values()) for status in Status},
            "points": {point_id: status.value for point_id, status in statuses.items()},
        }
        _write_atomic(self.out / STATE_FILE, json.dumps(state, indent=2) + "\n")

    def summary(self) -> str:
        """Every point of the grid: status, main score with its interval, time or error."""
        statuses = self.statuses()
        counts = Counter(statuses.values())
        width = max(len(point.point_id) for point in self.points)
        lines = [
            f"sweep {self.sweep.name} ({self.out}): " + ", ".join(f"{counts[status]} {status.value}" for status in Status),
            f"{'point':<{width}}  {'status':<7}  result",
        ]
        for point in self.points:
            folder, status = self.folder(point), statuses[point.point_id]
            lines.append(f"{point.point_id:<{width}}  {status.value:<7}  {self._result(folder, point, status)}")
        return "\n".join(lines)

    def _result(self, folder: Path, point: Point, status: Status) -> str:
        if status is Status.DONE:
            return f"{read_score(folder, point.config) or 'no task score'}  ({duration(point_seconds(folder))})"
        if status is Status.FAILED:
            return json.loads((folder / FAILED_FILE).read_text()).get("error", "?")
        if status is Status.RUNNING:
            holder = read_lock(folder / LOCK_FILE)
            return f"locked by {holder.describe()}" if holder else "locked"
        return "-"

    def say(self, line: str) -> None:
        print(f"[{datetime.now().strftime('%H:%M:%S')}] {line}", file=self.stream, flush=True)


def plan(sweep: Sweep, points: list[Point], out: Path, shard: Shard, checked: CheckedSweep) -> str:
    """The dry run: the points this process would run, one line each, with the cost."""
    mine = [point for point in points if shard.owns(point.index)]
    axes = " x ".join(f"{name} {len(values)}" for name, values in sweep.axes.items())
    same = combinations(sweep) - len(points)
    lines = [
        f"sweep {sweep.name} ({sweep.source}): {len(points)} points ({axes}"
        + (f"; {same} identical combinations kept once" if same else "") + f"), into {out}",
        f"shard {shard} ({shard.source}): {len(mine)} points here",
        "every point's configuration passed stp train's parser (checked as on the hardware it asks for)",
    ]
    processes = launcher_processes(sweep.launcher)
    times = TimeModel.of(points, out, checked.forward_passes, processes)
    width = max(len(point.point_id) for point in mine) if mine else 5
    total_steps, total_seconds, left, unknown, uncounted = 0, 0.0, 0, 0, 0
    for point in mine:
        status = point_status(out / point.point_id) if out.is_dir() else Status.LEFT
        steps, seconds = estimate_steps(point.config, processes), times.seconds(point)
        total_steps += steps or 0
        uncounted += steps is None
        if status is not Status.DONE:
            left += 1
            total_seconds += seconds or 0
            unknown += seconds is None
        lines.append(f"{point.index:>4}  {point.point_id:<{width}}  {steps if steps is not None else '?':>6} steps  ~{duration(seconds):>7}  {status.value}")
    if unknown:
        time = "time not estimated: the per-step rate is known only for the default model on CPU; the first finished point gives it"
    else:
        time = f"~{duration(total_seconds)} ({times.describe()})"
    per_process = f" ({processes} processes per run)" if processes > 1 else ""
    steps = f"{total_steps} optimizer steps" if not uncounted else f"{total_steps} optimizer steps + {uncounted} points whose training file is not here"
    lines.append(f"total: {steps}{per_process}; {left} of {len(mine)} points to run, {time}")
    return "\n".join(lines + checked.notes)


def run_sweep(sweep: Sweep, out: str | Path, shard: Shard = ALL, *, dry_run: bool = False, stream: TextIO | None = None) -> int:
    """Check everything, then run this shard's points; 1 when any of them failed."""
    out, stream = Path(out), stream or sys.stdout
    points = expand(sweep)
    checked = check_sweep(sweep, points, out, dry_run=dry_run)
    if dry_run:
        print(plan(sweep, points, out, shard, checked), file=stream)
        return 0
    runner = SweepRunner(sweep, points, out, stream, checked.forward_passes)
    runner.prepare()
    mine = [point for point in points if shard.owns(point.index)]
    if shard.count > 1:
        runner.say(f"shard {shard} ({shard.source}): {len(mine)} of {len(points)} points")
    outcomes = runner.run(mine)
    print(runner.summary(), file=stream, flush=True)
    failed = [outcome for outcome in outcomes if outcome.status is Status.FAILED]
    return 1 if failed else 0


class _sigterm_as_exit:
    """SIGTERM (a scheduler's time limit or preemption) unwinds like Ctrl-C: the running point's
    `stp train` is stopped and its lock released, so a requeued job on any node resumes it."""

    def __enter__(self):
        self.previous = signal.signal(signal.SIGTERM, self._exit)

    def __exit__(self, *exc):
        signal.signal(signal.SIGTERM, self.previous)

    @staticmethod
    def _exit(signum, frame):
        raise SystemExit(128 + signum)


def _write_atomic(path: Path, text: str) -> None:
    """Readers (a report, another shard) never see half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
