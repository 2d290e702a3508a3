"""`stp tune`: the fit, the choice, its interval and the early stop on fabricated curves (no
training), then one tiny end-to-end tune of plain fine-tuning and 2 lambdas x 1 seed."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import yaml

from semantic_tube.cli import main
from semantic_tube.experiments.tune import (
    LambdaScores,
    NothingToFit,
    TuneError,
    TuneInput,
    TuneSettings,
    choose,
    choose_with_interval,
    fit_quadratic,
    gain_line,
    gain_over_plain,
    is_collapse,
    read_config,
    scan,
    task_and_metric,
    trained_stp,
    treatment_fall,
    treatment_warning,
    tune_document,
    with_field,
    with_lambda,
)
from tests.tiny_models import save_tiny
from tests.training.conftest import write_regex_data

LAMBDAS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.16)
SEEDS = (82, 23, 37)


def curve(peak: float, noise: float = 0.0, seeds=SEEDS, lambdas=LAMBDAS, rng_seed: int = 0) -> list[LambdaScores]:
    """Scores 0.7 - 0.04 (ln lambda - ln peak)^2, a per-seed offset, and per-run noise."""
    rng = np.random.default_rng(rng_seed)
    offsets = dict(zip(seeds, rng.normal(0, 0.02, len(seeds))))
    results = []
    for lam in lambdas:
        scores = [0.7 - 0.04 * (math.log(lam) - math.log(peak)) ** 2 + offsets[s] + rng.normal(0, noise) for s in seeds]
        results.append(LambdaScores(lam, tuple(seeds), tuple(scores)))
    return results


def test_the_fit_recovers_a_known_parabola_exactly():
    """y = -(x - ln 0.02)^2 + 1 = -x^2 + 2 ln(0.02) x + (1 - ln(0.02)^2): a = -1, b = 2 ln 0.02."""
    results = [LambdaScores(lam, (1,), (1 - (math.log(lam) - math.log(0.02)) ** 2,)) for lam in LAMBDAS]
    a, b, c = fit_quadratic(results)
    assert (a, b, c) == pytest.approx((-1, 2 * math.log(0.02), 1 - math.log(0.02) ** 2), abs=1e-9)
    assert choose(results).stp_lambda == pytest.approx(0.02, rel=1e-9)


def test_the_peak_of_a_noisy_concave_curve_is_found_with_an_interval_that_covers_it():
    choice = choose_with_interval(curve(peak=0.03, noise=0.01))
    assert choice.how == "vertex of the quadratic in ln(lambda)"
    assert choice.stp_lambda == pytest.approx(0.03, rel=0.15)
    assert choice.low < 0.03 < choice.high and choice.low < choice.stp_lambda < choice.high
    assert choice.high / choice.low < 4 and choice.draws > 1900


def test_the_interval_widens_with_the_seed_to_seed_noise():
    quiet = choose_with_interval(curve(peak=0.03, noise=0.002))
    noisy = choose_with_interval(curve(peak=0.03, noise=0.03))
    assert noisy.high / noisy.low > quiet.high / quiet.low


def test_without_an_interior_maximum_the_best_measured_lambda_is_chosen_and_the_reason_said():
    rising = curve(peak=1.0)  # still rising at 0.16: the vertex lies outside the grid
    assert choose(rising).stp_lambda == 0.16 and "peaks outside the measured lambdas: extend --lambdas" in choose(rising).how
    convex = [LambdaScores(lam, (1,), ((math.log(lam) + 4) ** 2,)) for lam in LAMBDAS]
    assert "the fit is not concave" in choose(convex).how and choose(convex).stp_lambda == 0.16
    two = curve(peak=0.01, lambdas=(0.01, 0.02))
    assert choose(two).stp_lambda == 0.01 and choose(two).how == "best measured (a quadratic needs 3 lambdas, 2 finished)"


def test_one_seed_gives_no_interval_and_no_runs_nothing_to_fit():
    choice = choose_with_interval(curve(peak=0.03, seeds=(82,)))
    assert choice.low is None and choice.interval == "no interval (one seed)"
    with pytest.raises(NothingToFit):
        choose([LambdaScores(0.01, (), ())])


def test_a_collapse_stops_the_scan_and_is_left_out_of_the_fit():
    """Means 0.50, 0.60, 0.62, then 0.20 < 0.62 / 2: a collapse; 0.08 and 0.16 are never run."""
    means = {0.005: 0.50, 0.01: 0.60, 0.02: 0.62, 0.04: 0.20, 0.08: 0.6, 0.16: 0.6}
    asked = []

    def measure(lam):
        asked.append(lam)
        return LambdaScores(lam, SEEDS, tuple(means[lam] + d for d in (-0.01, 0.0, 0.01)))

    results, skipped = scan(reversed(LAMBDAS), measure)  # any order given: measured increasing
    assert asked == [0.005, 0.01, 0.02, 0.04] and skipped == [0.08, 0.16]
    assert [r.collapsed for r in results] == [False, False, False, True]
    assert choose(results).stp_lambda <= 0.02  # the cliff at 0.04 does not drag the fit
    assert is_collapse(0.30, 0.62) and not is_collapse(0.31, 0.62)  # below half the best so far
    assert not is_collapse(0.0, 0.0)  # nothing learnt yet is no collapse


def test_plain_fine_tunings_mean_is_the_first_best_so_far_of_the_collapse_rule():
    """Plain fine-tuning scored 0.62; the first lambda's 0.30 is below half of it: a collapse at once."""
    results, skipped = scan(LAMBDAS[:3], lambda lam: LambdaScores(lam, (1,), (0.30,)), best=0.62)
    assert [r.collapsed for r in results] == [True] and skipped == [0.01, 0.02]
    results, skipped = scan(LAMBDAS[:3], lambda lam: LambdaScores(lam, (1,), (0.30,)))  # no baseline: nothing to fall from
    assert [r.collapsed for r in results] == [False, False, False] and skipped == []


