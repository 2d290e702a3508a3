"""`stp tune`: choose stp_lambda on a pilot subset (the paper's Sec. 4.5 advice as a command).

    stp tune --config configs/smollm2_nlrx.yaml
    stp tune --config C --lambdas 0.01 0.02 0.04 0.08 --fraction 0.25 --seeds 82 23 37 --out runs/tune-c

The method (collapse rule, quadratic fit, bootstrap interval) is described in
`semantic_tube.experiments.tune`. Run the same command again to resume an interrupted tune.

Exit status: 0 when a lambda was chosen from runs that all finished; 1 when some run failed (the
choice uses the others) or none finished; 2 for a config or option that cannot run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = """Run a short log-spaced stp_lambda grid on a pilot subset of the training data, fit the
concave score-vs-ln(lambda) curve, and write the chosen lambda with its interval (tune.json), the
curve (tune.png) and the config with that lambda (tuned_config.yaml).

  stp tune --config configs/smollm2_nlrx.yaml [--lambdas L ...] [--fraction F] [--seeds S ...] [--out DIR]"""


def build_parser() -> argparse.ArgumentParser:
    from semantic_tube.experiments.tune import (
        DEFAULT_FRACTION,
        DEFAULT_LAMBDAS,
        DEFAULT_SEEDS,
    )

    parser = argparse.ArgumentParser(
        prog="stp tune", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--config", required=True, type=Path, help="a `stp train` config (YAML) with eval_task set")
    parser.add_argument("--lambdas", nargs="+", type=float, default=list(DEFAULT_LAMBDAS), help="default: %(default)s")
    parser.add_argument("--fraction", type=float, default=DEFAULT_FRACTION, help="pilot share of the training file (default: %(default)s)")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(DEFAULT_SEEDS), help="default: %(default)s")
    parser.add_argument("--out", "--output_dir", "--output-dir", dest="out", type=Path, default=None, help="default: runs/tune-<config name>")
    parser.add_argument("--metric", default=None, help="the task metric to maximise (default: the task's main one, e.g. exact)")
    return parser


def main(argv: list[str]) -> int:
    from semantic_tube.experiments.grid import SweepError
    from semantic_tube.experiments.tune import (
        NothingToFit,
        TuneError,
        TuneSettings,
        report,
        run_tune,
    )

    args = build_parser().parse_args(argv)
    settings = TuneSettings(args.config, tuple(args.lambdas), args.fraction, tuple(args.seeds), args.out, args.metric)
    try:
        result = run_tune(settings)
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
