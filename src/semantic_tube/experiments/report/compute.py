"""Everything a report states, computed from the run folders into one frozen `ReportData`.

    from semantic_tube.experiments.report import compute_report
    data = compute_report("runs/quick")
    data.tasks[0].comparisons[0].test.p_value

Reads only the run folders (`experiments.runs`), never logs, and writes nothing: rendering
(`report.render`) and drawing (`report.draw`) take this object as it is.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from semantic_tube.experiments import figures, stats
from semantic_tube.experiments.report import figure_data as fd
from semantic_tube.experiments.report import landscape as ls
from semantic_tube.experiments.report.comparisons import (
    Comparison,
    all_methods_tables,
    comparisons_of,
    families_of,
    prompt_changes_of,
)
from semantic_tube.experiments.report.design import (
    DEFAULT_BASELINE,
    FRACTION,
    Design,
    ReportError,
    Setting,
    cells_of,
    design_of,
    family_of_runs,
    finished,
    largest_fraction,
    rest_of,
    seed_order,
)
from semantic_tube.experiments.report.keys import (
    final_aux,
    headline_metric,
    other_metrics_of,
    own_series,
    rates_of,
    suffix_classes,
    task_key,
    tasks_of,
    value,
)
from semantic_tube.experiments.report.strength import strengths_of
from semantic_tube.experiments.runs import Run, read_runs, sweep_file_hash
from semantic_tube.run_folder import EVAL_PREFIX, NTP_SERIES, Status, examples_per_step, final_key

TRAINING_KEYS = (
    final_key(NTP_SERIES), final_key(fd.STP_SERIES), EVAL_PREFIX + NTP_SERIES, EVAL_PREFIX + fd.STP_SERIES, "train_examples", "train_runtime",
)  # fmt: skip
DOCS_PAGE = "docs/experiments/reading-reports.md"  # the explanations the report links to, in the repository
REPOSITORY = Path(__file__).resolve().parents[4]  # src/semantic_tube/experiments/report/compute.py


@dataclass(frozen=True)
class Configuration:
    """One (arm, setting): its runs of every status, its finished ones, and the mean ± std over
    those of every number in their metrics.json (`summary`), plus the method's own loss."""

    arm: str
    setting: Setting
    label: str
    runs: tuple
    done: tuple
    family: str
    summaries: MappingProxyType
    aux_series: str | None  # the name the method's own loss is logged under (stp_loss, mask_loss ...)
    aux: stats.Summary  # its final value: final_aux_loss, else final_<aux_series>

    def summary(self, key: str) -> stats.Summary:
        return self.summaries.get(key, stats.Summary(None, None, 0))

    @property
    def n(self) -> int:
        return len(self.done)


@dataclass(frozen=True)
class TaskData:
    """What one task's sections state: its metric, rates, comparisons and the tables built on them."""

    task: str
    metric: str
    rates: tuple  # whole-set rates first, then subsets
    other_metrics: tuple
    comparisons: tuple  # Comparison
    all_methods: tuple  # (setting, PTable): every method against every other, settings of 3+ methods
    prompt_changes: tuple  # PromptChangeRow
    families: tuple  # FamilyLayout
    suffix_classes: tuple
    test_counts: tuple  # distinct test-set sizes of the comparisons

    @property
    def against_baseline(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.against_baseline]


@dataclass(frozen=True)
class ReportData:
    """One report, computed: the design, its configurations, per task the comparisons and tables,
    and the data of every figure (None or empty where the runs hold none)."""

    name: str
    command: str
    root: Path
    docs: str  # the docs page, as report.md links it (relative where the report lies in the repository)
    runs: tuple  # every run folder found, unreadable ones included
    design: Design
    configurations: tuple  # Configuration, in display order
    tasks: tuple  # TaskData
    sweep_copy_sha: str | None  # sha256 of sweep.yaml in the sweep folder
    figure_1b: fd.SeriesFigure | None
    efficiency: tuple  # (task, EfficiencyLine) behind Figure 1b
    figure_4a: fd.CurveFigure | None
    figure_4a_notes: MappingProxyType  # unlogged / unlogged_aux / trained_forms: configuration labels the note names
    figure_4b: fd.SeriesFigure | None
    figure_7: fd.SeriesFigure | None
    figure_6: tuple  # SpectraFigure per task
    several_rests: bool  # Figure 1b: lines differ in more than the method
    strength: tuple  # strength.Strength of every configuration that is not plain fine-tuning
    plateaus: tuple  # landscape.Plateau: Figure 4a's plateau test, per configuration
    landscape: tuple  # landscape.LambdaLandscape: Figure 4b's tests, per line across lambda
    stp_series: tuple  # the STP series Figure 4b fits: stp_loss, or each logged form's
    accuracy_peaks: tuple  # landscape.AccuracyPeak: Figure 7's fit, per task and line

    @property
    def done(self) -> list[Run]:
        return finished(self.runs)

    @property
    def seeds(self) -> list:
        return sorted({run.seed for run in self.done}, key=seed_order)

    @property
    def metrics(self) -> dict[str, str]:
        return {task.task: task.metric for task in self.tasks}

    @property
    def figures(self) -> list:
        """Every figure's data, in the order the report shows them."""
        found = [self.figure_1b, self.figure_4a, self.figure_4b, self.figure_7, *self.figure_6]
        return [figure for figure in found if figure is not None]

    @property
    def largest_fraction(self) -> float | None:
        return largest_fraction({(c.arm, c.setting): c.runs for c in self.configurations})


