"""Point locks: exclusive, released only by their holder, taken over when stale, respected while
their process (here or on another host) or its `stp train` child lives."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from semantic_tube.experiments.locks import LOCK_FILE, PointLock, acquire, read_lock


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_lock(folder: Path, pid: int, hostname: str | None = None, child_pid: int | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    info = {"pid": pid, "hostname": hostname or socket.gethostname(), "started_at": "2026-01-01T00:00:00+00:00", "child_pid": child_pid}
    (folder / LOCK_FILE).write_text(json.dumps(info))


def test_a_lock_is_exclusive_and_released_only_by_its_holder(tmp_path):
    lock = acquire(tmp_path / "p")
    assert isinstance(lock, PointLock) and read_lock(tmp_path / "p" / LOCK_FILE).pid == os.getpid()
    assert acquire(tmp_path / "p") is None  # our own live pid holds it
    lock.set_child(12345)
    assert read_lock(tmp_path / "p" / LOCK_FILE).child_pid == 12345
    lock.release()
    assert not (tmp_path / "p" / LOCK_FILE).exists()


def test_a_stale_lock_is_taken_over(tmp_path):
    write_lock(tmp_path / "p", dead_pid())
    assert read_lock(tmp_path / "p" / LOCK_FILE).is_stale(tmp_path / "p" / LOCK_FILE)
    lock = acquire(tmp_path / "p")
    assert isinstance(lock, PointLock) and read_lock(tmp_path / "p" / LOCK_FILE).pid == os.getpid()
    assert not (tmp_path / "p" / ".lock.takeover").exists()


def test_a_live_lock_another_hosts_lock_and_a_live_child_are_respected(tmp_path):
    write_lock(tmp_path / "live", os.getppid())
    write_lock(tmp_path / "remote", dead_pid(), hostname="another-node")
    write_lock(tmp_path / "orphan", dead_pid(), child_pid=os.getpid())  # the sweep died, its stp train still runs
    for name in ("live", "remote", "orphan"):
        assert acquire(tmp_path / name) is None, name
        assert not read_lock(tmp_path / name / LOCK_FILE).is_stale(tmp_path / name / LOCK_FILE)


def test_a_lock_left_by_an_earlier_process_with_our_pid_is_stale(tmp_path):
    """In a restarted container the sweep is PID 1 again: the lock names our pid, yet we do not hold it."""
    write_lock(tmp_path / "p", os.getpid())
    lock = acquire(tmp_path / "p")
    assert isinstance(lock, PointLock) and read_lock(tmp_path / "p" / LOCK_FILE).started_at != "2026-01-01T00:00:00+00:00"
    assert acquire(tmp_path / "p") is None  # now we hold it


def test_an_empty_lock_is_respected_until_its_writer_is_surely_gone(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / LOCK_FILE).write_text("")
    assert acquire(folder) is None
    os.utime(folder / LOCK_FILE, (0, 0))
    assert isinstance(acquire(folder), PointLock)

