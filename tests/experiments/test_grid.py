"""Sweep files expanded into points: axes, the data rule and its variants, subsets, bad input, and
every preset in sweeps/ checked by `stp train`'s parser (no training here). Shards, locks, timing
and the other parts of a sweep have their own files (test_shards.py, test_locks.py, sweep/)."""

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
from semantic_tube.experiments.sweep import (
    check_field_names,
    estimate_steps,
    missing_paths,
)
from tests.experiments.presets import BAD_CONFIGS, SWEEPS

ROOT = Path(__file__).resolve().parents[2]
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
# Every preset through `stp train`'s own parser (the `validation` fixture: tests/experiments/conftest.py)


def test_every_preset_expands_and_passes_the_train_parser(validation):
    assert {path.stem for path in SWEEPS} == {
        "quick", "paper_synth", "paper_turk", "paper_gsm8k", "paper_spider", "paper_nq_open", "paper_hellaswag", "ablation", "ablation_quick", "lambda",
        "signal_quick", "landscape_quick", "landscape_span_quick", "efficiency_quick",
    }  # fmt: skip
    assert set(validation.errors) == set(BAD_CONFIGS)
    counts = {path.stem: len(expand(load_sweep(path))) for path in SWEEPS}
    assert counts == {
        "quick": 18, "paper_synth": 60, **{f"paper_{t}": 10 for t in ("turk", "gsm8k", "spider", "nq_open", "hellaswag")},
        "ablation": 85, "ablation_quick": 45, "lambda": 105, "signal_quick": 11,
        "landscape_quick": 18, "landscape_span_quick": 6, "efficiency_quick": 30,
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
