"""What a sweep folder means at every moment, and how a sweep reads it (issue 21, cases 2, 3, 6,
8 and 9), with `fake_train.py` as the launcher: it writes what `stp train` writes, in the
contract's order, or dies at a chosen moment, in milliseconds. The end-to-end runs on a tiny model
are in tests/experiments/test_sweep.py. Last, the dry run's plan.

The configuration check (`stp train`'s parser in a child interpreter) is left out here, except
where it is the subject, by giving `run_sweep` a `check_sweep` that checks the folder only."""

import io
import json
import multiprocessing
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from semantic_tube.experiments import sweep as sweep_package
from semantic_tube.experiments.grid import SweepError, expand, load_sweep
from semantic_tube.experiments.shards import ALL, resolve_shard
from semantic_tube.experiments.sweep import CheckedSweep, SweepRunner, check_folder, check_sweep, plan, run_sweep
from semantic_tube.run_folder import FAILED_FILE, LOCK_FILE, METRICS_FILE, POINT_CONFIG, POINT_FILE, Status, folder_status
from tests.experiments.fake_train import ATTEMPTS_FILE
from tests.training.conftest import write_regex_data

ROOT = Path(__file__).resolve().parents[3]
FAKE = Path(__file__).resolve().parents[1] / "fake_train.py"
P82, P23 = "method=stp__train_fraction=1__seed=82", "method=stp__train_fraction=1__seed=23"


