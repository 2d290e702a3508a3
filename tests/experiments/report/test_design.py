"""How runs group into a design (`report.design`): arms (a method at several lambdas split by
lambda), varying and constant setting keys, the baseline, cells in display order."""

import pytest

from semantic_tube.experiments.report import ReportError, cells_of, design_of
from semantic_tube.experiments.report import design as ds
from semantic_tube.experiments.runs import read_runs
from tests.experiments.report_fixtures import write_failed, write_run


@pytest.fixture
def runs(tmp_path):
    """ntp (lambda 0) and stp at lambdas 0.01 and 0.02, at fractions 1 and 1/4, seed 82."""
    for fraction in (1.0, 0.25):
        write_run(tmp_path / f"ntp-{fraction}", method="ntp", seed=82, fraction=fraction, exact_hits=100)
        for stp_lambda in (0.01, 0.02):
            write_run(tmp_path / f"stp-{stp_lambda}-{fraction}", method="stp", seed=82, fraction=fraction, stp_lambda=stp_lambda, exact_hits=110)
    return read_runs(tmp_path)


def test_a_method_at_several_lambdas_is_split_and_the_lambda_0_arm_is_the_baseline(runs):
    design = design_of(runs)
    assert design.split_lambda == frozenset({"stp"})
    assert design.arms == ("ntp", "stp λ=0.01", "stp λ=0.02") and design.baseline == "ntp"
    assert design.varying == ("train_fraction",) and design.constant == {}
    assert design.label("stp λ=0.02", (("train_fraction", 0.25),)) == "stp λ=0.02, train_fraction=1/4"
    assert design.setting_label(()) == "all runs"


def test_the_baseline_named_or_an_error_naming_the_methods(runs):
    assert design_of(runs, baseline="stp λ=0.01", explicit=True).arms[0] == "stp λ=0.01"
    with pytest.raises(ReportError, match="--baseline jepa: no such method; methods in these runs: ntp, stp λ=0.01, stp λ=0.02"):
        design_of(runs, baseline="jepa", explicit=True)
    stp_only = [run for run in runs if run.method == "stp"]
    assert design_of(stp_only).baseline is None  # no lambda-0 arm, and the default name is not there


def test_cells_run_from_the_full_data_down_baseline_first_failed_runs_kept(runs, tmp_path):
    design = design_of(runs)
    cells = cells_of(runs, design)
    assert [(arm, dict(setting)["train_fraction"]) for arm, setting in cells] == [
        ("ntp", 1.0), ("stp λ=0.01", 1.0), ("stp λ=0.02", 1.0), ("ntp", 0.25), ("stp λ=0.01", 0.25), ("stp λ=0.02", 0.25),
    ]  # fmt: skip
    assert ds.largest_fraction(cells) == 1.0
    # a failed point records no lambda (no stp_config.yaml): the plain `stp` arm, sorted as lambda 0, with a cell of its own
    write_failed(tmp_path / "stp-failed", method="stp", seed=23, fraction=0.25)
    with_failed = read_runs(tmp_path)
    design = design_of(with_failed)
    assert design.arms == ("ntp", "stp", "stp λ=0.01", "stp λ=0.02")
    assert [run.point_id for run in cells_of(with_failed, design)[("stp", (("train_fraction", 0.25),))]] == ["stp-failed"]
    assert len(ds.finished(with_failed)) == 6 and len(with_failed) == 7


def test_coordinates_seeds_and_families_as_the_report_shows_them():
    assert ds.show("train_fraction", 0.0625) == "1/16" and ds.show("train_fraction", 1) == "1"
    assert ds.show("stp_lambda", 0.020) == "0.02" and ds.show("data_rule", "epochs") == "epochs"
    assert sorted([23, 4, "x", 82], key=ds.seed_order) == [4, 23, 82, "x"]
    assert ds.rest_of((("data_rule", "epochs"), ("train_fraction", 0.5))) == (("data_rule", "epochs"),)
