"""Treatment strength (issue 22) on fabricated run folders: a weak and a strong configuration, the
ones it cannot measure and why, the reference it is measured against, and strength along lambda.
Checked on the computed objects; the rendering only where it states the verdicts."""

from __future__ import annotations

import pytest

from semantic_tube.experiments import stats
from semantic_tube.experiments.report import compute_report
from semantic_tube.experiments.report import strength as st
from tests.experiments.report.lambda_runs import SEEDS, strength_of
from tests.experiments.report_fixtures import write_run


def test_a_weak_and_a_strong_treatment_by_the_rule(strength):
    data = strength.data
    weak, strong = strength_of(data, "weak"), strength_of(data, "strong")
    plain = [1.30, 1.32, 1.34]
    assert weak.reference == "ntp" and weak.series == weak.reference_series == "stp_loss" and weak.source == "final_"
    assert [seed for seed, _, _ in weak.pairs] == [23, 37, 82]
    assert weak.difference.mean == pytest.approx(-0.02) and weak.difference.std == pytest.approx(0.0, abs=1e-12)
    ratios = [(value - 0.02) / value for value in plain]
    assert weak.ratio.mean == pytest.approx(sum(ratios) / 3) and weak.ratio.std == pytest.approx(stats.summarize(ratios).std)
    assert weak.reduction == pytest.approx(1 - sum(ratios) / 3)
    assert weak.reduction < st.WEAK_REDUCTION and weak.weak is True
    assert strong.ratio.mean == pytest.approx(sum(0.9 / value for value in plain) / 3)
    assert strong.reduction > st.WEAK_REDUCTION and strong.weak is False


def test_what_cannot_be_measured_says_why(strength):
    data = strength.data
    assert "form zero" in strength_of(data, "stp+zero").reason and "logged STP in form tube only" in strength_of(data, "stp+zero").reason
    assert "predictor linear against identity" in strength_of(data, "stp+pred").reason
    assert "`mask_loss`" in strength_of(data, "mask").reason
    assert {found.label for found in data.strength} == {"weak", "strong", "stp+zero", "stp+pred", "mask"}  # ntp is the reference
    assert all(found.weak is None for found in data.strength if found.label not in ("weak", "strong"))


def test_the_report_states_the_rule_and_flags_the_weak_comparison(strength):
    text = strength.markdown
    section = text.split("## Treatment strength")[1].split("\n## ")[0]
    assert "less than 10% below the reference's" in section
    row = next(line for line in section.splitlines() if line.startswith("| weak |"))
    assert "**weak**: 1.5% below" in row
    reduction = 1 - sum(0.9 / value for value in (1.30, 1.32, 1.34)) / 3  # 31.8%
    assert f"strong: {reduction:.1%} below" in next(line for line in section.splitlines() if line.startswith("| strong |"))
    verdict = next(line for line in text.splitlines() if line.startswith("- `weak` vs `ntp`"))
    assert verdict.endswith("At this treatment (trained STP 1.5% below `ntp`'s: weak) no effect was to be expected.")
    assert "no effect was to be expected" not in next(line for line in text.splitlines() if line.startswith("- `strong` vs `ntp`"))


def test_the_reference_is_the_plain_run_that_saw_as_many_examples(tmp_path):
    """As sweeps/signal_quick.yaml: stp-steps400 against ntp-steps400, stp at 50 steps against ntp."""
    for seed in SEEDS:
        write_run(tmp_path / f"ntp-{seed}", method="ntp", seed=seed, family="ntp")
        write_run(tmp_path / f"ntp400-{seed}", method="ntp-steps400", seed=seed, family="ntp", steps=100, stp_end=1.2)
        write_run(tmp_path / f"stp-{seed}", method="stp", seed=seed, family="stp", stp_end=1.0)
        write_run(tmp_path / f"stp400-{seed}", method="stp-steps400", seed=seed, family="stp", steps=100, stp_end=1.0)
    data = compute_report(tmp_path)
    assert (strength_of(data, "stp").reference, strength_of(data, "stp").same_length) == ("ntp", True)
    longer = strength_of(data, "stp-steps400")
    assert (longer.reference, longer.same_length) == ("ntp-steps400", True)
    assert longer.ratio.mean == pytest.approx(1.0 / 1.2)


def test_the_measurement_after_training_is_preferred_where_both_sides_have_it(tmp_path):
    for seed in SEEDS:
        write_run(tmp_path / f"ntp-{seed}", method="ntp", seed=seed, family="ntp", extra_metrics={"treatment/trained_stp_loss": 1.25})
        write_run(tmp_path / f"stp-{seed}", method="stp", seed=seed, family="stp", extra_metrics={"treatment/trained_stp_loss": 1.0})
    found = strength_of(compute_report(tmp_path), "stp")
    assert found.source == "treatment/trained_" and found.ratio.mean == pytest.approx(0.8) and found.weak is False


def test_a_plain_run_without_logged_stp_leaves_strength_unmeasured(tmp_path):
    for seed in SEEDS:
        write_run(tmp_path / f"ntp-{seed}", method="ntp", seed=seed, family="ntp")
        write_run(tmp_path / f"stp-{seed}", method="stp", seed=seed, family="stp")
    for path in tmp_path.glob("ntp-*/metrics.json"):  # lambda 0 without stp_log_when_off: no STP logged
        path.write_text(path.read_text().replace('"final_stp_loss"', '"final_unlogged"'))
    found = strength_of(compute_report(tmp_path), "stp")
    assert found.weak is None and "logged no STP" in found.reason


def test_strength_along_lambda(swept):
    """Trained tube STP against ntp's logged 1.3: 1.2 is 7.7% below (weak), 0.97 is 25% below."""
    by_lambda = {found.label: found for found in swept.data.strength}
    assert by_lambda["stp λ=0.003"].weak is True and by_lambda["stp λ=0.1"].weak is False
    assert by_lambda["stp λ=0.003"].series == "stp_tube_loss" and by_lambda["stp λ=0.1"].ratio.mean == pytest.approx(
        sum((0.97 + 0.01 * (index - 1)) / 1.3 for index in range(3)) / 3
    )


def test_the_gap_bypass_is_part_of_the_quantity_in_old_and_new_configs(tmp_path):
    """stp_gap=none (straight across the template gap) is another STP than plain fine-tuning's
    default; an older config's stp_skip_gap=false is the same as stp_gap=none."""
    for seed in SEEDS:
        write_run(tmp_path / f"ntp-{seed}", method="ntp", seed=seed, family="ntp", extra_config={"stp_skip_gap": False})
        write_run(tmp_path / f"gap-{seed}", method="stp", seed=seed, family="stp", extra_config={"stp_gap": "none"})
        write_run(tmp_path / f"bypass-{seed}", method="stp+bypass", seed=seed, family="stp", extra_config={"stp_gap": "answer_start"})
    data = compute_report(tmp_path)
    assert strength_of(data, "stp").weak is not None  # none against skip false: the same quantity
    assert "gap_origin answer_start against None" in strength_of(data, "stp+bypass").reason
    run = next(run for run in data.runs if run.point_id.startswith("gap-"))
    assert st.gap_origin(run, "span") is None and st.gap_origin(run, "tube") is None
    bypass = next(run for run in data.runs if run.point_id.startswith("bypass-"))
    assert st.gap_origin(bypass, "span") == "before_answer" and st.gap_origin(bypass, "tube") == "answer_start"
