"""`stp report` on fabricated run folders: the tables hold the hand-checked numbers, the tests
equal scipy's, unpaired and failed runs are reported, the figures are written, no torch."""

import json
import math
import subprocess
import sys

import pytest
from scipy import stats as sps

from semantic_tube.cli.report import main
from semantic_tube.experiments import figures, stats
from semantic_tube.experiments.report import (
    ReportError,
    best_variants,
    cells_of,
    design_of,
    efficiency_lines,
    family_matrix,
    family_variants,
    format_p,
    pair_by_seed,
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


@pytest.fixture(scope="module")
def efficiency(tmp_path_factory):
    root = efficiency_sweep(tmp_path_factory.mktemp("quick"))
    return root, write_report(root)


def test_mean_std_and_n_per_configuration(efficiency):
    _, report = efficiency
    assert "| ntp, train_fraction=1 | 3 | 0.607 ± 0.021 |" in report.markdown
    assert "| stp, train_fraction=1 | 3 | 0.647 ± 0.010 |" in report.markdown
    assert "| ntp, train_fraction=1/4 | 2 | 0.412 ± 0.018 |" in report.markdown  # (0.400, 0.425): the failed seed is not averaged in


def test_t_test_rows_equal_scipy(efficiency):
    """Full data: differences 0.050, 0.025, 0.045: mean 0.040, sd sqrt(1.75e-4) = 0.0132, t = 5.24."""
    _, report = efficiency
    expected = sps.ttest_rel([0.650, 0.655, 0.635], [0.600, 0.630, 0.590], alternative="greater")
    assert float(expected.statistic) == pytest.approx(5.2372, abs=1e-4)
    p = format_p(float(expected.pvalue))
    row = f"| train_fraction=1 | `stp` > `ntp` | 3 | 0.647 | 0.607 | +0.040 ± 0.013 | 5.24 | {p} | yes | none |"
    assert row in report.markdown


def test_unpaired_seed_is_left_out_with_its_reason(efficiency):
    _, report = efficiency
    line = next(line for line in report.markdown.splitlines() if line.startswith("| train_fraction=1/4 | `stp` > `ntp` |"))
    assert "| 2 |" in line and "seed 37 (ntp: failed)" in line


def test_detectable_difference_rows_use_the_seed_spread_and_the_test_set(efficiency):
    _, report = efficiency
    sd = math.sqrt(1.75e-4)
    seeds = stats.detectable_difference(sd, 3)
    test_set = stats.binomial_detectable_difference((0.6467 + 0.6067) / 2, 200)
    combined = math.hypot(seeds, test_set)
    gain = stats.seeds_to_detect(0.02, sd)
    row = f"| train_fraction=1 | `stp` > `ntp` | 3 | 0.013 | {seeds:.3f} | {test_set:.3f} (N=200) | {combined:.3f} | {gain} |"
    assert row in report.markdown


def test_failed_run_is_listed_with_its_error(efficiency):
    _, report = efficiency
    assert "| method=ntp__train_fraction=0.25__seed=37 | failed | ntp | 37 | RuntimeError: CUDA out of memory |" in report.markdown
    assert "1 run folder did not finish" in report.markdown


def test_data_efficiency_headline(efficiency):
    _, report = efficiency
    assert "| synth: `stp` | 0.607 ± 0.021 (n=3) | 1/2 | 1: 0.647 (n=3), 1/2: 0.622 (n=3), 1/4: 0.597 (n=3) |" in report.markdown
    assert "*Matches* means: the mean at that fraction, and at every larger fraction, is at least the mean of `ntp`" in report.markdown


def test_table_1_by_suffix(efficiency):
    """STP at full data, `.*`: 97, 98, 95 hits of 150: mean 0.6444, std 0.0102; `.*.*`: 16, 16, 15 of 50."""
    _, report = efficiency
    assert "| stp, train_fraction=1 | 3 | 0.644 ± 0.010 (150) | 0.313 ± 0.012 (50) |" in report.markdown


def test_provenance_and_scope_are_stated(efficiency):
    _, report = efficiency
    text = report.markdown
    assert "- commit: 0123abc" in text and "sha256: " + "ab" * 32 in text
    assert "- package versions: semantic-tube 0.1.0, torch 2.13.0, transformers 5.0.0" in text
    assert "- seeds (finished runs): 23, 37, 82" in text
    assert "## What these numbers show, and what they cannot" in text
    assert "`stp` vs `ntp` on synth `exact` (train_fraction=1): +0.040 (higher; n = 3 pairs" in text
    assert "3 seeds (paper: 5)" in text


def test_figures_are_written_and_linked(efficiency):
    root, report = efficiency
    names = {path.name for path in report.figures}
    assert names == {"fig1b_data_efficiency.png", "fig4a_loss_curves.png", "fig6_svd_synth.png"}
    for path in report.figures:
        assert path.parent == root and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({path.name})" in report.markdown
    assert (root / "report.md").read_text() == report.markdown


def test_efficiency_lines_match_down_to_the_last_fraction_at_or_above_full_ntp(efficiency):
    root, _ = efficiency
    runs = read_runs(root)
    design = design_of(runs)
    lines = {line.arm: line for line in efficiency_lines("task_synth/exact", design, cells_of(runs, design))}
    assert lines["stp"].matches_down_to == 0.5 and lines["ntp"].matches_down_to == 1.0
    assert lines["stp"].reference.mean == pytest.approx(0.606667, abs=1e-6)


def test_lambda_sweep_of_plain_folders_compares_each_lambda_and_draws_figures_4b_and_7(tmp_path):
    report = write_report(lambda_runs(tmp_path))
    assert "Plain `stp train` folders (no sweep_point.json)" in report.markdown
    assert "| stp λ=0.02 | 3 | 0.647 ± 0.010 |" in report.markdown
    assert {"fig4b_loss_vs_lambda.png", "fig7_accuracy_vs_lambda.png"} <= {path.name for path in report.figures}
    assert "`stp λ=0.02` > `ntp`" in report.markdown
    assert "p-values between all methods" in report.markdown  # Tables 4-5 matrix with 4 methods


def test_not_significant_comparison_says_what_the_design_could_detect(tmp_path):
    for seed, ntp, stp in zip(SEEDS, (120, 126, 118), (125, 119, 124)):
        write_run(tmp_path / f"ntp-{seed}", method="ntp", seed=seed, exact_hits=ntp, sweep=False)
        write_run(tmp_path / f"stp-{seed}", method="stp", seed=seed, exact_hits=stp, sweep=False)
    text = write_report(tmp_path).markdown
    verdict = next(line for line in text.splitlines() if line.startswith("- `stp` vs `ntp`"))
    assert "+0.007 (higher; n = 3 pairs" in verdict and "not significant: no evidence either way" in verdict
    assert "seeds would detect a 2-point gain" in verdict and "a test set of 200 cannot resolve 2 points" in verdict


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
                exact_hits=hits + 5 * scale + seed % 3,
                extra_coordinates={"lambda_scale": scale},
            )
    text = write_report(tmp_path).markdown
    assert "| all runs | `stp λ=0.04` > `ntp` | 3 |" in text and "| all runs | `stp λ=0.02` > `ntp` | 3 |" in text


