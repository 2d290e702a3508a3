"""The Training section and the figures' sections (`render.figures`) on fabricated run folders:
the final losses, Figure 1b's matches, Figure 4a's plateau test, the fits against lambda of
Figures 4b and 7, Figure 6; each section empty without its data."""

import math
from dataclasses import replace

import pytest
from scipy import stats as sps

from semantic_tube.experiments import stats
from semantic_tube.experiments.report import compute_report
from semantic_tube.experiments.report.render.figures import (
    figure_1b,
    figure_4a,
    figure_4b,
    figure_6,
    figure_7,
    lambda_tables,
    peak_table,
    plateau_table,
    training,
)
from semantic_tube.experiments.report.text import fmt, format_p
from tests.experiments.report.lambda_runs import SEEDS, STP_BY_LAMBDA
from tests.experiments.report_fixtures import write_run

# exact hits of 200 per (method, fraction), in SEEDS order: stp's half data (0.622) beats ntp's full data (0.607)
EFFICIENCY = {
    ("ntp", 1.0): (120, 126, 118),
    ("ntp", 0.5): (100, 104, 99),
    ("stp", 1.0): (130, 131, 127),
    ("stp", 0.5): (125, 122, 126),
    ("worse", 1.0): (100, 101, 99),
    ("worse", 0.5): (90, 91, 89),
}
# NTP falls by 2.0 and from step 40 by at most 0.05 (<= 10% of it): it plateaus at step 40 of 100
NTP_PLATEAU = (3.0, 2.0, 1.25, 1.05, 1.02, 1.01, 1.0, 1.0, 1.0, 1.0)


def rows_of(lines: list[str]) -> dict[str, str]:
    """A table's body rows by their first cell."""
    return {line.split(" | ")[0][2:]: line for line in lines if line.startswith("| ")}


@pytest.fixture(scope="module")
def efficiency(tmp_path_factory):
    root = tmp_path_factory.mktemp("efficiency")
    for (method, fraction), hits in EFFICIENCY.items():
        for seed, exact in zip(SEEDS, hits):
            svd = [3.0, 2.0, 1.0] if fraction == 1.0 else None
            write_run(root / f"{method}-{fraction}-{seed}", method=method, seed=seed, fraction=fraction, exact_hits=exact, svd=svd)
    return compute_report(root)


def plateau_history(index: int, trained: bool) -> list[dict]:
    """NTP_PLATEAU logged every 10 steps; STP falling 0.002 a step when trained, else flat at 1.3 +- 0.01."""
    entries = []
    for i, ntp in enumerate(NTP_PLATEAU):
        step = 10 * (i + 1)
        stp = 1.2 - 0.002 * step + 0.003 * index if trained else 1.3 + 0.01 * (-1) ** i + 0.003 * index
        entries.append({"step": step, "ntp_loss": ntp + 0.001 * index, "stp_loss": stp})
    return entries


def test_training_shows_each_logged_form_beside_the_method_s_own_loss(swept):
    lines = training(swept.data)
    assert lines[4] == (
        "| configuration | n | final_ntp_loss | final aux loss | its series | final_stp_span_loss | final_stp_tube_loss | train_examples | train_runtime |"
    )
    rows = rows_of(lines)
    assert rows["ntp"].startswith("| ntp | 3 | 0.2010 ± 0.0010 | 1.3000 ± 0.0000 | `stp_loss` (no gradient) |")
    # lambda 0.3: NTP 0.035 above plain fine-tuning's 0.201, STP 1.05 (span 0.84) +- 0.01 by seed
    assert (
        rows["stp λ=0.3"]
        == "| stp λ=0.3 | 3 | 0.2360 ± 0.0015 | 1.0500 ± 0.0100 | `stp_loss` | 0.8400 ± 0.0080 | 1.0500 ± 0.0100 | 512.0 ± 0.0 | 60.0 ± 0.0 |"
    )


def test_training_says_when_a_method_s_own_loss_was_not_logged(strength):
    assert rows_of(training(strength.data))["mask"] == "| mask | 3 | 0.2030 ± 0.0017 | n/a | not logged | 512.0 ± 0.0 | 60.0 ± 0.0 |"


