"""`stp tune` (cli/tune.py): its options with their defaults and older spellings, and a config or
option that cannot run refused with exit 2 before anything trains. The fit and a whole tune on a
tiny model are tested in tests/experiments/test_tune.py."""

import yaml

from semantic_tube.cli import tune
from semantic_tube.experiments.tune import DEFAULT_FRACTION, DEFAULT_LAMBDAS, DEFAULT_SEEDS


def test_the_defaults_and_the_older_spellings():
    (args,) = tune.build_parser().parse_args_into_dataclasses(["--config", "c.yaml"])
    assert (args.lambdas, args.train_fraction, args.seeds, args.output_dir, args.metric, args.baseline) == (
        list(DEFAULT_LAMBDAS), DEFAULT_FRACTION, list(DEFAULT_SEEDS), None, None, True,
    )  # fmt: skip
    (args,) = tune.build_parser().parse_args_into_dataclasses(["--config", "c.yaml", "--baseline", "false"])
    assert args.baseline is False
    (args,) = tune.build_parser().parse_args_into_dataclasses(
        ["--config", "c.yaml", "--lambdas", "0.01", "0.04", "--fraction", "0.5", "--seeds", "1", "2", "--out", "o", "--metric", "exact"]
    )
    assert (args.lambdas, args.train_fraction, args.seeds, args.output_dir, args.metric) == ([0.01, 0.04], 0.5, [1, 2], "o", "exact")


def test_bad_configs_and_options_are_named_errors_before_any_run(tmp_path, capsys):
    def run(*argv):
        code = tune.main(["--config", str(config), "--output_dir", str(tmp_path / "out"), *argv])
        return code, capsys.readouterr().err

    config = tmp_path / "nowhere.yaml"
    code, err = run()
    assert code == 2 and err.startswith("stp tune: error: config file not found: ")
    config = tmp_path / "no_task.yaml"
    config.write_text(yaml.safe_dump({"stp_lambda": 0.02}))
    code, err = run()
    assert code == 2 and "eval_task: stp tune scores a task" in err and "(got None)" in err
    config.write_text(yaml.safe_dump({"eval_task": "synth"}))
    code, err = run("--lambdas", "0.01", "-0.02")
    assert code == 2 and "--lambdas: expected positive values, got [0.01, -0.02]" in err
    code, err = run("--metric", "bleu")
    assert code == 2 and "--metric 'bleu': task synth reports" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("metrics.json"))


def test_other_field_options_reach_every_pilot_run_and_an_unknown_one_is_named(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    (tmp_path / "train.jsonl").write_text("")
    config.write_text(yaml.safe_dump({"eval_task": "synth", "train_file": str(tmp_path / "train.jsonl")}))
    code = tune.main(["--config", str(config), "--output_dir", str(tmp_path / "out"), "--no_such_field", "1"])
    assert code == 2 and "no_such_field" in capsys.readouterr().err
    code = tune.main(["--config", str(config), "--output_dir", str(tmp_path / "out"), "--train_file", str(tmp_path / "elsewhere.jsonl")])
    assert code == 2 and "elsewhere.jsonl" in capsys.readouterr().err  # the override, not the config's file, is the one read


def test_help_exits_0_and_a_missing_config_is_a_usage_error(capsys):
    assert tune.main(["--help"]) == 0 and "stp_lambda grid" in capsys.readouterr().out
    assert tune.main([]) == 2 and "--config" in capsys.readouterr().err
