"""How long a sweep's points take: optimizer steps as the Trainer counts them, processes a launcher
starts, and the cost model scaled to the grid's finished points."""

import json
import math
import sys
from pathlib import Path

import pytest

from semantic_tube.experiments.grid import expand
from semantic_tube.experiments.sweep import TimeModel, estimate_steps, launcher_processes, train_command
from tests.experiments.test_grid import sweep_of


def finish_point(folder: Path, seconds: float, finished_at: str = "2026-11-29T22:40:53+00:00") -> None:
    """A fabricated finished point whose attempt took `seconds`, as the sweep records it."""
    folder.mkdir(parents=True)
    record = {"started_at": "2026-11-29T22:30:53+00:00", "finished_at": finished_at, "seconds": seconds}
    (folder / "sweep_point.json").write_text(json.dumps(record))
    (folder / "metrics.json").write_text("{}")


def test_time_estimates_weigh_forward_passes_and_scale_to_the_finished_points(tmp_path):
    config = {"nlrx_examples": 1000, "num_train_epochs": 1, "per_device_train_batch_size": 8, "eval_task": "synth", "eval_task_limit": 200}
    document = {"name": "t", "config": config, "methods": {"ntp": {"method": "ntp"}, "mask": {"method": "mask"}}, "grid": {"seed": [82, 23]}}
    points = expand(sweep_of(document))
    ntp, mask = [next(p for p in points if p.coordinates["method"] == name and p.coordinates["seed"] == 82) for name in ("ntp", "mask")]
    passes = {p.point_id: 2 if p.coordinates["method"] == "mask" else 1 for p in points}
    before = TimeModel.of(points, tmp_path, passes)
    # 100 steps of 8 at 0.55 s per example and pass, 200 prompts at 0.3 s: the default model's rates
    assert before.seconds(ntp) == pytest.approx(800 * 0.55 + 200 * 0.3) and before.seconds(mask) == pytest.approx(2 * 800 * 0.55 + 200 * 0.3)
    finish_point(tmp_path / ntp.point_id, 250.0)  # this machine runs at half the cost model's time
    after = TimeModel.of(points, tmp_path, passes)
    assert after.seconds(ntp) == pytest.approx(250.0, abs=0.01) and after.seconds(mask) == pytest.approx(250.0 * 940 / 500, abs=0.01)
    assert "scaled from 1 finished point(s)" in after.describe()
    other = expand(sweep_of({**document, "config": {**config, "model_name_or_path": "org/other-model"}}))
    assert TimeModel.of(other, tmp_path / "none", passes).seconds(other[0]) is None  # no rate for another model before a run



def test_the_most_recently_finished_points_set_the_time_of_the_rest(tmp_path):
    """Two points finished slowly on a busy machine, then three at the cost model's own rate: the
    three newest set the scale, whatever order the folders are read in."""
    config = {"nlrx_examples": 1000, "num_train_epochs": 1, "per_device_train_batch_size": 8}
    points = expand(sweep_of({"name": "t", "config": config, "methods": {"ntp": {"method": "ntp"}}, "grid": {"seed": [1, 2, 3, 4, 5, 6]}}))
    passes = {p.point_id: 1 for p in points}
    rate = 800 * 0.55  # the cost model's seconds for one of these points
    for point, seconds, hour in zip(points, [4 * rate, rate, rate, 4 * rate, rate], ["10", "13", "12", "09", "11"]):
        finish_point(tmp_path / point.point_id, seconds, f"2026-12-02T{hour}:00:00+00:00")
    times = TimeModel.of(points, tmp_path, passes)
    assert times.seconds(points[5]) == pytest.approx(rate)  # the newest three (11, 12, 13 h) ran at the model's rate
    assert "scaled from the 3 most recently finished of 5 points" in times.describe()


def test_a_launcher_starts_each_run_and_counts_in_the_steps():
    folder = Path("runs/x/p")
    assert train_command(folder, ("torchrun", "--nproc_per_node=8")) == [
        "torchrun", "--nproc_per_node=8", "-m", "semantic_tube", "train", "--config", "runs/x/p/sweep_config.yaml",
    ]  # fmt: skip
    assert train_command(folder)[:3] == [sys.executable, "-m", "semantic_tube"]
    assert launcher_processes(("torchrun", "--nnodes", "2", "--nproc-per-node", "4")) == 8 and launcher_processes(()) == 1
    config = {"train_file": None, "nlrx_examples": 1000, "per_device_train_batch_size": 4, "gradient_accumulation_steps": 4, "num_train_epochs": 4}
    assert estimate_steps(config, processes=8) == 4 * (math.ceil(math.ceil(800 / 8) / 4) // 4)  # 800 examples over 8 processes



def test_the_step_estimate_counts_a_max_train_examples_pool():
    config = {"train_file": None, "nlrx_examples": 1000, "per_device_train_batch_size": 8, "num_train_epochs": 1}
    assert estimate_steps(config) == 100  # 800 generated training examples
    assert estimate_steps({**config, "max_train_examples": 400}) == 50
    assert estimate_steps({**config, "max_train_examples": 400, "train_fraction": 0.5}) == 25
    assert estimate_steps({**config, "max_train_examples": 5000}) == 100

