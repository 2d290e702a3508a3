"""What every part of report.md shares: the docs page's sections it links to, and a model's name."""

from __future__ import annotations

from semantic_tube.experiments.report.compute import ReportData

EMBEDDED_MODEL = "the embedded SmolLM2-135M-Instruct (de-quantised 4-bit GGUF)"
# The docs page's sections (their MkDocs anchors), which the report's sections link to.
DOCS_SECTIONS = {
    "paired": "paired-comparisons",
    "detect": "what-a-comparison-could-detect",
    "tables": "tables-4-5-one-rule",
    "prompts": "per-prompt-changes",
    "families": "families-and-options-appendix-l",
    "efficiency": "data-efficiency-figure-1b",
    "curves": "loss-curves-figure-4a",
    "strength": "treatment-strength",
    "lambda": "losses-against-lambda-figure-4b",
    "accuracy": "accuracy-against-lambda-figure-7",
}


def docs(data: ReportData, section: str, text: str) -> str:
    """A Markdown link to one section of the docs page."""
    return f"[{text}]({data.docs}#{DOCS_SECTIONS[section]})"


def model_name(name) -> str:
    return EMBEDDED_MODEL if name in (None, "") else str(name)
