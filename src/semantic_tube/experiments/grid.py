"""A sweep file expanded into grid points: one `stp train` configuration per point.

    from semantic_tube.experiments.grid import load_sweep, expand
    points = expand(load_sweep("sweeps/quick.yaml"))

A sweep file (YAML):

    name: quick                  # optional; default: the file name without .yaml
    launcher: torchrun --nproc_per_node=8   # optional; default: this Python (one process per run)
    config:                      # `stp train` fields shared by every point (flat, as in configs/)
      learning_rate: 1.0e-4
      num_train_epochs: 3
    methods:                     # optional: named bundles of fields, the `method` axis
      ntp: {stp_lambda: 0.0, stp_log_when_off: true}
      stp: {stp_lambda: 0.02}
    grid:                        # axes: a field (or a sweep axis below) -> its values
      train_fraction: [1, 1/2, 1/4]
      seed: [82, 23, 37]         # default: the paper's 82, 23, 37, 84, 4
      data_rule: [epochs, half_compute]   # default: epochs
      lambda_scale: [1, 2]                # default: 1

Every point is the cartesian product of the axes. Later layers win: config < method < grid
fields < the data rule < what the sweep itself sets per point (train_fraction, seed, output_dir,
resume_from_checkpoint). Methods are bundles rather than a field so a sweep keeps working when a
real `method` field arrives: the bundle then just sets it.

The data-efficiency rule (Sec. 4.3) is the `data_rule` axis, with 1/n of the data:
  epochs        n x num_train_epochs: every fraction gets the compute of the full run.
  half_compute  n/2 x num_train_epochs and 2 x learning_rate (the paper's variant).
  none          fields as given (a pilot, or a sweep that sets its own epochs).
A config with max_steps > 0 counts optimizer steps, not passes over the data: n x epochs over 1/n
of the data *is* the same number of steps, so `epochs` keeps max_steps (equal compute, as the
rule intends; scaling it by n would multiply the compute by n) and `half_compute` halves it.
`lambda_scale` multiplies stp_lambda (the paper's 2 x lambda, in either regime). Both are axes,
so `[epochs, half_compute] x [1, 2]` is the paper's four settings.

This module only reads YAML: no torch, so `stp sweep --dry-run` starts at once. Field names and
values are checked by `stp train`'s own parser in `experiments.validate`.
"""

from __future__ import annotations

import itertools
import math
import re
import shlex
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction
from pathlib import Path

import yaml

PAPER_SEEDS = (82, 23, 37, 84, 4)
METHOD, DATA_RULE, LAMBDA_SCALE, FRACTION, SEED = "method", "data_rule", "lambda_scale", "train_fraction", "seed"
SWEEP_AXES = (DATA_RULE, LAMBDA_SCALE)  # axes of the sweep, not fields of `stp train`
SWEEP_KEYS = ("name", "launcher", "config", "methods", "grid")
# Set by the sweep for every point: a value for them elsewhere would be silently replaced.
SET_BY_SWEEP = ("output_dir", "resume_from_checkpoint")
_SLUG_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]+")


class SweepError(ValueError):
    """A sweep that cannot run as written: names the file, the key or the point."""


class DataRule(str, Enum):
    NONE = "none"
    EPOCHS = "epochs"
    HALF_COMPUTE = "half_compute"


@dataclass(frozen=True)
class Sweep:
    """A parsed sweep file (or one `stp tune` builds), with `stp sweep`'s `--field value` overrides.

    `axes` maps every axis to its values in the fixed order used for point ids: method, the sweep
    axes that were listed, the other grid fields in file order, train_fraction, seed.
    """

    name: str
    text: str  # the sweep document as written (copied to <out>/sweep.yaml, hashed)
    source: str  # the file it came from, or what built it
    config: dict
    methods: dict[str, dict]
    axes: dict[str, tuple]
    overrides: dict = field(default_factory=dict)
    launcher: tuple[str, ...] = ()  # the command that starts `-m semantic_tube train ...`; () = this Python

    @property
    def document(self) -> dict:
        return yaml.safe_load(self.text) or {}


