"""`stp sweep` end to end on a tiny model: a run killed mid-training resumes from its checkpoint
to the same losses as an uninterrupted one, a crashing point is recorded (and retried) while the
sweep goes on, a live lock is respected, and the folder refuses another grid."""

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from semantic_tube.cli import main
from semantic_tube.experiments.grid import SweepError, expand, load_sweep
from semantic_tube.experiments.locks import LOCK_FILE
from semantic_tube.experiments.shards import ALL
from semantic_tube.experiments.sweep import (
    CheckedSweep,
    Status,
    SweepRunner,
    check_folder,
    plan,
    point_status,
    provenance,
    run_point,
)
from tests.experiments.test_locks import write_lock
from tests.tiny_models import save_tiny
from tests.training.conftest import write_regex_data

ROOT = Path(__file__).resolve().parents[2]
KILLED = "method=stp__train_fraction=1__seed=82"
BROKEN = "method=broken__train_fraction=1__seed=82"


def tiny_sweep(root: Path) -> Path:
    """Two methods at one seed: a crash (max_length cuts every answer), then STP, to be killed
    at its first checkpoint and resumed."""
    model = save_tiny(root / "tiny", "chatml", seed=0)
    train_file = write_regex_data(root / "train.jsonl", 40, seed=1)
    test_file = write_regex_data(root / "test.jsonl", 4, seed=2)
    document = {
        "name": "tiny",
        "config": {
            "model_name_or_path": str(model), "train_file": str(train_file), "eval_task": "synth",
            "eval_task_file": str(test_file), "eval_task_limit": 2, "max_steps": 20, "per_device_train_batch_size": 4,
            "learning_rate": 0.005, "logging_steps": 5, "save_strategy": "steps", "save_steps": 5, "report_to": "none",
            "use_cpu": True, "max_length": 96,
        },
        "methods": {"broken": {"stp_lambda": 0.02, "max_length": 8}, "stp": {"stp_lambda": 0.02}},
        "grid": {"seed": [82]},
    }  # fmt: skip
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def start_and_kill_at_first_checkpoint(sweep_file: Path, out: Path) -> None:
    """Start the sweep in its own session; SIGKILL the sweep and its run together (as a crash or
    a lost node would) once the STP point has a complete checkpoint."""
    command = [sys.executable, "-m", "semantic_tube", "sweep", "--config", str(sweep_file), "--out", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    try:
        while not any(map(_complete, (out / KILLED).glob("checkpoint-*/trainer_state.json"))):
            assert process.poll() is None, "the sweep ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        while _group_alive(process.pid):  # the orphaned `stp train` takes a moment to die
            time.sleep(0.05)


def _complete(trainer_state: Path) -> bool:
    """Written in full: killed while the Trainer writes it, the checkpoint would not count."""
    try:
        return bool(json.loads(trainer_state.read_text()))
    except (OSError, ValueError):
        return False


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def uninterrupted_run(point_folder: Path, out: Path) -> Path:
    """The killed point's own configuration trained in one go, without checkpoints (in this process)."""
    from semantic_tube.training.arguments import parse_train_args
    from semantic_tube.training.run import train

    config = yaml.safe_load((point_folder / "sweep_config.yaml").read_text())
    config.pop("resume_from_checkpoint")
    config |= {"output_dir": str(out), "save_strategy": "no"}
    (out.parent / "reference.yaml").write_text(yaml.safe_dump(config))
    train(*parse_train_args(["--config", str(out.parent / "reference.yaml")]))
    return out


def losses(folder: Path) -> dict[int, tuple[float, float]]:
    """Step -> (ntp_loss, stp_loss) of every logged training step."""
    history = json.loads((folder / "trainer_state.json").read_text())["log_history"]
    return {entry["step"]: (entry["ntp_loss"], entry["stp_loss"]) for entry in history if "ntp_loss" in entry}


@dataclass
class Resumed:
    sweep_file: Path
    out: Path
    after_kill: dict
    code: int
    printed: str


@pytest.fixture(scope="module")
def resumed(tmp_path_factory) -> Resumed:
    """The sweep killed at the STP point's first checkpoint (after the broken point failed),
    then started again to the end."""
    root = tmp_path_factory.mktemp("sweep")
    sweep_file, out = tiny_sweep(root), root / "runs"
    start_and_kill_at_first_checkpoint(sweep_file, out)
    after_kill = {
        "lock": (out / KILLED / LOCK_FILE).is_file(),
        "finished": (out / KILLED / "metrics.json").is_file(),
        "status": point_status(out / KILLED),
        "broken": point_status(out / BROKEN),
    }
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["sweep", "--config", str(sweep_file), "--out", str(out)])
    return Resumed(sweep_file, out, after_kill, code, printed.getvalue())


