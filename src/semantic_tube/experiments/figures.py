"""The paper's figures, drawn from numbers the report has already aggregated.

Each function takes plain series (no run folders, no statistics) and writes one PNG, so what a
figure shows is exactly what the report's tables say. Figures are built on `matplotlib.figure.
Figure` rendered by Agg, never through pyplot: no window, and no global backend switched under a
caller (a notebook keeps its own).

- Figure 1b: accuracy against data fraction (log2 axis, ticks 1, 1/2, 1/4 ...), full-data NTP as a line.
- Figure 4a: training losses against the optimizer step (or examples seen), one panel per logged series (NTP, STP
  or each logged STP form, each other method's own loss).
- Figure 4b / 7: a quantity against lambda (log axis); lambda = 0 (plain fine-tuning) cannot sit
  on a log axis, so it is drawn as a dashed horizontal line; fitted curves (`Fit`) wide and pale
  under the points.
- Figure 6: singular value spectra of Enc(Text) - Enc(Code), raw and normalised.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

PANEL_SIZE = (5.0, 3.8)  # inches per panel; the legend gets its own room at the right
DPI = 130
LEGEND_FONT = 8
LEGEND_CHAR_IN = 0.062  # inches per legend character at LEGEND_FONT, to widen the figure for it
MAX_COLUMNS = 3
LINE_STYLES = ("-", "--", "-.", ":")  # lines that coincide stay visible (and tell apart in grey print)


@dataclass(frozen=True)
class Series:
    """One line: means with their standard deviation (error bars) and sample sizes, in x order."""

    label: str
    x: tuple[float, ...]
    mean: tuple[float, ...]
    std: tuple[float | None, ...]
    n: tuple[int, ...]
    color: str | None = None


@dataclass(frozen=True)
class Reference:
    """A horizontal reference (full-data NTP, or lambda = 0): a dashed mean, a +-std band, and its n."""

    label: str
    mean: float
    std: float | None
    n: int
    color: str | None = None


@dataclass(frozen=True)
class Curve:
    """Training curves of one configuration, averaged over seeds at the steps every seed logged:
    `series` maps a panel (a logged series: ntp_loss, stp_loss, mask_loss, stp_span_loss ...) to
    (steps, values); empty where the configuration was expected there but did not log it."""

    label: str
    n: int
    series: dict
    color: str | None = None


@dataclass(frozen=True)
class Fit:
    """A fitted curve drawn over a panel's points (a line in log lambda, a quadratic), with an
    optional marked point (a fitted peak) and its interval on the x axis."""

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    color: str | None = None
    mark: tuple[float, float] | None = None
    mark_interval: tuple[float, float] | None = None


@dataclass(frozen=True)
class Panel:
    """One panel of Figures 1b, 4b and 7: lines of means, horizontal references, fitted curves."""

    title: str
    series: tuple
    references: tuple = ()
    fits: tuple = ()


@dataclass(frozen=True)
class Spectrum:
    """Mean singular values over a configuration's seeds, largest first."""

    label: str
    raw: tuple[float, ...]
    normalized: tuple[float, ...]
    n: int
    color: str | None = None


def fraction_label(value: float) -> str:
    """0.0625 -> '1/16', 1.0 -> '1', 0.3 -> '0.3': data fractions as the paper writes them (1/n,
    else the decimal)."""
    exact = Fraction(value).limit_denominator(1024)
    if abs(float(exact) - value) > 1e-9 or exact.numerator != 1 and exact.denominator != 1:
        return f"{value:g}"
    return str(exact.numerator) if exact.denominator == 1 else f"{exact.numerator}/{exact.denominator}"


def n_label(sizes) -> str:
    """'n=3', or 'n=2-3' when points rest on different numbers of seeds."""
    low, high = min(sizes), max(sizes)
    return f"n={low}" if low == high else f"n={low}-{high}"


def plot_data_efficiency(panels: list[Panel], path: Path, ylabel: str, title: str) -> Path:
    """Figure 1b: one panel per task; x is the data fraction on a log2 axis labelled 1, 1/2, ..."""
    figure, axes = _panels(len(panels))
    for axis, panel in zip(axes, panels):
        _draw_panel(axis, panel)
        fractions = sorted({x for line in panel.series for x in line.x})
        axis.set_xscale("log", base=2)
        axis.xaxis.set_major_locator(FixedLocator(fractions))
        axis.xaxis.set_minor_locator(NullLocator())
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: fraction_label(value)))
        _pad_log_axis(axis, fractions)
        _finish(axis, panel.title, "fraction of the training data (log scale)", ylabel)
    return _save(figure, path, title)


def plot_versus_lambda(panels: list[Panel], path: Path, ylabel: str, title: str) -> Path:
    """Figures 4b and 7: one panel per quantity or task, x = lambda on a log axis."""
    figure, axes = _panels(len(panels))
    for axis, panel in zip(axes, panels):
        _draw_panel(axis, panel)
        axis.set_xscale("log")
        lambdas = sorted({x for line in panel.series for x in line.x})
        axis.xaxis.set_major_locator(FixedLocator(lambdas))
        axis.xaxis.set_minor_locator(NullLocator())
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        _pad_log_axis(axis, lambdas)
        _finish(axis, panel.title, "stp_lambda (log scale)", ylabel)
    return _save(figure, path, title)


STEP_AXIS = "optimizer step"  # Figure 4a's x axis unless configurations differ in examples per step