def test_figure_1b_says_down_to_which_fraction_each_method_matches_full_data_ntp(efficiency):
    rows = rows_of(figure_1b(efficiency))
    assert rows["synth: `ntp`"] == "| synth: `ntp` | 0.607 ± 0.021 (n=3) | 1 | 1: 0.607 (n=3), 1/2: 0.505 (n=3) |"
    assert rows["synth: `stp`"] == "| synth: `stp` | 0.607 ± 0.021 (n=3) | 1/2 | 1: 0.647 (n=3), 1/2: 0.622 (n=3) |"
    assert rows["synth: `worse`"] == "| synth: `worse` | 0.607 ± 0.021 (n=3) | never | 1: 0.500 (n=3), 1/2: 0.450 (n=3) |"


def test_figure_4a_draws_the_full_data_and_names_the_runs_that_logged_no_stp(efficiency, tmp_path):
    assert figure_4a(efficiency)[4].startswith("Training losses at train_fraction=1, mean over the seeds of each configuration")
    history = [{"step": step, "loss": 1.0, "ntp_loss": 1.0} for step in (10, 20, 30)]
    write_run(tmp_path / "ntp", method="ntp", seed=82, history=history, sweep=False)
    assert figure_4a(compute_report(tmp_path))[4].endswith(" STP was not logged for `ntp` (lambda 0 without `stp_log_when_off`).")
    write_run(tmp_path / "mask", method="mask", seed=82, family="mask", stp_lambda=0.02, history=history, sweep=False)
    assert (
        " STP was not logged for `ntp` (lambda 0 without `stp_log_when_off`). No auxiliary loss was logged for `mask`. One panel"
        in figure_4a(compute_report(tmp_path))[4]
    )


def test_plateau_table_gives_ntp_s_plateau_and_whether_stp_keeps_falling_after_it(tmp_path):
    for index, seed in enumerate(SEEDS):
        write_run(tmp_path / f"ntp-{seed}", method="ntp", seed=seed, family="ntp", history=plateau_history(index, False), steps=100)
        write_run(tmp_path / f"stp-{seed}", method="stp", seed=seed, family="stp", history=plateau_history(index, True), steps=100)
    rows = rows_of(plateau_table(compute_report(tmp_path)))
    # STP at step 40: 1.2 - 0.08 + 0.003 (the seeds' mean offset); 0.002 a step over the 60 steps left
    assert rows["stp"].startswith("| stp | 40 (of 100) | `stp_loss` | 1.1230 | -0.1200 (") and rows["stp"].endswith("| yes |")
    assert rows["ntp"].startswith("| ntp | 40 (of 100) | `stp_loss` |") and rows["ntp"].endswith("| no |")


def test_plateau_table_marks_a_loss_not_logged_after_the_plateau_n_a(tmp_path):
    history = [{"step": 10 * (i + 1), "ntp_loss": ntp} for i, ntp in enumerate(NTP_PLATEAU)]  # no STP logged
    write_run(tmp_path / "ntp", method="ntp", seed=82, history=history, steps=100, sweep=False)
    assert rows_of(plateau_table(compute_report(tmp_path)))["ntp"] == "| ntp | 40 (of 100) | `stp_loss` | n/a | n/a | n/a |"


def test_plateau_table_says_when_ntp_had_not_plateaued(swept):
    lines = plateau_table(swept.data)
    assert rows_of(lines)["ntp"] == "| ntp | not by the end (step 50) | — | — | — | — |"  # a linear fall to the end
    assert not any(line.startswith("STP ") for line in lines)  # no verdict on STP without a plateau


def test_lambda_tables_print_stp_s_fitted_slope_and_ntp_against_lambda_0(swept):
    lambdas = (0.003, 0.01, 0.03, 0.1)  # STP falls up to 0.1, then rises
    xs = [math.log10(stp_lambda) for stp_lambda in lambdas for _ in SEEDS]
    expected = sps.linregress(xs, [STP_BY_LAMBDA[stp_lambda] + 0.01 * (index - 1) for stp_lambda in lambdas for index in range(3)])
    half = sps.t.ppf(0.975, len(xs) - 2) * expected.stderr
    lines = lambda_tables(swept.data)
    tube = next(line for line in lines if "`stp_tube_loss`" in line)
    assert tube == (
        f"| stp | `stp_tube_loss` | 0.003, 0.01, 0.03, 0.1 | {expected.slope:+.4f} ({expected.slope - half:+.4f} to {expected.slope + half:+.4f}) | "
        f"{expected.rvalue**2:.3f} | 0.003: 1.2000, 0.01: 1.1200, 0.03: 1.0500, 0.1: 0.9700, 0.3: 1.0500 |"
    )
    risen = next(line for line in lines if line.startswith("| stp | 0.3 |"))
    ci = sps.t.ppf(0.975, 2) * 0.0005 / math.sqrt(3)  # NTP 0.035 (+-0.0005 by seed) above lambda 0's
    assert risen == f"| stp | 0.3 | 3 | +0.0350 ({0.035 - ci:+.4f} to {0.035 + ci:+.4f}) | +17.4% | higher |"  # 0.035 / 0.201


