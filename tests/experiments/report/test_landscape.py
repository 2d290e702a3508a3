"""Issue 22's loss and accuracy landscape on fabricated run folders: the plateau test of Figure 4a,
STP's slope in log lambda and NTP against lambda 0 (Figure 4b, in either STP form), and the
quadratic fit of accuracy against lambda (Figure 7). Checked on the computed objects; the
rendering only where it states the verdicts."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps

from semantic_tube.experiments import stats
from semantic_tube.experiments.report import landscape as ls
from semantic_tube.experiments.report import write_report
from tests.experiments.report.lambda_runs import LAMBDAS, SEEDS, STP_BY_LAMBDA, accuracy_hits
from tests.experiments.report_fixtures import write_run

# ---------------------------------------------------------------------------------------------
# Figure 4a: the plateau test


def plateau_history(seed_index: int, trained: bool) -> list[dict]:
    """200 steps logged every 10: NTP 2 exp(-step / 30) + 0.25 (it falls by 1.43, and by at most
    10% of that from step 80 on: 2 exp(-80/30) = 0.139 <= 0.143 > 2 exp(-70/30) = 0.194); STP falling
    0.002 per step when trained, else flat at 1.3 with +-0.01 alternating."""
    entries = []
    for step in range(10, 201, 10):
        ntp = 2 * math.exp(-step / 30) + 0.25 + 0.001 * seed_index
        stp = 1.2 - 0.002 * step + 0.003 * seed_index if trained else 1.3 + 0.01 * (-1) ** (step // 10) + 0.003 * seed_index
        entries.append({"step": step, "loss": ntp, "ntp_loss": ntp, "stp_loss": stp})
    return entries


def test_plateau_step_and_whether_stp_keeps_falling(tmp_path):
    for index, seed in enumerate(SEEDS):
        write_run(tmp_path / f"ntp-{seed}", method="ntp", seed=seed, family="ntp", history=plateau_history(index, False), steps=200)
        write_run(tmp_path / f"stp-{seed}", method="stp", seed=seed, family="stp", history=plateau_history(index, True), steps=200)
    report = write_report(tmp_path)
    plateaus = {plateau.label: plateau for plateau in report.data.plateaus}
    assert plateaus["ntp"].plateau_step == plateaus["stp"].plateau_step == 80
    (trained,) = plateaus["stp"].after
    assert trained.series == "stp_loss" and trained.falling is True
    assert trained.fit.slope == pytest.approx(-0.002) and trained.change == pytest.approx(-0.002 * 120)
    (plain,) = plateaus["ntp"].after
    assert plain.falling is False and plain.fit.low < 0 < plain.fit.high
    assert "STP keeps falling after NTP's plateau for `stp`" in report.markdown
    assert "STP does not keep falling after NTP's plateau for `ntp`" in report.markdown


def test_with_both_forms_logged_the_verdict_names_each_configuration_with_its_form(tmp_path):
    """Tube trained and falling, span logged beside it and flat: one configuration in both sentences, each with its form."""
    for index, seed in enumerate(SEEDS):
        history = [
            entry | {"stp_tube_loss": entry["stp_loss"], "stp_span_loss": 1.3 + 0.01 * (-1) ** (entry["step"] // 10)}
            for entry in plateau_history(index, True)
        ]
        write_run(tmp_path / f"stp-{seed}", method="stp", seed=seed, family="stp", history=history, steps=200)
    report = write_report(tmp_path)
    assert "STP keeps falling after NTP's plateau for `stp` (STP loss, tube form)" in report.markdown
    assert "STP does not keep falling after NTP's plateau for `stp` (STP loss, span form)" in report.markdown


def test_plateau_index_by_hand():
    """Falls 10, 5, 2, 1, 0.5, 0.4, 0.4: whole fall 9.6, 10% 0.96: index 3 (1 - 0.4 = 0.6), not 2 (1.6)."""
    assert ls.plateau_index((10.0, 5.0, 2.0, 1.0, 0.5, 0.4, 0.4)) == 3
    assert ls.plateau_index((3.0, 2.0, 1.0, 0.0)) is None  # still falling: no 3 points left after a plateau
    assert ls.plateau_index((1.0, 1.0, 1.0)) is None  # never fell


# ---------------------------------------------------------------------------------------------
# Figures 4b and 7 on a lambda sweep


def test_stp_slope_in_log_lambda_where_it_falls_in_each_logged_form(swept):
    data = swept.data
    assert data.stp_series == ("stp_span_loss", "stp_tube_loss")
    (found,) = data.landscape
    slopes = {slope.series: slope for slope in found.slopes}
    tube = slopes["stp_tube_loss"]
    assert tube.lambdas == (0.003, 0.01, 0.03, 0.1)  # the lowest mean is at 0.1; 0.3 rises again
    xs = [math.log10(stp_lambda) for stp_lambda in tube.lambdas for _ in SEEDS]
    ys = [STP_BY_LAMBDA[stp_lambda] + 0.01 * (index - 1) for stp_lambda in tube.lambdas for index in range(3)]
    expected = sps.linregress(xs, ys)
    assert tube.fit.slope == pytest.approx(expected.slope) and tube.fit.se_slope == pytest.approx(expected.stderr)
    assert tube.fit.high < 0
    assert slopes["stp_span_loss"].fit.slope == pytest.approx(0.8 * expected.slope)
    panels = [panel.title for panel in data.figure_4b.panels]
    assert panels == ["final NTP loss", "final STP loss, span form", "final STP loss, tube form"]
    assert [len(panel.fits) for panel in data.figure_4b.panels] == [0, 1, 1]


def test_ntp_unchanged_against_lambda_0_except_where_it_rises(swept):
    (found,) = swept.data.landscape
    verdicts = {change.stp_lambda: change.verdict for change in found.ntp}
    assert verdicts == {0.003: "unchanged", 0.01: "unchanged", 0.03: "unchanged", 0.1: "unchanged", 0.3: "higher"}
    risen = found.ntp[-1]
    assert risen.interval.mean == pytest.approx(0.035) and risen.relative == pytest.approx(0.035 / 0.201)
    assert not found.ntp_unchanged
    assert "`stp`: not shown unchanged at every lambda" in swept.markdown


def test_ntp_verdict_by_hand():
    """Reference 0.2: the band is +-0.01."""
    assert ls.ntp_verdict(stats.Interval(0.0, -0.005, 0.005, 3), 0.2) == "unchanged"
    assert ls.ntp_verdict(stats.Interval(0.02, 0.015, 0.025, 3), 0.2) == "higher"
    assert ls.ntp_verdict(stats.Interval(-0.02, -0.025, -0.015, 3), 0.2) == "lower"
    assert ls.ntp_verdict(stats.Interval(0.0, -0.02, 0.02, 3), 0.2) == "not resolved"
    assert ls.ntp_verdict(stats.Interval(0.0, None, None, 1), 0.2) == "not resolved"


def test_accuracy_peak_concavity_and_what_the_test_set_resolves(swept):
    (peak,) = swept.data.accuracy_peaks
    xs = [math.log10(stp_lambda) for stp_lambda in LAMBDAS for _ in SEEDS]
    ys = [accuracy_hits(stp_lambda, index) / 200 for stp_lambda in LAMBDAS for index in range(3)]
    expected = stats.quadratic_fit(xs, ys)
    assert peak.lambdas == LAMBDAS and peak.fit.n == 15
    for name in ("a", "b", "c", "se_c", "concave_p", "peak", "peak_low", "peak_high"):
        assert getattr(peak.fit, name) == pytest.approx(getattr(expected, name))
    assert peak.concave and peak.fit.concave_p < 1e-6
    low, high = peak.peak_interval
    assert low < 10**-1.5 < high and peak.peak_inside
    assert peak.peak_lambda == pytest.approx(10**-1.5, rel=0.15)
    best = max(peak.means.values())
    assert peak.test_count == 200 and peak.resolvable == pytest.approx(stats.binomial_detectable_difference(best, 200))
    assert peak.span == pytest.approx(best - min(peak.means.values())) and peak.span < peak.resolvable
    assert "less than the 0.122 a test set of 200 resolves between two lambdas" in swept.markdown
    (panel,) = swept.data.figure_7.panels
    (fit,) = panel.fits
    assert fit.mark[0] == pytest.approx(peak.peak_lambda)


def test_lambda_sections_are_drawn_and_absent_without_a_lambda_axis(swept, strength):
    names = {path.name for path in swept.figures}
    assert {"fig4a_loss_curves.png", "fig4b_loss_vs_lambda.png", "fig7_accuracy_vs_lambda.png"} <= names
    assert "## Losses against lambda (Figure 4b)" in swept.markdown and "## Accuracy against lambda (Figure 7)" in swept.markdown
    data = strength.data  # every method at one lambda: no lambda axis
    assert data.figure_4b is None and data.figure_7 is None and data.landscape == () and data.accuracy_peaks == ()
    assert "Figure 4b" not in strength.markdown and "Figure 7" not in strength.markdown




def test_a_lambda_0_point_of_the_swept_method_is_the_reference_line_named_once(tmp_path):
    """A sweep whose lambda grid starts at 0 (landscape_quick): the dashed line is `stp λ=0`, not `stp λ=0, λ=0`."""
    for index, seed in enumerate(SEEDS):
        for stp_lambda in (0.0, 0.01, 0.1):
            coordinates = {"stp_lambda": stp_lambda}
            write_run(tmp_path / f"stp-{stp_lambda}-{seed}", method="stp", seed=seed, family="stp", stp_lambda=stp_lambda, extra_coordinates=coordinates)
    data = write_report(tmp_path).data
    assert {reference.label for panel in data.figure_4b.panels for reference in panel.references} == {"stp λ=0"}
