"""The design of a folder of runs: which methods are compared, in which settings, paired by which seeds.

- configuration: a run's coordinates except the seed; its finished runs are averaged (mean,
  sample standard deviation, n seeds);
- method (an *arm*): what is compared, the `method` coordinate (or `ntp`/`stp` from lambda for a
  plain `stp train` folder), with lambda appended when one method was run at several lambdas;
- setting: the rest of a configuration (data fraction, learning rate, ...). Two methods are
  compared within one setting, their runs paired by seed (same seed and data subset, only the
  method differs), as the paper's paired one-tailed t-tests (Tables 4-5).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from semantic_tube.experiments import figures
from semantic_tube.experiments.runs import Run
from semantic_tube.run_folder import Status

DEFAULT_BASELINE = "ntp"
NTP_FAMILY = "ntp"
FRACTION = "train_fraction"
LAMBDA = "stp_lambda"
LAMBDA_SCALE = "lambda_scale"  # the sweep's 2 x lambda axis: it changes only lambda
# Not part of a setting: the method and its lambda are what is compared, the seed pairs. The
# lambda scale belongs to the method's lambda too: `stp sweep` keeps one NTP point for all
# scales (0 x 2 = 0), and that point is the baseline for STP at every scale.
_NOT_SETTING = ("method", "seed", LAMBDA, LAMBDA_SCALE)

Setting = tuple  # ((key, value), ...) sorted by key: the coordinates besides method, lambda and seed


class ReportError(ValueError):
    """A report that cannot be made as asked (an unknown baseline or metric), naming what exists."""


@dataclass(frozen=True)
class Design:
    """How the runs group: the methods run at several lambdas (their arms carry the lambda), the
    setting keys that vary (shown in tables) or not (stated once), the arms and the baseline."""

    split_lambda: frozenset
    varying: tuple
    constant: dict
    arms: tuple
    baseline: str | None

    def arm(self, run: Run) -> str:
        if run.method in self.split_lambda and run.stp_lambda is not None:
            return f"{run.method} λ={run.stp_lambda:g}"
        return run.method

    def label(self, arm: str, setting: Setting) -> str:
        """`stp, train_fraction=1/2`: the arm and the varying part of the setting."""
        return ", ".join([arm, *(f"{key}={show(key, value)}" for key, value in setting if key in self.varying)])

    def setting_label(self, setting: Setting) -> str:
        return ", ".join(f"{key}={show(key, value)}" for key, value in setting if key in self.varying) or "all runs"


def setting_of(run: Run) -> Setting:
    return tuple(sorted((key, _hashable(value)) for key, value in run.coordinates.items() if key not in _NOT_SETTING))


def _hashable(value):
    if isinstance(value, list):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _hashable(item)) for key, item in value.items()))
    return value


def design_of(runs: list[Run], baseline: str = DEFAULT_BASELINE, explicit: bool = False) -> Design:
    """The grouping of the readable runs (all statuses, so a failed point still has its place)."""
    lambdas = defaultdict(set)
    for run in runs:
        if run.stp_lambda is not None:
            lambdas[run.method].add(run.stp_lambda)
    split = frozenset(method for method, values in lambdas.items() if len(values) > 1)
    values = defaultdict(set)
    for run in runs:
        for key, value in setting_of(run):
            values[key].add(value)
    keys = {key for run in runs for key, _ in setting_of(run)}
    varying = tuple(sorted(key for key in keys if len(values[key]) > 1 or any(key not in dict(setting_of(run)) for run in runs)))
    constant = {key: next(iter(values[key])) for key in sorted(keys) if key not in varying}
    draft = Design(split, varying, constant, (), None)
    order = {draft.arm(run): (run.method, run.stp_lambda or 0.0) for run in runs}
    arms = sorted(order, key=order.get)
    chosen = _baseline(runs, draft, arms, baseline, explicit)
    arms = [chosen, *(arm for arm in arms if arm != chosen)] if chosen else arms
    return Design(split, varying, constant, tuple(arms), chosen)


def _baseline(runs: list[Run], draft: Design, arms: list[str], name: str, explicit: bool) -> str | None:
    """The arm named `name`; for the default name, else the one arm trained with lambda 0."""
    if name in arms:
        return name
    if not explicit:
        plain = {draft.arm(run) for run in runs if run.stp_lambda == 0.0}
        if len(plain) == 1:
            return plain.pop()
        return None
    raise ReportError(f"--baseline {name}: no such method; methods in these runs: {', '.join(arms)}")


def cells_of(runs: list[Run], design: Design) -> dict[tuple[str, Setting], list[Run]]:
    """Runs (any status) by (arm, setting), settings in display order, arms baseline first."""
    cells = defaultdict(list)
    for run in runs:
        cells[(design.arm(run), setting_of(run))].append(run)
    order = {arm: index for index, arm in enumerate(design.arms)}
    return dict(sorted(cells.items(), key=lambda item: (_setting_order(item[0][1]), order[item[0][0]])))


def _setting_order(setting: Setting) -> tuple:
    """Data fractions from the full set down (the paper's order), other values ascending."""
    keys = []
    for key, value in setting:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            keys.append((key, 0, -value if key == FRACTION else value, ""))
        else:
            keys.append((key, 1, 0, str(value)))
    return tuple(keys)


def settings_of(cells: dict) -> list[Setting]:
    """The settings in display order, each once."""
    return list(dict.fromkeys(setting for _, setting in cells))


def rest_of(setting: Setting) -> Setting:
    """A setting without its data fraction: what a Figure 1b line keeps fixed."""
    return tuple(item for item in setting if item[0] != FRACTION)


def largest_fraction(cells: dict) -> float | None:
    """The full data of the grid: its largest train_fraction (None when no run records one)."""
    return max((dict(setting)[FRACTION] for _, setting in cells if FRACTION in dict(setting)), default=None)


def seed_order(seed) -> tuple:
    """Numbers in numeric order (4 before 23), anything else after them as text."""
    return (0, seed, "") if isinstance(seed, (int, float)) and not isinstance(seed, bool) else (1, 0, str(seed))


def is_finished(run: Run) -> bool:
    return run.status == Status.FINISHED  # Status is a str Enum: equal to "finished" too


def finished(runs) -> list[Run]:
    return [run for run in runs if is_finished(run)]


def runs_by_seed(runs: list[Run]) -> dict:
    """{seed: [runs of that seed]}, in the order found."""
    by_seed = defaultdict(list)
    for run in runs:
        by_seed[run.seed].append(run)
    return by_seed


def finished_by_seed(runs: list[Run]) -> dict:
    """{seed: run} for the seeds with exactly one run, finished (as the paired tests use them)."""
    return {seed: group[0] for seed, group in runs_by_seed(runs).items() if len(group) == 1 and is_finished(group[0])}


def family_of_runs(runs: list[Run]) -> str:
    """The family a configuration's runs record (`Run.family`); `a / b` when they disagree (shown, not hidden)."""
    found = sorted({run.family for run in runs if run.family is not None})
    return " / ".join(found) if found else "?"


def show(key: str, value) -> str:
    """A coordinate as the report writes it: fractions as 1/2, 1/4 ..."""
    if key == FRACTION and isinstance(value, (int, float)):
        return figures.fraction_label(float(value))
    return f"{value:g}" if isinstance(value, float) else str(value)
