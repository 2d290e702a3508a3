"""The whole grid: the points of one shard in turn, progress lines, the dry run's plan, and the
folder's summary (sweep_state.json and the closing table).

A worker never stays on a point another process holds: it goes on with its own, then comes
back to each point it skipped as locked. One whose lock went stale (its holder died) it trains
itself; while the holder is a live process on this host it waits (polling), since it can see that
process end; a lock from another host it cannot judge, so that point is left. The exit status
says whether the shard is complete: 0 only when every one of its points is finished.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TextIO

from semantic_tube.experiments.grid import Point, Sweep, combinations, expand
from semantic_tube.experiments.shards import ALL, Shard
from semantic_tube.experiments.sweep.check import CheckedSweep, check_folder, check_sweep
from semantic_tube.experiments.sweep.point import Outcome, point_seconds, read_score, run_point
from semantic_tube.experiments.sweep.timing import TimeModel, duration, estimate_steps, launcher_processes
from semantic_tube.run_folder import (
    LOCK_FILE,
    LOG_FILE,
    POINT_STATUSES,
    SWEEP_FILE,
    SWEEP_STATE_FILE,
    Status,
    folder_status,
    now,
    provenance,
    read_lock,
    tidy_finished,
    write_json_atomic,
)

POLL_S = 30.0  # how often a worker looks again at a point another live process on this host holds


class SweepRunner:
    """Runs points of one sweep into one folder and reports progress on `stream`."""

    def __init__(
        self,
        sweep: Sweep,
        points: list[Point],
        out: Path,
        stream: TextIO | None = None,
        forward_passes: dict[str, int] | None = None,
        poll_s: float | None = None,
    ):
        self.sweep, self.points, self.out = sweep, points, Path(out)
        self.forward_passes = forward_passes or {}  # point id -> forward passes per step (1 when absent)
        self.stream = stream or sys.stdout  # looked up now, not at import: a redirected stdout counts
        self.poll_s = POLL_S if poll_s is None else poll_s
        self.provenance = provenance()

    def folder(self, point: Point) -> Path:
        return self.out / point.point_id

    def prepare(self) -> None:
        """Create the folder with its sweep.yaml (atomically: shards may start together)."""
        self.out.mkdir(parents=True, exist_ok=True)
        copy = self.out / SWEEP_FILE
        if not copy.exists():
            temporary = self.out / f".{SWEEP_FILE}.{os.getpid()}.tmp"
            temporary.write_text(self.sweep.text, encoding="utf-8")
            try:
                os.link(temporary, copy)
            except FileExistsError:
                pass  # another shard wrote it first; check_folder compares it
            finally:
                temporary.unlink()
        check_folder(self.sweep, self.points, self.out)
        self.write_state()

    def statuses(self) -> dict[str, tuple[Status, str | None]]:
        return {point.point_id: folder_status(self.folder(point)) for point in self.points}

    def status(self, point: Point) -> Status:
        return folder_status(self.folder(point))[0]

    def tidy(self, points: list[Point]) -> None:
        """Finished points a killed sweep left untidy (checkpoints, a stale lock): cleaned up."""
        for point in points:
            folder = self.folder(point)
            if self.status(point) is Status.FINISHED and not _live_lock(folder):
                removed = tidy_finished(folder)
                if removed:
                    self.say(f"tidy   {point.point_id}: finished; removed {', '.join(path.name for path in removed)}")

    def run(self, points: list[Point]) -> list[Outcome]:
        """Each unfinished point in turn, then the ones skipped as locked (see the module's
        docstring); a failure is recorded and the next point runs. One outcome per point run or
        left, the last one for a point tried twice."""
        self.tidy(points)
        todo = [point for point in points if self.status(point) is not Status.FINISHED]
        self.say(f"sweep {self.sweep.name}: {len(points) - len(todo)} of {len(points)} points already finished; {len(todo)} to run into {self.out}")
        outcomes: dict[str, Outcome] = {}
        with _sigterm_as_exit():
            for number, point in enumerate(todo, 1):
                tag = f"[{number}/{len(todo)}] {point.point_id}"
                outcomes[point.point_id] = self._run_one(point, tag, todo[number:])
            skipped = [point for point in todo if outcomes[point.point_id].status is Status.RUNNING]
            for outcome in self.revisit(skipped):
                outcomes[outcome.point.point_id] = outcome
        return list(outcomes.values())

    def _run_one(self, point: Point, tag: str, left_here: list[Point]) -> Outcome:
        self.say(f"start  {tag}")
        outcome = run_point(self.sweep, point, self.folder(point), self.provenance)
        self.say(self._outcome_line(tag, outcome))
        self.write_state()
        self.say(self.progress_line(left_here))
        return outcome

    def revisit(self, skipped: list[Point]) -> list[Outcome]:
        """Back to the points skipped as locked: train each whose holder is gone, wait while a
        live process on this host holds one, leave those another host holds."""
        outcomes, waiting, announced = [], list(skipped), False
        while waiting:
            still = []
            for point in waiting:
                folder = self.folder(point)
                status, problem = folder_status(folder)
                if status in (Status.FINISHED, Status.FAILED):  # its holder ended it
                    outcomes.append(Outcome(point, status, message=problem))
                    continue
                holder = read_lock(folder / LOCK_FILE)
                if status is Status.RUNNING and holder is not None and not holder.on_this_host:
                    self.say(f"left   {point.point_id}: {problem}; this process cannot tell whether that host still works")
                    outcomes.append(Outcome(point, Status.RUNNING, message=problem))
                    continue
                if status is Status.INCOMPLETE or holder is None:  # stale, released unfinished, or an empty lock
                    self.say(f"back to {point.point_id}: {problem}")
                    outcome = self._run_one(point, f"[again] {point.point_id}", [])
                    if outcome.status is not Status.RUNNING:
                        outcomes.append(outcome)
                        continue
                still.append(point)
            if still:
                if not announced:
                    self.say(f"wait   for {len(still)} point(s) other processes on this host hold: {', '.join(p.point_id for p in still)}")
                    announced = True
                time.sleep(self.poll_s)
            waiting = still
        return outcomes

    def _outcome_line(self, tag: str, outcome: Outcome) -> str:
        folder = self.folder(outcome.point)
        if outcome.status is Status.FINISHED and outcome.seconds is not None:
            score = read_score(folder, outcome.point.config)
            return f"done   {tag}: {score or 'no task score'} in {duration(outcome.seconds)}"
        if outcome.status is Status.FAILED:
            return f"FAILED {tag} after {duration(outcome.seconds)}: {outcome.message} (log: {folder / LOG_FILE})"
        return f"skip   {tag}: {outcome.message}"

    def progress_line(self, left_here: list[Point]) -> str:
        counts = Counter(status for status, _ in self.statuses().values())
        times = TimeModel.of(self.points, self.out, self.forward_passes, launcher_processes(self.sweep.launcher))
        seconds = [times.seconds(point) for point in left_here]
        known = times.finished and left_here and None not in seconds
        eta = f"; ~{duration(sum(seconds))} for this process's {len(left_here)} left ({times.describe()})" if known else ""
        grid = ", ".join(f"{counts[status]} {status.value}" for status in POINT_STATUSES)
        return f"grid {self.sweep.name}: {grid}{eta}"

    def write_state(self) -> None:
        statuses = {point_id: status for point_id, (status, _) in self.statuses().items()}
        state = {
            "sweep": self.sweep.name,
            "sweep_file": self.sweep.source,
            "updated_at": now(),
            "counts": {status.value: sum(s is status for s in statuses.values()) for status in POINT_STATUSES},
            "points": {point_id: status.value for point_id, status in statuses.items()},
        }
        write_json_atomic(self.out / SWEEP_STATE_FILE, state)

    def summary(self) -> str:
        """Every point of the grid: status, main score with its interval, time or error."""
        statuses = self.statuses()
        counts = Counter(status for status, _ in statuses.values())
        width = max(len(point.point_id) for point in self.points)
        lines = [
            f"sweep {self.sweep.name} ({self.out}): " + ", ".join(f"{counts[status]} {status.value}" for status in POINT_STATUSES),
            f"{'point':<{width}}  {'status':<10}  result",
        ]
        for point in self.points:
            status, problem = statuses[point.point_id]
            lines.append(f"{point.point_id:<{width}}  {status.value:<10}  {self._result(self.folder(point), point, status, problem)}")
        return "\n".join(lines)

    def _result(self, folder: Path, point: Point, status: Status, problem: str | None) -> str:
        if status is Status.FINISHED:
            seconds = point_seconds(folder)
            time_taken = f"  ({duration(seconds)})" if seconds is not None else ""
            return f"{read_score(folder, point.config) or 'no task score'}{time_taken}"
        return problem or "-"

    def say(self, line: str) -> None:
        print(f"[{datetime.now().strftime('%H:%M:%S')}] {line}", file=self.stream, flush=True)


def _live_lock(folder: Path) -> bool:
    """Whether a process may still be working in the folder (a lock that is not stale)."""
    path = folder / LOCK_FILE
    if not path.exists():
        return False
    holder = read_lock(path)
    return holder is None or not holder.is_stale(path)


def plan(sweep: Sweep, points: list[Point], out: Path, shard: Shard, checked: CheckedSweep) -> str:
    """The dry run: the points this process would run, one line each, with the cost."""
    mine = [point for point in points if shard.owns(point.index)]
    axes = " x ".join(f"{name} {len(values)}" for name, values in sweep.axes.items())
    same = combinations(sweep) - len(points)
    lines = [
        f"sweep {sweep.name} ({sweep.source}): {len(points)} points ({axes}"
        + (f"; {same} identical combinations kept once" if same else "") + f"), into {out}",
        f"shard {shard} ({shard.source}): {len(mine)} points here",
        "every point's configuration passed stp train's parser (checked as on the hardware it asks for)",
    ]
    processes = launcher_processes(sweep.launcher)
    times = TimeModel.of(points, out, checked.forward_passes, processes)
    width = max(len(point.point_id) for point in mine) if mine else 5
    total_steps, total_seconds, left, unknown, uncounted = 0, 0.0, 0, 0, 0
    for point in mine:
        status = folder_status(out / point.point_id)[0] if out.is_dir() else Status.INCOMPLETE
        steps, seconds = estimate_steps(point.config, processes), times.seconds(point)
        total_steps += steps or 0
        uncounted += steps is None
        if status is not Status.FINISHED:
            left += 1
            total_seconds += seconds or 0
            unknown += seconds is None
        lines.append(f"{point.index:>4}  {point.point_id:<{width}}  {steps if steps is not None else '?':>6} steps  ~{duration(seconds):>7}  {status.value}")
    if unknown:
        time_line = "time not estimated: the per-step rate is known only for the default model on CPU; the first finished point gives it"
    else:
        time_line = f"~{duration(total_seconds)} ({times.describe()})"
    per_process = f" ({processes} processes per run)" if processes > 1 else ""
    steps = f"{total_steps} optimizer steps" if not uncounted else f"{total_steps} optimizer steps + {uncounted} points whose training file is not here"
    lines.append(f"total: {steps}{per_process}; {left} of {len(mine)} points to run, {time_line}")
    return "\n".join(lines + checked.notes)


def run_sweep(sweep: Sweep, out: str | Path, shard: Shard = ALL, *, dry_run: bool = False, stream: TextIO | None = None) -> int:
    """Check everything, then run this shard's points: 0 when every one of them is finished,
    1 when any failed or is left unfinished (held by another host's process)."""
    out, stream = Path(out), stream or sys.stdout
    points = expand(sweep)
    checked = check_sweep(sweep, points, out, dry_run=dry_run)
    if dry_run:
        print(plan(sweep, points, out, shard, checked), file=stream)
        return 0
    runner = SweepRunner(sweep, points, out, stream, checked.forward_passes)
    runner.prepare()
    mine = [point for point in points if shard.owns(point.index)]
    if shard.count > 1:
        runner.say(f"shard {shard} ({shard.source}): {len(mine)} of {len(points)} points")
    runner.run(mine)
    print(runner.summary(), file=stream, flush=True)
    unfinished = [point for point in mine if runner.status(point) is not Status.FINISHED]
    if unfinished:
        print(f"stp sweep: {len(unfinished)} of this shard's {len(mine)} points not finished (see the table)", file=stream, flush=True)
    return 1 if unfinished else 0


class _sigterm_as_exit:
    """SIGTERM (a scheduler's time limit or preemption) unwinds like Ctrl-C: the running point's
    `stp train` is stopped and its lock released, so a requeued job on any node resumes it."""

    def __enter__(self):
        self.previous = signal.signal(signal.SIGTERM, self._exit)

    def __exit__(self, *exc):
        signal.signal(signal.SIGTERM, self.previous)

    @staticmethod
    def _exit(signum, frame):
        raise SystemExit(128 + signum)