def write_sweep(root: Path, seeds=(82, 23), **config) -> Path:
    train = write_regex_data(root / "train.jsonl", 12, seed=1)
    test = write_regex_data(root / "test.jsonl", 4, seed=2)
    document = {
        "name": "fake",
        "launcher": [sys.executable, str(FAKE)],
        "config": {"train_file": str(train), "eval_task": "synth", "eval_task_file": str(test), "max_steps": 10, "use_cpu": True, **config},
        "methods": {"stp": {"stp_lambda": 0.02}},
        "grid": {"seed": list(seeds)},
    }
    path = root / "fake.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """(sweep file, sweep folder, plan(point -> behaviours)); run_sweep checks the folder only."""
    plan_file = tmp_path / "plan.json"
    plan_file.write_text("{}")
    monkeypatch.setenv("FAKE_TRAIN_PLAN", str(plan_file))
    monkeypatch.setattr(sweep_package.runner, "check_sweep", folder_check_only)

    def set_plan(behaviours: dict):
        plan_file.write_text(json.dumps(behaviours))

    return write_sweep(tmp_path), tmp_path / "runs", set_plan


def folder_check_only(sweep, points, out, *, dry_run):
    check_folder(sweep, points, out)
    return CheckedSweep([], {})


def sweep_run(sweep_file: Path, out: Path, **kwargs) -> tuple[int, str]:
    printed = io.StringIO()
    code = run_sweep(load_sweep(sweep_file), out, ALL, stream=printed, **kwargs)
    return code, printed.getvalue()


def attempts(folder: Path) -> int:
    return len((folder / ATTEMPTS_FILE).read_text().split()) if (folder / ATTEMPTS_FILE).exists() else 0


def runner_of(sweep_file: Path, out: Path, **kwargs) -> SweepRunner:
    sweep = load_sweep(sweep_file)
    runner = SweepRunner(sweep, expand(sweep), out, io.StringIO(), **kwargs)
    runner.prepare()
    return runner


def test_points_are_named_as_the_plan_expects(fake):
    sweep_file, _, _ = fake
    assert [point.point_id for point in expand(load_sweep(sweep_file))] == [P82, P23]


# -------------------------------------------------------------------------------------------
# 2. a truncated record


def test_a_truncated_metrics_json_is_not_finished_is_named_and_is_run_again(fake):
    """Before: "done" forever (the status checked that the file exists) and the summary died on
    a bare JSONDecodeError naming no file."""
    sweep_file, out, _ = fake
    assert sweep_run(sweep_file, out)[0] == 0
    damaged = out / P82 / METRICS_FILE
    damaged.write_text('{"seed": 82, "task_synth/exa')  # as a kill mid-write left it, before writes were atomic
    runner = runner_of(sweep_file, out)
    status, problem = folder_status(out / P82)
    assert status is Status.INCOMPLETE and str(damaged) in problem
    summary = runner.summary()
    assert next(line for line in summary.splitlines() if line.startswith(P82)).split()[1] == "incomplete" and str(damaged) in summary
    code, printed = sweep_run(sweep_file, out)
    assert code == 0 and "1 of 2 points already finished; 1 to run" in printed
    assert attempts(out / P82) == 2 and json.loads(damaged.read_text())["seed"] == 82


def test_every_record_the_sweep_writes_is_whole_and_no_temporary_file_is_left(fake):
    sweep_file, out, _ = fake
    sweep_run(sweep_file, out)
    for path in [out / "sweep_state.json", *out.glob(f"*/{POINT_FILE}"), *out.glob(f"*/{METRICS_FILE}")]:
        json.loads(path.read_text())
    assert not list(out.rglob("*.tmp"))


# -------------------------------------------------------------------------------------------
# 3. a data file that is not UTF-8 never takes the sweep down


def test_a_non_utf8_train_or_eval_file_does_not_crash_the_dry_run_or_the_progress_lines(fake, tmp_path):
    """Before: the sweep counted lines as UTF-8 text, and died in the dry run's plan, or in the
    progress line after the first point, abandoning the rest of the grid."""
    _, out, _ = fake
    for name in ("train.jsonl", "test.jsonl"):
        path = tmp_path / name
        path.write_bytes(path.read_bytes() + b'{"messages": "caf\xe9"}\n')  # Latin-1, not UTF-8
    sweep_file = write_sweep(tmp_path)
    sweep = load_sweep(sweep_file)
    listing = plan(sweep, expand(sweep), out, ALL, CheckedSweep([], {})).splitlines()
    assert sum(" steps  ~" in line for line in listing) == 2 and listing[-1].startswith("total: 20 optimizer steps")
    code, printed = sweep_run(sweep_file, out)
    assert code == 0 and "grid fake: 2 finished" in printed  # the fake trains on anything: the progress lines ran


# -------------------------------------------------------------------------------------------
# 6. the moments around metrics.json


def test_a_child_killed_after_metrics_json_leaves_a_finished_point_not_a_failed_one(fake):
    """Before: failed.json beside metrics.json, FAILED printed and exit 1, the point counted done."""
    sweep_file, out, set_plan = fake
    set_plan({P82: ["finish_then_die"]})
    code, printed = sweep_run(sweep_file, out)
    assert code == 0 and "FAILED" not in printed and f"done   [1/2] {P82}: exact 0.500 [0.100, 0.900]" in printed
    assert folder_status(out / P82) == (Status.FINISHED, None) and not (out / P82 / FAILED_FILE).exists()
    record = json.loads((out / P82 / POINT_FILE).read_text())
    assert record["seconds"] > 0 and record["finished_at"]


def test_a_sweep_killed_after_a_point_finished_is_tidied_by_the_next_one(fake):
    """The parent killed between the child's metrics.json and its own clean-up leaves the
    checkpoints (gigabytes on a real model) and a stale lock; the next sweep removes them and
    does not train the point again."""
    sweep_file, out, _ = fake
    assert sweep_run(sweep_file, out)[0] == 0
    folder = out / P82
    (folder / "checkpoint-5").mkdir()
    (folder / "checkpoint-5" / "trainer_state.json").write_text("{}")
    (folder / f".{METRICS_FILE}.abc123.tmp").write_text("{")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    (folder / LOCK_FILE).write_text(json.dumps({"pid": int(dead.stdout), "hostname": socket.gethostname(), "started_at": "2026-01-01T00:00:00+00:00"}))
    assert folder_status(folder)[0] is Status.FINISHED  # finished all along: metrics.json is written last
    code, printed = sweep_run(sweep_file, out)
    assert code == 0 and f"tidy   {P82}: finished; removed checkpoint-5" in printed
    assert not (folder / "checkpoint-5").exists() and not (folder / LOCK_FILE).exists() and not list(folder.glob("*.tmp"))
    assert attempts(folder) == 1


def test_a_failure_is_the_runs_own_record_never_the_log(fake):
    """`stp train` writes failed.json itself; the sweep adds the exit code. A run that died
    without a record is named by how it ended. A failed point is retried on the next start."""
    sweep_file, out, set_plan = fake
    set_plan({P82: ["fail", "finish"], P23: ["die", "finish"]})
    code, printed = sweep_run(sweep_file, out)
    assert code == 1
    failure = json.loads((out / P82 / FAILED_FILE).read_text())
    assert failure["error"] == f"ValueError: {out.parent / 'train.jsonl'}:3: messages: missing" and failure["exit_code"] == 2
    assert failure["type"] == "ValueError" and "Traceback" in failure["traceback"] and failure["finished_at"]
    killed = json.loads((out / P23 / FAILED_FILE).read_text())
    assert killed["error"].startswith("stp train killed by SIGKILL") and killed["exit_code"] == -9
    assert f"FAILED [1/2] {P82} after " in printed and "0 finished, 2 failed, 0 running, 0 incomplete" in printed
    code, printed = sweep_run(sweep_file, out)
    assert code == 0 and attempts(out / P82) == attempts(out / P23) == 2
    assert not (out / P82 / FAILED_FILE).exists() and not (out / P23 / FAILED_FILE).exists()


# -------------------------------------------------------------------------------------------
# 8. a surviving worker


def hold_lock(folder: Path, pid: int, hostname: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    info = {"pid": pid, "hostname": hostname or socket.gethostname(), "started_at": "2026-01-01T00:00:00+00:00", "child_pid": None}
    (folder / LOCK_FILE).write_text(json.dumps(info))


def test_a_survivor_comes_back_to_a_point_whose_holder_died_and_finishes_the_grid(fake, monkeypatch):
    """Before: the survivor finished its own points and exited 0 with "1 left"."""
    sweep_file, out, _ = fake
    monkeypatch.setattr(sweep_package.runner, "POLL_S", 0.1)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])  # a worker that dies while holding P82
    try:
        hold_lock(out / P82, holder.pid)
        (out / "sweep.yaml").write_bytes(sweep_file.read_bytes())
        code, printed = sweep_run(sweep_file, out)
    finally:
        holder.kill()
        holder.wait()
    assert code == 0, printed
    assert f"skip   [1/2] {P82}: locked by pid {holder.pid}" in printed and f"done   [2/2] {P23}" in printed
    assert "wait   for 1 point(s) other processes on this host hold" in printed and f"back to {P82}: stale lock" in printed
    assert folder_status(out / P82)[0] is folder_status(out / P23)[0] is Status.FINISHED


def test_a_point_another_host_holds_is_left_and_the_exit_status_says_the_grid_is_incomplete(fake):
    sweep_file, out, _ = fake
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    hold_lock(out / P82, int(dead.stdout), hostname="another-node")
    (out / "sweep.yaml").write_bytes(sweep_file.read_bytes())
    code, printed = sweep_run(sweep_file, out)
    assert code == 1 and f"left   {P82}: locked by pid {int(dead.stdout)} on another-node" in printed
    assert "1 of this shard's 2 points not finished" in printed and attempts(out / P82) == 0


# -------------------------------------------------------------------------------------------
# 9. two workers, a moved folder, the order of the checks


def test_two_workers_split_the_grid_each_point_once_and_time_every_finished_point(fake, tmp_path, monkeypatch):
    """Two sweep processes on one folder (a user who started it twice, or two nodes on a shared
    disk): each point trains once, both exit 0, and no summary prints an unknown time "(?)"."""
    _, out, set_plan = fake
    monkeypatch.setenv("FAKE_TRAIN_SECONDS", "1")
    monkeypatch.setattr(sweep_package.runner, "POLL_S", 0.2)  # a worker done first waits for the other's last point
    sweep_file = write_sweep(tmp_path, seeds=(82, 23, 37, 84))
    set_plan({f"method=stp__train_fraction=1__seed={seed}": ["slow"] for seed in (82, 23, 37, 84)})
    context = multiprocessing.get_context("fork")  # the workers keep this test's folder-only check
    logs = [tmp_path / f"worker{number}.txt" for number in range(2)]
    workers = [context.Process(target=_worker, args=(sweep_file, out, log)) for log in logs]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(300)
    printed = [log.read_text() for log in logs]
    assert [worker.exitcode for worker in workers] == [0, 0], printed
    assert len(list(out.glob("method=*"))) == 4 and all(attempts(folder) == 1 for folder in out.glob("method=*"))
    for text in printed:
        summary = text[text.index("sweep fake ("):]
        assert summary.splitlines()[0].endswith("4 finished, 0 failed, 0 running, 0 incomplete"), text
        assert "(?)" not in summary and summary.count("exact 0.500") == 4, text


def _worker(sweep_file: Path, out: Path, log: Path) -> None:
    with log.open("w") as stream:
        code = run_sweep(load_sweep(sweep_file), out, ALL, stream=stream)
    sys.exit(code)


def test_a_copied_sweep_folder_resumes_where_it_lies(fake, tmp_path):
    """output_dir is where a point runs, not how: a folder copied to a cluster's shared disk
    resumes there (before: "was run with another configuration (output_dir: ...)")."""
    sweep_file, out, set_plan = fake
    set_plan({P23: ["checkpoint_then_die", "finish"]})
    assert sweep_run(sweep_file, out)[0] == 1
    moved = tmp_path / "elsewhere" / "runs"
    shutil.copytree(out, moved)
    shutil.rmtree(out)
    code, printed = sweep_run(sweep_file, moved)
    assert code == 0, printed
    assert yaml.safe_load((moved / P23 / POINT_CONFIG).read_text())["output_dir"] == str(moved / P23)
    assert json.loads((moved / P23 / POINT_FILE).read_text())["overrides"]["output_dir"] == P23  # relative to the sweep folder
    assert not out.exists() and attempts(moved / P23) == 2


def test_an_unknown_field_is_named_even_against_a_folder_of_this_sweep(fake):
    """The field names are checked before the folder: a misspelt `--field` is an unknown field,
    not a folder that "holds another sweep" or "was run with another configuration"."""
    sweep_file, out, _ = fake
    assert sweep_run(sweep_file, out)[0] == 0
    sweep = load_sweep(sweep_file, {"lerning_rate": 0.01})
    with pytest.raises(SweepError, match=r"--lerning_rate: unknown field 'lerning_rate' \(did you mean learning_rate\?\)"):
        check_sweep(sweep, expand(sweep), out, dry_run=False)


def test_a_finished_point_from_an_older_sweep_without_a_recorded_time_shows_none(fake):
    sweep_file, out, _ = fake
    assert sweep_run(sweep_file, out)[0] == 0
    record = json.loads((out / P82 / POINT_FILE).read_text())
    (out / P82 / POINT_FILE).write_text(json.dumps({key: value for key, value in record.items() if key != "seconds"}))
    summary = runner_of(sweep_file, out).summary()
    row = next(line for line in summary.splitlines() if line.startswith(P82))
    assert row.split()[1] == "finished" and "exact 0.500" in row and "?" not in row


# -------------------------------------------------------------------------------------------
# The dry run


def test_dry_run_loads_no_torch_and_lists_every_point_with_its_cost(tmp_path):
    """A fresh interpreter: the dry run imports no torch (the configuration check runs in a child;
    `stp sweep` parses its own flags with transformers' HfArgumentParser, as every command does,
    which loads no model code), and prints one line per point plus the total."""
    script = (
        "import sys; from semantic_tube.cli import main\n"
        f"code = main(['sweep', '--config', {str(ROOT / 'sweeps' / 'quick.yaml')!r}, '--out', {str(tmp_path / 'q')!r}, '--dry-run'])\n"
        "print('torch' in sys.modules, any(name.startswith('transformers.models') for name in sys.modules), code)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    lines = done.stdout.splitlines()
    assert lines[-1] == "False False 0", done.stderr
    point_lines = [line for line in lines if "steps  ~" in line]
    assert len(point_lines) == 18 and all(line.rstrip().endswith("incomplete") for line in point_lines)
    assert "100 steps" in point_lines[0] and "method=ntp__train_fraction=1__seed=82" in point_lines[0]
    assert any(line.startswith("total: 1800 optimizer steps; 18 of 18 points to run, ~2h") and "estimate" in line for line in lines)
    assert not (tmp_path / "q").exists()  # a dry run writes nothing


def test_dry_run_of_a_shard_lists_only_its_points():
    sweep = load_sweep(ROOT / "sweeps" / "quick.yaml")
    text = plan(sweep, expand(sweep), Path("/nonexistent"), resolve_shard("1/4", {}), CheckedSweep([], {}))
    indices = [int(line.split()[0]) for line in text.splitlines() if "steps  ~" in line]
    assert indices == [1, 5, 9, 13, 17]


