"""`stp eval`: generate with a model on a task's data and score it.

    stp eval --model runs/smollm2_nlrx --task synth --data data/nlrx/test.jsonl
    stp eval --model runs/x --task spider --data spider_dev.jsonl --db_dir spider/database --limit 200
    stp eval --model runs/x --task synth --data test.jsonl --analysis svd straightness

Writes predictions.jsonl (prompt, reference, prediction, per-metric verdicts and the reason for
a miss) and eval.json (each metric with its 95% Wilson interval, the counts) into --output_dir,
and prints a table. Without --model the embedded SmolLM2-135M-Instruct is used.

Analyses (--analysis): `svd` saves the singular value spectrum of Enc(Text) - Enc(Code)
(Figure 6) as svd.json and svd.png; `straightness` adds the mean STP value and the mean angle
between consecutive hidden-state steps. synth/turk always report accuracy by answer suffix
(`.*` vs `.*.*`, Table 1), plus any --suffixes.

Scoring, robust metrics then the paper's (the reference evaluate.py's, under `paper_` names):
synth/turk exact match (the paper's metric) and regex equivalence (empty-language references
reported apart); gsm8k the number after #### (`correct`) and the reference's string match of
`\n#### (.+)$` (`paper_correct`); spider execution results compared as multisets, as lists when
the reference has ORDER BY (`execution`), and the sqlite3 shell's printed output compared as text
(`paper_execution`; emulated in Python when no sqlite3 shell is installed, the report says which);
nq_open any ';'-separated alternative after normalisation (`match`) and any "; " piece of the
prediction inside the reference (`paper_match`); hellaswag the most likely option letter (no
generation; the paper's metric). Unparsable predictions are misses, counted as `unparsable`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from semantic_tube.cli.score import USER_ERRORS, add_scoring_arguments, score_options, suffixes_of
from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.runner import ANALYSES, evaluate
from semantic_tube.evaluation.scoring import check_records
from semantic_tube.evaluation.tasks import get_task
from semantic_tube.training.model import load_model, load_tokenizer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stp eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="output folder (full or LoRA), model id or .gguf file (default: the embedded model)")
    add_scoring_arguments(parser)
    parser.add_argument("--data", type=Path, help="the task's messages-format JSONL (required)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N examples")
    parser.add_argument("--output_dir", type=Path, help="default: <model folder>/eval/<task>, or ./eval/<task> for a model id")
    parser.add_argument("--batch_size", type=int, default=16, help="prompts per generation batch (default 16)")
    parser.add_argument("--max_new_tokens", type=int, help="token budget (default: longest reference + a margin)")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    parser.add_argument("--analysis", nargs="+", default=[], choices=ANALYSES, help="extra analyses: svd (Figure 6), straightness")
    return parser


def default_output_dir(model: str | None, task: str) -> Path:
    """Next to a model folder's weights, else under the current directory."""
    if model and Path(model).is_dir():
        return Path(model) / "eval" / task
    return Path("eval") / task


def run(args: argparse.Namespace):
    """Load data first and the model last, so input mistakes surface before a slow model load."""
    task = get_task(args.task)
    if args.data is None:
        raise EvalError(f"task {task.name} needs --data: a messages-format JSONL file of its examples")
    if args.limit is not None and args.limit < 1:
        raise EvalError(f"--limit must be >= 1, got {args.limit}")
    examples = task.load(args.data, limit=args.limit)
    check_records(task, [{"prompt": e.user, "source": e.source} for e in examples], score_options(args))
    tokenizer = load_tokenizer(args.model)
    model = load_model(args.model, dtype=args.dtype)
    output_dir = args.output_dir or default_output_dir(args.model, task.name)
    report = evaluate(
        model,
        tokenizer,
        task,
        examples,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        score_options=score_options(args),
        suffixes=suffixes_of(args),
        analyses=tuple(args.analysis),
    )
    report.meta |= {"model": args.model or "embedded", "data": str(args.data), "limit": args.limit}
    report.write(output_dir)
    return report, output_dir


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        report, output_dir = run(args)
    except (*USER_ERRORS, OSError) as err:
        print(f"stp eval: error: {err}", file=sys.stderr)
        return 2
    print(report.table())
    print(f"wrote {output_dir}")
    return 0
