"""Drawing a report's figures (`report.draw`): a figure of an unknown kind is an error, and only
the report's own stale figures are removed."""

import pytest

from semantic_tube.experiments.report import draw


def test_only_figures_this_report_no_longer_draws_are_removed(tmp_path):
    for name in ("fig1b_data_efficiency.png", "fig7_accuracy_vs_lambda.png", "fig6_svd_synth.png", "notes.png"):
        (tmp_path / name).write_bytes(b"png")
    kept = [tmp_path / "fig1b_data_efficiency.png"]
    stale = draw.remove_stale_figures(tmp_path, kept)
    assert sorted(path.name for path in stale) == ["fig6_svd_synth.png", "fig7_accuracy_vs_lambda.png"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fig1b_data_efficiency.png", "notes.png"]


def test_a_figure_of_no_known_kind_is_an_error(tmp_path):
    class Unknown:
        file = "x.png"

    with pytest.raises(TypeError, match="no drawing for Unknown"):
        draw.draw(Unknown(), tmp_path)