@dataclass(frozen=True)
class Point:
    """One run of the grid: `config` is everything `stp train` gets except output_dir and
    resume_from_checkpoint (which depend on where it runs); `overrides` is what the point sets on
    top of the shared config (method bundle, grid values, data rule)."""

    index: int  # position in the fixed order of the whole grid (sharding uses it)
    point_id: str
    coordinates: dict
    overrides: dict
    config: dict


def load_sweep(path: str | Path, overrides: dict | None = None) -> Sweep:
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"sweep file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise SweepError(f"{path}: not valid YAML ({err})") from None
    return parse_sweep(document, text=text, source=str(path), default_name=path.stem, overrides=overrides)


def parse_sweep(document: dict, *, text: str, source: str, default_name: str, overrides: dict | None = None) -> Sweep:
    """Check the document's shape and build the axes; field names are checked later, by the parser of `stp train`."""
    if not isinstance(document, dict):
        raise SweepError(f"{source}: expected a mapping with keys {', '.join(SWEEP_KEYS)}")
    unknown = sorted(set(document) - set(SWEEP_KEYS))
    if unknown:
        raise SweepError(f"{source}: unknown key(s) {', '.join(unknown)}; a sweep file has {', '.join(SWEEP_KEYS)}")
    config = _mapping(document.get("config"), f"{source}: config")
    methods = {str(name): _mapping(bundle, f"{source}: methods.{name}") for name, bundle in _mapping(document.get("methods"), f"{source}: methods").items()}
    grid = _mapping(document.get("grid"), f"{source}: grid")
    overrides = dict(overrides or {})
    _check_layers(source, config, methods, grid, overrides)
    axes = _axes(source, config, methods, grid)
    launcher = _launcher(source, document.get("launcher"))
    return Sweep(str(document.get("name") or default_name), text, source, config, methods, axes, overrides, launcher)


def _launcher(source: str, value) -> tuple[str, ...]:
    """`torchrun --nproc_per_node=8` (a string or a list): runs start as `<launcher> -m semantic_tube train`."""
    if value is None:
        return ()
    words = shlex.split(value) if isinstance(value, str) else value
    if not isinstance(words, list) or not words or not all(isinstance(word, str) for word in words):
        raise SweepError(f"{source}: launcher: expected a command such as 'torchrun --nproc_per_node=8', got {value!r}")
    return tuple(words)


