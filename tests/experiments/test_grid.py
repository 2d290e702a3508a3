"""Sweep files expanded into points: axes, the data rule and its variants, subsets, shards, locks,
bad input, and every preset in sweeps/ checked by `stp train`'s parser (no training here)."""

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from semantic_tube.data.messages import ChatExample, nested_subset
from semantic_tube.experiments.grid import (
    PAPER_SEEDS,
    SweepError,
    combinations,
    expand,
    load_sweep,
    parse_overrides,
    parse_sweep,
)
from semantic_tube.experiments.locks import LOCK_FILE, PointLock, acquire, read_lock
from semantic_tube.experiments.shards import ALL, ShardError, resolve_shard
from semantic_tube.experiments.sweep import (
    CheckedSweep,
    TimeModel,
    check_field_names,
    ended_how,
    estimate_steps,
    launcher_processes,
    missing_paths,
    plan,
    remove_incomplete_checkpoints,
    train_command,
)
from semantic_tube.experiments.validate import check_configs

ROOT = Path(__file__).resolve().parents[2]
SWEEPS = sorted((ROOT / "sweeps").glob("*.yaml"))
METHODS = {"ntp": {"stp_lambda": 0.0, "stp_log_when_off": True}, "stp": {"stp_lambda": 0.02}}


def sweep_of(document: dict, overrides: dict | None = None):
    return parse_sweep(document, text=yaml.safe_dump(document), source="test.yaml", default_name="test", overrides=overrides)


def by_id(points):
    return {point.point_id: point for point in points}


# -------------------------------------------------------------------------------------------
# Expansion


def test_quick_preset_expands_to_methods_x_fractions_x_seeds_seed_slowest():
    points = expand(load_sweep(ROOT / "sweeps" / "quick.yaml"))
    assert len(points) == 18
    assert [p.point_id for p in points[:3]] == [
        "method=ntp__train_fraction=1__seed=82",
        "method=stp__train_fraction=1__seed=82",
        "method=ntp__train_fraction=0.5__seed=82",
    ]
    assert {p.coordinates["seed"] for p in points} == {82, 23, 37}
    assert all(set(p.coordinates) == {"method", "train_fraction", "seed"} for p in points)
    assert [p.index for p in points] == list(range(18))
    first = points[0]
    assert first.config["stp_lambda"] == 0.0 and first.config["stp_log_when_off"] is True and first.config["seed"] == 82
    assert points[1].overrides == {"stp_lambda": 0.02, "train_fraction": 1.0, "seed": 82}


def test_every_run_of_the_quick_preset_costs_the_same():
    """The epoch rule: 800 examples x 1 epoch, 400 x 2, 200 x 4 are all 100 steps of 8."""
    points = expand(load_sweep(ROOT / "sweeps" / "quick.yaml"))
    assert {estimate_steps(p.config) for p in points} == {100}
    assert {p.coordinates["train_fraction"]: p.config["num_train_epochs"] for p in points} == {1.0: 1, 0.5: 2.0, 0.25: 4.0}


def test_seeds_default_to_the_papers_five():
    points = expand(sweep_of({"config": {"num_train_epochs": 1}}))
    assert [p.coordinates["seed"] for p in points] == list(PAPER_SEEDS) == [82, 23, 37, 84, 4]
    assert [p.point_id for p in points][:1] == ["train_fraction=1__seed=82"]


def test_epoch_rule_half_compute_and_twice_lambda():
    """1/n of the data: n x epochs (epochs), n/2 x epochs at 2 x lr (half_compute); lambda_scale
    doubles lambda in both; NTP's lambda stays 0, so its 2 x lambda twin is the same run, kept once."""
    document = {
        "config": {"num_train_epochs": 4, "learning_rate": 2e-5},
        "methods": METHODS,
        "grid": {"train_fraction": [1, "1/2", 0.25], "data_rule": ["epochs", "half_compute"], "lambda_scale": [1, 2], "seed": [82]},
    }
    sweep = sweep_of(document)
    points = by_id(expand(sweep))
    assert combinations(sweep) == 24 and len(points) == 18  # 6 NTP twins at lambda_scale 2 dropped
    expected = {  # (rule, fraction) -> (epochs, learning rate)
        ("epochs", 1): (4, 2e-5), ("epochs", 0.5): (8, 2e-5), ("epochs", 0.25): (16, 2e-5),
        ("half_compute", 1): (2, 4e-5), ("half_compute", 0.5): (4, 4e-5), ("half_compute", 0.25): (8, 4e-5),
    }  # fmt: skip
    for (rule, fraction), (epochs, lr) in expected.items():
        for scale, lam in ((1, 0.02), (2, 0.04)):
            point = points[f"method=stp__data_rule={rule}__lambda_scale={scale}__train_fraction={fraction:g}__seed=82"]
            assert (point.config["num_train_epochs"], point.config["learning_rate"], point.config["stp_lambda"]) == (epochs, lr, lam)
        ntp = points[f"method=ntp__data_rule={rule}__lambda_scale=1__train_fraction={fraction:g}__seed=82"]
        assert (ntp.config["num_train_epochs"], ntp.config["stp_lambda"]) == (epochs, 0.0)
    assert not any("method=ntp" in key and "lambda_scale=2" in key for key in points)


