"""`stp report` on fabricated run folders: the computed report (`compute_report`) holds the
hand-checked numbers, its tests equal scipy's, unpaired and failed runs are accounted for; the
rendered report and its figures are written; no torch. Statistics are checked on the computed
objects, so rewording a sentence of report.md breaks none of these."""

import json
import math
import subprocess
import sys

import pytest
from scipy import stats as sps

from semantic_tube.cli.report import main
from semantic_tube.experiments import stats
from semantic_tube.experiments.report import (
    ReportError,
    cells_of,
    compute_report,
    design_of,
    efficiency_lines,
    write_report,
)
from semantic_tube.experiments.runs import read_runs
from tests.experiments.report_fixtures import write_failed, write_run

SEEDS = (82, 23, 37)
# exact hits out of 200 test examples, per (method, fraction), in SEEDS order
EFFICIENCY = {
    ("ntp", 1.0): (120, 126, 118),  # 0.600, 0.630, 0.590: mean 0.6067, std 0.0208
    ("stp", 1.0): (130, 131, 127),  # 0.650, 0.655, 0.635: mean 0.6467, std 0.0104
    ("ntp", 0.5): (100, 104, 99),
    ("stp", 0.5): (125, 122, 126),  # mean 0.6217 >= 0.6067: matches full-data NTP
    ("ntp", 0.25): (80, 85, None),  # seed 37 failed
    ("stp", 0.25): (118, 121, 119),  # mean 0.5967 < 0.6067
}