def _mapping(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SweepError(f"{where}: expected a mapping, got {value!r}")
    return dict(value)


def _check_layers(source: str, config: dict, methods: dict, grid: dict, overrides: dict) -> None:
    """Values that another layer would silently replace are errors, naming where they are."""
    layers = {"grid": grid, "the command line": overrides, **{f"methods.{name}": bundle for name, bundle in methods.items()}}
    for key in SET_BY_SWEEP:
        for where, values in layers.items():
            if key in values:
                raise SweepError(f"{source}: {key} in {where}: the sweep sets it for every point (the folder is --out)")
    if "resume_from_checkpoint" in config:
        raise SweepError(f"{source}: resume_from_checkpoint in config: the sweep sets it for every point")
    if SEED in config:
        raise SweepError(f"{source}: seed in config: list the seeds in grid.seed (default: the paper's {', '.join(map(str, PAPER_SEEDS))})")
    for name in SWEEP_AXES:
        if name in config or name in overrides:
            raise SweepError(f"{source}: {name} is a sweep axis: list its values under grid")
    if METHOD in grid:
        raise SweepError(f"{source}: grid.method: define methods under `methods:`, as bundles of fields")
    varied = set(grid) | {key for bundle in methods.values() for key in bundle} | {SEED, FRACTION} | ({METHOD} if methods else set())
    for key in sorted(set(overrides) & varied):
        raise SweepError(f"--{key}: the sweep varies it (grid, methods or seeds of {source}); change the sweep file instead")


def _axes(source: str, config: dict, methods: dict, grid: dict) -> dict[str, tuple]:
    values = {name: _axis_values(source, name, value) for name, value in grid.items()}
    for name, bundle in methods.items():
        if _slug(name) != name:
            raise SweepError(f"{source}: methods.{name}: a method name may hold only letters, digits and . _ + -")
        if not bundle:
            raise SweepError(f"{source}: methods.{name}: an empty bundle (give the fields this method sets)")
    axes: dict[str, tuple] = {METHOD: tuple(methods)} if methods else {}
    for name in SWEEP_AXES:
        if name in values:
            axes[name] = values[name]
    axes |= {name: vals for name, vals in values.items() if name not in (*SWEEP_AXES, FRACTION, SEED)}
    axes[FRACTION] = values.get(FRACTION, (_fraction(source, "config.train_fraction", config.get(FRACTION, 1)),))
    axes[SEED] = values.get(SEED, PAPER_SEEDS)
    return axes


def _axis_values(source: str, name: str, value) -> tuple:
    values = tuple(value) if isinstance(value, list) else (value,)
    if not values:
        raise SweepError(f"{source}: grid.{name} is empty: the grid has zero points")
    if len(set(map(repr, values))) != len(values):
        raise SweepError(f"{source}: grid.{name} lists a value twice: {list(values)}")
    if name == FRACTION:
        return tuple(_fraction(source, f"grid.{name}", v) for v in values)
    if name == DATA_RULE:
        known = [rule.value for rule in DataRule]
        unknown = [v for v in values if v not in known]
        if unknown:
            raise SweepError(f"{source}: grid.data_rule: unknown value(s) {unknown}; known: {', '.join(known)}")
    if name == LAMBDA_SCALE and not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values):
        raise SweepError(f"{source}: grid.lambda_scale: expected positive numbers, got {list(values)}")
    return values


def _fraction(source: str, where: str, value) -> float:
    """A data fraction in (0, 1]: a number, or a string such as `1/16`."""
    try:
        number = float(Fraction(str(value))) if not isinstance(value, bool) else math.nan
    except (ValueError, ZeroDivisionError):
        number = math.nan
    if not 0 < number <= 1:
        raise SweepError(f"{source}: {where}: a data fraction must be in (0, 1], got {value!r}")
    return number


# -------------------------------------------------------------------------------------------
# Expansion


def expand(sweep: Sweep) -> list[Point]:
    """Every point of the grid, in a fixed order: seed slowest, the first axis (method) fastest,
    so the first points finished already pair every method at one seed and fraction. Points whose
    configuration equals an earlier one's (2 x lambda of a method with lambda 0) are kept once."""
    names = list(sweep.axes)
    points, seen, ids = [], set(), {}
    for combination in itertools.product(*(sweep.axes[name] for name in reversed(names))):
        coordinates = dict(zip(reversed(names), combination))
        coordinates = {name: coordinates[name] for name in names}
        overrides = point_overrides(sweep, coordinates)
        config = {key: value for key, value in {**sweep.config, **sweep.overrides, **overrides}.items() if key != "output_dir"}
        key = repr(sorted(config.items()))
        if key in seen:
            continue
        seen.add(key)
        point_id = slug(coordinates)
        if point_id in ids:
            raise SweepError(f"{sweep.source}: points {ids[point_id]} and {coordinates} get the same folder name {point_id}")
        ids[point_id] = coordinates
        points.append(Point(len(points), point_id, coordinates, overrides, config))
    if not points:
        raise SweepError(f"{sweep.source}: the grid has zero points")
    return points


def combinations(sweep: Sweep) -> int:
    """The product of the axes' lengths: more than len(expand(sweep)) when some were identical."""
    return math.prod(len(values) for values in sweep.axes.values())


