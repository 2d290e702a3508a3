"""The data behind each figure, computed before anything is drawn (`report.draw` draws it).

- Figure 1b: accuracy against data fraction, one line per method, the baseline's full-data mean
  as the reference (`efficiency_lines`).
- Figure 4a: training curves, mean over seeds at the steps every seed logged: NTP, and each
  method's own loss on a panel of its own (`loss_curves`); runs that log STP forms
  (`stp_<form>_loss`) get one panel per form instead of their `stp_loss`.
- Figures 4b and 7: final losses and accuracy against lambda (`lambda_panel`), at the full data.
- Figure 6: singular value spectra of Enc(Text) - Enc(Code) (`spectra_of`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

from semantic_tube.experiments import figures, stats
from semantic_tube.experiments.report.design import (
    FRACTION,
    Design,
    Setting,
    finished,
    largest_fraction,
    rest_of,
)
from semantic_tube.experiments.report.keys import STP_SERIES, aux_log_key, final_aux, logged_forms, own_series, value
from semantic_tube.experiments.runs import Run
from semantic_tube.run_folder import NTP_SERIES, final_key, stp_form_series

FIG_1B, FIG_4A, FIG_4B, FIG_7 = (
    "fig1b_data_efficiency.png",
    "fig4a_loss_curves.png",
    "fig4b_loss_vs_lambda.png",
    "fig7_accuracy_vs_lambda.png",
)
FIG_6 = "fig6_svd_{task}.png"
FIGURE_PATTERNS = (FIG_1B, FIG_4A, FIG_4B, FIG_7, FIG_6.format(task="*"))

# What each loss panel is called: the series a method logs its own loss under, and the STP forms.
SERIES_TITLES = {
    NTP_SERIES: "NTP loss",
    STP_SERIES: "STP loss",
    "mask_loss": "Mask loss",
    "curvature_loss": "Curvature loss",
    "jepa_loss": "LLM-JEPA loss",
}


def series_title(series: str) -> str:
    form = series.removeprefix("stp_").removesuffix("_loss")
    if series not in SERIES_TITLES and series == stp_form_series(form):
        return f"STP loss, {form} form"
    return SERIES_TITLES.get(series, series)


def colour(index: int) -> str:
    """Matplotlib's cycle by position, so a reference line can take the colour of the line it serves."""
    return f"C{index % 10}"


def points_series(label: str, points: dict[float, stats.Summary], index: int) -> figures.Series:
    xs = sorted(x for x, point in points.items() if point.n)
    return figures.Series(
        label,
        tuple(xs),
        tuple(points[x].mean for x in xs),
        tuple(points[x].std for x in xs),
        tuple(points[x].n for x in xs),
        colour(index),
    )


def reference(label: str, point: stats.Summary, colour_: str | None) -> figures.Reference:
    return figures.Reference(label, point.mean, point.std, point.n, colour_)


def line_label(name: str, setting: Setting, design: Design, with_setting: bool) -> str:
    return f"{name}, {design.setting_label(setting)}" if with_setting else name


@dataclass(frozen=True)
class SeriesFigure:
    """Figures 1b, 4b and 7: panels (`figures.Panel`) of lines against x (the data fraction or
    lambda), with their references and the fitted curves drawn over the points."""

    file: str
    title: str
    ylabel: str
    axis: str  # "fraction" or "lambda"
    panels: tuple


STEP_AXIS = figures.STEP_AXIS
EXAMPLES_AXIS = "training examples seen (optimizer step x examples per step)"


@dataclass(frozen=True)
class CurveFigure:
    """Figure 4a: `panels` ((series, title), ...) and one `figures.Curve` per configuration,
    against `x_axis` (STEP_AXIS, or EXAMPLES_AXIS where configurations differ in examples per step)."""

    file: str
    panels: tuple
    curves: tuple
    x_axis: str = STEP_AXIS


@dataclass(frozen=True)
class SpectraFigure:
    """Figure 6 of one task."""

    file: str
    task: str
    spectra: tuple


# ---------------------------------------------------------------------------------------------
# Figure 1b


@dataclass(frozen=True)
class EfficiencyLine:
    """One method in one setting across data fractions, against the full-data baseline (`reference`)."""

    arm: str
    rest: Setting
    points: dict  # fraction -> Summary
    reference: stats.Summary | None
    matches_down_to: float | None


