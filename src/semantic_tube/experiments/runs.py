"""The run-folder reader: what `stp sweep` and `stp train` leave on disk, as plain records.

    from semantic_tube.experiments.runs import read_runs
    runs = read_runs("runs/quick")

A sweep folder holds one folder per grid point (possibly one level deeper), each with what
`stp train` writes (stp_config.yaml, trainer_state.json, metrics.json, eval/<task>/eval.json)
plus sweep_point.json, whose `coordinates` place the point in the grid. A plain `stp train`
folder (no sweep_point.json) is read too: its coordinates are the usual sweep axes taken from
stp_config.yaml, and its method is its family (below).

A run's family is what it trained, read from its files, never from a sweep's name for it: the
`method` field of stp_config.yaml (or metrics.json), with `ntp` for method ntp or stp_lambda 0
(nothing added to the next-token loss); for runs older than that field, `ntp` when stp_lambda is
0, else `stp`. A sweep's bundle name (`two-view+warmup`) stays the run's `method` coordinate.

A point is finished when metrics.json exists, failed when failed.json does, running while its
`.lock` (`experiments.locks`) is held; anything else was interrupted or never started. Reports must
list the unfinished points rather than average them away, so every folder found becomes a
`Run`, whatever its state. Files only (never logs), no torch: a report runs wherever the
folders are copied.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from semantic_tube.experiments.locks import LOCK_FILE, read_lock

CONFIG_FILE = "stp_config.yaml"
METRICS_FILE = "metrics.json"
STATE_FILE = "trainer_state.json"
POINT_FILE = "sweep_point.json"
POINT_CONFIG = "sweep_config.yaml"  # the config `stp sweep` hands `stp train`: there before stp_config.yaml is
FAILED_FILE = "failed.json"
SWEEP_FILE = "sweep.yaml"
EVAL_GLOB = "eval/*/eval.json"  # the final task evaluation; eval/<task>/step-N/ are periodic ones
_MARKERS = (POINT_FILE, CONFIG_FILE, METRICS_FILE, FAILED_FILE)

FINISHED = "finished"
FAILED = "failed"
RUNNING = "running"
INCOMPLETE = "incomplete"  # a folder without result, error or live lock: interrupted, or not started
UNREADABLE = "unreadable"  # a result file that is not valid JSON/YAML

# What a plain `stp train` folder is placed by: the fields sweeps vary. Paths (train_file,
# output_dir) are left out: generated data lives inside each run's own folder.
PLAIN_AXES = (
    "model_name_or_path",
    "finetuning",
    "stp_lambda",
    "stp_form",
    "train_fraction",
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "seed",
)


class RunFolderError(ValueError):
    """A folder that cannot be read as runs: names the folder and what is wrong."""


@dataclass(frozen=True)
class Run:
    """One grid point as found on disk.

    `coordinates` always hold `method` and `seed` (derived for plain folders). `problem` says why
    a point has no result: the error of a failed run, the lock holder of a running one, what is
    missing from an incomplete one.
    """

    folder: Path
    point_id: str
    status: str
    coordinates: dict
    config: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    log_history: list = field(default_factory=list)
    global_step: int | None = None
    evals: dict = field(default_factory=dict)  # task -> eval.json content
    point: dict = field(default_factory=dict)  # sweep_point.json, {} for a plain folder
    problem: str | None = None

    @property
    def method(self) -> str:
        return str(self.coordinates["method"])

    @property
    def seed(self):
        return self.coordinates.get("seed")

    @property
    def stp_lambda(self) -> float | None:
        """The resolved lambda: what the run trained with, whatever the grid called it."""
        for source in (self.config, self.metrics, self.coordinates):
            if source.get("stp_lambda") is not None:
                return float(source["stp_lambda"])
        return None

    @property
    def family(self) -> str | None:
        """What the run trained (`ntp`, `stp`, `two-view` ...), from its files: see `family_of`.
        None when no file records it (an unreadable folder, a point that never wrote a config)."""
        if not self.config and not self.metrics:
            return None
        return family_of(self.config, self.metrics, self.stp_lambda)


def method_of_lambda(stp_lambda: float | None) -> str:
    """A plain run's method: lambda 0 is ordinary fine-tuning (NTP), anything else NTP + STP."""
    return "ntp" if stp_lambda is not None and float(stp_lambda) == 0.0 else "stp"


def family_of(config: dict, metrics: dict, stp_lambda: float | None) -> str:
    """The `method` field of the resolved config (else of metrics.json), `ntp` when it is ntp or
    lambda is 0 (nothing is added to the next-token loss then); without the field (runs older
    than it), `method_of_lambda`."""
    recorded = next((source["method"] for source in (config, metrics) if source.get("method") not in (None, "")), None)
    if recorded is None:
        return method_of_lambda(stp_lambda)
    return "ntp" if str(recorded) == "ntp" or (stp_lambda is not None and float(stp_lambda) == 0.0) else str(recorded)


