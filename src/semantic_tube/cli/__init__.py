"""The `stp` command: dispatches to one module per sub-command.

    stp --version
    stp train --config configs/smollm2_nlrx.yaml
    stp data nlrx --n 10000 --seed 0 --output_dir data/nlrx
    stp regex equal 'a.*' 'a.*.*'
    stp eval --model runs/smollm2_nlrx --task synth
    stp score --task gsm8k --predictions predictions.jsonl
    stp sweep --config sweeps/quick.yaml --out runs/quick
    stp report runs/quick
    stp tune --config configs/smollm2_nlrx.yaml

Each sub-command module exposes `main(argv) -> int` and is imported only when used, so
`stp regex`, `stp --version` and `stp sweep --dry-run` never import torch.
"""

from __future__ import annotations

import importlib
import sys

from semantic_tube import __version__  # the package's __init__ is lazy: this loads no torch

COMMANDS = {
    "train": ("semantic_tube.cli.train", "fine-tune a model with NTP + lambda * STP"),
    "eval": ("semantic_tube.cli.evaluate", "generate with a model and score a task"),
    "score": ("semantic_tube.cli.score", "re-score a predictions.jsonl without a model"),
    "data": ("semantic_tube.cli.data", "generate or inspect data sets (nlrx)"),
    "regex": ("semantic_tube.cli.regex", "decide equivalence of brics-dialect regexes"),
    "sweep": ("semantic_tube.cli.sweep", "run a grid of trainings (resumable, shardable)"),
    "report": ("semantic_tube.cli.report", "tables, t-tests and figures from a sweep's run folders"),
    "tune": ("semantic_tube.cli.tune", "pick stp_lambda on a pilot subset (concave fit)"),
}


def _usage() -> str:
    lines = ["usage: stp <command> [options]", "       stp --version", "", "commands:"]
    lines += [f"  {name:<7} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "options:", "  -h, --help     show this message", "  -V, --version  print the version and exit"]
    lines += ["", "Run `stp <command> --help` for the options of one command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        print(f"stp (semantic-tube) {__version__}")  # the command, its distribution, the version
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"stp: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    return int(module.main(rest) or 0)