def point_overrides(sweep: Sweep, coordinates: dict) -> dict:
    """The fields one point sets: its method bundle, its grid values, then the data rule's."""
    overrides = dict(sweep.methods.get(coordinates.get(METHOD), {}))
    overrides |= {name: value for name, value in coordinates.items() if name not in (METHOD, *SWEEP_AXES)}
    base = {**sweep.config, **sweep.overrides, **overrides}
    where = f"{sweep.source}: point {slug(coordinates)}"
    rule = DataRule(coordinates.get(DATA_RULE, DataRule.EPOCHS))
    overrides |= data_rule_fields(base, coordinates[FRACTION], rule, where)
    overrides |= lambda_scale_fields(base, coordinates.get(LAMBDA_SCALE, 1), where)
    return overrides


def data_rule_fields(config: dict, fraction: float, rule: DataRule, where: str = "") -> dict:
    """The fields the data rule changes for a run on `fraction` = 1/n of the data (Sec. 4.3).

    With max_steps > 0 the Trainer counts steps, not epochs: `epochs` keeps them (n x epochs over
    1/n of the data is the same number of steps), `half_compute` halves them.
    """
    n = 1 / fraction
    compute = {DataRule.NONE: None, DataRule.EPOCHS: 1.0, DataRule.HALF_COMPUTE: 0.5}[rule]
    if compute is None:
        return {}
    fields = {}
    if _number(config, "max_steps", -1, where) > 0:
        if compute != 1:
            fields["max_steps"] = max(1, math.ceil(config["max_steps"] * compute))
    elif n * compute != 1:
        if "num_train_epochs" not in config:
            raise SweepError(f"{where}: data_rule {rule.value} scales num_train_epochs: set num_train_epochs (or max_steps) in the config")
        fields["num_train_epochs"] = _tidy(_number(config, "num_train_epochs", None, where) * n * compute)
    if rule is DataRule.HALF_COMPUTE:
        if "learning_rate" not in config:
            raise SweepError(f"{where}: data_rule half_compute doubles learning_rate: set learning_rate in the config")
        fields["learning_rate"] = _tidy(2 * _number(config, "learning_rate", None, where))
    return fields


def lambda_scale_fields(config: dict, scale: float, where: str = "") -> dict:
    if scale == 1:
        return {}
    if "stp_lambda" not in config:
        raise SweepError(f"{where}: lambda_scale {scale} scales stp_lambda: set stp_lambda in the config or the methods")
    return {"stp_lambda": _tidy(_number(config, "stp_lambda", None, where) * scale)}


def _number(config: dict, name: str, default, where: str) -> float:
    value = config.get(name, default)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SweepError(f"{where}: {name}: expected a number, got {value!r}") from None


def _tidy(value: float) -> float:
    """12 significant digits, so 3 x 0.1 is written 0.3, not 0.30000000000000004."""
    return float(f"{value:.12g}")


def slug(coordinates: dict) -> str:
    """`method=stp__train_fraction=0.5__seed=82`: readable, filesystem-safe, in axis order."""
    return "__".join(f"{name}={_slug(_text(value))}" for name, value in coordinates.items())


def _text(value) -> str:
    if isinstance(value, bool) or value is None:
        return yaml.safe_dump(value).split("\n")[0]
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _slug(text: str) -> str:
    return _SLUG_UNSAFE.sub("-", text).strip("-") or "-"


# -------------------------------------------------------------------------------------------
# `--field value` overrides


def parse_overrides(argv: list[str]) -> dict:
    """`--field value` / `--field=value` pairs (dashes or underscores) with YAML-typed values
    (`0.5`, `true`, `null`); a flag followed by another flag, or last, is `true`."""
    overrides, index = {}, 0
    while index < len(argv):
        token = argv[index]
        if not token.startswith("--") or token == "--":
            raise SweepError(f"unexpected argument {token!r}: overrides are --field value")
        name, equals, value = token[2:].partition("=")
        name = name.replace("-", "_")
        if not equals:
            following = argv[index + 1] if index + 1 < len(argv) else None
            value = "true" if following is None or following.startswith("--") else following
            index += 0 if following is None or following.startswith("--") else 1
        overrides[name] = yaml.safe_load(value) if value != "" else None
        index += 1
    return overrides