def is_run_folder(folder: Path) -> bool:
    return any((folder / name).is_file() for name in _MARKERS)


def find_run_folders(root: str | Path) -> list[Path]:
    """Run folders at `root` itself, among its children, or one level below them, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise RunFolderError(f"{root}: no such folder")
    if is_run_folder(root):
        return [root]
    found = []
    for child in sorted(path for path in root.iterdir() if path.is_dir()):
        if is_run_folder(child):
            found.append(child)
        else:
            found += sorted(grandchild for grandchild in child.iterdir() if grandchild.is_dir() and is_run_folder(grandchild))
    return found


def read_runs(root: str | Path) -> list[Run]:
    """Every run folder under `root` as a `Run`; a folder with no run at all is an error."""
    root = Path(root)
    folders = find_run_folders(root)
    if not folders:
        raise RunFolderError(
            f"{root}: no run folders (a run folder holds {POINT_FILE} or {CONFIG_FILE}; looked in the folder, its sub-folders and theirs)"
        )
    return [read_run(folder, root) for folder in folders]


def read_run(folder: str | Path, root: str | Path | None = None) -> Run:
    """One run folder; an unparsable file makes an UNREADABLE run naming it, not an exception,
    so one damaged folder cannot hide the others."""
    folder = Path(folder)
    default_id = str(folder.relative_to(root)) if root and folder != Path(root) else folder.name
    try:
        point = _read_json(folder / POINT_FILE) or {}
        config = _read_yaml(folder / CONFIG_FILE) or _read_yaml(folder / POINT_CONFIG) or {}
        metrics = _read_json(folder / METRICS_FILE)
        state = _read_json(folder / STATE_FILE) or {}
        evals = {path.parent.name: _read_json(path) for path in sorted(folder.glob(EVAL_GLOB))}
        failure = _read_json(folder / FAILED_FILE)
    except RunFolderError as err:
        return Run(folder, default_id, UNREADABLE, {"method": "?", "seed": None}, problem=str(err))
    status, problem = _status(folder, metrics, failure)
    return Run(
        folder=folder,
        point_id=str(point.get("point_id", default_id)),
        status=status,
        coordinates=coordinates_of(point, config, metrics or {}),
        config=config,
        metrics=metrics or {},
        log_history=list(state.get("log_history", [])),
        global_step=state.get("global_step"),
        evals=evals,
        point=point,
        problem=problem,
    )


def coordinates_of(point: dict, config: dict, metrics: dict) -> dict:
    """The grid coordinates: sweep_point.json's, else the plain axes of the config (or metrics),
    completed with `method` (the family: `family_of`) and `seed` when the grid did not name them."""
    source = {**metrics, **config}  # the config is the complete record; metrics.json has a few fields
    coordinates = dict(point["coordinates"]) if "coordinates" in point else {axis: source[axis] for axis in PLAIN_AXES if axis in source}
    coordinates.setdefault("method", family_of(config, metrics, source.get("stp_lambda", coordinates.get("stp_lambda"))))
    coordinates.setdefault("seed", source.get("seed"))
    return coordinates


def _status(folder: Path, metrics: dict | None, failure: dict | None) -> tuple[str, str | None]:
    if metrics is not None:
        return FINISHED, None
    if failure is not None:
        return FAILED, str(failure.get("error") or "failed.json without an error message")
    if (folder / LOCK_FILE).exists():
        return lock_status(folder / LOCK_FILE)
    return INCOMPLETE, f"no {METRICS_FILE}, {FAILED_FILE} or {LOCK_FILE}: interrupted, or not started"


def lock_status(path: Path) -> tuple[str, str]:
    """RUNNING with the holder, or INCOMPLETE for a stale lock (same host, its processes gone:
    the sweep was killed, and the point resumes from its checkpoint when the sweep starts again).
    Staleness is `experiments.locks`' own rule, so the report and the sweep agree."""
    holder = read_lock(path)
    if holder is None:
        return RUNNING, "lock being written (or left empty by a process that died writing it)"
    if holder.is_stale():
        return INCOMPLETE, f"stale lock ({holder.describe()}, gone): interrupted, resumes on the next sweep"
    return RUNNING, f"locked by {holder.describe()}"


def _read_json(path: Path):
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunFolderError(f"{path}: not valid JSON ({err})") from None


def _read_yaml(path: Path):
    if not path.is_file():
        return None
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise RunFolderError(f"{path}: not valid YAML ({err})") from None


def sweep_file_hash(root: str | Path) -> str | None:
    """sha256 of the sweep.yaml copy in the sweep folder, to check it against the points' record."""
    path = Path(root) / SWEEP_FILE
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