def test_with_max_steps_the_epoch_rule_keeps_the_steps_and_half_compute_halves_them():
    """max_steps counts optimizer steps: n x epochs over 1/n of the data is the same number."""
    document = {"config": {"max_steps": 101, "learning_rate": 1e-4}, "grid": {"train_fraction": [1, 0.125], "data_rule": ["epochs", "half_compute"], "seed": [1]}}
    points = by_id(expand(sweep_of(document)))
    assert points["data_rule=epochs__train_fraction=0.125__seed=1"].config["max_steps"] == 101
    assert "num_train_epochs" not in points["data_rule=epochs__train_fraction=0.125__seed=1"].config
    assert points["data_rule=half_compute__train_fraction=0.125__seed=1"].config["max_steps"] == 51
    assert points["data_rule=half_compute__train_fraction=1__seed=1"].config["learning_rate"] == 2e-4


def test_subsets_are_nested_and_the_same_for_every_method_and_seed():
    """Points differ in train_fraction only where the grid says so: both methods and all seeds at
    one fraction get the same train_fraction and train_subset_seed, hence the same examples."""
    document = {"config": {"num_train_epochs": 1, "train_subset_seed": 5}, "methods": METHODS, "grid": {"train_fraction": [1, 0.5, 0.25], "seed": [82, 23]}}
    examples = [ChatExample(user=f"q{i}", assistant=f"a{i}") for i in range(40)]
    subsets = {}
    for point in expand(sweep_of(document)):
        fraction = point.coordinates["train_fraction"]
        assert point.config["train_fraction"] == fraction and point.config["train_subset_seed"] == 5
        chosen = [e.user for e in nested_subset(examples, point.config["train_fraction"], point.config["train_subset_seed"])]
        subsets.setdefault(fraction, set()).add(tuple(chosen))
    assert all(len(found) == 1 for found in subsets.values())  # one subset per fraction, whatever the method or seed
    (full,), (half,), (quarter,) = subsets[1.0], subsets[0.5], subsets[0.25]
    assert len(full) == 40 and len(half) == 20 and len(quarter) == 10
    assert set(quarter) < set(half) < set(full)


def test_overrides_apply_to_every_point_typed_as_yaml():
    overrides = parse_overrides(["--train-file", "data/t.jsonl", "--bf16", "--warmup_steps=3", "--stp_layer", "-2", "--eval_file", ""])
    assert overrides == {"train_file": "data/t.jsonl", "bf16": True, "warmup_steps": 3, "stp_layer": -2, "eval_file": None}
    points = expand(sweep_of({"config": {"num_train_epochs": 1}, "methods": METHODS, "grid": {"seed": [1]}}, overrides))
    assert all(p.config["train_file"] == "data/t.jsonl" and p.config["stp_layer"] == -2 for p in points)


# -------------------------------------------------------------------------------------------
# Bad input: errors that name the key, field, point or folder


