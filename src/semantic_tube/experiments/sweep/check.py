"""The checks a sweep makes before anything trains: field names, every point's configuration
(by `stp train`'s own parser, in a child interpreter: `experiments.validate`), the data files and
the folder (it holds this sweep or nothing)."""

from __future__ import annotations

import difflib
import shutil
from dataclasses import dataclass
from pathlib import Path

from semantic_tube.experiments.grid import SWEEP_AXES, Point, Sweep, SweepError
from semantic_tube.experiments.sweep.point import point_config
from semantic_tube.experiments.validate import check_configs
from semantic_tube.run_folder import POINT_CONFIG, SWEEP_FILE, UnreadableRecord, read_yaml

FILE_FIELDS = ("train_file", "eval_file", "eval_task_file")
FOLDER_FIELDS = ("eval_db_dir",)
# Where a point runs, not how: a sweep folder copied or moved (to a cluster's shared disk) resumes there.
PLACE_FIELDS = ("output_dir",)


@dataclass(frozen=True)
class CheckedSweep:
    """What the checks learnt: notes for a dry run, and each point's forward passes per step."""

    notes: list[str]
    forward_passes: dict[str, int]


def check_sweep(sweep: Sweep, points: list[Point], out: Path, *, dry_run: bool) -> CheckedSweep:
    """Every field name and every point's configuration (by `stp train`'s parser), the folder,
    and (for a real run) the data files. Raises SweepError. Field names come first: a misspelt
    `--field` would otherwise show as a folder that "holds another sweep"."""
    missing = missing_paths(points)
    if sweep.launcher and not shutil.which(sweep.launcher[0]):
        missing.append(f"launcher {sweep.launcher[0]}")
    if missing and not dry_run:
        raise SweepError(f"{sweep.source}: not found: {', '.join(missing)} (relative paths are read from {Path.cwd()})")
    validation = check_configs({p.point_id: point_config(p, out / p.point_id) for p in points}, on_this_hardware=not dry_run)
    check_field_names(sweep, validation.fields)
    if validation.errors:
        raise SweepError(f"{sweep.source}: invalid configuration:\n" + _grouped(validation.errors))
    check_folder(sweep, points, out)
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
    sweep's, or a point configured differently (another `--field value`) is an error. Where a
    point runs (output_dir) is not part of its configuration: a copied folder resumes."""
    copy = out / SWEEP_FILE
    if copy.is_file():
        differences = _differences(_stored(copy), sweep.document)
        if differences:
            raise SweepError(f"{out}: holds another sweep: its {SWEEP_FILE} differs from {sweep.source} in {'; '.join(differences)}; use another --out")
    elif out.is_dir() and any(out.iterdir()):
        raise SweepError(f"{out}: not empty and not a sweep folder (no {SWEEP_FILE}); use another --out")
    for point in points:
        stored = out / point.point_id / POINT_CONFIG
        if stored.is_file():
            differences = _differences(_without_place(_stored(stored)), _without_place(point_config(point, stored.parent)))
            if differences:
                raise SweepError(
                    f"{stored.parent}: was run with another configuration ({'; '.join(differences)}); "
                    f"run the sweep as before, use another --out, or delete that folder"
                )


def _stored(path: Path) -> dict:
    try:
        found = read_yaml(path)
    except UnreadableRecord as err:
        raise SweepError(f"{err}; delete it, or use another --out") from None
    return found if isinstance(found, dict) else {}


def _without_place(config: dict) -> dict:
    return {key: value for key, value in config.items() if key not in PLACE_FIELDS}


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
