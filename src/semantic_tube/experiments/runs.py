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

A folder's status is the run-folder contract's `folder_status` (finished, failed, running,
incomplete), the same reading the sweep makes; a folder whose other records cannot be parsed is
`unreadable`, naming the file. Reports must list the unfinished points rather than average them
away, so every folder found becomes a `Run`, whatever its state. Files only (never logs), no
torch: a report runs wherever the folders are copied.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from semantic_tube.run_folder import (
    CONFIG_FILE,
    EVAL_GLOB,
    FAILED_FILE,
    METRICS_FILE,
    POINT_CONFIG,
    POINT_FILE,
    PROVENANCE_FILE,
    RUN_MARKERS,
    STATE_FILE,
    SWEEP_FILE,
    Status,
    UnreadableRecord,
    folder_status,
    lock_status,
    read_json,
    read_record,
    read_yaml,
)

__all__ = [
    "CONFIG_FILE", "FAILED", "FAILED_FILE", "FINISHED", "INCOMPLETE", "METRICS_FILE", "PLAIN_AXES", "POINT_CONFIG", "POINT_FILE",
    "RUNNING", "STATE_FILE", "SWEEP_FILE", "UNREADABLE", "Run", "RunFolderError", "coordinates_of", "family_of",
    "find_run_folders", "is_run_folder", "lock_status", "method_of_lambda", "read_run", "read_runs", "sweep_file_hash",
]  # fmt: skip

# The status names as this module exported them before `Status` (same values: Status is a str enum).
FINISHED, FAILED, RUNNING, INCOMPLETE, UNREADABLE = Status.FINISHED, Status.FAILED, Status.RUNNING, Status.INCOMPLETE, Status.UNREADABLE

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
    missing from an incomplete one, the damaged file of an unreadable one.
    """

    folder: Path
    point_id: str
    status: Status
    coordinates: dict
    config: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    log_history: list = field(default_factory=list)
    global_step: int | None = None
    evals: dict = field(default_factory=dict)  # task -> eval.json content
    point: dict = field(default_factory=dict)  # sweep_point.json, {} for a plain folder
    problem: str | None = None
    provenance: dict = field(default_factory=dict)  # provenance.json (`stp train`'s own), else sweep_point.json's commit and versions

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
    return any((folder / name).is_file() for name in RUN_MARKERS)


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
    """One run folder. Its status is `folder_status`'s; a damaged metrics.json makes it
    INCOMPLETE (trained again by the next sweep) and any other unparsable record UNREADABLE,
    each naming the file, never an exception, so one damaged folder cannot hide the others."""
    folder = Path(folder)
    default_id = str(folder.relative_to(root)) if root and folder != Path(root) else folder.name
    status, problem = folder_status(folder)
    try:
        point = read_record(folder / POINT_FILE) or {}
        config = read_yaml(folder / CONFIG_FILE) or read_yaml(folder / POINT_CONFIG) or {}
        metrics = _metrics(folder) if status is Status.FINISHED else {}
        state = read_json(folder / STATE_FILE) or {}
        evals = {path.parent.name: read_json(path) for path in sorted(folder.glob(EVAL_GLOB))}
        recorded = read_record(folder / PROVENANCE_FILE)
    except UnreadableRecord as err:
        return Run(folder, default_id, Status.UNREADABLE, {"method": "?", "seed": None}, problem=str(err))
    return Run(
        folder=folder,
        point_id=str(point.get("point_id", default_id)),
        status=status,
        coordinates=coordinates_of(point, config, metrics),
        config=config,
        metrics=metrics,
        log_history=list(state.get("log_history", [])),
        global_step=state.get("global_step"),
        evals=evals,
        point=point,
        problem=problem,
        provenance=recorded if recorded is not None else {key: point[key] for key in ("commit", "versions") if key in point},
    )


def _metrics(folder: Path) -> dict:
    return read_record(folder / METRICS_FILE) or {}


def coordinates_of(point: dict, config: dict, metrics: dict) -> dict:
    """The grid coordinates: sweep_point.json's, else the plain axes of the config (or metrics),
    completed with `method` (the family: `family_of`) and `seed` when the grid did not name them."""
    source = {**metrics, **config}  # the config is the complete record; metrics.json has a few fields
    coordinates = dict(point["coordinates"]) if "coordinates" in point else {axis: source[axis] for axis in PLAIN_AXES if axis in source}
    coordinates.setdefault("method", family_of(config, metrics, source.get("stp_lambda", coordinates.get("stp_lambda"))))
    coordinates.setdefault("seed", source.get("seed"))
    return coordinates


def sweep_file_hash(root: str | Path) -> str | None:
    """sha256 of the sweep.yaml copy in the sweep folder, to check it against the points' record."""
    path = Path(root) / SWEEP_FILE
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