def test_pairs_leave_out_duplicated_and_missing_seeds(tmp_path):
    write_run(tmp_path / "a82", method="stp", seed=82, exact_hits=100)
    write_run(tmp_path / "a82-again", method="stp", seed=82, exact_hits=101)
    write_run(tmp_path / "a23", method="stp", seed=23, exact_hits=100)
    write_run(tmp_path / "b23", method="ntp", seed=23, exact_hits=90)
    write_run(tmp_path / "b37", method="ntp", seed=37, exact_hits=90)
    runs = {run.point_id: run for run in read_runs(tmp_path)}
    first = [runs["a82"], runs["a82-again"], runs["a23"]]
    pairs, left_out = pair_by_seed(first, [runs["b23"], runs["b37"]], "task_synth/exact", ("stp", "ntp"))
    assert pairs == [(23, 0.5, 0.45)]
    assert left_out == ["seed 37 (stp: no run)", "seed 82 (stp: 2 runs share this seed (a82, a82-again); ntp: no run)"]


def test_metric_and_baseline_options(tmp_path):
    lambda_runs(tmp_path)
    report = write_report(tmp_path, tmp_path / "out", baseline="stp λ=0.005", metric="equivalent")
    assert report.path == tmp_path / "out" / "report.md"
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


# ---------------------------------------------------------------------------------------------
# Families and options (Appendix L, Tables 4-5)

