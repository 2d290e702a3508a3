"""One sweep point: how a run that died without a record is named, and a checkpoint killed
mid-save removed before resuming. The end-to-end runs are in tests/experiments/test_sweep.py."""

from semantic_tube.experiments.sweep import ended_how, remove_incomplete_checkpoints

# Failures: stp train records its own (tests/experiments/test_sweep.py); the sweep names a silent death


def test_a_run_that_died_without_a_record_is_named_by_how_it_ended():
    assert ended_how(-9).startswith("stp train killed by SIGKILL (the kernel's out-of-memory killer")
    assert ended_how(-15) == "stp train killed by SIGTERM"
    assert ended_how(0) == "stp train exited normally but wrote no metrics.json"
    assert ended_how(1).startswith("stp train exited with code 1 without writing failed.json")


def test_a_checkpoint_killed_mid_save_is_removed_before_resuming(tmp_path):
    """The Trainer writes trainer_state.json last: a checkpoint without it would be picked by
    `resume_from_checkpoint: last` and fail the resume."""
    for step, complete in ((5, True), (10, False)):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "model.safetensors").write_text("x")
        if complete:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert remove_incomplete_checkpoints(tmp_path) == [tmp_path / "checkpoint-10"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-5"]