def test_a_lambda_without_finished_runs_neither_collapses_nor_counts():
    results, skipped = scan(LAMBDAS[:3], lambda lam: LambdaScores(lam, (), ()) if lam == 0.01 else LambdaScores(lam, (1,), (0.5,)))
    assert skipped == [] and [len(r.scores) for r in results] == [1, 0, 1]


def test_the_tuned_config_keeps_the_input_text_with_the_chosen_lambda():
    text = "# my preset\nseed: 82\nstp_lambda: 0.02   # paper\nmax_steps: 200\n"
    tuned = with_lambda(text, 0.031, "# tuned\n")
    assert tuned == "# tuned\n# my preset\nseed: 82\nstp_lambda: 0.031\nmax_steps: 200\n"
    assert yaml.safe_load(with_lambda("seed: 1", 0.04, "")) == {"seed": 1, "stp_lambda": 0.04}


def test_with_field_replaces_a_top_level_line_or_adds_one_as_yaml_reads_it_back():
    text = "# preset\ntrain_file: data/train.jsonl  # mine\nmax_steps: 200\n"
    assert with_field(text, "train_file", "../elsewhere/train.jsonl") == "# preset\ntrain_file: ../elsewhere/train.jsonl\nmax_steps: 200\n"
    for value in ("tube,span", "yes", None, True, 0.5, "a: b"):
        assert yaml.safe_load(with_field(text, "field", value))["field"] == value


