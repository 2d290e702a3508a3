"""The run-folder reader: sweep points and plain `stp train` folders, every status, bad folders."""

import json
import socket
import subprocess
import sys

import pytest
import yaml

from semantic_tube.experiments.runs import (
    FAILED,
    FINISHED,
    INCOMPLETE,
    RUNNING,
    UNREADABLE,
    RunFolderError,
    find_run_folders,
    read_run,
    read_runs,
)
from tests.experiments.report_fixtures import write_failed, write_point, write_run


def by_id(runs):
    return {run.point_id: run for run in runs}


def test_sweep_point_coordinates_come_from_sweep_point_json(tmp_path):
    write_run(tmp_path / "stp-82", method="stp", seed=82, fraction=0.5, exact_hits=120, extra_coordinates={"data_rule": "epochs"})
    (run,) = read_runs(tmp_path)
    assert run.status == FINISHED and run.problem is None
    assert run.coordinates == {"method": "stp", "seed": 82, "train_fraction": 0.5, "data_rule": "epochs"}
    assert (run.method, run.seed, run.stp_lambda) == ("stp", 82, 0.02)
    assert run.metrics["task_synth/exact"] == 0.6
    assert run.global_step == 50 and run.log_history[0]["ntp_loss"] == pytest.approx(
        0.205 + 0.8
    )  # final 0.2 + 0.001 * (82 % 7), 40 of 50 steps left
    assert run.point["commit"] == "0123abc"


def test_plain_train_folder_gets_method_from_lambda_and_coordinates_from_its_config(tmp_path):
    write_run(tmp_path / "ntp-82", method="ntp", seed=82, exact_hits=100, sweep=False)
    write_run(tmp_path / "stp-82", method="stp", seed=82, exact_hits=110, sweep=False)
    runs = by_id(read_runs(tmp_path))
    assert runs["ntp-82"].method == "ntp" and runs["stp-82"].method == "stp"
    coordinates = runs["ntp-82"].coordinates
    assert coordinates["seed"] == 82 and coordinates["stp_lambda"] == 0.0 and coordinates["train_fraction"] == 1.0
    assert "train_file" not in coordinates and "output_dir" not in coordinates  # paths differ per run


def test_a_single_train_folder_is_read_as_one_run(tmp_path):
    write_run(tmp_path, method="stp", seed=4, exact_hits=10, sweep=False)
    (run,) = read_runs(tmp_path)
    assert run.folder == tmp_path and run.seed == 4


def test_run_folders_one_level_deeper_are_found(tmp_path):
    write_run(tmp_path / "group-a" / "p1", method="ntp", seed=82, exact_hits=10)
    write_run(tmp_path / "p2", method="stp", seed=82, exact_hits=10)
    (tmp_path / "notes").mkdir()
    assert find_run_folders(tmp_path) == [tmp_path / "group-a" / "p1", tmp_path / "p2"]


def test_failed_point_carries_its_error_and_config_from_sweep_config(tmp_path):
    folder = write_failed(tmp_path / "p", method="stp", seed=23, error="ValueError: max_length cuts the answer")
    (folder / "sweep_config.yaml").write_text(yaml.safe_dump({"stp_lambda": 0.04, "seed": 23}))
    (run,) = read_runs(tmp_path)
    assert run.status == FAILED and run.problem == "ValueError: max_length cuts the answer"
    assert run.stp_lambda == 0.04 and run.metrics == {}


def test_lock_of_a_live_process_is_running(tmp_path):
    """Another live process holds it (a lock naming this very process, which does not hold it, is
    an earlier life's: see experiments.locks)."""
    write_point(tmp_path / "p", method="stp", seed=82)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = {"pid": holder.pid, "hostname": socket.gethostname(), "started_at": "2025-01-01T00:00:00+00:00", "child_pid": None}
        (tmp_path / "p" / ".lock").write_text(json.dumps(lock))
        run = read_run(tmp_path / "p")
    finally:
        holder.kill()
        holder.wait()
    assert run.status == RUNNING and f"pid {holder.pid}" in run.problem


def test_lock_of_a_dead_process_on_this_host_is_an_interrupted_point(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    write_point(tmp_path / "p", method="stp", seed=82)
    lock = {"pid": int(dead.stdout), "hostname": socket.gethostname(), "started_at": "2025-01-01T00:00:00+00:00", "child_pid": None}
    (tmp_path / "p" / ".lock").write_text(json.dumps(lock))
    run = read_run(tmp_path / "p")
    assert run.status == INCOMPLETE and "stale lock" in run.problem


def test_point_without_result_error_or_lock_is_incomplete(tmp_path):
    write_point(tmp_path / "p", method="ntp", seed=4)
    run = read_run(tmp_path / "p")
    assert run.status == INCOMPLETE and "interrupted, or not started" in run.problem
    assert run.coordinates["method"] == "ntp" and run.seed == 4


def test_metrics_json_wins_over_a_leftover_failed_json(tmp_path):
    folder = write_run(tmp_path / "p", method="stp", seed=82, exact_hits=10)
    (folder / "failed.json").write_text(json.dumps({"error": "old attempt"}))
    assert read_run(folder).status == FINISHED


def test_a_damaged_metrics_json_is_not_finished_and_names_the_file(tmp_path):
    """A half-written metrics.json (a run killed while an older version wrote it) must not count
    as finished: the point is incomplete, to be trained again, and the problem names the file."""
    write_run(tmp_path / "good", method="stp", seed=82, exact_hits=10)
    bad = write_run(tmp_path / "bad", method="stp", seed=23, exact_hits=10)
    (bad / "metrics.json").write_text('{"final_ntp_loss": 0.2, "task_synth/ex')
    runs = by_id(read_runs(tmp_path))
    assert runs["good"].status == FINISHED
    assert runs["bad"].status == INCOMPLETE and str(bad / "metrics.json") in runs["bad"].problem
    assert runs["bad"].metrics == {} and runs["bad"].seed == 23  # the rest of the folder is read


def test_another_unparsable_record_makes_an_unreadable_run_naming_it(tmp_path):
    bad = write_run(tmp_path / "bad", method="stp", seed=23, exact_hits=10)
    (bad / "stp_config.yaml").write_text("seed: [82\n")
    (run,) = read_runs(tmp_path)
    assert run.status == UNREADABLE and str(bad / "stp_config.yaml") in run.problem


def test_provenance_comes_from_provenance_json_else_from_sweep_point_json(tmp_path):
    write_run(tmp_path / "swept", method="stp", seed=82, exact_hits=10)
    plain = write_run(tmp_path / "plain", method="stp", seed=23, exact_hits=10, sweep=False)
    record = {"command": "stp train --config c.yaml", "commit": "feed", "versions": {"torch": "2.9"}, "started_at": "2026-01-01T00:00:00+00:00"}
    (plain / "provenance.json").write_text(json.dumps(record))
    runs = by_id(read_runs(tmp_path))
    assert runs["plain"].provenance == record
    assert runs["swept"].provenance["commit"] == "0123abc" and "versions" in runs["swept"].provenance


def test_folder_without_runs_or_missing_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunFolderError, match="no run folders"):
        read_runs(tmp_path / "empty")
    with pytest.raises(RunFolderError, match="no such folder"):
        read_runs(tmp_path / "absent")


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