@pytest.mark.parametrize(
    "document, overrides, message",
    [
        ({"grid": {"seed": []}}, None, "grid.seed is empty: the grid has zero points"),
        ({"grid": {"train_fraction": [1, 0]}}, None, "grid.train_fraction: a data fraction must be in (0, 1], got 0"),
        ({"grid": {"train_fraction": [1.5]}}, None, "a data fraction must be in (0, 1], got 1.5"),
        ({"config": {"train_fraction": "half"}}, None, "config.train_fraction: a data fraction must be in (0, 1], got 'half'"),
        ({"grid": {"data_rule": ["epoch"]}}, None, "grid.data_rule: unknown value(s) ['epoch']"),
        ({"grid": {"lambda_scale": [0]}}, None, "grid.lambda_scale: expected positive numbers"),
        ({"grids": {}}, None, "unknown key(s) grids"),
        ({"config": {"seed": 82}}, None, "seed in config: list the seeds in grid.seed"),
        ({"config": {"stp_lambda": 0.02}, "grid": {"train_fraction": [0.5]}}, None, "data_rule epochs scales num_train_epochs: set num_train_epochs"),
        ({"config": {"num_train_epochs": 1}, "grid": {"data_rule": ["half_compute"]}}, None, "doubles learning_rate: set learning_rate"),
        ({"methods": METHODS, "grid": {"lambda_scale": [2]}, "config": {"max_steps": 5}}, None, None),  # fine: methods set lambda
        ({"grid": {"lambda_scale": [2]}, "config": {"max_steps": 5}}, None, "lambda_scale 2 scales stp_lambda: set stp_lambda"),
        ({"methods": METHODS}, {"stp_lambda": 0.1}, "--stp_lambda: the sweep varies it"),
        ({"grid": {"seed": [1]}}, {"seed": 2}, "--seed: the sweep varies it"),
        ({"grid": {"output_dir": ["a"]}}, None, "output_dir in grid: the sweep sets it for every point"),
        ({"grid": {"method": ["a"]}}, None, "grid.method: define methods under `methods:`"),
        ({"methods": {"a b": {"stp_lambda": 0.0}}}, None, "methods.a b: a method name may hold only"),
        ({"launcher": 3}, None, "launcher: expected a command"),
    ],
)
def test_bad_sweeps_are_errors_naming_what_is_wrong(document, overrides, message):
    if message is None:
        assert expand(sweep_of(document, overrides))
        return
    with pytest.raises(SweepError) as info:
        expand(sweep_of(document, overrides))
    assert message in str(info.value)


def test_missing_sweep_file_is_named(tmp_path):
    with pytest.raises(SweepError, match="sweep file not found: .*nope.yaml"):
        load_sweep(tmp_path / "nope.yaml")


# -------------------------------------------------------------------------------------------
# Every preset, and bad values, through `stp train`'s own parser (one child interpreter for all)


BAD_CONFIGS = {"bad-form": {"stp_form": "tubes"}, "bad-lambda": {"stp_lambda": -1}, "bad-task": {"eval_task": "nope"}}


@pytest.fixture(scope="module")
def validation():
    from semantic_tube.experiments.sweep import point_config

    configs = {f"{path.stem}/{p.point_id}": point_config(p, Path("runs") / p.point_id) for path in SWEEPS for p in expand(load_sweep(path))}
    return check_configs({**configs, **BAD_CONFIGS}, on_this_hardware=False)


def test_every_preset_expands_and_passes_the_train_parser(validation):
    assert {path.stem for path in SWEEPS} == {
        "quick", "paper_synth", "paper_turk", "paper_gsm8k", "paper_spider", "paper_nq_open", "paper_hellaswag", "ablation", "ablation_quick", "lambda",
        "signal_quick",
    }  # fmt: skip
    assert set(validation.errors) == set(BAD_CONFIGS)
    counts = {path.stem: len(expand(load_sweep(path))) for path in SWEEPS}
    assert counts == {
        "quick": 18, "paper_synth": 60, **{f"paper_{t}": 10 for t in ("turk", "gsm8k", "spider", "nq_open", "hellaswag")},
        "ablation": 85, "ablation_quick": 45, "lambda": 105, "signal_quick": 11,
    }  # fmt: skip
    for path in SWEEPS:
        sweep = load_sweep(path)
        check_field_names(sweep, validation.fields)
        assert "Expected cost" in path.read_text().split("\nname:")[0], f"{path.name}: no cost in its header"
        points = expand(sweep)
        assert all(p.config.get("model_name_or_path") in (None, "meta-llama/Llama-3.2-1B-Instruct") for p in points)
        missing = missing_paths(points)  # only the placeholders of the paper's data files
        assert all(entry.split("=", 1)[1].startswith("data/") for entry in missing), missing