FAMILIES = "### Families and options (Tables 4-5)"
# A sweep named as sweeps/ablation.yaml names its bundles: arm -> (the `method` its config records,
# exact hits out of 200 in SEEDS order; None: that point failed).
ABLATION = {
    "ntp": ("ntp", (120, 126, 118)),
    "stp": ("stp", (130, 131, 127)),  # mean 0.6467
    "stp+zero": ("stp", (133, 129, 131)),  # 0.655: the best of stp
    "stp+pred": ("stp", (122, 128, 121)),  # 0.6183
    "two-view": ("two-view", (125, 127, 124)),  # 0.6267
    "two-view+warmup": ("two-view", (128, 126, 130)),  # 0.640: the best of two-view
    "mask": ("mask", (124, 125, None)),  # 0.6225 on two seeds
    "curvature": ("curvature", (121, 125, 120)),  # 0.610
}


def ablation_sweep(root):
    for arm, (family, hits) in ABLATION.items():
        for seed, exact in zip(SEEDS, hits):
            folder = root / f"method={arm}__seed={seed}"
            if exact is None:
                write_failed(folder, method=arm, seed=seed)
            else:
                write_run(folder, method=arm, seed=seed, exact_hits=exact, family=family)
    return root


def ablation_values(arm: str) -> dict:
    return {seed: hits / 200 for seed, hits in zip(SEEDS, ABLATION[arm][1]) if hits is not None}


def ablation_mean(arm: str) -> float:
    values = ablation_values(arm)
    return sum(values.values()) / len(values)


def scipy_p(row: str, column: str) -> tuple[float, int]:
    """scipy's one-tailed paired p of row > column on the seeds both finished, and how many."""
    a, b = ablation_values(row), ablation_values(column)
    seeds = [seed for seed in SEEDS if seed in a and seed in b]
    return float(sps.ttest_rel([a[s] for s in seeds], [b[s] for s in seeds], alternative="greater").pvalue), len(seeds)


def markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


@pytest.fixture(scope="module")
def ablation(tmp_path_factory):
    root = ablation_sweep(tmp_path_factory.mktemp("ablation"))
    runs = [run for run in read_runs(root) if run.status == "finished"]
    design = design_of(runs)
    return root, write_report(root), cells_of(runs, design)


def test_family_is_the_configs_method_not_the_bundle_name(tmp_path):
    write_run(tmp_path / "a", method="stp-ish", seed=82, exact_hits=100, family="two-view")
    write_run(tmp_path / "b", method="ntp", seed=82, stp_lambda=0.02, exact_hits=100, family="ntp")  # method ntp: lambda unused
    write_run(tmp_path / "c", method="stp", seed=82, stp_lambda=0.0, exact_hits=100, family="stp")  # lambda 0: nothing added
    write_run(tmp_path / "d", method="stp", seed=82, exact_hits=100)  # older runs: no `method` field, lambda decides
    write_run(tmp_path / "e", method="ntp", seed=82, exact_hits=100)
    write_run(tmp_path / "f", method="whatever", seed=82, exact_hits=100, family="mask", sweep=False)  # a plain stp train folder
    runs = {run.point_id: run for run in read_runs(tmp_path)}
    assert {name: (run.method, run.family) for name, run in runs.items()} == {
        "a": ("stp-ish", "two-view"),  # the bundle name stays the arm
        "b": ("ntp", "ntp"),
        "c": ("stp", "ntp"),
        "d": ("stp", "stp"),
        "e": ("ntp", "ntp"),
        "f": ("mask", "mask"),  # no bundle name: the family is the method
    }


def test_families_section_lists_every_variant_with_its_test_against_ntp(ablation):
    _, report, _ = ablation
    text = report.markdown
    assert FAMILIES in text
    p, n = scipy_p("stp+zero", "ntp")
    assert markdown_row(["stp", "`stp+zero` (best)", "3", "0.655 ± 0.010", "+0.048", format_p(p), str(n)]) in text
    p, n = scipy_p("mask", "ntp")
    assert markdown_row(["mask", "`mask`", "2", "0.623 ± 0.004", "+0.008", format_p(p), str(n)]) in text
    assert markdown_row(["ntp", "`ntp`", "3", "0.607 ± 0.021", "baseline", "—", "—"]) in text


