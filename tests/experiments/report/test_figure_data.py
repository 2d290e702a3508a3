"""What each figure shows (`report.figure_data`): series titles, mean curves over the steps every
run logged, and the panels a configuration's Figure 4a curve is expected to fill."""

import pytest

from semantic_tube.experiments.report import figure_data as fd
from semantic_tube.experiments.runs import read_runs
from semantic_tube.run_folder import examples_per_step
from tests.experiments.report_fixtures import write_run


def test_series_titles_and_colours():
    assert fd.series_title("ntp_loss") == "NTP loss" and fd.series_title("jepa_loss") == "LLM-JEPA loss"
    assert fd.series_title("stp_span_loss") == "STP loss, span form" and fd.series_title("stp_loss") == "STP loss"
    assert fd.series_title("other") == "other"
    assert (fd.colour(0), fd.colour(12)) == ("C0", "C2")


def test_a_mean_curve_keeps_the_steps_every_run_logged(tmp_path):
    """Run a logs 10..50, run b 10..30 (steps=30): the mean over steps 10, 20, 30. At step 10, a's
    NTP is 0.2 + 40/50 = 1.0 and b's 0.2 + 20/30 (log_history: final + steps left / steps)."""
    write_run(tmp_path / "a", method="ntp", seed=0, ntp_end=0.2, sweep=False)
    write_run(tmp_path / "b", method="ntp", seed=0, ntp_end=0.2, steps=30, sweep=False)
    steps, means = fd.mean_curve(read_runs(tmp_path), "ntp_loss")
    assert steps == (10, 20, 30)
    assert means[0] == pytest.approx((1.0 + 0.2 + 20 / 30) / 2) and means[2] == pytest.approx((0.2 + 20 / 50 + 0.2) / 2)
    assert fd.mean_curve(read_runs(tmp_path), "absent_loss") == ((), ())


def test_loss_series_are_the_logged_forms_else_the_methods_own(tmp_path):
    write_run(tmp_path / "forms" / "a", method="stp", seed=0, family="stp", forms={"tube": 1.0, "span": 0.8}, sweep=False)
    write_run(tmp_path / "mask" / "a", method="mask", seed=0, family="mask", sweep=False)
    write_run(tmp_path / "old" / "a", method="stp", seed=0, sweep=False)  # no family recorded, no forms
    assert fd.loss_series(read_runs(tmp_path / "forms")) == [("stp_span_loss", "stp_span_loss"), ("stp_tube_loss", "stp_tube_loss")]
    assert fd.loss_series(read_runs(tmp_path / "mask")) == [("mask_loss", "mask_loss")]
    assert fd.loss_series(read_runs(tmp_path / "old")) == [("stp_loss", "stp_loss")]  # the family falls back to the lambda


def test_curves_of_different_examples_per_step_are_drawn_against_examples_seen(tmp_path):
    """Batch 8 for 30 steps against 8 x 4 accumulated for 30 steps: the second's step 10 is 320 examples."""
    write_run(tmp_path / "small", method="ntp", seed=0, steps=30, extra_config={"per_device_train_batch_size": 8}, sweep=False)
    write_run(
        tmp_path / "large", method="stp", seed=0, steps=30,
        extra_config={"per_device_train_batch_size": 8, "gradient_accumulation_steps": 4}, sweep=False,
    )
    small, large = sorted(read_runs(tmp_path), key=lambda run: run.folder.name, reverse=True)
    assert (examples_per_step(small.config), examples_per_step(large.config)) == (8, 32)
    curves = [fd.loss_curve("small", [small]), fd.loss_curve("large", [large])]
    alike = fd.curve_figure(curves, [8, 8])
    assert alike.x_axis == fd.STEP_AXIS and alike.curves[1].series["ntp_loss"][0] == (10, 20, 30)
    mixed = fd.curve_figure(curves, [8, 32])
    assert mixed.x_axis == fd.EXAMPLES_AXIS
    assert mixed.curves[0].series["ntp_loss"][0] == (80, 160, 240) and mixed.curves[1].series["ntp_loss"][0] == (320, 640, 960)
    assert mixed.curves[1].series["ntp_loss"][1] == curves[1].series["ntp_loss"][1]  # the values are untouched