def test_a_killed_run_resumes_from_its_checkpoint_to_the_uninterrupted_losses(resumed, tmp_path):
    out, printed = resumed.out, resumed.printed
    # a stale lock (its processes are gone) and no result: the point is left to resume
    assert resumed.after_kill == {"lock": True, "finished": False, "status": Status.INCOMPLETE, "broken": Status.FAILED}
    killed = out / KILLED
    assert (killed / "metrics.json").is_file()
    log = (killed / "train.log").read_text()
    assert log.count("=== ") == 2 and "resume_from_checkpoint=last: " + str(killed / "checkpoint-") in log
    reference = uninterrupted_run(killed, tmp_path / "reference")
    resumed_losses, reference_losses = losses(killed), losses(reference)
    assert list(resumed_losses) == list(reference_losses) == [5, 10, 15, 20]
    for step, pair in resumed_losses.items():
        assert pair == pytest.approx(reference_losses[step], rel=1e-5), step
    final = [json.loads((folder / "metrics.json").read_text())["final_stp_loss"] for folder in (killed, reference)]
    assert final[0] == pytest.approx(final[1], rel=1e-5)
    assert not list(killed.glob("checkpoint-*")) and not (killed / LOCK_FILE).exists()  # a finished point keeps no checkpoints
    assert f"start  [2/2] {KILLED}" in printed and f"done   [2/2] {KILLED}: exact " in printed


def test_a_failed_point_is_retried_recorded_and_the_sweep_goes_on(resumed):
    out, printed = resumed.out, resumed.printed
    assert resumed.code == 1  # the broken point failed again
    failure = json.loads((out / BROKEN / "failed.json").read_text())
    assert "max_length=8 cuts" in failure["error"] and failure["exit_code"] == 2 and failure["finished_at"]
    assert failure["type"] == "DataError" and "Traceback (most recent call last)" in failure["traceback"]  # stp train's own record
    assert (out / BROKEN / "train.log").read_text().count("=== ") == 2  # run 1, then the retry
    assert f"FAILED [1/2] {BROKEN} after " in printed and "max_length=8 cuts" in printed
    assert "grid tiny: 0 finished, 1 failed, 0 running, 1 incomplete" in printed  # the progress line, then the STP point ran
    summary = printed[printed.index("sweep tiny ("):]
    assert summary.splitlines()[0].endswith("1 finished, 1 failed, 0 running, 0 incomplete")
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in summary.splitlines()[2:]}
    assert rows[KILLED][0] == "finished" and rows[KILLED][1].startswith("exact 0.")
    assert rows[BROKEN][0] == "failed" and "max_length=8 cuts" in rows[BROKEN][1]
    state = json.loads((out / "sweep_state.json").read_text())
    assert state["counts"] == {"finished": 1, "failed": 1, "running": 0, "incomplete": 0}


def test_a_finished_point_is_skipped(resumed):
    sweep = load_sweep(resumed.sweep_file)
    finished = [point for point in expand(sweep) if point.point_id == KILLED]
    stamp = (resumed.out / KILLED / "metrics.json").stat().st_mtime
    printed = io.StringIO()
    assert SweepRunner(sweep, expand(sweep), resumed.out, printed).run(finished) == []
    assert "1 of 1 points already finished; 0 to run" in printed.getvalue()
    assert (resumed.out / KILLED / "metrics.json").stat().st_mtime == stamp
    listing = plan(sweep, expand(sweep), resumed.out, ALL, CheckedSweep([], {})).splitlines()  # a dry run now times from the finished point
    assert next(line for line in listing if KILLED in line).endswith("finished")
    assert next(line for line in listing if BROKEN in line).endswith("failed")
    assert "1 of 2 points to run" in listing[-1] and "(scaled from 1 finished point(s) " in listing[-1]
    # A copy of the folder (new file times, as after a checkout of exported results) times the same.
    copy = shutil.copytree(resumed.out, resumed.out.parent / "copy", copy_function=shutil.copy)
    os.utime(copy / KILLED / "metrics.json", (time.time() + 86_400, time.time() + 86_400))
    assert plan(sweep, expand(sweep), copy, ALL, CheckedSweep([], {})).splitlines()[-1] == listing[-1]


def test_every_point_records_where_it_sits_and_how_it_ran(resumed):
    sweep_file, out = resumed.sweep_file, resumed.out
    assert (out / "sweep.yaml").read_bytes() == sweep_file.read_bytes()
    record = json.loads((out / KILLED / "sweep_point.json").read_text())
    assert record["sweep"] == "tiny" and record["point_id"] == KILLED
    assert record["coordinates"] == {"method": "stp", "train_fraction": 1.0, "seed": 82}
    assert record["overrides"]["stp_lambda"] == 0.02 and record["overrides"]["output_dir"] == KILLED  # relative to the sweep folder
    assert record["command"].endswith(f"-m semantic_tube train --config {out / KILLED / 'sweep_config.yaml'}")
    assert record["sweep_sha256"] == hashlib.sha256(sweep_file.read_bytes()).hexdigest()
    assert set(record["versions"]) == {"python", "torch", "transformers", "semantic_tube"}
    assert record["seconds"] > 0 and record["finished_at"] >= record["started_at"]  # the finished attempt's wall time
    resolved = yaml.safe_load((out / KILLED / "stp_config.yaml").read_text())
    assert resolved["seed"] == 82 and resolved["stp_lambda"] == 0.02 and resolved["train_fraction"] == 1.0


