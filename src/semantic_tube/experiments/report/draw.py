"""Drawing a computed report's figures (`ReportData.figures`) into its folder, after its markdown."""

from __future__ import annotations

from pathlib import Path

from semantic_tube.experiments import figures
from semantic_tube.experiments.report import figure_data as fd


def draw(figure, out: Path) -> Path:
    """One figure's PNG in `out`, from its data."""
    path = Path(out) / figure.file
    if isinstance(figure, fd.SeriesFigure):
        plot = figures.plot_data_efficiency if figure.axis == "fraction" else figures.plot_versus_lambda
        return plot(list(figure.panels), path, figure.ylabel, figure.title)
    if isinstance(figure, fd.CurveFigure):
        return figures.plot_loss_curves(list(figure.curves), list(figure.panels), path, x_label=figure.x_axis)
    if isinstance(figure, fd.SpectraFigure):
        return figures.plot_spectra(list(figure.spectra), path)
    raise TypeError(f"no drawing for {type(figure).__name__}")


def draw_figures(data, out: Path) -> list[Path]:
    return [draw(figure, out) for figure in data.figures]


def remove_stale_figures(out: Path, written: list[Path]) -> list[Path]:
    """Figures an earlier report left in `out` that this one did not draw (a sweep that no longer
    varies lambda, say): left there, they would sit beside a report.md that no longer shows them."""
    stale = [path for pattern in fd.FIGURE_PATTERNS for path in Path(out).glob(pattern) if path not in written]
    for path in stale:
        path.unlink()
    return stale
