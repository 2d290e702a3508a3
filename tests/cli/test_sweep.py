"""`stp sweep` (cli/sweep.py): its own options, every other `--field value` a `stp train` field for
every point, and the errors of a sweep that cannot run (exit 2, named, no traceback). Running a
grid is tested in tests/experiments/."""

import pytest

from semantic_tube.cli import sweep


def test_the_sweeps_options_and_the_overrides_for_every_point():
    args, overrides = sweep.parse_args(["--config", "s.yaml", "--out", "runs/x", "--shard", "1/4", "--train-file", "t.jsonl",
                                        "--stp_lambda", "0.5", "--packing", "--eval_file=", "--dry_run"])  # fmt: skip
    assert (args.config, args.output_dir, args.shard, args.dry_run) == ("s.yaml", "runs/x", "1/4", True)
    assert overrides == {"train_file": "t.jsonl", "stp_lambda": 0.5, "packing": True, "eval_file": None}  # YAML-typed values
    args, overrides = sweep.parse_args(["--config", "s.yaml"])
    assert (args.output_dir, args.shard, args.dry_run, overrides) == (None, None, False, {})


def test_a_missing_sweep_file_and_a_stray_argument_are_named_errors(tmp_path, capsys):
    assert sweep.main(["--config", str(tmp_path / "nowhere.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stp sweep: error: sweep file not found: ") and "nowhere.yaml" in err and "Traceback" not in err
    assert sweep.main(["--config", str(tmp_path / "s.yaml"), "stray"]) == 2
    assert "stp sweep: error: unexpected argument 'stray': overrides are --field value" in capsys.readouterr().err


def test_the_sweep_file_is_required(capsys):
    with pytest.raises(SystemExit) as exited:
        sweep.parse_args(["--out", "runs/x"])
    assert exited.value.code == 2 and "the following arguments are required: --config" in capsys.readouterr().err