def test_a_sweep_file_is_tuned_on_its_config_block_and_launcher_with_the_overrides_set(tmp_path):
    sweep = tmp_path / "landscape.yaml"
    sweep.write_text(
        "# a preset\nname: landscape\nlauncher: torchrun --nproc_per_node=2\n"
        "config:\n  train_file: data/train.jsonl\n  eval_task: synth\n  max_steps: 200\n"
        "methods:\n  stp: {method: stp}\ngrid:\n  stp_lambda: [0, 0.32]\n  seed: [82]\n"
    )
    setting = read_config(sweep, {"train_file": "../data/train.jsonl", "eval_task_limit": 500})
    assert setting.config == {"train_file": "../data/train.jsonl", "eval_task": "synth", "max_steps": 200, "eval_task_limit": 500}
    assert setting.launcher == "torchrun --nproc_per_node=2"
    assert yaml.safe_load(setting.text) == setting.config and setting.text.startswith(f"# the config block of the sweep file {sweep}")
    document = tune_document(TuneSettings(sweep, lambdas=(0.08,), seeds=(82,)), setting.config, setting.launcher)
    assert document["launcher"] == "torchrun --nproc_per_node=2" and document["config"]["max_steps"] == 50
    train_config = tmp_path / "train.yaml"
    train_config.write_text("# mine\neval_task: synth\nstp_lambda: 0.02\n")
    assert read_config(train_config, {"max_steps": 10}) == TuneInput(
        "# mine\neval_task: synth\nstp_lambda: 0.02\nmax_steps: 10\n", {"eval_task": "synth", "stp_lambda": 0.02, "max_steps": 10}
    )
    sweep.write_text("name: s\nconfig: [1, 2]\ngrid: {seed: [1]}\n")
    with pytest.raises(TuneError, match="landscape.yaml: config: expected a mapping"):
        read_config(sweep)


def test_the_pilot_grid_and_its_errors(tmp_path):
    settings = TuneSettings(tmp_path / "c.yaml", lambdas=(0.02, 0.01), fraction=0.25, seeds=(82,), baseline=False)
    config = {"seed": 5, "output_dir": "x", "stp_lambda": 0.02, "max_steps": 200, "eval_task": "synth", "learning_rate": 1e-4}
    document = tune_document(settings, config)
    assert document["config"] == {"max_steps": 50, "eval_task": "synth", "learning_rate": 1e-4, "train_fraction": 0.25}
    assert document["grid"] == {"data_rule": ["none"], "stp_lambda": [0.01, 0.02], "seed": [82]}
    document = tune_document(replace(settings, baseline=True), config)  # plain fine-tuning first, logging the STP it does not train
    assert document["config"] == {
        "max_steps": 50,
        "eval_task": "synth",
        "learning_rate": 1e-4,
        "train_fraction": 0.25,
        "stp_log_when_off": True,
    }
    assert document["grid"]["stp_lambda"] == [0.0, 0.01, 0.02]
    with pytest.raises(TuneError, match=r"--train_fraction: a data fraction must be in \(0, 1\], got 1.5"):
        tune_document(TuneSettings(tmp_path / "c.yaml", fraction=1.5), config)
    with pytest.raises(TuneError, match="--lambdas: expected positive values"):
        tune_document(TuneSettings(tmp_path / "c.yaml", lambdas=(0.0, 0.1)), config)
    assert task_and_metric(config, tmp_path, None) == ("synth", "exact")
    assert task_and_metric(config, tmp_path, "equivalent") == ("synth", "equivalent")
    with pytest.raises(TuneError, match="--metric 'accuracy': task synth reports exact, equivalent"):
        task_and_metric(config, tmp_path, "accuracy")
    with pytest.raises(TuneError, match="eval_task: stp tune scores a task"):
        task_and_metric({}, tmp_path / "c.yaml", None)


def test_the_treatment_fall_of_a_run_by_hand():
    assert treatment_fall({"treatment/initial_aux_loss": 1.25, "treatment/trained_aux_loss": 0.5}) == pytest.approx(0.6)
    assert treatment_fall({"treatment/initial_aux_loss": 1.0, "treatment/trained_aux_loss": 1.1}) == pytest.approx(-0.1)
    assert treatment_fall({"treatment/initial_aux_loss": 1.25}) is None  # treatment_batches 0: nothing measured
    assert treatment_fall({"treatment/initial_aux_loss": 0.0, "treatment/trained_aux_loss": 0.0}) is None
    assert treatment_fall({}) is None