def test_paper_presets_use_the_papers_lambda_and_settings():
    table = {"synth": 0.02, "turk": 0.04, "gsm8k": 0.005, "spider": 0.04, "nq_open": 0.16, "hellaswag": 0.02}
    for task, lam in table.items():
        sweep = load_sweep(ROOT / "sweeps" / f"paper_{task}.yaml")
        assert sweep.methods["stp"] == {"stp_lambda": lam} and sweep.methods["ntp"]["stp_lambda"] == 0.0
        config = sweep.config
        assert config["learning_rate"] == 2e-5 and config["num_train_epochs"] == 4 and config["eval_task"] == task
        assert config["per_device_train_batch_size"] * config["gradient_accumulation_steps"] * 8 == 128
        assert sweep.launcher == ("torchrun", "--nproc_per_node=8") and sweep.axes["seed"] == PAPER_SEEDS
    assert load_sweep(ROOT / "sweeps" / "paper_synth.yaml").axes["train_fraction"] == (1, 0.5, 0.25, 0.125, 0.0625, 0.03125)


def test_the_check_counts_each_points_forward_passes_per_step(validation):
    passes = {key.split("/")[1].split("__")[0]: n for key, n in validation.forward_passes.items() if key.startswith("ablation_quick/")}
    assert len(passes) == 15 and not set(BAD_CONFIGS) & set(validation.forward_passes)
    assert passes["method=llm-jepa"] == 3 and passes["method=mask+full"] == 2 and passes["method=ntp"] == 1
    assert {passes[f"method={name}"] for name in ("stp", "stp+pred", "two-view+mean", "curvature")} == {1}


def finish_point(folder: Path, seconds: float) -> None:
    """A fabricated finished point whose attempt took `seconds`, as the sweep records it."""
    folder.mkdir(parents=True)
    (folder / "sweep_point.json").write_text(json.dumps({"started_at": "2026-11-29T22:30:53+00:00", "seconds": seconds}))
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


def test_bad_values_are_rejected_by_the_train_parser(validation):
    assert validation.errors["bad-form"] == "stp_form: 'tubes' is not one of ['tube', 'anchored', 'span', 'zero']"
    assert validation.errors["bad-lambda"] == "stp_lambda must be >= 0, got -1"
    assert "unknown task 'nope'" in validation.errors["bad-task"]


def test_unknown_fields_are_named_where_they_are(validation):
    cases = [
        ({"config": {"lerning_rate": 1}}, None, "config.lerning_rate: unknown field 'lerning_rate' (did you mean learning_rate?)"),
        ({"methods": {"stp": {"stp_lamda": 0.1}}}, None, "methods.stp.stp_lamda: unknown field 'stp_lamda' (did you mean stp_lambda?)"),
        ({"grid": {"stp_frm": ["tube"]}}, None, "grid.stp_frm: unknown field"),
        ({}, {"train_fle": "x"}, "--train_fle: unknown field 'train_fle' (did you mean train_file?)"),
    ]
    for document, overrides, message in cases:
        with pytest.raises(SweepError) as info:
            check_field_names(sweep_of(document, overrides), validation.fields)
        assert message in str(info.value)


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


# -------------------------------------------------------------------------------------------
# Shards: every point exactly once, from the flag or the scheduler's variables


def covered(shards, n_points=23):
    owners = [[s for s in shards if s.owns(k)] for k in range(n_points)]
    return [len(found) for found in owners]


def test_explicit_shards_cover_every_point_once():
    for n in (1, 2, 3, 7, 30):
        assert covered([resolve_shard(f"{i}/{n}", {}) for i in range(n)]) == [1] * 23
    assert resolve_shard(None, {}) == ALL


