"""The run folder's contract (`run_folder.py`): its keys, atomic writes, records read or named as
unreadable, the status of a folder from its files alone, checkpoints, tidying a finished folder,
and failure records. Locks as the sweep takes them are in tests/experiments/test_locks.py."""

import json
import os
import socket
import subprocess
import sys

import pytest

from semantic_tube.run_folder import (
    CHECKPOINT_PREFIX,
    FAILED_FILE,
    LOCK_FILE,
    METRICS_FILE,
    STATE_FILE,
    LockInfo,
    Status,
    UnreadableRecord,
    checkpoint_step,
    checkpoints,
    examples_per_step,
    failure_record,
    final_key,
    folder_status,
    main_metric,
    newest_complete_checkpoint,
    pid_alive,
    read_json,
    read_lock,
    read_record,
    stp_form_series,
    task_key,
    tidy_finished,
    write_json_atomic,
    write_text_atomic,
    write_yaml_atomic,
)


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_lock(folder, pid: int, hostname: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    info = {"pid": pid, "hostname": hostname or socket.gethostname(), "started_at": "2026-01-01T00:00:00+00:00", "child_pid": None}
    (folder / LOCK_FILE).write_text(json.dumps(info))


def checkpoint(folder, step: int, state: str | None) -> None:
    (folder / f"{CHECKPOINT_PREFIX}{step}").mkdir(parents=True)
    if state is not None:
        (folder / f"{CHECKPOINT_PREFIX}{step}" / STATE_FILE).write_text(state)


# -------------------------------------------------------------------------------------------
# Keys


def test_keys_are_spelt_as_every_reader_expects():
    assert task_key("synth", "exact") == "task_synth/exact"
    assert final_key("stp_loss") == "final_stp_loss"
    assert stp_form_series("span") == "stp_span_loss"
    assert main_metric("synth") == "exact" and main_metric(None) is None and main_metric("no-such-task") is None
    assert examples_per_step({}) == 8 and examples_per_step({"per_device_train_batch_size": 4, "gradient_accumulation_steps": 8}) == 32


# -------------------------------------------------------------------------------------------
# Writing and reading records


def test_atomic_writes_leave_the_whole_record_and_no_temporary_file(tmp_path):
    write_json_atomic(tmp_path / "a" / "r.json", {"b": 1, "a": [2]})
    assert (tmp_path / "a" / "r.json").read_text() == '{\n  "a": [\n    2\n  ],\n  "b": 1\n}\n'  # sorted, indented, a newline
    write_text_atomic(tmp_path / "a" / "r.json", "over")
    assert (tmp_path / "a" / "r.json").read_text() == "over"
    write_yaml_atomic(tmp_path / "c.yaml", {"z": 1, "a": "x"})
    assert (tmp_path / "c.yaml").read_text() == "a: x\nz: 1\n"
    assert sorted(path.name for path in tmp_path.rglob("*")) == ["a", "c.yaml", "r.json"]


def test_a_failed_write_keeps_the_old_record_and_removes_its_temporary_file(tmp_path):
    write_text_atomic(tmp_path / "r.txt", "old")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(tmp_path / "r.txt", "\ud800")  # a lone surrogate: not encodable as UTF-8
    assert (tmp_path / "r.txt").read_text() == "old" and [path.name for path in tmp_path.iterdir()] == ["r.txt"]


def test_records_absent_read_as_none_and_damaged_ones_are_named(tmp_path):
    assert read_json(tmp_path / "absent.json") is None and read_record(tmp_path / "absent.json") is None
    (tmp_path / "half.json").write_text('{"seed": 8')
    with pytest.raises(UnreadableRecord, match=r"half\.json: not valid JSON"):
        read_record(tmp_path / "half.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    assert read_json(tmp_path / "list.json") == [1, 2]
    with pytest.raises(UnreadableRecord, match=r"list\.json: expected a JSON object, got list"):
        read_record(tmp_path / "list.json")
    (tmp_path / "latin.json").write_bytes(b'{"a": "caf\xe9"}')
    with pytest.raises(UnreadableRecord, match="not valid JSON"):
        read_json(tmp_path / "latin.json")


# -------------------------------------------------------------------------------------------
# Status


def test_status_follows_the_files_metrics_first(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    status, problem = folder_status(folder)
    assert status is Status.INCOMPLETE and "not started" in problem
    (folder / FAILED_FILE).write_text(json.dumps({"error": "ValueError: bad"}))
    assert folder_status(folder) == (Status.FAILED, "ValueError: bad")
    (folder / FAILED_FILE).write_text("{}")
    assert folder_status(folder) == (Status.FAILED, f"{FAILED_FILE} without an error message")
    (folder / METRICS_FILE).write_text("{}")  # metrics.json is written last: a failed.json beside it is stale
    assert folder_status(folder) == (Status.FINISHED, None)


def test_a_damaged_metrics_json_is_incomplete_and_a_damaged_failed_json_still_failed(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / METRICS_FILE).write_text('{"seed"')
    status, problem = folder_status(folder)
    assert status is Status.INCOMPLETE and str(folder / METRICS_FILE) in problem and "trained again" in problem
    (folder / FAILED_FILE).write_text("{")
    status, problem = folder_status(folder)
    assert status is Status.FAILED and str(folder / FAILED_FILE) in problem


def test_a_live_lock_is_running_a_stale_one_incomplete_another_hosts_running(tmp_path):
    write_lock(tmp_path / "live", os.getppid())
    write_lock(tmp_path / "stale", dead_pid())
    write_lock(tmp_path / "remote", dead_pid(), hostname="another-node")
    assert folder_status(tmp_path / "live") == (Status.RUNNING, f"locked by pid {os.getppid()} on {socket.gethostname()} since 2026-01-01T00:00:00+00:00")
    status, problem = folder_status(tmp_path / "stale")
    assert status is Status.INCOMPLETE and problem.startswith("stale lock (pid ") and "resumes on the next sweep" in problem
    assert folder_status(tmp_path / "remote")[0] is Status.RUNNING
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / LOCK_FILE).write_text("")
    status, problem = folder_status(tmp_path / "empty")
    assert status is Status.RUNNING and "lock being written" in problem


def test_lock_records_read_back_and_describe_their_holder(tmp_path):
    info = LockInfo(12, "node-1", "2026-01-01T00:00:00+00:00", child_pid=34)
    (tmp_path / LOCK_FILE).write_text(info.to_json())
    assert read_lock(tmp_path / LOCK_FILE) == info
    assert info.describe() == "pid 12 (stp train pid 34) on node-1 since 2026-01-01T00:00:00+00:00"
    assert not info.is_stale()  # another host's lock is never stale here
    (tmp_path / LOCK_FILE).write_text('{"pid": 1}')  # no hostname
    assert read_lock(tmp_path / LOCK_FILE) is None and read_lock(tmp_path / "absent") is None
    assert pid_alive(os.getpid()) and not pid_alive(dead_pid())


# -------------------------------------------------------------------------------------------
# Checkpoints and tidying


def test_checkpoints_in_step_order_and_the_newest_complete_one(tmp_path):
    checkpoint(tmp_path, 10, "{}")
    checkpoint(tmp_path, 5, "{}")
    checkpoint(tmp_path, 20, '{"global_st')  # killed while the Trainer wrote it
    checkpoint(tmp_path, 15, None)
    (tmp_path / "checkpoint-final").mkdir()  # not a step
    assert checkpoint_step(tmp_path / "checkpoint-15") == 15 and checkpoint_step(tmp_path / "checkpoint-final") is None
    assert [path.name for path in checkpoints(tmp_path)] == ["checkpoint-5", "checkpoint-10", "checkpoint-15", "checkpoint-20"]
    newest, skipped = newest_complete_checkpoint(tmp_path)
    assert newest == tmp_path / "checkpoint-10" and skipped == [tmp_path / "checkpoint-20", tmp_path / "checkpoint-15"]
    assert newest_complete_checkpoint(tmp_path / "none") == (None, [])


def test_tidying_a_finished_folder_removes_only_what_it_no_longer_needs(tmp_path):
    folder = tmp_path / "p"
    checkpoint(folder, 5, "{}")
    (folder / METRICS_FILE).write_text("{}")
    (folder / FAILED_FILE).write_text("{}")
    (folder / f".{METRICS_FILE}.abc.tmp").write_text("{")
    (folder / "model.safetensors").write_text("weights")
    write_lock(folder, dead_pid())
    removed = tidy_finished(folder)
    assert {path.name for path in removed} == {"checkpoint-5", FAILED_FILE, f".{METRICS_FILE}.abc.tmp", LOCK_FILE}
    assert sorted(path.name for path in folder.iterdir()) == [METRICS_FILE, "model.safetensors"]
    write_lock(folder, os.getppid())  # a live lock stays
    assert tidy_finished(folder) == [] and (folder / LOCK_FILE).exists()


# -------------------------------------------------------------------------------------------
# Failure records


def test_a_failure_record_names_the_error_on_one_line():
    try:
        raise ValueError("train.jsonl:3: messages: missing\nmore detail")
    except ValueError as error:
        record = failure_record(error)
    assert record["error"] == "ValueError: train.jsonl:3: messages: missing"
    assert (record["type"], record["message"]) == ("ValueError", "train.jsonl:3: messages: missing\nmore detail")
    assert record["traceback"].startswith("Traceback (most recent call last)") and record["finished_at"].endswith("+00:00")
    assert failure_record(KeyboardInterrupt())["error"] == "KeyboardInterrupt"