def test_the_treatment_fall_below_plain_fine_tunings_stp_by_hand():
    trained = {"treatment/initial_aux_loss": 1.25, "treatment/trained_aux_loss": 0.9}
    assert trained_stp(trained) == 0.9 and trained_stp({"treatment/initial_aux_loss": 1.25}) is None
    assert treatment_fall(trained, reference=1.2) == pytest.approx(0.25)  # 1 - 0.9 / 1.2, not 1 - 0.9 / 1.25
    assert treatment_fall({"treatment/initial_aux_loss": 1.25}, reference=1.2) is None
    assert treatment_fall(trained, reference=0.0) is None


def test_the_gain_over_plain_fine_tuning_pairs_seeds_at_the_measured_lambda_nearest_the_choice():
    from scipy import stats as sps

    plain = LambdaScores(0.0, (82, 23, 37), (0.60, 0.58, 0.63))
    results = [
        LambdaScores(0.01, (82, 23, 37), (0.61, 0.60, 0.63)),
        LambdaScores(0.04, (37, 82), (0.66, 0.64)),  # seed 23 did not finish
        LambdaScores(0.16, (82, 23, 37), (0.1, 0.1, 0.1), collapsed=True),
    ]
    gain = gain_over_plain(results, plain, chosen=0.03)  # ln 0.03 is nearer ln 0.04 than ln 0.01
    assert gain.stp_lambda == 0.04 and gain.test.n == 2
    assert gain.test.mean_difference == pytest.approx(0.035)  # (0.64 - 0.60 + 0.66 - 0.63) / 2
    assert gain.test.p_value == pytest.approx(sps.ttest_rel([0.64, 0.66], [0.60, 0.63], alternative="greater").pvalue)
    assert gain_over_plain(results, plain, chosen=0.2).stp_lambda == 0.04  # a collapsed lambda is never the one compared
    assert gain_over_plain(results, None, chosen=0.03) is None and gain_over_plain(results, LambdaScores(0.0, (), ()), 0.03) is None
    line = gain_line(gain_over_plain(results, plain, chosen=0.01))
    assert "lambda 0.01, the measured lambda nearest the choice, scores +0.010" in line
    assert "no gain over plain fine-tuning resolved on the pilot" in line
    strong = gain_line(gain_over_plain([LambdaScores(0.01, (82, 23, 37), (0.70, 0.69, 0.75))], plain, chosen=0.01))
    assert "a gain on the pilot" in strong and "confirm it at full length" in strong


def test_a_lambda_is_weak_when_stp_fell_less_than_a_tenth_from_its_start():
    assert LambdaScores(0.02, (82, 23), (0.5, 0.6), falls=(0.05, 0.07)).fall == pytest.approx(0.06)
    assert LambdaScores(0.02, (82, 23), (0.5, 0.6), falls=(0.05, 0.07)).weak is True
    assert LambdaScores(0.32, (82,), (0.5,), falls=(0.55,)).weak is False
    assert LambdaScores(0.32, (82,), (0.5,), falls=(0.1,)).weak is False  # exactly 10%: not weak
    assert LambdaScores(0.32, (82,), (0.5,)).weak is None  # not measured


def test_the_treatment_warning_names_the_weak_lambdas_or_says_the_choice_rests_on_noise():
    strong, weak, unmeasured = (0.5,), (0.01,), ()

    def results(*falls):
        return [LambdaScores(lam, (82,), (0.5,), falls=fall) for lam, fall in zip((0.01, 0.08, 0.32), falls)]

    assert treatment_warning(results(strong, strong, strong)) is None
    assert treatment_warning(results(unmeasured, unmeasured, unmeasured)) is None
    some = treatment_warning(results(weak, weak, strong))
    assert some.startswith("weak treatment at lambda 0.01, 0.08 (STP fell less than 10% from its start)")
    against = treatment_warning(results(weak, weak, strong), against_plain=True)
    assert against.startswith("weak treatment at lambda 0.01, 0.08 (STP fell less than 10% below plain fine-tuning's)")
    every = treatment_warning(results(weak, weak, unmeasured))
    assert every.startswith("warning: at every lambda of the grid") and "extend --lambdas upward" in every