def test_table_4_takes_each_familys_best_variant_and_fills_only_cells_where_the_row_mean_is_higher(ablation):
    _, report, cells = ablation
    (setting,) = {setting for _, setting in cells}  # train_fraction=1, the same in every run
    variants = family_variants("synth", "exact", setting, cells)
    assert {variant.arm: variant.family for variant in variants} == {arm: family for arm, (family, _) in ABLATION.items()}
    best = best_variants(variants)
    assert {family: variant.arm for family, variant in best.items()} == {
        "stp": "stp+zero",
        "two-view": "two-view+warmup",
        "mask": "mask",
        "curvature": "curvature",
        "ntp": "ntp",
    }
    chosen = [variant for family, variant in best.items() if family != "ntp"]
    labels = {variant.arm: f"{variant.family}: `{variant.arm}`" for variant in chosen}
    rows, _ = family_matrix("synth", "exact", setting, cells, chosen, labels, strike=False)
    arms = ["stp+zero", "two-view+warmup", "mask", "curvature"]  # by mean, highest first
    assert rows[0] == ["row > column", *(labels[arm] for arm in arms)]
    for row, line in zip(arms, rows[1:]):
        assert line[0] == labels[row]
        for column, cell in zip(arms, line[1:]):
            if ablation_mean(row) > ablation_mean(column):
                p, n = scipy_p(row, column)
                assert cell == format_p(p) + ("" if n == 3 else f" (n={n})")
            else:
                assert cell == "—"
    assert sum(cell != "—" for line in rows[1:] for cell in line[1:]) == 6  # the upper triangle
    for line in rows:
        assert markdown_row(line) in report.markdown
    assert "Best variants: stp: `stp+zero` (0.655), two-view: `two-view+warmup` (0.640), mask: `mask` (0.623)" in report.markdown
    assert "`stp+zero` > `mask`: seed 37 (mask: failed)" in report.markdown
    assert "so these p-values are optimistic" in report.markdown
    assert not any("~~" in cell for line in rows for cell in line)  # Table 4 strikes nothing, as the paper's


def test_table_5_compares_options_within_a_family_and_strikes_p_above_005(ablation):
    _, report, _ = ablation
    text = report.markdown
    above, _ = scipy_p("stp+zero", "stp")
    below, _ = scipy_p("stp", "stp+pred")
    assert above > 0.05 > below
    assert "Table 5, `stp`: p-values between its 3 variants (struck through: p > 0.05)." in text
    assert markdown_row(["row > column", "`stp+zero`", "`stp`", "`stp+pred`"]) in text
    assert markdown_row(["`stp+zero`", "—", f"~~{format_p(above)}~~", f"~~{format_p(scipy_p('stp+zero', 'stp+pred')[0])}~~"]) in text
    assert markdown_row(["`stp`", "—", "—", format_p(below)]) in text
    assert markdown_row(["`stp+pred`", "—", "—", "—"]) in text
    p, _ = scipy_p("two-view+warmup", "two-view")
    assert markdown_row(["`two-view+warmup`", "—", f"~~{format_p(p)}~~" if p > 0.05 else format_p(p)]) in text
    assert "Table 5, `mask`" not in text and "Table 5, `curvature`" not in text  # one variant each
    assert "Table 5, `ntp`" not in text


def test_a_cell_on_fewer_than_two_pairs_says_so(tmp_path):
    for seed, (plain, pred) in zip(SEEDS, ((125, 130), (127, None), (124, None))):
        write_run(tmp_path / f"two-view-{seed}", method="two-view", seed=seed, exact_hits=plain, family="two-view")
        if pred is None:
            write_failed(tmp_path / f"two-view+pred-{seed}", method="two-view+pred", seed=seed)
        else:
            write_run(tmp_path / f"two-view+pred-{seed}", method="two-view+pred", seed=seed, exact_hits=pred, family="two-view")
    text = write_report(tmp_path).markdown
    assert FAMILIES in text
    assert markdown_row(["`two-view+pred`", "—", "n<2"]) in text  # 0.650 on one seed > 0.627
    assert "`two-view+pred` > `two-view`: seed 23 (two-view+pred: failed); seed 37 (two-view+pred: failed)" in text
    assert "Table 4 needs two families besides `ntp`; here: `two-view`." in text
    assert "no baseline (`ntp`) ran here" in text


