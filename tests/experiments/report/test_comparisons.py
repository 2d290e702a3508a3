"""Paired comparisons by seed and the families layout (Appendix L, Tables 4-5) on fabricated run
folders: pairs leave out duplicate and missing seeds, each family's best variant, one rule
(`p_table`) for every matrix, its cells filled by the paired rule, failed seeds accounted for."""

import pytest
from scipy import stats as sps

from semantic_tube.experiments.report import (
    best_variants,
    cells_of,
    compute_report,
    design_of,
    family_variants,
    format_p,
    p_table,
    pair_by_seed,
    write_report,
)
from semantic_tube.experiments.runs import read_runs
from tests.experiments.report_fixtures import write_failed, write_run

SEEDS = (82, 23, 37)


def test_pairs_by_seed_leave_out_duplicates_and_missing_partners(tmp_path):
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



# ---------------------------------------------------------------------------------------------
# Families and options (Appendix L, Tables 4-5)

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


def paired(row: str, column: str) -> tuple[float, int, float]:
    """scipy's one-tailed paired p of row > column on the seeds both finished, how many, and the paired mean difference."""
    a, b = ablation_values(row), ablation_values(column)
    seeds = [seed for seed in SEEDS if seed in a and seed in b]
    p = float(sps.ttest_rel([a[s] for s in seeds], [b[s] for s in seeds], alternative="greater").pvalue)
    return p, len(seeds), sum(a[s] - b[s] for s in seeds) / len(seeds)


@pytest.fixture(scope="module")
def ablation(tmp_path_factory):
    root = ablation_sweep(tmp_path_factory.mktemp("ablation"))
    runs = [run for run in read_runs(root) if run.status == "finished"]
    design = design_of(runs)
    return root, write_report(root), cells_of(runs, design)



def test_families_layout_lists_every_variant_with_its_test_against_ntp(ablation):
    _, report, _ = ablation
    task = report.data.tasks[0]
    (layout,) = task.families
    assert list(layout.members) == ["stp", "two-view", "mask", "curvature", "ntp"]  # families by their best mean
    assert [variant.arm for variant in layout.members["stp"]] == ["stp+zero", "stp", "stp+pred"]
    mask = layout.members["mask"][0]
    assert (mask.point.n, mask.point.mean) == (2, pytest.approx(0.6225))
    against = {c.better: c for c in task.against_baseline}
    p, n, difference = paired("stp+zero", "ntp")
    assert (against["stp+zero"].test.p_value, against["stp+zero"].test.n) == (pytest.approx(p), n)
    assert against["stp+zero"].test.mean_difference == pytest.approx(difference)
    assert "| stp | `stp+zero` (best) | 3 | 0.655 ± 0.010 | +0.048 |" in report.markdown


def test_table_4_takes_each_familys_best_variant_and_fills_cells_by_the_paired_rule(ablation):
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
    (layout,) = report.data.tasks[0].families
    table4 = layout.table4
    arms = ["stp+zero", "two-view+warmup", "mask", "curvature"]  # by mean, highest first
    assert table4.members == tuple(arms) and table4.seeds == 3
    for row in arms:
        for column in arms:
            if row == column:
                continue
            cell = table4.cell(row, column)
            p, n, difference = paired(row, column)
            assert (cell.test.p_value, cell.test.n) == (pytest.approx(p), n)
            assert cell.filled == (difference > 0)  # the rule: the row is higher on the paired seeds
    assert len(table4.filled) == 6
    assert table4.cell("stp+zero", "mask").left_out == ("seed 37 (mask: failed)",)
    assert "Best variants: stp: `stp+zero` (0.655), two-view: `two-view+warmup` (0.640), mask: `mask` (0.623)" in report.markdown