def test_a_live_lock_keeps_a_process_off_its_point(resumed, tmp_path):
    """No training: the lock is checked before anything starts."""
    sweep = load_sweep(resumed.sweep_file)
    point = expand(sweep)[0]
    write_lock(tmp_path / point.point_id, os.getppid())
    outcome = run_point(sweep, point, tmp_path / point.point_id, provenance())
    assert outcome.status is Status.RUNNING and f"pid {os.getppid()}" in outcome.message
    assert not (tmp_path / point.point_id / "sweep_point.json").exists()


def test_a_folder_of_another_grid_is_refused(resumed, tmp_path):
    sweep_file, out = resumed.sweep_file, resumed.out
    other = tmp_path / "other.yaml"
    other.write_text(sweep_file.read_text().replace("- 82", "- 83"))
    with pytest.raises(SweepError, match=r"runs: holds another sweep: its sweep.yaml differs from .*other.yaml in grid.seed: \[82\] -> \[83\]"):
        check_folder(load_sweep(other), expand(load_sweep(other)), out)
    changed = load_sweep(sweep_file, {"learning_rate": 0.01})  # same file, another --learning_rate
    with pytest.raises(SweepError, match=r"method=broken__train_fraction=1__seed=82: was run with another configuration \(learning_rate: 0.005 -> 0.01\)"):
        check_folder(changed, expand(changed), out)
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "metrics.json").write_text("{}")
    with pytest.raises(SweepError, match="plain: not empty and not a sweep folder"):
        check_folder(load_sweep(sweep_file), expand(load_sweep(sweep_file)), tmp_path / "plain")


def test_a_missing_data_file_stops_the_sweep_before_training(resumed, tmp_path, capsys):
    code = main(["sweep", "--config", str(resumed.sweep_file), "--out", str(tmp_path / "o"), "--train_file", "nope.jsonl"])
    assert code == 2 and "not found: train_file=nope.jsonl" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_non_utf8_line_fails_its_point_by_file_and_line_or_is_skipped_and_the_sweep_goes_on(tmp_path):
    """Issue 21.3 in a sweep: the point that reads a Latin-1 byte without `invalid_lines: skip`
    fails with `file:line: encoding: ...` in its failed.json, the one with skip trains, and the
    sweep itself (its dry run, its progress lines, its summary) never crashes."""
    model = save_tiny(tmp_path / "tiny", "chatml", seed=0)
    train_file = write_regex_data(tmp_path / "train.jsonl", 16, seed=1)
    eval_file = write_regex_data(tmp_path / "eval.jsonl", 4, seed=2)
    for path in (train_file, eval_file):
        path.write_bytes(path.read_bytes() + b'{"messages": "caf\xe9"}\n')
    document = {
        "name": "bytes",
        "config": {
            "model_name_or_path": str(model), "train_file": str(train_file), "eval_file": str(eval_file), "max_steps": 2,
            "per_device_train_batch_size": 4, "report_to": "none", "use_cpu": True, "save_strategy": "no", "max_length": 96,
            "cost_batches": 0, "treatment_batches": 0,
        },
        "methods": {"strict": {"invalid_lines": "error"}, "skip": {"invalid_lines": "skip"}},
        "grid": {"seed": [82]},
    }  # fmt: skip
    sweep_file = tmp_path / "bytes.yaml"
    sweep_file.write_text(yaml.safe_dump(document, sort_keys=False))
    out = tmp_path / "runs"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["sweep", "--config", str(sweep_file), "--out", str(out), "--dry-run"]) == 0
        code = main(["sweep", "--config", str(sweep_file), "--out", str(out)])
    assert code == 1, printed.getvalue()
    failure = json.loads((out / "method=strict__train_fraction=1__seed=82" / "failed.json").read_text())
    assert failure["error"] == f"DataError: {train_file}:17: encoding: not UTF-8 (byte 0xe9 at byte 18 of the line)"
    metrics = json.loads((out / "method=skip__train_fraction=1__seed=82" / "metrics.json").read_text())
    assert metrics["train_skipped_lines"] == 1 and "eval_loss" in metrics
    assert "1 finished, 1 failed, 0 running, 0 incomplete" in printed.getvalue()