def plot_loss_curves(
    curves: list[Curve], panels: list[tuple[str, str]], path: Path, title: str = "Loss curves (Figure 4a)", x_label: str = STEP_AXIS
) -> Path:
    """Figure 4a: one panel per logged series ((series, title) in `panels`), one line per
    configuration that logged it, against the optimizer step (or what `x_label` names)."""
    figure, axes = _panels(len(panels))
    for axis, (name, panel_title) in zip(axes, panels):
        for index, curve in enumerate(curves):
            steps, values = curve.series.get(name, ((), ()))
            if values:
                colour = curve.color or f"C{index % 10}"  # fixed per curve: a curve missing from one panel shifts no other
                axis.plot(steps, values, _style(index), label=f"{curve.label} ({n_label([curve.n])})", color=colour, linewidth=1.6)
        missing = [curve.label for curve in curves if name in curve.series and not curve.series[name][1]]
        if missing:  # say so on the panel: an absent line must not read as a zero loss
            axis.text(0.02, 0.02, "not logged: " + ", ".join(missing), transform=axis.transAxes, fontsize=8, color="0.35")
        _finish(axis, f"{panel_title} (training, mean over seeds)", x_label, panel_title)
    return _save(figure, path, title)


def plot_spectra(spectra: list[Spectrum], path: Path) -> Path:
    """Figure 6: singular values of Enc(Text) - Enc(Code), raw and with unit-length differences."""
    figure, axes = _panels(2)
    for axis, name in zip(axes, ("raw", "normalized")):
        for index, spectrum in enumerate(spectra):
            values = [max(value, 1e-12) for value in getattr(spectrum, name)]  # a log axis cannot show 0
            axis.plot(
                range(1, len(values) + 1), values, _style(index), label=f"{spectrum.label} ({n_label([spectrum.n])})", color=spectrum.color
            )
        axis.set_yscale("log")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        _finish(axis, f"{'without' if name == 'raw' else 'with'} normalisation", "singular value index", "singular value (log scale)")
    return _save(figure, path, "SVD of Enc(Text) - Enc(Code) (Figure 6), mean over seeds")


# ---------------------------------------------------------------------------------------------
# Shared drawing


def _panels(count: int):
    """`count` panels, at most MAX_COLUMNS in a row (Figure 4a of an ablation has one per method's loss)."""
    columns = min(count, MAX_COLUMNS)
    rows = -(-count // columns)
    figure = Figure(figsize=(PANEL_SIZE[0] * columns, PANEL_SIZE[1] * rows), layout="constrained")
    axes = list(figure.subplots(rows, columns, squeeze=False).flat)
    for spare in axes[count:]:
        spare.set_visible(False)
    return figure, axes[:count]


def _draw_panel(axis, panel: Panel) -> None:
    _draw_series(axis, panel.series)
    _draw_references(axis, panel.references)
    for fit in panel.fits:
        # wide and translucent under the points: a fit that matches its line exactly must still show
        axis.plot(fit.x, fit.y, "-", color=fit.color or "0.2", linewidth=4.0, alpha=0.3, zorder=1, label=fit.label)
        if fit.mark is not None:
            axis.plot(*fit.mark, marker="*", markersize=11, color=fit.color or "0.2", linestyle="none")
        if fit.mark_interval is not None:
            axis.axvspan(*fit.mark_interval, color=fit.color or "0.2", alpha=0.08, linewidth=0)


def _draw_series(axis, series: list[Series]) -> None:
    for index, line in enumerate(series):
        errors = [0.0 if std is None else std for std in line.std]
        axis.errorbar(
            line.x,
            line.mean,
            yerr=errors,
            label=f"{line.label} ({n_label(line.n)})",
            color=line.color,
            linestyle=_style(index),
            marker="o",
            markersize=4,
            linewidth=1.6,
            capsize=3,
        )


def _draw_references(axis, references: list[Reference]) -> None:
    for reference in references:
        line = axis.axhline(
            reference.mean,
            linestyle="--",
            linewidth=1.2,
            color=reference.color or "0.3",
            label=f"{reference.label} ({n_label([reference.n])})",
        )
        if reference.std:
            axis.axhspan(reference.mean - reference.std, reference.mean + reference.std, color=line.get_color(), alpha=0.12, linewidth=0)


def _style(index: int) -> str:
    return LINE_STYLES[index % len(LINE_STYLES)]


def _pad_log_axis(axis, values: list[float]) -> None:
    """A margin of 6% of the axis' log-range at each end (a factor of 1.5 for a single value),
    so end points and their error bars are not cut by the frame."""
    if values:
        low, high = min(values), max(values)
        ratio = (high / low) ** 0.06 if high > low else 1.5
        axis.set_xlim(low / ratio, high * ratio)


def _finish(axis, title: str, xlabel: str, ylabel: str) -> None:
    axis.set_title(title, fontsize=10)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.grid(True, alpha=0.3)


def _legend(figure: Figure) -> None:
    """One legend for the whole figure, outside the panels on the right, the figure widened to
    fit its longest label: a legend inside or under the axes hides points or gets cut off."""
    entries = {}
    for axis in figure.axes:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if entries:
        width, height = figure.get_size_inches()
        figure.set_size_inches(width + 0.8 + LEGEND_CHAR_IN * max(map(len, entries)), max(height, 1.2 + 0.19 * len(entries)))
        figure.legend(list(entries.values()), list(entries), loc="outside right center", fontsize=LEGEND_FONT, frameon=False)


def _save(figure: Figure, path: Path, title: str) -> Path:
    figure.suptitle(title, fontsize=11)
    _legend(figure)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI)
    return path
