"""scripts/export_results.sh: light records copied, weights and (on request) predictions left
behind, one sweep or a folder of several under one report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.experiments.report_fixtures import TASK, write_json, write_run

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "export_results.sh"


def fabricated_sweep(folder: Path, stp_lambda: float) -> None:
    """A finished sweep: sweep.yaml, two points with weights, a checkpoint and predictions."""
    folder.mkdir(parents=True)
    (folder / "sweep.yaml").write_text("name: fabricated\n")
    for method, seed, hits in (("ntp", 82, 100), ("stp", 82, 110)):
        run = write_run(
            folder / f"{method}-{seed}", method=method, seed=seed, stp_lambda=0.0 if method == "ntp" else stp_lambda, exact_hits=hits
        )
        (run / "model.safetensors").write_bytes(b"weights")
        (run / "checkpoint-50").mkdir()
        write_json(run / "eval" / TASK / "eval.json", {"task": TASK, "metrics": {}, "meta": {}})
        row = {"system": "s", "prompt": "a test line", "reference": "a", "prediction": "a", "verdicts": {"exact": True}}
        (run / "eval" / TASK / "predictions.jsonl").write_text(json.dumps(row) + "\n")


def export(source: Path, destination: Path, *options: str) -> subprocess.CompletedProcess:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["bash", str(SCRIPT), str(source), str(destination), *options], capture_output=True, text=True, env=os.environ | {"PATH": path}
    )


def test_one_sweep_is_copied_without_weights_checkpoints_or_predictions(tmp_path):
    fabricated_sweep(tmp_path / "runs" / "quick", stp_lambda=0.02)
    done = export(tmp_path / "runs" / "quick", tmp_path / "results", "--no-predictions")
    assert done.returncode == 0, done.stderr
    copied = tmp_path / "results" / "runs"
    assert (copied / "sweep.yaml").is_file()
    for run in ("ntp-82", "stp-82"):
        assert {path.name for path in (copied / run).iterdir()} == {
            "eval",
            "metrics.json",
            "stp_config.yaml",
            "sweep_point.json",
            "trainer_state.json",
        }
        assert [path.name for path in (copied / run / "eval" / TASK).iterdir()] == ["eval.json"]
    assert "ntp" in (tmp_path / "results" / "report.md").read_text()


def test_predictions_are_copied_unless_left_out(tmp_path):
    fabricated_sweep(tmp_path / "runs" / "quick", stp_lambda=0.02)
    assert export(tmp_path / "runs" / "quick", tmp_path / "results").returncode == 0
    assert (tmp_path / "results" / "runs" / "stp-82" / "eval" / TASK / "predictions.jsonl").is_file()


def test_a_folder_of_sweeps_is_exported_sweep_by_sweep_under_one_report(tmp_path):
    fabricated_sweep(tmp_path / "runs" / "landscape" / "tube", stp_lambda=0.32)
    fabricated_sweep(tmp_path / "runs" / "landscape" / "span", stp_lambda=0.08)
    done = export(tmp_path / "runs" / "landscape", tmp_path / "results", "--no-predictions")
    assert done.returncode == 0, done.stderr
    for sweep in ("tube", "span"):
        assert (tmp_path / "results" / "runs" / sweep / "sweep.yaml").is_file()
        assert (tmp_path / "results" / "runs" / sweep / "stp-82" / "metrics.json").is_file()
    report = (tmp_path / "results" / "report.md").read_text()
    assert "0.32" in report and "0.08" in report
    assert not list((tmp_path / "results").glob("runs/*/report.md"))


def test_a_folder_without_any_sweep_is_refused_by_name(tmp_path):
    (tmp_path / "runs" / "empty").mkdir(parents=True)
    done = export(tmp_path / "runs" / "empty", tmp_path / "results")
    assert done.returncode == 2
    assert f"{tmp_path / 'runs' / 'empty'} holds no sweep.yaml" in done.stderr


def test_a_point_still_running_is_left_out_and_an_earlier_copy_of_it_removed(tmp_path):
    sweep = tmp_path / "runs" / "quick"
    fabricated_sweep(sweep, stp_lambda=0.02)
    running = sweep / "stp-23"
    running.mkdir()
    write_json(running / "sweep_point.json", {"point_id": "stp-23"})
    (running / "stp_config.yaml").write_text("seed: 23\n")
    stale = tmp_path / "results" / "runs" / "stp-23"
    stale.mkdir(parents=True)
    (stale / "sweep_point.json").write_text("{}")  # what an export made while it ran
    done = export(sweep, tmp_path / "results", "--no-predictions")
    assert done.returncode == 0, done.stderr
    assert "left out stp-23: not finished" in done.stderr
    assert not stale.exists() and (tmp_path / "results" / "runs" / "stp-82" / "metrics.json").is_file()
    (running / "failed.json").write_text(json.dumps({"error": "out of memory"}))
    assert export(sweep, tmp_path / "results", "--no-predictions").returncode == 0
    assert (stale / "failed.json").is_file()  # a failed point is a result: exported
