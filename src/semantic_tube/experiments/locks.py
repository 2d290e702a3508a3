"""One process per grid point: a `.lock` file in the point's folder, created atomically.

The lock is JSON: {"pid", "hostname", "started_at", "child_pid"} (child_pid: the `stp train`
process, once started). `O_CREAT | O_EXCL` makes creation atomic on a local disk and on NFS v3+,
so of two processes (two shards, or a user who started the sweep twice) exactly one gets it.

A lock is stale when its host is this host and neither its pid nor its child's is alive: the
sweep was killed (SIGKILL, a crash, a reboot, a restarted container) and the next start takes the
point over and resumes it. A lock from another host is respected, since no process here can tell whether that host is
still working: if that host is gone, delete the file (the sweep prints its path). A sweep stopped
by SIGTERM or Ctrl-C (Slurm's time limit, preemption) removes its own lock, so a requeued job on
another node resumes the point. A recycled pid can make a dead lock look alive; the same
deletion fixes it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

LOCK_FILE = ".lock"
TAKEOVER_FILE = ".lock.takeover"
UNREADABLE_GRACE_S = 60  # a lock still empty after this long was left by a writer that died mid-write
_HELD: set[Path] = set()  # the locks this process holds


@dataclass(frozen=True)
class LockInfo:
    pid: int
    hostname: str
    started_at: str
    child_pid: int | None = None

    @classmethod
    def mine(cls) -> LockInfo:
        return cls(os.getpid(), socket.gethostname(), datetime.now(UTC).isoformat(timespec="seconds"))

    def is_stale(self, path: Path | None = None) -> bool:
        """Same host, and no process of the lock is alive. A lock naming this very process that
        this process does not hold (at `path`; a reader holds none) was left by an earlier one
        with the same pid: a restarted container, where the sweep is PID 1 every time."""
        if self.hostname != socket.gethostname():
            return False
        earlier_life = self.pid == os.getpid() and (path is None or path.resolve() not in _HELD)
        pids = (self.child_pid,) if earlier_life else (self.pid, self.child_pid)
        return not any(pid_alive(pid) for pid in pids if pid)

    def describe(self) -> str:
        child = f" (stp train pid {self.child_pid})" if self.child_pid else ""
        return f"pid {self.pid}{child} on {self.hostname} since {self.started_at}"


def pid_alive(pid: int) -> bool:
    """Whether the process runs; a zombie (killed, not yet reaped by its parent) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):  # no /proc (macOS): a signal-0 answer is all there is
        return True
    return state not in ("Z", "X")


def read_lock(path: Path) -> LockInfo | None:
    """The holder, or None while the file is being written (or was left empty)."""
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
        return LockInfo(int(fields["pid"]), str(fields["hostname"]), str(fields["started_at"]), fields.get("child_pid"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class PointLock:
    """A held lock; `release()` removes it only while it is still ours."""

    def __init__(self, path: Path, info: LockInfo):
        self.path, self.info = path, info
        _HELD.add(path.resolve())

    def set_child(self, pid: int) -> None:
        """Record the `stp train` process: it may outlive us, and then the lock must not look stale."""
        self.info = LockInfo(self.info.pid, self.info.hostname, self.info.started_at, pid)
        temporary = self.path.with_name(f"{LOCK_FILE}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(asdict(self.info)))
        os.replace(temporary, self.path)  # atomic: the lock never disappears in between

    def release(self) -> None:
        holder = read_lock(self.path)
        if holder is not None and (holder.pid, holder.hostname, holder.started_at) == (self.info.pid, self.info.hostname, self.info.started_at):
            self.path.unlink(missing_ok=True)
        _HELD.discard(self.path.resolve())


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
        handle.write(json.dumps(asdict(info)))
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
