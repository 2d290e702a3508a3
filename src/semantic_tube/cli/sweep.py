"""`stp sweep`: run a grid of `stp train` runs, resumable and shardable.

    stp sweep --config sweeps/quick.yaml --output_dir runs/quick
    stp sweep --config sweeps/quick.yaml --out runs/quick --dry-run
    stp sweep --config sweeps/paper_synth.yaml --out runs/synth --shard 3/8 --train_file data/synth_train.jsonl

Any other `--field value` is a `stp train` field set for every point. The sweep file's schema is
in `semantic_tube.experiments.grid`, the folder it writes in `semantic_tube.experiments.sweep`.

Exit status: 0 when every point of this shard is finished (a point another process on this
machine holds is waited for, and taken over if that process dies); 1 when any failed or is left
unfinished (held by a process on another machine); 2 for a sweep that cannot run (the error names
the field, point or folder); 130 or 143 when stopped (run the same command again to resume).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from semantic_tube.cli.options import dataclass_parser, parse_with_overrides

DESCRIPTION = """Run every point of a sweep file's grid as its own `stp train` process.

  stp sweep --config sweeps/quick.yaml --output_dir runs/quick [--shard i/n] [--dry-run] [--FIELD VALUE ...]

Started again with the same command it skips finished points, retries failed ones and resumes an
interrupted one from its last checkpoint. --shard defaults to a Slurm array task
(SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX
with STP_SHARD_COUNT) when present. Other --FIELD VALUE options set a `stp train` field for every
point (e.g. --train_file data/train.jsonl). --output_dir is the sweep's folder (its older
spelling --out still works); each point's own is set by the sweep."""
# Older spellings, kept: README and earlier versions gave them (field -> older flags).
ALIASES = {"output_dir": ("--out",)}


@dataclass
class SweepArguments:
    """`stp sweep`'s own options; any other `--field value` is a `stp train` field for every point."""

    _argument_group_name = "stp sweep"

    config: str = field(metadata={"help": "the sweep file (YAML: name, config, methods, grid) (required)"})
    output_dir: str | None = field(default=None, metadata={"help": "the sweep folder (default: runs/<sweep name>)"})
    shard: str | None = field(
        default=None, metadata={"help": "run points k with k mod n == i, as i/n (default: from Slurm or Kubernetes, else all)"}
    )
    dry_run: bool = field(default=False, metadata={"help": "list the points and the estimated cost; train nothing (default: off)"})


def build_parser():
    # No abbreviations (dataclass_parser): `--out` must not swallow a point's `--output_...` fields.
    return dataclass_parser(
        "stp sweep",
        (SweepArguments,),
        description=DESCRIPTION,
        aliases=ALIASES,
        usage="stp sweep --config SWEEP.yaml [--output_dir DIR] [--shard i/n] [--dry-run] [--FIELD VALUE ...]",
    )


def parse_args(argv: list[str]) -> tuple[SweepArguments, dict]:
    """The sweep's own options, and the `--field value` overrides for every point."""
    return parse_with_overrides(build_parser(), argv)


def main(argv: list[str]) -> int:
    from semantic_tube.experiments.grid import SweepError, load_sweep
    from semantic_tube.experiments.shards import ShardError, resolve_shard
    from semantic_tube.experiments.sweep import run_sweep

    try:
        args, overrides = parse_args(argv)
        sweep = load_sweep(args.config, overrides)
        shard = resolve_shard(args.shard, os.environ)
        return run_sweep(sweep, Path(args.output_dir or f"runs/{sweep.name}"), shard, dry_run=args.dry_run)
    except (SweepError, ShardError) as err:
        print(f"stp sweep: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stp sweep: stopped; run the same command again to resume", file=sys.stderr)
        return 130
