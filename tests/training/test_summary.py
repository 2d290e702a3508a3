"""What `stp train` prints when it ends (training/summary.py): every line read from the metrics
`train()` returned and the files the folder holds."""

import pytest

from semantic_tube.training.summary import format_duration, run_summary, task_tables

METRICS = {
    "train_runtime": 125.4, "train_examples": 48, "seed": 82, "method": "stp", "stp_lambda": 0.02,
    "final_ntp_loss": 0.5, "final_stp_loss": 0.25, "eval_ntp_loss": 0.75,
    "task_synth/count": 4, "task_synth/exact": 0.5, "task_synth/exact_hits": 2,
    "task_synth/exact_ci95_low": 0.15, "task_synth/exact_ci95_high": 0.85,
    "task_synthetic": 1.0,  # no task/metric key: not a table
}  # fmt: skip


@pytest.mark.parametrize(("seconds", "shown"), [(0, "0m 00s"), (59.6, "1m 00s"), (125.4, "2m 05s"), (3600, "1h 00m 00s"), (3725, "1h 02m 05s")])
def test_durations_are_minutes_and_seconds_with_hours_when_there_are_any(seconds, shown):
    assert format_duration(seconds) == shown


def test_one_table_per_task_scored_with_a_count():
    (table,) = task_tables(METRICS)
    assert table.splitlines()[0] == "task synth: 4 examples"
    assert "exact" in table and "[0.150, 0.850]" in table and "2/4" in table
    assert task_tables({"task_synth/exact": 0.5}) == []  # no count: nothing to show


def test_the_summary_says_what_ran_the_scores_the_losses_and_the_files_there(tmp_path):
    for name in ("metrics.json", "stp_config.yaml", "model.safetensors"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "eval" / "synth").mkdir(parents=True)
    (tmp_path / "eval" / "synth" / "eval.json").write_text("{}")
    metrics = {**METRICS, "cost/forward_passes_per_step": 1, "cost/step_time_vs_ntp": 1.034}
    lines = run_summary(metrics, tmp_path, elapsed_seconds=190).splitlines()
    assert lines[0] == "stp train: done in 3m 10s (2m 05s of training), 48 training examples, seed 82, method stp, stp_lambda 0.02"
    assert lines[1] == "task synth: 4 examples"
    assert "final losses: ntp 0.5000, stp 0.2500, held-out ntp 0.7500" in lines
    assert "cost: 1 forward pass(es) per step, step time 1.03 x NTP's on the same batches" in lines
    # trainer_state.json is absent, so it is not listed
    assert lines[-1] == f"output: {tmp_path}/  (metrics.json, stp_config.yaml, eval/synth/eval.json, model.safetensors)"


def test_a_run_with_nothing_logged_or_scored_says_so(tmp_path):
    text = run_summary({"seed": 1, "stp_lambda": 0.0}, tmp_path, elapsed_seconds=3)
    assert "no task scored (set eval_task to score one at the end)" in text
    assert "final losses: none logged (fewer steps than logging_steps?)" in text
    assert "(0m 00s of training), ? training examples, seed 1, method stp" in text and "cost:" not in text
    assert text.splitlines()[-1] == f"output: {tmp_path}/  ()"
