"""report.md from a computed `ReportData`: one function per section, no statistics.

Each section states its numbers and links to the docs page (`ReportData.docs`) for how they are
computed and read, instead of repeating the explanation in every report.

The sections by part, in the order report.md shows them:

- `opening`: the overview, the headline tables, treatment strength, provenance, what was run,
  the runs not counted;
- `tasks`: each task's section (its metrics, paired comparisons, per-prompt changes, families
  and Tables 4-5, Table 1);
- `figures`: the final training losses, then the figures (1b, 4a, 4b, 7, 6) with their tests;
- `closing`: what the numbers show and what they cannot;
- `common`: the docs page's sections the others link to, a model's name.
"""

from __future__ import annotations

from semantic_tube.experiments.report.compute import ReportData
from semantic_tube.experiments.report.render.closing import limits
from semantic_tube.experiments.report.render.common import DOCS_SECTIONS
from semantic_tube.experiments.report.render.figures import figure_1b, figure_4a, figure_4b, figure_6, figure_7, training
from semantic_tube.experiments.report.render.opening import (
    coverage,
    headline,
    headline_tables,
    not_counted,
    overview,
    provenance,
    treatment_strength,
)
from semantic_tube.experiments.report.render.tasks import task_section


def render_markdown(data: ReportData) -> str:
    lines = [f"# Sweep report: {data.name}", "", *overview(data), *headline(data), *treatment_strength(data)]
    lines += provenance(data) + coverage(data) + not_counted(data)
    for task in data.tasks:
        lines += task_section(data, task)
    lines += training(data)
    lines += figure_1b(data) + figure_4a(data) + figure_4b(data) + figure_7(data) + figure_6(data)
    lines += limits(data)
    return "\n".join(lines).rstrip() + "\n"


__all__ = ["DOCS_SECTIONS", "headline_tables", "render_markdown"]
