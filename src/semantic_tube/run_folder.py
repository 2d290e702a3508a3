"""The run-folder contract: every file a run or a sweep leaves, one status vocabulary, the
metric-key rules, and how each record is written (atomically) and read (naming the file).

`stp train` writes a run folder through this module, `stp sweep` adds its records to it, and
`stp report`, `stp tune` and the sweep's own summary read it through this module; no other
module spells a file name or a metric key. No torch, no transformers: a report runs wherever
the folders are copied.

A run folder, as it grows:

    sweep_config.yaml    the configuration `stp sweep` hands `stp train` (sweeps only)
    sweep_point.json     the point's coordinates, command and provenance (sweeps only)
    stp_config.yaml      the resolved configuration (`stp train --config` accepts it again)
    provenance.json      command, commit and package versions of `stp train` itself
    trainer_state.json   the Trainer's log history (every logged series)
    checkpoint-N/        the Trainer's checkpoints, while the run can still be resumed
    eval/<task>/         eval.json and predictions.jsonl of the final task evaluation
    failed.json          the error of a failed run (type, message, traceback)
    metrics.json         every number of a finished run: written last, so its presence means finished
    .lock                held while a sweep process trains the point

Every JSON and YAML record is written with `write_text_atomic` (a temporary file in the same
folder, flushed, then renamed over the target), so a reader sees the old record or the new one,
never half of one. A record that is there but cannot be read is `UnreadableRecord`, naming the
file; the folder's status is then `incomplete` (it is trained again), never `finished`.

The order of a run's last writes gives every moment one meaning. `stp train` writes
provenance.json and removes an earlier attempt's failed.json when it starts; after training it
saves the model, evaluates, writes trainer_state.json and only then metrics.json, so a folder
without metrics.json is unfinished whatever else it holds, and one with it is finished. A failure
writes failed.json (never beside metrics.json). A sweep then records the point's wall time,
removes its checkpoints and releases its lock; a sweep killed in between leaves a finished point
with checkpoints or a stale lock, which the next sweep removes (`tidy_finished`).

`folder_status` is the one reading of a folder's status (the sweep's and the report's): metrics.json
readable: finished; failed.json: failed; a live lock: running; else incomplete (a stale lock,
a damaged metrics.json, nothing yet). `unreadable` is the report's, for a folder whose other
records cannot be parsed. The lock file's format and staleness rule live here too, so every
reader agrees; `experiments.locks` takes and releases locks.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import tempfile
import traceback
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import Enum
from importlib import metadata
from pathlib import Path

import yaml

# -- file names -----------------------------------------------------------------------------
CONFIG_FILE = "stp_config.yaml"
METRICS_FILE = "metrics.json"
STATE_FILE = "trainer_state.json"
PROVENANCE_FILE = "provenance.json"
FAILED_FILE = "failed.json"
POINT_FILE = "sweep_point.json"
POINT_CONFIG = "sweep_config.yaml"  # there before stp_config.yaml is
LOG_FILE = "train.log"
LOCK_FILE = ".lock"
TAKEOVER_FILE = ".lock.takeover"
INITIAL_LOSSES_FILE = "initial_losses.json"  # the losses before training, for the treatment strength of a resumed run
MODEL_RECORD_FILE = "stp_model.json"  # how to rebuild the base model
CHECKPOINT_PREFIX = "checkpoint-"
EVAL_DIR = "eval"  # eval/<task>/ holds the final task evaluation; eval/<task>/step-N/ the periodic ones
EVAL_FILE = "eval.json"
PREDICTIONS_FILE = "predictions.jsonl"
EVAL_GLOB = f"{EVAL_DIR}/*/{EVAL_FILE}"
# a sweep folder
SWEEP_FILE = "sweep.yaml"
SWEEP_STATE_FILE = "sweep_state.json"
REPORT_FILE = "report.md"
RUN_MARKERS = (POINT_FILE, CONFIG_FILE, METRICS_FILE, FAILED_FILE)  # any of them makes a folder a run folder


class Status(str, Enum):
    """A run folder's one status, read from its files by `folder_status` (never from a log)."""

    FINISHED = "finished"  # metrics.json is there and readable
    FAILED = "failed"  # failed.json, no metrics.json
    RUNNING = "running"  # a live lock: a process trains it now
    INCOMPLETE = "incomplete"  # interrupted or not started (a stale lock, an unreadable record): resumes on the next sweep
    UNREADABLE = "unreadable"  # a record other than metrics.json that cannot be parsed (a report lists it, never averages it)