def test_tune_end_to_end_on_a_tiny_model(tmp_path, capsys):
    """Plain fine-tuning and 2 lambdas x 1 seed: runs through the sweep machinery, writes the
    curve, the choice, the gain over plain fine-tuning and a config that `stp train` reads back."""
    from semantic_tube.training.arguments import parse_train_args

    model = save_tiny(tmp_path / "tiny", "chatml", seed=0)
    config = tmp_path / "pilot.yaml"
    config.write_text(yaml.safe_dump({
        "model_name_or_path": str(model), "train_file": str(write_regex_data(tmp_path / "train.jsonl", 32, seed=1)),
        "eval_task": "synth", "eval_task_file": str(write_regex_data(tmp_path / "test.jsonl", 4, seed=2)), "eval_task_limit": 2,
        "max_steps": 8, "per_device_train_batch_size": 4, "learning_rate": 0.005, "logging_steps": 2, "save_strategy": "no",
        "report_to": "none", "use_cpu": True, "max_length": 96, "seed": 1, "stp_lambda": 0.5,
    }))  # fmt: skip
    out = tmp_path / "tune"
    code = main(["tune", "--config", str(config), "--lambdas", "0.02", "0.01", "--seeds", "82", "--fraction", "0.5", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    record = json.loads((out / "tune.json").read_text())
    assert [entry["stp_lambda"] for entry in record["lambdas"]] == [0.01, 0.02] and record["metric"] == "exact"
    assert record["chosen_lambda"] in (0.01, 0.02) and record["choice"]["how"].startswith("best measured")

    def metrics(lam):
        return json.loads((out / f"data_rule=none__stp_lambda={lam:g}__train_fraction=0.5__seed=82" / "metrics.json").read_text())

    plain_stp = metrics(0)["treatment/trained_aux_loss"]  # the lambda-0 run logged the STP it did not train
    assert record["baseline"]["scores"] == [metrics(0)["task_synth/exact"]] and record["fall_rule"].endswith("below plain fine-tuning's")
    for entry in record["lambdas"]:  # each pilot run's STP after training, against plain fine-tuning's on the same examples
        assert entry["fall"] == pytest.approx(1 - metrics(entry["stp_lambda"])["treatment/trained_aux_loss"] / plain_stp)
        assert entry["weak"] == (entry["fall"] < 0.1) and f"{entry['fall']:.0%}" in printed
    gain = record["gain_over_plain"]
    assert gain["stp_lambda"] == record["chosen_lambda"] and gain["test"]["n"] == 1 and "against plain fine-tuning" in printed
    assert gain["test"]["mean_difference"] == pytest.approx(
        metrics(gain["stp_lambda"])["task_synth/exact"] - record["baseline"]["scores"][0]
    )
    assert (out / "tune.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    point = out / "data_rule=none__stp_lambda=0.01__train_fraction=0.5__seed=82"
    assert yaml.safe_load((point / "sweep_config.yaml").read_text())["max_steps"] == 4  # the pilot: half the data, half the steps
    assert json.loads((point / "metrics.json").read_text())["train_fraction"] == 0.5
    tuned = out / "tuned_config.yaml"
    _, _, training_args, _ = parse_train_args(["--config", str(tuned)])
    assert training_args.stp_lambda == record["chosen_lambda"] and training_args.seed == 1 and training_args.max_steps == 8
    assert f"chosen stp_lambda {record['chosen_lambda']:g}" in printed and f"stp train --config {tuned}" in printed
