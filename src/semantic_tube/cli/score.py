"""`stp score`: re-score a predictions.jsonl without a model.

    stp score --task synth --predictions runs/x/eval/synth/predictions.jsonl
    stp score --task spider --predictions predictions.jsonl --db-dir spider/database

Each line needs `reference` and `prediction`; `prompt` where the task reads it (spider's
db_id) and `choices` where it has them (hellaswag). Writes rescored.json next to the
predictions (or --output; an existing file only with --overwrite_output, so the eval.json that
`stp eval` or a training run wrote beside its predictions is never replaced) and prints the table: each task's metrics and, under `paper_` names, the paper's
own. Useful to check or improve a scorer without generating again. Multi-word options take
dashes or underscores (`--db-dir` = `--db_dir`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from semantic_tube.cli.options import add_option
from semantic_tube.data.messages import DataError
from semantic_tube.evaluation.diversity import DEFAULT_SUFFIXES
from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.report import read_predictions
from semantic_tube.evaluation.scorers import ScoreOptions
from semantic_tube.evaluation.scoring import score_records
from semantic_tube.evaluation.tasks import TASKS, get_task

USER_ERRORS = (EvalError, DataError, FileNotFoundError)
RESCORED_FILE = "rescored.json"


def add_scoring_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by `stp score` and `stp eval`."""
    tasks = "; ".join(f"{task.name}: {task.description}" for task in TASKS.values())
    add_option(parser, "--task", required=True, choices=list(TASKS), help=f"the task to score (required). {tasks}")
    add_option(
        parser, "--db_dir", type=Path, metavar="DIR", help="spider: folder of databases, <db_dir>/<db_id>/<db_id>.sqlite (default: none)"
    )
    add_option(parser, "--sql_timeout", type=float, default=5.0, help="spider: seconds per query (default: 5)")
    add_option(parser, "--regex_timeout", type=float, default=2.0, help="synth/turk: seconds per equivalence check (default: 2)")
    add_option(
        parser,
        "--suffixes",
        nargs="*",
        default=[],
        help=f"synth/turk: answer suffixes to split accuracy by, besides {' and '.join(DEFAULT_SUFFIXES)} (Table 1; default: none)",
    )


def score_options(args: argparse.Namespace) -> ScoreOptions:
    return ScoreOptions(db_dir=args.db_dir, regex_timeout_s=args.regex_timeout, sql_timeout_s=args.sql_timeout)


def suffixes_of(args: argparse.Namespace) -> tuple[str, ...] | None:
    """The suffix split to report: the defaults plus the user's, or None to let the task decide."""
    return tuple(dict.fromkeys((*DEFAULT_SUFFIXES, *args.suffixes))) if args.suffixes else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stp score", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_scoring_arguments(parser)
    add_option(parser, "--predictions", type=Path, required=True, help="predictions.jsonl to score (required)")
    add_option(parser, "--output", type=Path, help=f"where to write the summary (default: {RESCORED_FILE} next to the predictions)")
    add_option(parser, "--overwrite_output", action="store_true", help="replace an existing --output file (default: off, an error)")
    return parser


def main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse exits on --help and on bad arguments
        return int(exit_.code or 0)
    try:
        task = get_task(args.task)
        output = args.output or args.predictions.parent / RESCORED_FILE
        if output.exists() and not args.overwrite_output:
            raise EvalError(f"{output} already exists; pass --overwrite_output to replace it, or another --output")
        report = score_records(task, read_predictions(args.predictions), score_options(args), suffixes=suffixes_of(args))
        report.meta["predictions"] = str(args.predictions)
        report.write_summary(output)
    except USER_ERRORS as err:
        print(f"stp score: error: {err}", file=sys.stderr)
        return 2
    print(report.table())
    return 0
