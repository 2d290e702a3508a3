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
"""

from __future__ import annotations

import json
import os
import tempfile
from enum import Enum
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


# -- metric keys ----------------------------------------------------------------------------
TASK_PREFIX = "task_"  # a run's task metrics in metrics.json and its log: task_<name>/<metric>
FINAL_PREFIX = "final_"  # the last logged value of a training series: final_<series>
EVAL_PREFIX = "eval_"  # a held-out series: eval_<series>
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


def stp_form_series(form: str) -> str:
    """`stp_<form>_loss`: an STP form logged beside the trained one (`stp_log_forms`)."""
    return f"stp_{form}_loss"


# -- writing --------------------------------------------------------------------------------
def write_text_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` so that a reader never sees a partial file: a temporary file in the
    same folder, flushed to disk, then renamed over `path` (atomic on POSIX file systems)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
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