POINT_STATUSES = (Status.FINISHED, Status.FAILED, Status.RUNNING, Status.INCOMPLETE)  # what `folder_status` returns


# -- metric keys ----------------------------------------------------------------------------
TASK_PREFIX = "task_"  # a run's task metrics in metrics.json and its log: task_<name>/<metric>
FINAL_PREFIX = "final_"  # the last logged value of a training series: final_<series>
EVAL_PREFIX = "eval_"  # a held-out series: eval_<series>
TREATMENT_PREFIX = "treatment/"  # series measured on the same examples before and after training (`treatment_batches`)
TREATMENT_INITIAL, TREATMENT_TRAINED = "initial_", "trained_"
NTP_SERIES = "ntp_loss"
AUX_SERIES = "aux_loss"  # every method's auxiliary loss under one method-independent name
METHOD_SERIES = {"stp": "stp_loss", "two-view": "stp_loss", "mask": "mask_loss", "curvature": "curvature_loss", "llm-jepa": "jepa_loss"}
CI_LOW_SUFFIX, CI_HIGH_SUFFIX, HITS_SUFFIX = "_ci95_low", "_ci95_high", "_hits"


def task_key(task: str, metric: str) -> str:
    """`task_<task>/<metric>`, the key of a task metric in metrics.json."""
    return f"{TASK_PREFIX}{task}/{metric}"


def final_key(series: str) -> str:
    """`final_<series>`: the last logged training value of a series, in metrics.json."""
    return f"{FINAL_PREFIX}{series}"


def treatment_key(when: str, series: str) -> str:
    """`treatment/<when><series>`: a series measured before (TREATMENT_INITIAL) or after
    (TREATMENT_TRAINED) training on the same examples and draws, in metrics.json."""
    return f"{TREATMENT_PREFIX}{when}{series}"


TREATMENT_EXAMPLES = f"{TREATMENT_PREFIX}examples"  # how many examples the treatment measurement ran on


def stp_form_series(form: str) -> str:
    """`stp_<form>_loss`: an STP form logged beside the trained one (`stp_log_forms`)."""
    return f"stp_{form}_loss"


def main_metric(task: str | None) -> str | None:
    """The task's main metric: its first (the paper's for NL-RX and HellaSwag; robust elsewhere,
    its `paper_` twin beside it), the one `stp train`, `stp sweep`, `stp tune` and `stp report`
    lead with. None for no task or an unknown one."""
    from semantic_tube.evaluation.tasks import TASKS  # torch-free; imported here, since evaluation imports this module

    return TASKS[task].metrics[0] if task in TASKS else None


def examples_per_step(config: dict) -> int:
    """Examples behind one optimizer step of one process, from a run's configuration: per-device
    batch x gradient accumulation (the Trainer's defaults, 8 and 1, where a field is absent)."""
    return int(config.get("per_device_train_batch_size", 8)) * int(config.get("gradient_accumulation_steps", 1))


