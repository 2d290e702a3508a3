"""`stp tune`: choose stp_lambda on a pilot subset (the paper's Sec. 4.5 advice as a command).

    stp tune --config configs/smollm2_nlrx.yaml
    stp tune --config C --lambdas 0.01 0.02 0.04 0.08 --train_fraction 0.25 --seeds 82 23 37 --output_dir runs/tune-c
    stp tune --config C --baseline false        # no plain fine-tuning runs (falls measured from each run's start)
    stp tune --config sweeps/landscape_quick.yaml --train_file F --eval_task_file F --lambdas 0.02 0.08 0.32 1.28

The method (collapse rule, quadratic fit, bootstrap interval) is described in
`semantic_tube.experiments.tune`. Run the same command again to resume an interrupted tune.

--train_fraction and --output_dir are `stp train`'s names for the pilot's share of the training
data and the folder written; their older spellings --fraction and --out still work.

Exit status: 0 when a lambda was chosen from runs that all finished; 1 when some run failed (the
choice uses the others) or none finished; 2 for a config or option that cannot run.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from semantic_tube.cli.options import dataclass_parser, parse_with_overrides
from semantic_tube.experiments.tune import DEFAULT_FRACTION, DEFAULT_LAMBDAS, DEFAULT_SEEDS

DESCRIPTION = """Run a short log-spaced stp_lambda grid on a pilot subset of the training data, fit the
concave score-vs-ln(lambda) curve, and write the chosen lambda with its interval (tune.json), the
curve (tune.png) and the config with that lambda (tuned_config.yaml).

  stp tune --config configs/smollm2_nlrx.yaml [--lambdas L ...] [--train_fraction F] [--seeds S ...] [--output_dir DIR] [--FIELD VALUE ...]

--config is a `stp train` config or a sweep file (its config block is tuned). Other --FIELD VALUE
options set a `stp train` field in every pilot run and in tuned_config.yaml (e.g. --train_file
data/train.jsonl)."""
# Older spellings, kept: README and earlier versions gave them (field -> older flags).
ALIASES = {"train_fraction": ("--fraction",), "output_dir": ("--out",)}


@dataclass
class TuneArguments:
    """`stp tune`'s options (`experiments.tune.TuneSettings`)."""

    _argument_group_name = "stp tune"

    config: str = field(
        metadata={"help": "a `stp train` config (YAML) with eval_task set, or a sweep file whose config block is tuned (required)"}
    )
    lambdas: list[float] = field(default_factory=lambda: list(DEFAULT_LAMBDAS), metadata={"help": "the stp_lambda grid, log-spaced"})
    train_fraction: float = field(
        default=DEFAULT_FRACTION, metadata={"help": "the pilot runs' train_fraction: their share of the training file"}
    )
    seeds: list[int] = field(default_factory=lambda: list(DEFAULT_SEEDS), metadata={"help": "the seeds of every lambda"})
    output_dir: str | None = field(default=None, metadata={"help": "the tune folder (default: runs/tune-<config name>)"})
    metric: str | None = field(default=None, metadata={"help": "the task metric to maximise (default: the task's main one, e.g. exact)"})
    baseline: bool = field(
        default=True,
        metadata={
            "help": "also train plain fine-tuning (lambda 0, STP logged without gradient) on every seed, first: the reference "
            "of the STP fall and of the chosen lambda's gain; --baseline false skips it (one run fewer per seed)"
        },
    )


def build_parser():
    return dataclass_parser(
        "stp tune",
        (TuneArguments,),
        description=DESCRIPTION,
        aliases=ALIASES,
        usage="stp tune --config CONFIG.yaml [--lambdas L ...] [--train_fraction F] [--seeds S ...] [--output_dir DIR] [--FIELD VALUE ...]",
    )


def parse_args(argv: list[str]) -> tuple[TuneArguments, dict]:
    """The tune's own options, and the `--field value` overrides for every pilot run."""
    return parse_with_overrides(build_parser(), argv)


def main(argv: list[str]) -> int:
    from pathlib import Path

    from semantic_tube.experiments.grid import SweepError
    from semantic_tube.experiments.tune import (
        NothingToFit,
        TuneError,
        TuneSettings,
        report,
        run_tune,
    )

    try:
        args, overrides = parse_args(argv)
        out = Path(args.output_dir) if args.output_dir else None
        settings = TuneSettings(
            Path(args.config), tuple(args.lambdas), args.train_fraction, tuple(args.seeds), out, args.metric, overrides, args.baseline
        )
        result = run_tune(settings)
    except SystemExit as exit_:  # argparse exits on --help and on bad arguments
        return int(exit_.code or 0)
    except NothingToFit as err:
        print(f"stp tune: error: {err}", file=sys.stderr)
        return 1
    except (TuneError, SweepError) as err:
        print(f"stp tune: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stp tune: stopped; run the same command again to resume", file=sys.stderr)
        return 130
    print(report(result))
    return 1 if result.failed else 0
