"""One process per grid point: a `.lock` file in the point's folder, created atomically.

`O_CREAT | O_EXCL` makes creation atomic on a local disk and on NFS v3+, so of two processes (two
shards, or a user who started the sweep twice) exactly one gets it. The file's format and the
staleness rule are the run-folder contract's (`semantic_tube.run_folder`: `LockInfo`,
`read_lock`), so the sweep, the report and `folder_status` read a lock alike; this module takes,
updates and releases locks.

A stale lock (same host, neither its pid nor its child's alive: the sweep was killed by SIGKILL,
a crash, a reboot or a restarted container) is taken over by the next start, which resumes the
point. A lock from another host is respected, since no process here can tell whether that host is
still working: if that host is gone, delete the file (the sweep prints its path). A sweep stopped
by SIGTERM or Ctrl-C (Slurm's time limit, preemption) removes its own lock, so a requeued job on
another node resumes the point. A recycled pid can make a dead lock look alive; the same
deletion fixes it.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from semantic_tube.run_folder import (
    HELD_LOCKS,
    LOCK_FILE,
    TAKEOVER_FILE,
    UNREADABLE_GRACE_S,
    LockInfo,
    pid_alive,
    read_lock,
)

__all__ = ["LOCK_FILE", "TAKEOVER_FILE", "LockInfo", "PointLock", "acquire", "pid_alive", "read_lock"]


class PointLock:
    """A held lock; `release()` removes it only while it is still ours."""

    def __init__(self, path: Path, info: LockInfo):
        self.path, self.info = path, info
        HELD_LOCKS.add(path.resolve())

    def set_child(self, pid: int) -> None:
        """Record the `stp train` process: it may outlive us, and then the lock must not look stale."""
        self.info = replace(self.info, child_pid=pid)
        temporary = self.path.with_name(f"{LOCK_FILE}.{os.getpid()}.tmp")
        temporary.write_text(self.info.to_json())
        os.replace(temporary, self.path)  # atomic: the lock never disappears in between

    def release(self) -> None:
        holder = read_lock(self.path)
        if holder is not None and (holder.pid, holder.hostname, holder.started_at) == (self.info.pid, self.info.hostname, self.info.started_at):
            self.path.unlink(missing_ok=True)
        HELD_LOCKS.discard(self.path.resolve())


def acquire(folder: Path) -> PointLock | None:
    """The lock of `folder`, taking over a stale one; None while another process holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    path, info = folder / LOCK_FILE, LockInfo.mine()
    if _create(path, info):
        return PointLock(path, info)
    holder = read_lock(path)
    if holder is None:
        if _age_s(path) > UNREADABLE_GRACE_S and _take_over(path, None, info):
            return PointLock(path, info)
        return None
    if holder.is_stale(path) and _take_over(path, holder, info):
        return PointLock(path, info)
    return None


def _create(path: Path, info: LockInfo) -> bool:
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w") as handle:
        handle.write(info.to_json())
    return True


def _take_over(path: Path, stale: LockInfo | None, info: LockInfo) -> bool:
    """Replace a stale lock. Deleting and re-creating is two steps, so a second atomic file
    guards them: of two processes that both saw the stale lock, one takes it over and the other
    finds the new, live lock."""
    guard = path.with_name(TAKEOVER_FILE)
    if not _create(guard, info):
        left = read_lock(guard)
        if left is None or not left.is_stale(guard):
            return False
        guard.unlink(missing_ok=True)  # a takeover that died half-way: a window of microseconds
        if not _create(guard, info):
            return False
    try:
        if read_lock(path) != stale:
            return False  # someone else took it over in the meantime
        path.unlink(missing_ok=True)
        return _create(path, info)
    finally:
        guard.unlink(missing_ok=True)


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