def compute_report(root: str | Path, out: str | Path | None = None, baseline: str | None = None, metric: str | None = None) -> ReportData:
    """Read the runs under `root` and compute what the report in `out` (default: `root`) states."""
    root = Path(root)
    out = Path(out) if out is not None else root
    runs = read_runs(root)
    readable = [run for run in runs if run.status != Status.UNREADABLE]
    design = design_of(readable, baseline or DEFAULT_BASELINE, explicit=baseline is not None)
    cells = cells_of(readable, design)
    done = finished(readable)
    tasks = tasks_of(done)
    metrics = {task: headline_metric(done, task, metric) for task in tasks}
    if metric and not tasks:
        raise ReportError(f"--metric {metric}: no finished run scored a task")
    options = [f"--{name} {shlex.quote(value_)}" for name, value_ in (("baseline", baseline), ("metric", metric)) if value_]
    command = " ".join(["stp report", shlex.quote(str(root)), *([f"--out {shlex.quote(str(out))}"] if out != root else []), *options])
    name = next((run.point["sweep"] for run in runs if run.point.get("sweep")), root.resolve().name)
    configurations = tuple(configuration(design, arm, setting, group) for (arm, setting), group in cells.items())
    task_data = tuple(task_of(task, metric_, design, cells, done) for task, metric_ in metrics.items())
    efficiency, figure_1b, several = _figure_1b(design, cells, metrics)
    figure_4a, notes = _figure_4a(design, cells)
    lines = ls.lambda_lines(design, cells)
    stp_series = _stp_series(done)
    landscape = ls.landscape_of(lines, stp_series)
    peaks = [peak for task, metric_ in metrics.items() for line in lines if (peak := ls.accuracy_peak(task, metric_, line)).means]
    return ReportData(
        name=name,
        command=command,
        root=root,
        docs=docs_link(out),
        runs=tuple(runs),
        design=design,
        configurations=configurations,
        tasks=task_data,
        sweep_copy_sha=sweep_file_hash(root),
        figure_1b=figure_1b,
        efficiency=efficiency,
        figure_4a=figure_4a,
        figure_4a_notes=MappingProxyType(notes),
        figure_4b=_figure_4b(design, cells, stp_series, landscape),
        figure_7=_figure_7(design, cells, metrics, peaks),
        figure_6=_figure_6(design, cells, done),
        several_rests=several,
        strength=tuple(strengths_of(design, cells)),
        plateaus=tuple(ls.plateaus_of(design, cells)),
        landscape=tuple(landscape),
        stp_series=tuple(stp_series),
        accuracy_peaks=tuple(peaks),
    )


def docs_link(out: Path) -> str:
    """The docs page as a link from `out`: relative where `out` lies inside this repository and
    the page is there (a committed report links into the docs), else its path in the repository."""
    page = REPOSITORY / DOCS_PAGE
    try:
        inside = page.is_file() and Path(out).resolve().is_relative_to(REPOSITORY)
    except OSError:
        inside = False
    return Path(os.path.relpath(page, Path(out).resolve())).as_posix() if inside else DOCS_PAGE


def configuration(design: Design, arm: str, setting: Setting, runs: list[Run]) -> Configuration:
    done = finished(runs)
    keys = dict.fromkeys(key for run in done for key, item in run.metrics.items() if _number(item))
    summaries = {key: stats.summarize(value(run, key) for run in done) for key in keys}
    aux_series = own_series(done[0]) if done else None
    return Configuration(
        arm=arm,
        setting=setting,
        label=design.label(arm, setting),
        runs=tuple(runs),
        done=tuple(done),
        family=family_of_runs(done),
        summaries=MappingProxyType(summaries),
        aux_series=aux_series,
        aux=stats.summarize(final_aux(run) for run in done),
    )


def _number(item) -> bool:
    return isinstance(item, (int, float)) and not isinstance(item, bool) or item is None


def task_of(task: str, metric: str, design: Design, cells: dict, done: list[Run]) -> TaskData:
    comparisons = comparisons_of(task, metric, design, cells)
    return TaskData(
        task=task,
        metric=metric,
        rates=tuple(rates_of(done, task)),
        other_metrics=tuple(other_metrics_of(done, task)),
        comparisons=tuple(comparisons),
        all_methods=tuple(all_methods_tables(task, metric, design, cells)),
        prompt_changes=tuple(prompt_changes_of(task, metric, design, cells)),
        families=tuple(families_of(task, metric, cells)),
        suffix_classes=tuple(suffix_classes(done, task)),
        test_counts=tuple(sorted({c.detect.test_count for c in comparisons if c.detect.test_count})),
    )