def efficiency_sweep(root):
    """NTP and STP at fractions 1, 1/2, 1/4 over three seeds, one failed point, SVD spectra at full data."""
    for (method, fraction), hits in EFFICIENCY.items():
        for seed, exact in zip(SEEDS, hits):
            folder = root / f"method={method}__train_fraction={fraction}__seed={seed}"
            if exact is None:
                write_failed(folder, method=method, seed=seed, fraction=fraction, error="RuntimeError: CUDA out of memory")
                continue
            spectrum = [10 / (i + 1) ** (1.5 if method == "stp" else 1.0) for i in range(12)] if fraction == 1.0 else None
            write_run(
                folder,
                method=method,
                seed=seed,
                fraction=fraction,
                exact_hits=exact,
                suffix_hits=(exact * 3 // 4, exact // 8),
                svd=spectrum,
            )
    return root


def lambda_runs(root):
    """Plain `stp train` folders (no sweep_point.json) at lambda 0 (NTP) and three STP lambdas."""
    for stp_lambda, hits in {0.0: (120, 124, 119), 0.005: (121, 127, 118), 0.02: (130, 131, 127), 0.08: (128, 127, 126)}.items():
        for seed, exact in zip(SEEDS, hits):
            write_run(
                root / f"lambda{stp_lambda}-{seed}",
                method="ntp" if stp_lambda == 0 else "stp",
                seed=seed,
                stp_lambda=stp_lambda,
                exact_hits=exact,
                sweep=False,
            )
    return root


def configuration(data, label):
    return next(config for config in data.configurations if config.label == label)


def comparison(task, better, worse, fraction=None):
    return next(
        c
        for c in task.comparisons
        if (c.better, c.worse) == (better, worse) and (fraction is None or dict(c.setting)["train_fraction"] == fraction)
    )


@pytest.fixture(scope="module")
def efficiency(tmp_path_factory):
    root = efficiency_sweep(tmp_path_factory.mktemp("quick"))
    return root, write_report(root)


def test_mean_std_and_n_per_configuration(efficiency):
    _, report = efficiency
    data = report.data
    full = configuration(data, "ntp, train_fraction=1").summary("task_synth/exact")
    assert (full.n, full.mean) == (3, pytest.approx(0.606667, abs=1e-6)) and full.std == pytest.approx(0.020817, abs=1e-6)
    quarter = configuration(data, "ntp, train_fraction=1/4")
    assert quarter.n == 2 and len(quarter.runs) == 3  # the failed seed is kept in place, not averaged in
    assert quarter.summary("task_synth/exact").mean == pytest.approx(0.4125)  # (0.400 + 0.425) / 2
    assert "| ntp, train_fraction=1/4 | 2 | 0.412 ± 0.018 |" in report.markdown  # rendered as computed


def test_t_test_equals_scipy(efficiency):
    """Full data: differences 0.050, 0.025, 0.045: mean 0.040, sd sqrt(1.75e-4) = 0.0132, t = 5.24."""
    _, report = efficiency
    (task,) = report.data.tasks
    c = comparison(task, "stp", "ntp", 1.0)
    expected = sps.ttest_rel([0.650, 0.655, 0.635], [0.600, 0.630, 0.590], alternative="greater")
    assert c.against_baseline and c.test.n == 3 and c.left_out == ()
    assert c.test.statistic == pytest.approx(5.2372, abs=1e-4)
    assert c.test.statistic == pytest.approx(float(expected.statistic))
    assert c.test.p_value == pytest.approx(float(expected.pvalue))
    assert c.test.mean_difference == pytest.approx(0.04) and c.test.sd_difference == pytest.approx(math.sqrt(1.75e-4))
    assert c.means == (pytest.approx(0.646667, abs=1e-6), pytest.approx(0.606667, abs=1e-6))
    assert c.significant


def test_unpaired_seed_is_left_out_with_its_reason(efficiency):
    _, report = efficiency
    c = comparison(report.data.tasks[0], "stp", "ntp", 0.25)
    assert c.test.n == 2 and [pair[0] for pair in c.pairs] == [23, 82]
    assert c.left_out == ("seed 37 (ntp: failed)",)


def test_detectable_difference_uses_the_seed_spread_and_the_test_set(efficiency):
    _, report = efficiency
    d = comparison(report.data.tasks[0], "stp", "ntp", 1.0).detect
    sd = math.sqrt(1.75e-4)
    assert d.seeds == pytest.approx(stats.detectable_difference(sd, 3))
    assert d.test_count == 200 and d.accuracy == pytest.approx((0.646667 + 0.606667) / 2, abs=1e-6)
    assert d.test_set == pytest.approx(stats.binomial_detectable_difference(d.accuracy, 200))
    assert d.combined == pytest.approx(math.hypot(d.seeds, d.test_set))
    assert d.seeds_for_gain == stats.seeds_to_detect(0.02, sd)


def test_failed_run_is_listed_with_its_error(efficiency):
    _, report = efficiency
    (failed,) = [run for run in report.data.runs if run.status != "finished"]
    assert (failed.point_id, failed.status, failed.problem) == (
        "method=ntp__train_fraction=0.25__seed=37",
        "failed",
        "RuntimeError: CUDA out of memory",
    )
    assert "| method=ntp__train_fraction=0.25__seed=37 | failed | ntp | 37 | RuntimeError: CUDA out of memory |" in report.markdown
    assert "1 run folder did not finish" in report.markdown


def test_data_efficiency_lines(efficiency):
    _, report = efficiency
    lines = {line.arm: line for task, line in report.data.efficiency}
    assert lines["stp"].matches_down_to == 0.5 and lines["ntp"].matches_down_to == 1.0
    assert lines["stp"].reference.mean == pytest.approx(0.606667, abs=1e-6)
    assert {fraction: point.n for fraction, point in lines["ntp"].points.items()} == {1.0: 3, 0.5: 3, 0.25: 2}
    root, _ = efficiency
    runs = read_runs(root)
    design = design_of(runs)
    assert efficiency_lines("task_synth/exact", design, cells_of(runs, design)) == [line for _, line in report.data.efficiency]


def test_table_1_by_suffix(efficiency):
    """STP at full data, `.*`: 97, 98, 95 hits of 150: mean 0.6444, std 0.0102; `.*.*`: 16, 16, 15 of 50."""
    _, report = efficiency
    assert report.data.tasks[0].suffix_classes == (".*", ".*.*")
    stp = configuration(report.data, "stp, train_fraction=1")
    assert stp.summary("task_synth/suffix[.*]/exact").mean == pytest.approx(0.644444, abs=1e-6)
    assert stp.summary("task_synth/suffix[.*.*]/exact").mean == pytest.approx(0.313333, abs=1e-6)


def test_provenance_and_scope_are_stated(efficiency):
    _, report = efficiency
    text = report.markdown
    assert "- commit: 0123abc" in text and "sha256: " + "ab" * 32 in text
    assert "- package versions: semantic-tube 0.1.0, torch 2.13.0, transformers 5.0.0" in text
    assert report.data.seeds == [23, 37, 82] and "- seeds (finished runs): 23, 37, 82" in text
    assert "## What these numbers show, and what they cannot" in text
    assert "`stp` vs `ntp` on synth `exact` (train_fraction=1): +0.040 (higher; n = 3 pairs" in text
    assert "3 seeds (paper: 5)" in text


def test_figures_are_drawn_after_the_markdown_from_their_data(efficiency):
    root, report = efficiency
    assert [figure.file for figure in report.data.figures] == ["fig1b_data_efficiency.png", "fig4a_loss_curves.png", "fig6_svd_synth.png"]
    assert [path.name for path in report.figures] == [figure.file for figure in report.data.figures]
    for path in report.figures:
        assert path.parent == root and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({path.name})" in report.markdown
    assert (root / "report.md").read_text() == report.markdown


def test_report_links_the_docs_page(efficiency):
    _, report = efficiency
    assert report.data.docs == "docs/experiments/reading-reports.md"  # a folder outside the repository: the page's path in it
    assert "[Reading a report](docs/experiments/reading-reports.md)" in report.markdown
    assert "](docs/experiments/reading-reports.md#what-a-comparison-could-detect)" in report.markdown


def test_lambda_sweep_of_plain_folders_compares_each_lambda_and_draws_figures_4b_and_7(tmp_path):
    report = write_report(lambda_runs(tmp_path))
    data = report.data
    assert data.design.arms == ("ntp", "stp λ=0.005", "stp λ=0.02", "stp λ=0.08")
    assert configuration(data, "stp λ=0.02").summary("task_synth/exact").mean == pytest.approx(0.646667, abs=1e-6)
    assert "Plain `stp train` folders (no sweep_point.json)" in report.markdown
    assert {"fig4b_loss_vs_lambda.png", "fig7_accuracy_vs_lambda.png"} <= {path.name for path in report.figures}
    assert comparison(data.tasks[0], "stp λ=0.02", "ntp").test.n == 3
    ((_, matrix),) = data.tasks[0].all_methods  # the Tables 4-5 matrix of the 4 methods
    assert matrix.members == data.design.arms and len(matrix.cells) == 12


def test_lambda_panels_hold_each_lambdas_mean(tmp_path):
    data = compute_report(lambda_runs(tmp_path))
    (panel,) = data.figure_7.panels
    (series,) = panel.series
    assert series.x == (0.005, 0.02, 0.08) and series.n == (3, 3, 3)
    assert series.mean[1] == pytest.approx(0.646667, abs=1e-6)
    (zero,) = panel.references
    assert zero.mean == pytest.approx((120 + 124 + 119) / 600)
    ntp_panel, stp_panel = data.figure_4b.panels
    assert ntp_panel.title == "final NTP loss" and stp_panel.title == "final STP loss"
    assert stp_panel.series[0].mean == pytest.approx((0.6, 0.6, 0.6)) and stp_panel.references[0].mean == pytest.approx(1.3)


def test_not_significant_comparison_says_what_the_design_could_detect(tmp_path):
    for seed, ntp, stp in zip(SEEDS, (120, 126, 118), (125, 119, 124)):
        write_run(tmp_path / f"ntp-{seed}", method="ntp", seed=seed, exact_hits=ntp, sweep=False)
        write_run(tmp_path / f"stp-{seed}", method="stp", seed=seed, exact_hits=stp, sweep=False)
    report = write_report(tmp_path)
    c = comparison(report.data.tasks[0], "stp", "ntp")
    assert c.test.mean_difference == pytest.approx(0.02 / 3) and not c.significant
    assert c.detect.test_set > stats.GAIN  # a test set of 200 cannot resolve 2 points
    verdict = next(line for line in report.markdown.splitlines() if line.startswith("- `stp` vs `ntp`"))
    assert "+0.007 (higher; n = 3 pairs" in verdict and "not significant: no evidence either way" in verdict
    assert (
        f"{c.detect.seeds_for_gain} seeds would detect a 2-point gain" in verdict and "a test set of 200 cannot resolve 2 points" in verdict
    )


def test_lambda_scale_points_pair_with_the_single_ntp_point(tmp_path):
    """`stp sweep` keeps one NTP point for lambda_scale 1 and 2 (0 x 2 = 0): STP at both scales pairs with it."""
    for seed, hits in zip(SEEDS, (120, 126, 118)):
        write_run(tmp_path / f"ntp-{seed}", method="ntp", seed=seed, exact_hits=hits, extra_coordinates={"lambda_scale": 1})
        for scale in (1, 2):
            write_run(
                tmp_path / f"stp-x{scale}-{seed}",
                method="stp",
                seed=seed,
                stp_lambda=0.02 * scale,
                exact_hits=hits + 5 * scale,
                extra_coordinates={"lambda_scale": scale},
            )
    data = compute_report(tmp_path)
    against = {c.better: c for c in data.tasks[0].against_baseline}
    assert set(against) == {"stp λ=0.02", "stp λ=0.04"}
    assert all(c.test.n == 3 and c.worse == "ntp" for c in against.values())


def test_metric_and_baseline_options(tmp_path):
    lambda_runs(tmp_path)
    report = write_report(tmp_path, tmp_path / "out", baseline="stp λ=0.005", metric="equivalent")
    assert report.path == tmp_path / "out" / "report.md"
    assert report.data.design.baseline == "stp λ=0.005" and report.data.metrics == {"synth": "equivalent"}
    assert "vs `stp λ=0.005`" in report.headline and "synth `equivalent`" in report.headline
    with pytest.raises(ReportError, match="no such method; methods in these runs: ntp, stp λ=0.005"):
        write_report(tmp_path, baseline="jepa")
    with pytest.raises(ReportError, match="not a rate of task synth; its rates: exact, equivalent"):
        write_report(tmp_path, metric="bleu")


def test_cli_prints_where_it_wrote_and_the_headline(tmp_path, capsys):
    lambda_runs(tmp_path / "runs")
    assert main([str(tmp_path / "runs"), "--out", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"stp report: wrote {tmp_path / 'report' / 'report.md'} and 3 figure(s): ")
    assert "| stp λ=0.02 | 3 | 0.647 ± 0.010 | +0.042 |" in out


def test_cli_errors_name_the_problem(tmp_path, capsys):
    assert main([str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stp report: error: ") and "no such folder" in err
    lambda_runs(tmp_path / "runs")
    assert main([str(tmp_path / "runs"), "--baseline", "jepa"]) == 2
    assert "--baseline jepa: no such method" in capsys.readouterr().err


def test_report_imports_neither_torch_nor_transformers(tmp_path):
    lambda_runs(tmp_path)
    script = (
        "import sys; from semantic_tube.cli.report import main; "
        f"code = main([{str(tmp_path)!r}]); print(code, 'torch' in sys.modules, 'transformers' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "0 False False"


def test_a_new_report_removes_only_the_figures_it_no_longer_draws(tmp_path):
    write_report(lambda_runs(tmp_path / "lambda"), tmp_path / "out")
    assert (tmp_path / "out" / "fig7_accuracy_vs_lambda.png").is_file()
    (tmp_path / "out" / "notes.png").write_bytes(b"mine")
    write_run(tmp_path / "one", method="stp", seed=82, exact_hits=100, sweep=False)
    report = write_report(tmp_path / "one", tmp_path / "out")
    assert sorted(path.name for path in (tmp_path / "out").glob("*.png")) == ["fig4a_loss_curves.png", "notes.png"]
    assert report.markdown.splitlines()[2].startswith(
        f"`stp report {tmp_path / 'one'} --out {tmp_path / 'out'}` read 1 run folder (1 finished)"
    )


def test_no_families_layout_for_ntp_against_stp(efficiency, tmp_path):
    _, report = efficiency
    assert report.data.tasks[0].families == ()  # older runs, no `method` field
    assert compute_report(lambda_runs(tmp_path / "lambda")).tasks[0].families == ()  # one family at several lambdas
    for seed, ntp, stp in zip(SEEDS, (120, 126, 118), (130, 131, 127)):  # runs with the field: a quick.yaml sweep today
        write_run(tmp_path / "new" / f"ntp-{seed}", method="ntp", seed=seed, exact_hits=ntp, family="stp")  # lambda 0
        write_run(tmp_path / "new" / f"stp-{seed}", method="stp", seed=seed, exact_hits=stp, family="stp")
    assert {run.family for run in read_runs(tmp_path / "new")} == {"ntp", "stp"}
    assert compute_report(tmp_path / "new").tasks[0].families == ()


# -------------------------------------------------------------------------------------------
# Every method's own loss: the training table and Figure 4a


def rename_series(folder, old: str, new: str) -> None:
    """A run that logged its method's loss under another name (as mask, curvature, llm-jepa do)."""
    path = folder / "trainer_state.json"
    state = json.loads(path.read_text())
    for entry in state["log_history"]:
        if old in entry:
            entry[new] = entry.pop(old)
    path.write_text(json.dumps(state))
    metrics_path = folder / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    metrics[f"final_{new}"] = metrics.pop(f"final_{old}")
    metrics_path.write_text(json.dumps(metrics))


def test_every_method_gets_its_own_loss_from_aux_loss_or_its_own_name(tmp_path):
    for arm, family in (("ntp", "ntp"), ("stp", "stp"), ("stp+zero", "stp"), ("mask", "mask"), ("curvature", "curvature")):
        write_run(tmp_path / f"method={arm}__seed=82", method=arm, seed=82, exact_hits=100, family=family)
    rename_series(tmp_path / "method=mask__seed=82", "stp_loss", "mask_loss")  # an older run: its own name only
    rename_series(tmp_path / "method=curvature__seed=82", "stp_loss", "aux_loss")  # a newer one: aux_loss (and its own name)
    metrics_path = tmp_path / "method=curvature__seed=82" / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) | {"final_curvature_loss": 0.6}
    metrics_path.write_text(json.dumps(metrics))
    data = compute_report(tmp_path)
    own = {config.arm: (config.aux_series, config.aux.mean) for config in data.configurations}
    assert own == {
        "ntp": ("stp_loss", 1.3),  # logged without gradient
        "curvature": ("curvature_loss", 0.6),
        "mask": ("mask_loss", 0.6),
        "stp": ("stp_loss", 0.6),
        "stp+zero": ("stp_loss", 0.6),
    }
    figure = data.figure_4a
    assert [name for name, _ in figure.panels] == ["ntp_loss", "stp_loss", "curvature_loss", "mask_loss"]
    curves = {curve.label: curve for curve in figure.curves}
    assert set(curves["mask"].series) == {"ntp_loss", "mask_loss"} and curves["mask"].series["mask_loss"][0] == (10, 20, 30, 40, 50)
    assert curves["curvature"].series["curvature_loss"][1][-1] == pytest.approx(0.6)  # read from aux_loss
    assert data.figure_4a_notes["trained_forms"] == ["stp", "stp+zero"]