# -- writing --------------------------------------------------------------------------------
TEMPORARY_SUFFIX = ".tmp"  # a record being written: `.<name>.<random>.tmp`, renamed over <name> when complete


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` so that a reader never sees a partial file: a temporary file in the
    same folder, flushed to disk, then renamed over `path` (atomic on POSIX file systems)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX)
    try:
        os.fchmod(descriptor, 0o666 & ~_umask())  # mkstemp's 0600 would hide a copied folder from its other readers
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | Path, record) -> None:
    """A JSON record (indented, keys sorted, newline-terminated), written atomically."""
    write_text_atomic(path, json.dumps(record, indent=2, sort_keys=True) + "\n")


def write_yaml_atomic(path: str | Path, record) -> None:
    write_text_atomic(path, yaml.safe_dump(record, sort_keys=True))


# -- reading --------------------------------------------------------------------------------
class UnreadableRecord(ValueError):
    """A record that exists but cannot be parsed (half-written, damaged): names the file."""


def read_json(path: str | Path):
    """The parsed JSON at `path`, None when there is no such file, UnreadableRecord when it cannot be parsed."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UnreadableRecord(f"{path}: not valid JSON ({err})") from None


def read_yaml(path: str | Path):
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise UnreadableRecord(f"{path}: not valid YAML ({err})") from None


def read_record(path: str | Path) -> dict | None:
    """A JSON object record (metrics.json, failed.json, sweep_point.json): None when absent,
    UnreadableRecord when it is not valid JSON or not an object."""
    found = read_json(path)
    if found is not None and not isinstance(found, dict):
        raise UnreadableRecord(f"{path}: expected a JSON object, got {type(found).__name__}")
    return found


def now() -> str:
    """The time records carry (UTC, ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- the lock file --------------------------------------------------------------------------
# `.lock` is JSON: {"pid", "hostname", "started_at", "child_pid"} (child_pid: the `stp train`
# process, once started). A lock is stale when its host is this host and neither its pid nor its
# child's is alive: the sweep was killed, and the next start takes the point over. A lock from
# another host is never stale here (no process here can tell whether that host still works).
UNREADABLE_GRACE_S = 60  # a lock still empty after this long was left by a writer that died mid-write
HELD_LOCKS: set[Path] = set()  # the locks this process holds (resolved paths; experiments.locks keeps it)


@dataclass(frozen=True)
class LockInfo:
    pid: int
    hostname: str
    started_at: str
    child_pid: int | None = None

    @classmethod
    def mine(cls) -> LockInfo:
        return cls(os.getpid(), socket.gethostname(), now())

    def is_stale(self, path: Path | None = None) -> bool:
        """Same host, and no process of the lock is alive. A lock naming this very process that
        this process does not hold (at `path`; a reader holds none) was left by an earlier one
        with the same pid: a restarted container, where the sweep is PID 1 every time."""
        if not self.on_this_host:
            return False
        earlier_life = self.pid == os.getpid() and (path is None or Path(path).resolve() not in HELD_LOCKS)
        pids = (self.child_pid,) if earlier_life else (self.pid, self.child_pid)
        return not any(pid_alive(pid) for pid in pids if pid)

    @property
    def on_this_host(self) -> bool:
        return self.hostname == socket.gethostname()

    def describe(self) -> str:
        child = f" (stp train pid {self.child_pid})" if self.child_pid else ""
        return f"pid {self.pid}{child} on {self.hostname} since {self.started_at}"

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def pid_alive(pid: int) -> bool:
    """Whether the process runs; a zombie (killed, not yet reaped by its parent) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):  # no /proc (macOS): a signal-0 answer is all there is
        return True
    return state not in ("Z", "X")


def read_lock(path: str | Path) -> LockInfo | None:
    """The holder, or None while the file is being written (or was left empty)."""
    try:
        fields = json.loads(Path(path).read_text(encoding="utf-8"))
        return LockInfo(int(fields["pid"]), str(fields["hostname"]), str(fields["started_at"]), fields.get("child_pid"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def lock_status(path: str | Path) -> tuple[Status, str]:
    """RUNNING with the holder, or INCOMPLETE for a stale lock (its processes gone: the point
    resumes from its checkpoint when a sweep starts again)."""
    holder = read_lock(path)
    if holder is None:
        return Status.RUNNING, f"{path}: lock being written (or left empty by a process that died writing it)"
    if holder.is_stale(Path(path)):
        return Status.INCOMPLETE, f"stale lock ({holder.describe()}, gone): interrupted, resumes on the next sweep"
    return Status.RUNNING, f"locked by {holder.describe()}"


# -- status ---------------------------------------------------------------------------------
def folder_status(folder: str | Path) -> tuple[Status, str | None]:
    """(status, problem) of a run folder, from its files alone: FINISHED when metrics.json is
    readable; FAILED with the error when failed.json is there; RUNNING while a live lock is
    held; else INCOMPLETE, saying why (a stale lock, a damaged metrics.json, nothing yet).
    `problem` is None for a finished folder."""
    folder = Path(folder)
    damaged = None
    try:
        if read_record(folder / METRICS_FILE) is not None:
            return Status.FINISHED, None
    except UnreadableRecord as err:
        damaged = f"{err}: not finished, trained again"
    try:
        failure = read_record(folder / FAILED_FILE)
    except UnreadableRecord as err:
        return Status.FAILED, str(err)
    if failure is not None:
        return Status.FAILED, str(failure.get("error") or f"{FAILED_FILE} without an error message")
    if (folder / LOCK_FILE).exists():
        status, problem = lock_status(folder / LOCK_FILE)
        return status, "; ".join(filter(None, (damaged, problem)))
    return Status.INCOMPLETE, damaged or f"no {METRICS_FILE}, {FAILED_FILE} or {LOCK_FILE}: interrupted, or not started"


# -- checkpoints ----------------------------------------------------------------------------
def checkpoint_step(path: Path) -> int | None:
    """N of a `checkpoint-N` folder, else None."""
    digits = path.name.removeprefix(CHECKPOINT_PREFIX)
    return int(digits) if path.name.startswith(CHECKPOINT_PREFIX) and digits.isdigit() else None


def checkpoints(folder: str | Path) -> list[Path]:
    """The `checkpoint-N` folders of a run, oldest (smallest N) first."""
    found = [path for path in Path(folder).glob(f"{CHECKPOINT_PREFIX}*") if path.is_dir() and checkpoint_step(path) is not None]
    return sorted(found, key=checkpoint_step)


def checkpoint_complete(path: Path) -> bool:
    """The Trainer writes a checkpoint's trainer_state.json last: a checkpoint killed mid-save has
    none, or half of one, and resuming from it fails."""
    try:
        return isinstance(read_json(Path(path) / STATE_FILE), dict)
    except UnreadableRecord:
        return False


def newest_complete_checkpoint(folder: str | Path) -> tuple[Path | None, list[Path]]:
    """(the newest complete checkpoint or None, the incomplete ones newer than it)."""
    skipped = []
    for path in reversed(checkpoints(folder)):
        if checkpoint_complete(path):
            return path, skipped
        skipped.append(path)
    return None, skipped


def tidy_finished(folder: str | Path) -> list[Path]:
    """What a finished folder no longer needs, removed: its checkpoints (only a run to resume
    needs them; the final model stays), a failed.json beside metrics.json, a stale lock and
    records half-written by a killed process. Call it only for a FINISHED folder whose lock is
    not live; returns what was removed."""
    folder = Path(folder)
    removed = checkpoints(folder)
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    for path in (folder / FAILED_FILE, *folder.glob(f".*{TEMPORARY_SUFFIX}")):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    lock = folder / LOCK_FILE
    holder = read_lock(lock) if lock.exists() else None
    if holder is not None and holder.is_stale(lock):
        lock.unlink(missing_ok=True)
        removed.append(lock)
    return removed


# -- provenance and failures ----------------------------------------------------------------
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
        status = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def write_provenance(folder: str | Path, command: str) -> dict:
    """provenance.json: the command that ran, when it started, the commit and the versions."""
    record = {"command": command, "started_at": now(), **provenance()}
    write_json_atomic(Path(folder) / PROVENANCE_FILE, record)
    return record


def failure_record(error: BaseException) -> dict:
    """failed.json's content for an exception: `error` (`Type: message`, one line for a summary),
    `type`, `message`, `traceback` and `finished_at`."""
    message = str(error)
    return {
        "error": f"{type(error).__name__}: {message.splitlines()[0]}" if message.strip() else type(error).__name__,
        "type": type(error).__name__,
        "message": message,
        "traceback": "".join(traceback.format_exception(error)),
        "finished_at": now(),
    }