def efficiency_lines(key: str, design: Design, cells: dict) -> list[EfficiencyLine]:
    """Figure 1b's lines. The reference is the baseline at the largest fraction of the sweep (the
    full data) in the same rest of the setting; `matches_down_to` is the smallest fraction f such
    that at f and at every larger fraction the mean reaches the reference mean (mean >= it)."""
    grouped = defaultdict(dict)
    for (arm, setting), runs in cells.items():
        parts = dict(setting)
        if FRACTION in parts:
            grouped[(arm, rest_of(setting))][float(parts[FRACTION])] = stats.summarize(value(run, key) for run in finished(runs))
    full = max((fraction for points in grouped.values() for fraction in points), default=None)
    lines = []
    for (arm, rest), points in grouped.items():
        found = grouped.get((design.baseline, rest), {}).get(full)
        found = found if found is not None and found.n else None
        lines.append(EfficiencyLine(arm, rest, points, found, _matches_down_to(points, found)))
    return lines


def _matches_down_to(points: dict, reference_: stats.Summary | None) -> float | None:
    reached = None
    for fraction in sorted(points, reverse=True):
        if reference_ is None or points[fraction].mean is None or points[fraction].mean < reference_.mean:
            break
        reached = fraction
    return reached


def efficiency_figure(lines_by_panel: dict[str, list[EfficiencyLine]], design: Design, several: bool) -> SeriesFigure:
    panels = []
    for title, lines in lines_by_panel.items():
        series = tuple(
            points_series(line_label(line.arm, line.rest, design, several), line.points, index) for index, line in enumerate(lines)
        )
        references = tuple(  # the baseline's own colour when several settings each have one
            reference(line_label(f"full-data {line.arm}", line.rest, design, several), line.reference, colour(index) if several else None)
            for index, line in enumerate(lines)
            if line.arm == design.baseline and line.reference
        )
        panels.append(figures.Panel(title, series, references))
    return SeriesFigure(
        FIG_1B,
        "Accuracy against training data (Figure 1b); bars and bands: ± std over seeds",
        "accuracy (mean ± std over seeds)",
        "fraction",
        tuple(panels),
    )


# ---------------------------------------------------------------------------------------------
# Figure 4a


def mean_curve(runs: list[Run], key: str) -> tuple[tuple, tuple]:
    """Steps logged by every run, and the mean of `key` at each (training entries of log_history)."""
    logged = [{entry["step"]: entry[key] for entry in run.log_history if key in entry and "step" in entry} for run in runs]
    if not logged or not all(logged):
        return (), ()
    steps = sorted(set.intersection(*(set(series) for series in logged)))
    return tuple(steps), tuple(sum(series[step] for series in logged) / len(logged) for step in steps)


def loss_series(runs: list[Run]) -> list[tuple[str, str]]:
    """(panel, log key) of each auxiliary curve a configuration's runs are expected to show: one
    per logged STP form (`stp_<form>_loss`), else the method's own loss (read from `aux_loss`
    where logged, else the own name), on the panel of its own name."""
    forms = logged_forms(runs)
    if forms:
        return [(stp_form_series(form), stp_form_series(form)) for form in forms]
    own = own_series(runs[0])
    return [(own, aux_log_key(runs[0]))] if own else []


def loss_curve(label: str, runs: list[Run], colour_: str | None = None) -> figures.Curve | None:
    """A configuration's Figure 4a curve: NTP and each of its `loss_series` (an empty one where not logged)."""
    series = {NTP_SERIES: mean_curve(runs, NTP_SERIES)}
    if not series[NTP_SERIES][0]:
        return None
    for panel, key in loss_series(runs):
        series[panel] = mean_curve(runs, key)
    return figures.Curve(label, len(runs), series, colour_)


def in_examples(curve: figures.Curve, per_step: int) -> figures.Curve:
    """The same curve against examples seen: every logged step times `per_step`."""
    series = {name: (tuple(step * per_step for step in steps), values) for name, (steps, values) in curve.series.items()}
    return replace(curve, series=series)