def test_peak_table_gives_the_fitted_curvature_and_peak_of_accuracy_against_lambda(swept):
    (peak,) = swept.data.accuracy_peaks
    low, high = peak.peak_interval
    (row,) = [line for line in peak_table(swept.data) if line.startswith("| synth |")]
    assert row == (
        f"| synth | stp | 0.003, 0.01, 0.03, 0.1, 0.3 | -0.0800 | yes, p = {format_p(peak.fit.concave_p)} | "
        f"{peak.peak_lambda:.3g} ({low:.3g} to {high:.3g}) | 0.085 | {fmt(peak.resolvable)} (N=200) |"
    )


def test_two_lambdas_give_no_fit_where_stp_is_lowest_at_the_smallest_and_no_quadratic(tmp_path):
    for index, seed in enumerate(SEEDS):
        write_run(tmp_path / f"ntp-{seed}", method="ntp", seed=seed, exact_hits=120 + index, sweep=False)
        for stp_lambda, stp_end, hits in ((0.01, 0.6, 124), (0.1, 0.8, 130)):
            write_run(
                tmp_path / f"stp-{stp_lambda}-{seed}",
                method="stp",
                seed=seed,
                stp_lambda=stp_lambda,
                stp_end=stp_end,
                exact_hits=hits + index,
                sweep=False,
            )
    data = compute_report(tmp_path)
    assert "| stp | `stp_loss` | none: STP is lowest at the smallest lambda | n/a | n/a | 0.01: 0.6000, 0.1: 0.8000 |" in lambda_tables(
        data
    )
    resolves = fmt(stats.binomial_detectable_difference(0.655, 200))  # the best mean, lambda 0.1: 131 of 200
    assert f"| synth | stp | 0.01, 0.1 | n/a (needs 3 lambdas) | n/a | n/a | 0.030 | {resolves} (N=200) |" in peak_table(data)


def test_figures_4b_and_7_link_their_figure_and_hold_their_tests(swept):
    data = swept.data
    assert figure_4b(data)[:3] == [
        "## Losses against lambda (Figure 4b)",
        "",
        "![Figure 4b: final losses against lambda](fig4b_loss_vs_lambda.png)",
    ]
    assert figure_4b(data)[4] == "Lambda = 0 (plain fine-tuning) cannot sit on a log axis: it is the dashed line."  # no fraction axis
    assert figure_4b(data)[6:] == lambda_tables(data)
    assert figure_7(data)[:3] == [
        "## Accuracy against lambda (Figure 7)",
        "",
        "![Figure 7: accuracy against lambda](fig7_accuracy_vs_lambda.png)",
    ]
    assert figure_7(data)[6:] == peak_table(data)


def test_figure_6_has_a_section_per_task_with_spectra(efficiency):
    assert figure_6(efficiency)[:3] == [
        "## SVD spectra, synth (Figure 6)",
        "",
        "![Figure 6: SVD of Enc(Text) - Enc(Code), synth](fig6_svd_synth.png)",
    ]


def test_sections_without_their_data_are_empty(swept, strength):
    assert figure_1b(swept.data) == [] and figure_6(swept.data) == []  # no data fraction axis, no spectra
    assert figure_4b(strength.data) == [] and figure_7(strength.data) == []  # no lambda axis
    assert figure_4a(replace(swept.data, figure_4a=None)) == [] and plateau_table(replace(swept.data, plateaus=())) == []
    assert training(replace(swept.data, runs=(), configurations=())) == []


def test_figure_4a_says_when_its_curves_are_drawn_against_examples_seen(tmp_path):
    write_run(tmp_path / "ntp", method="ntp", seed=82, sweep=False)
    assert "examples it has seen" not in figure_4a(compute_report(tmp_path))[4]
    write_run(tmp_path / "batch32", method="stp", seed=82, extra_config={"gradient_accumulation_steps": 4}, sweep=False)
    assert " so every curve is drawn against the training examples it has seen, not against its steps." in figure_4a(compute_report(tmp_path))[4]