def test_families_at_several_lambdas_without_ntp_pick_their_best_lambda(tmp_path):
    """As sweeps/lambda.yaml: stp and two-view at lambda_scale 1 and 2, no ntp: each lambda is a variant."""
    for seed, hits in zip(SEEDS, (120, 126, 118)):
        for family, bonus in (("stp", 0), ("two-view", 4)):
            for scale in (1, 2):
                write_run(
                    tmp_path / f"{family}-x{scale}-{seed}",
                    method=family,
                    seed=seed,
                    stp_lambda=0.01 * scale,
                    exact_hits=hits + bonus + (3 + seed % 5) * scale,
                    family=family,
                    extra_coordinates={"lambda_scale": scale},
                )
    text = write_report(tmp_path).markdown
    assert markdown_row(["two-view", "`two-view λ=0.02` (best)", "3", "0.680 ± 0.026"]) in text  # no ntp: no test columns
    assert "Best variants: two-view: `two-view λ=0.02` (0.680), stp: `stp λ=0.02` (0.660)." in text
    # the best variants differ by 4 hits on every seed: no spread, no test
    assert "| two-view: `two-view λ=0.02` | — | n/a: every pair differs by the same amount: no spread to test against |" in text
    p = float(sps.ttest_rel([0.65, 0.69, 0.64], [0.625, 0.66, 0.615], alternative="greater").pvalue)  # stp at 0.02 vs 0.01
    assert markdown_row(["`stp λ=0.02`", "—", format_p(p)]) in text


def test_no_families_section_for_ntp_against_stp(efficiency, tmp_path):
    _, report = efficiency
    assert FAMILIES not in report.markdown  # older runs, no `method` field
    assert FAMILIES not in write_report(lambda_runs(tmp_path / "lambda")).markdown  # one family at several lambdas
    for seed, ntp, stp in zip(SEEDS, (120, 126, 118), (130, 131, 127)):  # runs with the field: a quick.yaml sweep today
        write_run(tmp_path / "new" / f"ntp-{seed}", method="ntp", seed=seed, exact_hits=ntp, family="stp")  # lambda 0
        write_run(tmp_path / "new" / f"stp-{seed}", method="stp", seed=seed, exact_hits=stp, family="stp")
    assert {run.family for run in read_runs(tmp_path / "new")} == {"ntp", "stp"}
    assert FAMILIES not in write_report(tmp_path / "new").markdown


# -------------------------------------------------------------------------------------------
# Figure 4a: what its STP panel draws


def test_loss_curve_notes_say_which_loss_each_runs_stp_line_is(tmp_path):
    for arm, family in (("ntp", "ntp"), ("stp", "stp"), ("stp+zero", "stp"), ("mask", "mask")):
        write_run(tmp_path / f"method={arm}__seed=82", method=arm, seed=82, exact_hits=100, family=family)
    state_path = tmp_path / "method=mask__seed=82" / "trainer_state.json"
    state = json.loads(state_path.read_text())
    for entry in state["log_history"]:
        if "stp_loss" in entry:
            entry["mask_loss"] = entry.pop("stp_loss")
    state_path.write_text(json.dumps(state))
    text = write_report(tmp_path).markdown
    assert "For `mask` the method's own loss is logged under another name" in text
    assert "the form its method trains (`stp`, `stp+zero`:" in text


def test_a_configuration_keeps_its_colour_in_both_loss_panels(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(figures, "_save", lambda figure, path, title: saved.append(figure) or path)
    curves = [figures.Curve("ntp", (10, 20), (1.0, 0.5), (), 1), figures.Curve("stp", (10, 20), (1.0, 0.4), (0.9, 0.8), 1)]
    figures.plot_loss_curves(curves, tmp_path / "fig.png")
    ntp_panel, stp_panel = saved[0].axes
    colours = {line.get_label(): line.get_color() for line in ntp_panel.get_lines()}
    assert [line.get_label() for line in stp_panel.get_lines()] == ["stp (n=1)"]
    assert all(line.get_color() == colours[line.get_label()] for line in stp_panel.get_lines())
