"""`stp sweep`: run a grid of `stp train` runs, resumable and shardable.

    stp sweep --config sweeps/quick.yaml --out runs/quick
    stp sweep --config sweeps/quick.yaml --out runs/quick --dry-run
    stp sweep --config sweeps/paper_synth.yaml --out runs/synth --shard 3/8 --train_file data/synth_train.jsonl

Any other `--field value` is a `stp train` field set for every point. The sweep file's schema is
in `semantic_tube.experiments.grid`, the folder it writes in `semantic_tube.experiments.sweep`.

Exit status: 0 when every point of this shard finished (or was left to a process that holds its
lock); 1 when any failed; 2 for a sweep that cannot run (the error names the field, point or
folder); 130 or 143 when stopped (run the same command again to resume).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DESCRIPTION = """Run every point of a sweep file's grid as its own `stp train` process.

  stp sweep --config sweeps/quick.yaml --out runs/quick [--shard i/n] [--dry-run] [--FIELD VALUE ...]

Started again with the same command it skips finished points, retries failed ones and resumes an
interrupted one from its last checkpoint. --shard defaults to a Slurm array task
(SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX
with STP_SHARD_COUNT) when present. Other --FIELD VALUE options set a `stp train` field for every
point (e.g. --train_file data/train.jsonl)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stp sweep",
        usage="stp sweep --config SWEEP.yaml [--out DIR] [--shard i/n] [--dry-run] [--FIELD VALUE ...]",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # `--out` must not swallow `--output_...` fields
    )
    parser.add_argument("--config", required=True, help="the sweep file (YAML: name, config, methods, grid)")
    parser.add_argument(
        "--out", "--output_dir", "--output-dir", dest="out", default=None, help="the sweep folder (default: runs/<sweep name>)"
    )
    parser.add_argument("--shard", default=None, help="run points k with k mod n == i (default: from Slurm or Kubernetes, else all)")
    parser.add_argument("--dry-run", "--dry_run", dest="dry_run", action="store_true", help="list the points and the estimated cost; train nothing")
    return parser


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, dict]:
    """The sweep's own options, and the `--field value` overrides for every point."""
    from semantic_tube.experiments.grid import parse_overrides

    args, rest = build_parser().parse_known_args(argv)
    return args, parse_overrides(rest)


def main(argv: list[str]) -> int:
    from semantic_tube.experiments.grid import SweepError, load_sweep
    from semantic_tube.experiments.shards import ShardError, resolve_shard
    from semantic_tube.experiments.sweep import run_sweep

    try:
        args, overrides = parse_args(argv)
        sweep = load_sweep(args.config, overrides)
        shard = resolve_shard(args.shard, os.environ)
        return run_sweep(sweep, Path(args.out or f"runs/{sweep.name}"), shard, dry_run=args.dry_run)
    except (SweepError, ShardError) as err:
        print(f"stp sweep: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stp sweep: stopped; run the same command again to resume", file=sys.stderr)
        return 130