def _figure_1b(design: Design, cells: dict, metrics: dict[str, str]):
    if FRACTION not in design.varying or not metrics:
        return (), None, False
    several = len({rest_of(setting) for _, setting in cells}) > 1
    by_panel, efficiency = {}, []
    for task, metric in metrics.items():
        lines = fd.efficiency_lines(task_key(task, metric), design, cells)
        by_panel[f"{task}: {metric}"] = lines
        efficiency += [(task, line) for line in lines]
    return tuple(efficiency), fd.efficiency_figure(by_panel, design, several), several


def _figure_4a(design: Design, cells: dict):
    """The loss curves at the largest data fraction, and which configurations the note names:
    `unlogged` (no auxiliary loss logged: NTP without `stp_log_when_off`), `unlogged_aux` (another
    method that logged none of its own loss) and `trained_forms` (configurations whose STP panel
    line is the form their method trains, not plain STP)."""
    largest = largest_fraction(cells)
    curves, per_step, notes = [], [], {"unlogged": [], "unlogged_aux": [], "trained_forms": []}
    for (arm, setting), runs in cells.items():
        done = finished(runs)
        if not done or (largest is not None and dict(setting).get(FRACTION) != largest):
            continue
        label = design.label(arm, setting)
        curve = fd.loss_curve(label, done)
        if curve is None:
            continue
        plain = family_of_runs(done) == "ntp"
        if not any(steps for name, (steps, _) in curve.series.items() if name != fd.NTP_SERIES):
            notes["unlogged" if plain else "unlogged_aux"].append(label)
        elif not plain and fd.STP_SERIES in curve.series:
            notes["trained_forms"].append(label)
        curves.append(curve)
        per_step.append(examples_per_step(done[0].config))
    if not curves:
        return None, notes
    return fd.curve_figure(curves, per_step), notes


def _lambda_figure(file: str, title: str, ylabel: str, panels: dict, fits: dict) -> fd.SeriesFigure | None:
    """Panels of lines against lambda, each line's fitted curve (`fits`: {(panel, line): fit
    maker}) drawn over it in its own colour."""
    found = []
    for name, (series, references, _) in panels.items():
        drawn = tuple(fit for line in series if (make := fits.get((name, line.label))) and (fit := make(line.color)) is not None)
        found.append(figures.Panel(name, series, references, drawn))
    if not any(panel.series for panel in found):
        return None
    return fd.SeriesFigure(file, title, ylabel, "lambda", tuple(found))


def _stp_series(done: list[Run]) -> list[str]:
    forms = fd.logged_forms(done)
    return [fd.stp_form_series(form) for form in forms] if forms else [fd.STP_SERIES]


def _panel_name(series: str) -> str:
    return f"final {fd.series_title(series)}"


def _figure_4b(design: Design, cells: dict, stp_series: list[str], landscape: list) -> fd.SeriesFigure | None:
    """Final NTP and final auxiliary losses against lambda: STP (or one panel per logged form) and
    each other method's own loss; STP's fitted line over the range where it falls."""
    done = [run for runs in cells.values() for run in finished(runs)]
    series = [fd.NTP_SERIES, *stp_series]
    series += sorted({own_series(run) for run in done if own_series(run)} - {fd.STP_SERIES})
    panels = {_panel_name(name): fd.lambda_panel(design, cells, fd.final_series_reader(name)) for name in series}
    fits = {
        (_panel_name(slope.series), slope.line): (lambda colour, slope=slope: ls.slope_fit_curve(slope, colour))
        for found in landscape
        for slope in found.slopes
    }
    return _lambda_figure(fd.FIG_4B, "Losses against lambda (Figure 4b)", "final training loss (mean ± std)", panels, fits)


def _figure_7(design: Design, cells: dict, metrics: dict[str, str], peaks: list) -> fd.SeriesFigure | None:
    panels = {f"{task}: {metric}": fd.lambda_panel(design, cells, _reader(task_key(task, metric))) for task, metric in metrics.items()}
    fits = {(f"{peak.task}: {peak.metric}", peak.line): (lambda colour, peak=peak: ls.peak_fit_curve(peak, colour)) for peak in peaks}
    return _lambda_figure(fd.FIG_7, "Accuracy against lambda (Figure 7)", "accuracy (mean ± std over seeds)", panels, fits)


def _reader(key: str):
    return lambda run: value(run, key)


def _figure_6(design: Design, cells: dict, done: list[Run]) -> tuple:
    found = []
    for task in sorted({task for run in done for task in run.evals}):
        spectra = []
        for (arm, setting), runs in cells.items():
            spectrum = fd.spectra_of(runs, task)
            if spectrum:
                spectra.append(figures.Spectrum(design.label(arm, setting), *spectrum))
        if spectra:
            found.append(fd.SpectraFigure(fd.FIG_6.format(task=task), task, tuple(spectra)))
    return tuple(found)