def test_a_failed_seed_can_turn_a_cell_and_the_paired_rule_follows_the_test(tmp_path):
    """mask fails on the seed where it is best: unpaired its mean (0.61) is below two-view's (0.62),
    but on the two seeds both finished it is higher (0.61 against 0.605), so the cell mask > two-view
    holds the test's p, and two-view > mask is empty: a cell never disagrees with its test."""
    plan = {"ntp": (100, 100, 100), "two-view": (120, 122, 130), "mask": (121, 123, None), "stp": (110, 111, 112)}
    families = {"ntp": "ntp", "two-view": "two-view", "mask": "mask", "stp": "stp"}
    for arm, hits in plan.items():
        for seed, exact in zip(SEEDS, hits):
            if exact is None:
                write_failed(tmp_path / f"{arm}-{seed}", method=arm, seed=seed)
            else:
                write_run(tmp_path / f"{arm}-{seed}", method=arm, seed=seed, exact_hits=exact, family=families[arm])
    data = compute_report(tmp_path)
    (layout,) = data.tasks[0].families
    table4 = layout.table4
    assert table4.members == ("two-view", "mask", "stp")  # by (unpaired) mean: 0.62, 0.61, 0.555
    mask_over = table4.cell("mask", "two-view")
    assert mask_over.filled and mask_over.test.n == 2 and mask_over.test.mean_difference == pytest.approx(0.005)
    assert not table4.cell("two-view", "mask").filled
    ((_, every),) = data.tasks[0].all_methods  # the matrix of every method follows the same rule
    assert every.cell("mask", "two-view").filled and not every.cell("two-view", "mask").filled


def test_table_5_compares_options_within_a_family_and_strikes_p_above_005(ablation):
    _, report, _ = ablation
    (layout,) = report.data.tasks[0].families
    tables = dict(layout.table5)
    assert set(tables) == {"stp", "two-view"}  # mask and curvature have one variant each, ntp one
    assert tables["stp"].members == ("stp+zero", "stp", "stp+pred")
    above, _, _ = paired("stp+zero", "stp")
    below, _, _ = paired("stp", "stp+pred")
    assert above > 0.05 > below
    assert tables["stp"].cell("stp+zero", "stp").test.p_value == pytest.approx(above)
    text = report.markdown
    assert "| `stp+zero` | — | ~~" + format_p(above) + "~~ |" in text  # rendered struck through
    assert "| `stp` | — | — | " + format_p(below) + " |" in text


def test_p_table_is_one_rule_for_every_matrix(ablation):
    """The matrix of every method and Tables 4-5 are the same `p_table`: same cells for the same pair."""
    _, report, cells = ablation
    (setting,) = {setting for _, setting in cells}
    ((_, every),) = report.data.tasks[0].all_methods
    (layout,) = report.data.tasks[0].families
    table5 = dict(layout.table5)["stp"]
    for row, column in (("stp+zero", "stp"), ("stp", "stp+pred"), ("stp+pred", "stp+zero")):
        assert (
            every.cell(row, column)
            == table5.cell(row, column)
            == p_table("synth", "exact", setting, cells, [row, column]).cell(row, column)
        )


def test_a_cell_on_fewer_than_two_pairs_says_so(tmp_path):
    for seed, (plain, pred) in zip(SEEDS, ((125, 130), (127, None), (124, None))):
        write_run(tmp_path / f"two-view-{seed}", method="two-view", seed=seed, exact_hits=plain, family="two-view")
        if pred is None:
            write_failed(tmp_path / f"two-view+pred-{seed}", method="two-view+pred", seed=seed)
        else:
            write_run(tmp_path / f"two-view+pred-{seed}", method="two-view+pred", seed=seed, exact_hits=pred, family="two-view")
    report = write_report(tmp_path)
    (layout,) = report.data.tasks[0].families
    assert layout.table4 is None and layout.families == ["two-view"]
    ((_, table5),) = layout.table5
    cell = table5.cell("two-view+pred", "two-view")
    assert cell.filled and cell.test.n == 1 and cell.test.p_value is None  # 0.650 against 0.625 on seed 82
    assert cell.left_out == ("seed 23 (two-view+pred: failed)", "seed 37 (two-view+pred: failed)")
    assert "| `two-view+pred` | — | n<2 |" in report.markdown
    assert "Table 4 needs two families besides `ntp`; here: `two-view`." in report.markdown
    assert "no baseline (`ntp`) ran here" in report.markdown


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
    data = compute_report(tmp_path)
    (layout,) = data.tasks[0].families
    assert {family: (variant.arm, round(variant.point.mean, 3)) for family, variant in layout.best.items()} == {
        "two-view": ("two-view λ=0.02", 0.68),
        "stp": ("stp λ=0.02", 0.66),
    }
    # the best variants differ by 4 hits on every seed: no spread, no test
    cell = layout.table4.cell("two-view λ=0.02", "stp λ=0.02")
    assert cell.filled and cell.test.p_value is None and "same amount" in cell.test.reason
    p = float(sps.ttest_rel([0.65, 0.69, 0.64], [0.625, 0.66, 0.615], alternative="greater").pvalue)  # stp at 0.02 vs 0.01
    assert dict(layout.table5)["stp"].cell("stp λ=0.02", "stp λ=0.01").test.p_value == pytest.approx(p)