def curve_figure(curves: list[figures.Curve], per_step: list[int] | None = None) -> CurveFigure:
    """Panels in a fixed order: NTP, STP, the STP forms, then the other methods' losses. With
    `per_step` (each curve's examples per optimizer step) not all alike, the curves are drawn
    against examples seen, so a batch of 32 is not read as four times as fast as a batch of 8."""
    names = {name for curve in curves for name in curve.series}
    order = [NTP_SERIES, STP_SERIES, *sorted(name for name in names if name.startswith("stp_") and name != STP_SERIES)]
    order += sorted(names - set(order))
    panels = tuple((name, series_title(name)) for name in order if name in names)
    if per_step and len(set(per_step)) > 1:
        return CurveFigure(FIG_4A, panels, tuple(map(in_examples, curves, per_step)), EXAMPLES_AXIS)
    return CurveFigure(FIG_4A, panels, tuple(curves))


# ---------------------------------------------------------------------------------------------
# Figures 4b and 7


def lambda_panel(design: Design, cells: dict, read: Callable[[Run], float | None]) -> tuple[tuple, tuple, dict]:
    """Series of a quantity (`read` of each finished run) against lambda, one per (method,
    setting) run at >= 2 nonzero lambdas, and each setting's lambda = 0 runs as references; at
    the largest data fraction only, as the paper's Figures 4b and 7 (full data), so a
    data-efficiency grid does not draw a line per fraction. Also returns {series label: (method,
    setting, {lambda: runs})}, the runs behind each line, for the fits."""
    by_line, zero, behind = defaultdict(dict), {}, defaultdict(dict)
    largest = largest_fraction(cells)
    for (arm, setting), runs in cells.items():
        if dict(setting).get(FRACTION, largest) != largest:
            continue
        lambdas = {run.stp_lambda for run in runs}
        if len(lambdas) != 1 or None in lambdas:
            continue
        (stp_lambda,) = lambdas
        point = stats.summarize(read(run) for run in finished(runs))
        if not point.n:
            continue
        if stp_lambda == 0.0:  # the arm names its lambda already when its method was run at several
            zero[(arm if runs[0].method in design.split_lambda else f"{arm}, λ=0", setting)] = point
        else:
            by_line[(runs[0].method, setting)][stp_lambda] = point
            behind[(runs[0].method, setting)][stp_lambda] = finished(runs)
    lines = {line: points for line, points in by_line.items() if len(points) >= 2}
    settings = {setting for _, setting in lines}
    several = len(settings) > 1  # one fraction here: lines differ in the rest of their setting
    series = tuple(
        points_series(line_label(method, rest_of(setting), design, several), points, index)
        for index, ((method, setting), points) in enumerate(lines.items())
    )
    # with several settings, each lambda = 0 line takes the colour of the first series of its setting
    colours = {setting: colour(index) for index, (_, setting) in reversed(list(enumerate(lines)))} if several else {}
    references = tuple(
        reference(line_label(name, rest_of(setting), design, several), point, colours.get(setting))
        for (name, setting), point in zero.items()
        if setting in settings
    )
    runs_behind = {line.label: (method, setting, behind[(method, setting)]) for line, (method, setting) in zip(series, lines)}
    return series, references, runs_behind


def final_series_reader(series: str) -> Callable[[Run], float | None]:
    """The final value of a loss series in a run: `final_<series>`, and for a method's own loss
    (`stp_loss`, `mask_loss` ...) the run's `final_aux_loss` where it is that method's."""
    if series == NTP_SERIES or series.startswith("stp_") and series != STP_SERIES:
        return lambda run: value(run, final_key(series))
    return lambda run: final_aux(run) if own_series(run) == series else None


# ---------------------------------------------------------------------------------------------
# Figure 6


def spectra_of(runs: list[Run], task: str) -> tuple[tuple, tuple, int] | None:
    """(raw, normalized, n): mean singular values over the n finished runs with an SVD analysis,
    index by index, cut to the shortest spectrum."""
    found = [run.evals[task]["analyses"]["svd"] for run in finished(runs) if "svd" in run.evals.get(task, {}).get("analyses", {})]
    if not found:
        return None
    means = []
    for name in ("raw", "normalized"):
        length = min(len(svd[name]) for svd in found)
        means.append(tuple(sum(svd[name][i] for svd in found) / len(found) for i in range(length)))
    return means[0], means[1], len(found)
