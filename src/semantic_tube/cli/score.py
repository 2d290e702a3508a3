"""`stp score`: re-score a predictions.jsonl without a model.

    stp score --eval_task synth --predictions runs/x/eval/synth/predictions.jsonl
    stp score --eval_task spider --predictions predictions.jsonl --eval_db_dir spider/database

Each line needs `reference` and `prediction`; `prompt` where the task reads it (spider's
db_id) and `choices` where it has them (hellaswag). Writes rescored.json next to the
predictions (or --output; an existing file only with --overwrite_output, so the eval.json that
`stp eval` or a training run wrote beside its predictions is never replaced) and prints the table: each task's metrics and, under `paper_` names, the paper's
own. Useful to check or improve a scorer without generating again.

The scoring options are `stp train`'s task-evaluation fields (`TaskScoringArguments`): the same
names, defaults and time limits. The older spellings still work: --task, --db_dir, --sql_timeout,
--regex_timeout, --suffixes. Multi-word options take dashes or underscores (`--eval-db-dir`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from semantic_tube.cli.options import dataclass_parser
from semantic_tube.data.messages import DataError
from semantic_tube.evaluation.arguments import TaskScoringArguments
from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.report import read_predictions
from semantic_tube.evaluation.scoring import score_records
from semantic_tube.evaluation.tasks import get_task

USER_ERRORS = (EvalError, DataError, FileNotFoundError)
RESCORED_FILE = "rescored.json"
# The task-evaluation fields' names before they were shared with `stp train` (field -> older flags).
ALIASES = {
    "eval_task": ("--task",),
    "eval_db_dir": ("--db_dir",),
    "eval_sql_timeout": ("--sql_timeout",),
    "eval_regex_timeout": ("--regex_timeout",),
    "eval_suffixes": ("--suffixes",),
}


@dataclass
class ScoreArguments:
    """What to re-score and where the summary goes."""

    _argument_group_name = "predictions"

    predictions: str = field(metadata={"help": "predictions.jsonl to score (required)"})
    output: str | None = field(default=None, metadata={"help": f"where to write the summary (default: {RESCORED_FILE} next to the predictions)"})
    overwrite_output: bool = field(default=False, metadata={"help": "replace an existing --output file (default: off, an error)"})


def build_parser():
    return dataclass_parser("stp score", (TaskScoringArguments, ScoreArguments), description=__doc__, aliases=ALIASES, required=("eval_task",))


def main(argv: list[str]) -> int:
    try:
        task_args, args = build_parser().parse_args_into_dataclasses(args=argv)
        task = get_task(task_args.eval_task)
        predictions = Path(args.predictions)
        output = Path(args.output) if args.output else predictions.parent / RESCORED_FILE
        if output.exists() and not args.overwrite_output:
            raise EvalError(f"{output} already exists; pass --overwrite_output to replace it, or another --output")
        report = score_records(task, read_predictions(predictions), task_args.score_options(), suffixes=task_args.suffixes())
        report.meta["predictions"] = str(predictions)
        report.write_summary(output)
    except SystemExit as exit_:  # argparse exits on --help and on bad arguments
        return int(exit_.code or 0)
    except USER_ERRORS as err:
        print(f"stp score: error: {err}", file=sys.stderr)
        return 2
    print(report.table())
    return 0