def test_slurm_array_shards_cover_every_point_once_whatever_the_first_id_and_step():
    for first, step, count in ((0, 1, 4), (1, 1, 5), (10, 3, 4)):
        environ = {"SLURM_ARRAY_TASK_MIN": str(first), "SLURM_ARRAY_TASK_COUNT": str(count), "SLURM_ARRAY_TASK_STEP": str(step)}
        shards = [resolve_shard(None, {**environ, "SLURM_ARRAY_TASK_ID": str(first + k * step)}) for k in range(count)]
        assert sorted(s.index for s in shards) == list(range(count)) and {s.count for s in shards} == {count}
        assert covered(shards) == [1] * 23
    no_count = {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_MAX": "8"}
    assert (resolve_shard(None, no_count).index, resolve_shard(None, no_count).count) == (2, 4)
    with pytest.raises(ShardError, match="SLURM_ARRAY_TASK_ID=7 is not one of 3 evenly spaced ids"):
        resolve_shard(None, {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "3"})


def test_kubernetes_indexed_job_shards_cover_every_point_once():
    shards = [resolve_shard(None, {"JOB_COMPLETION_INDEX": str(i), "STP_SHARD_COUNT": "6"}) for i in range(6)]
    assert covered(shards) == [1] * 23
    with pytest.raises(ShardError, match="no STP_SHARD_COUNT"):
        resolve_shard(None, {"JOB_COMPLETION_INDEX": "0"})


def test_the_flag_wins_over_the_scheduler_and_bad_shards_are_errors():
    assert str(resolve_shard("2/3", {"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "9"})) == "2/3"
    for bad in ("3/3", "1-4", "a/b"):
        with pytest.raises(ShardError, match="--shard"):
            resolve_shard(bad, {})


# -------------------------------------------------------------------------------------------
# Locks


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


# -------------------------------------------------------------------------------------------
# Failures: stp train records its own (tests/experiments/test_sweep.py); the sweep names a silent death


def test_a_run_that_died_without_a_record_is_named_by_how_it_ended():
    assert ended_how(-9).startswith("stp train killed by SIGKILL (the kernel's out-of-memory killer")
    assert ended_how(-15) == "stp train killed by SIGTERM"
    assert ended_how(0) == "stp train exited normally but wrote no metrics.json"
    assert ended_how(1).startswith("stp train exited with code 1 without writing failed.json")


def test_a_checkpoint_killed_mid_save_is_removed_before_resuming(tmp_path):
    """The Trainer writes trainer_state.json last: a checkpoint without it would be picked by
    `resume_from_checkpoint: last` and fail the resume."""
    for step, complete in ((5, True), (10, False)):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "model.safetensors").write_text("x")
        if complete:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert remove_incomplete_checkpoints(tmp_path) == [tmp_path / "checkpoint-10"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-5"]


# -------------------------------------------------------------------------------------------
# Launchers and the example job files


def test_a_launcher_starts_each_run_and_counts_in_the_steps():
    folder = Path("runs/x/p")
    assert train_command(folder, ("torchrun", "--nproc_per_node=8")) == [
        "torchrun", "--nproc_per_node=8", "-m", "semantic_tube", "train", "--config", "runs/x/p/sweep_config.yaml",
    ]  # fmt: skip
    assert train_command(folder)[:3] == [sys.executable, "-m", "semantic_tube"]
    assert launcher_processes(("torchrun", "--nnodes", "2", "--nproc-per-node", "4")) == 8 and launcher_processes(()) == 1
    config = {"train_file": None, "nlrx_examples": 1000, "per_device_train_batch_size": 4, "gradient_accumulation_steps": 4, "num_train_epochs": 4}
    assert estimate_steps(config, processes=8) == 4 * (math.ceil(math.ceil(800 / 8) / 4) // 4)  # 800 examples over 8 processes


def test_the_example_job_files_shard_as_stp_sweep_reads_them():
    job = yaml.safe_load((ROOT / "examples" / "kubernetes" / "sweep-job.yaml").read_text())
    spec = job["spec"]
    container = spec["template"]["spec"]["containers"][0]
    count = {item["name"]: item["value"] for item in container["env"]}["STP_SHARD_COUNT"]
    assert spec["completionMode"] == "Indexed" and int(count) == spec["completions"]
    assert container["command"][:2] == ["stp", "sweep"] and "--shard" not in container["command"]
    batch = ROOT / "examples" / "slurm" / "sweep.sbatch"
    assert subprocess.run(["bash", "-n", str(batch)], check=False).returncode == 0
    assert 'exec stp sweep --config "$SWEEP" --out "$OUT" "$@"' in batch.read_text()


def test_the_step_estimate_counts_a_max_train_examples_pool():
    config = {"train_file": None, "nlrx_examples": 1000, "per_device_train_batch_size": 8, "num_train_epochs": 1}
    assert estimate_steps(config) == 100  # 800 generated training examples
    assert estimate_steps({**config, "max_train_examples": 400}) == 50
    assert estimate_steps({**config, "max_train_examples": 400, "train_fraction": 0.5}) == 25
    assert estimate_steps({**config, "max_train_examples": 5000}) == 100
