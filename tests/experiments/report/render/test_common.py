"""What every part of report.md shares: the docs page's sections it links to."""


def test_every_docs_section_a_report_links_is_a_heading_of_the_page():
    """MkDocs' anchors: a heading lower-cased, punctuation dropped, spaces as hyphens."""
    from pathlib import Path

    from semantic_tube.experiments.report import render
    from semantic_tube.experiments.report.compute import DOCS_PAGE, REPOSITORY

    headings = [line.lstrip("#").strip() for line in (REPOSITORY / DOCS_PAGE).read_text().splitlines() if line.startswith("#")]
    anchors = {"-".join("".join(ch for ch in heading.lower() if ch.isalnum() or ch in " -").split()) for heading in headings}
    assert set(render.DOCS_SECTIONS.values()) <= anchors
    assert Path(DOCS_PAGE).parts[0] == "docs"



def test_a_model_without_a_name_is_the_embedded_one():
    from semantic_tube.experiments.report.render.common import EMBEDDED_MODEL, model_name

    assert model_name(None) == model_name("") == EMBEDDED_MODEL and model_name("org/m") == "org/m"
