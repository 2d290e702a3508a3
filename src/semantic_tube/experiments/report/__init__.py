"""`stp report`: a sweep's run folders as the paper's tables, tests and figures (Sec. 4).

    stp report runs/quick [--out DIR] [--baseline ntp] [--metric exact]

    from semantic_tube.experiments.report import write_report
    report = write_report("runs/quick")
    print(report.headline)

Computing apart from rendering: `compute_report` reads the run folders (`experiments.runs`,
never logs) into one frozen `ReportData` (the design, every comparison with its test and
detectable difference, Tables 4-5, the data behind each figure); `render_markdown` writes one
section per function from it; `draw` draws each figure from its data, after the markdown.
`write_report` does the three and writes report.md with its PNG figures.

- `design`: configurations, methods (arms), settings, the baseline;
- `keys`: the metric keys and loss series read (the run-folder contract's rules);
- `comparisons`: paired tests by seed, what they could detect, Tables 4-5 (one rule), families,
  per-prompt changes;
- `figure_data`: what each figure shows; `draw`: the PNGs;
- `compute`: `ReportData`; `render`: report.md, one module per part of it (opening, tasks,
  figures, closing); `text`: number and table formatting.

How each number is computed and read is the docs page docs/experiments/reading-reports.md, which every
report links to instead of repeating it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from semantic_tube.experiments.report.comparisons import (
    Comparison,
    Detectability,
    FamilyLayout,
    PairedP,
    PTable,
    Variant,
    best_variants,
    family_variants,
    has_families,
    p_table,
    pair_by_seed,
)
from semantic_tube.experiments.report.compute import Configuration, ReportData, TaskData, compute_report
from semantic_tube.experiments.report.design import DEFAULT_BASELINE, Design, ReportError, cells_of, design_of
from semantic_tube.experiments.report.draw import draw_figures, remove_stale_figures
from semantic_tube.experiments.report.figure_data import FIGURE_PATTERNS, EfficiencyLine, efficiency_lines
from semantic_tube.experiments.report.render import headline_tables, render_markdown
from semantic_tube.experiments.report.text import format_p
from semantic_tube.run_folder import REPORT_FILE, write_text_atomic


@dataclass(frozen=True)
class Report:
    """What `write_report` wrote, and the headline table `stp report` prints."""

    path: Path  # report.md
    figures: tuple  # PNG paths
    headline: str  # the headline table, as printed by `stp report`
    markdown: str
    data: ReportData


def write_report(root: str | Path, out: str | Path | None = None, baseline: str | None = None, metric: str | None = None) -> Report:
    """Read the runs under `root` and write report.md and its figures into `out` (default: `root`)."""
    out = Path(out) if out is not None else Path(root)
    data = compute_report(root, out, baseline=baseline, metric=metric)
    markdown = render_markdown(data)
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPORT_FILE
    write_text_atomic(path, markdown)
    written = draw_figures(data, out)
    remove_stale_figures(out, written)
    return Report(path, tuple(written), "\n".join(headline_tables(data)).rstrip(), markdown, data)


__all__ = [
    "DEFAULT_BASELINE",
    "FIGURE_PATTERNS",
    "REPORT_FILE",
    "Comparison",
    "Configuration",
    "Design",
    "Detectability",
    "EfficiencyLine",
    "FamilyLayout",
    "PTable",
    "PairedP",
    "Report",
    "ReportData",
    "ReportError",
    "TaskData",
    "Variant",
    "best_variants",
    "cells_of",
    "compute_report",
    "design_of",
    "efficiency_lines",
    "family_variants",
    "format_p",
    "has_families",
    "p_table",
    "pair_by_seed",
    "render_markdown",
    "write_report",
]
