"""`stp eval`: generate with a model on a task's data and score it.

    stp eval --model_name_or_path runs/smollm2_nlrx --task synth --data data/nlrx/test.jsonl
    stp eval --model runs/x --task spider --eval-file spider_dev.jsonl --db-dir spider/database --limit 200
    stp eval --model runs/x --task synth --data test.jsonl --analysis svd straightness

Writes predictions.jsonl (prompt, reference, prediction, per-metric verdicts and the reason for
a miss) and eval.json (each metric with its 95% Wilson interval, the counts; a subset without
examples is null, printed n/a) and prints a table. The folder is --output_dir, by default a
fresh <model folder>/eval-<task>-<timestamp> (./eval-<task>-<timestamp> for a hub id or the
embedded model), so a training run's own scores (<run>/eval/<task>/) are never touched; an
existing eval.json is replaced only with --overwrite_output_dir. Without --model_name_or_path
the embedded SmolLM2-135M-Instruct is used. Multi-word options take dashes or underscores
(`--output-dir` = `--output_dir`); --model is --model_name_or_path, --eval_file is --data.

Prompts are the lines as written (a line's own system turn, or none), rendered as training
renders them. Generation is greedy with a fixed budget per task: 128 new tokens (the paper's
reference default), gsm8k 512 and spider 256 (their answers run longer); --max_new_tokens
overrides it. hellaswag needs no generation: one forward pass per example reads the
log-probabilities of the option letters.

Analyses (--analysis): `svd` saves the singular value spectrum of Enc(Text) - Enc(Code)
(Figure 6) as svd.json and svd.png; `straightness` adds the mean STP value and the mean angle
between consecutive hidden-state steps. synth/turk always report accuracy by answer suffix
(`.*` vs `.*.*`, Table 1), plus any --suffixes.

Scoring, each task's metrics then the paper's (the reference evaluate.py's, `paper_` names):
synth/turk exact match (the paper's metric) and regex equivalence (empty-language references
reported apart); gsm8k the number after #### (`correct`) and the reference's string match of
`\\n#### (.+)$` (`paper_correct`); spider execution results compared as multisets, as lists when
the reference has ORDER BY (`execution`), and the sqlite3 shell's printed output compared as text
(`paper_execution`; emulated in Python when no sqlite3 shell is installed, the report says which);
nq_open any ';'-separated alternative after normalisation (`match`) and any "; " piece of the
prediction inside the reference (`paper_match`); hellaswag the most likely option letter (the
paper's metric). Unparsable predictions are misses, counted as `unparsable`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from semantic_tube.cli.options import add_option
from semantic_tube.cli.score import USER_ERRORS, add_scoring_arguments, score_options, suffixes_of
from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.report import EVAL_FILE
from semantic_tube.evaluation.runner import ANALYSES, evaluate
from semantic_tube.evaluation.scoring import check_records
from semantic_tube.evaluation.tasks import DEFAULT_MAX_NEW_TOKENS, TASKS, get_task
from semantic_tube.training.model import default_device, load_model, load_tokenizer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stp eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_option(
        parser,
        "--model_name_or_path",
        "--model",
        metavar="MODEL",
        help="output folder of `stp train` (full or LoRA), hub id or .gguf file (default: the embedded SmolLM2-135M-Instruct)",
    )
    add_scoring_arguments(parser)
    add_option(parser, "--data", "--eval_file", type=Path, metavar="FILE", help="the task's messages-format JSONL (required)")
    add_option(parser, "--limit", type=int, help="evaluate only the first N examples (default: all)")
    add_option(
        parser,
        "--output_dir",
        type=Path,
        metavar="DIR",
        help="where to write (default: <model folder>/eval-<task>-<timestamp>, or ./eval-<task>-<timestamp> for a hub id "
        "or the embedded model)",
    )
    add_option(
        parser, "--overwrite_output_dir", action="store_true", help="replace an eval.json already in --output_dir (default: off, an error)"
    )
    add_option(parser, "--batch_size", type=int, default=16, help="prompts per generation batch (default: 16)")
    longer = [task for task in TASKS.values() if task.max_new_tokens != DEFAULT_MAX_NEW_TOKENS]
    budgets = ", ".join(f"{task.name} {task.max_new_tokens}" for task in longer)
    add_option(parser, "--max_new_tokens", type=int, help=f"generation budget (default: the task's, {DEFAULT_MAX_NEW_TOKENS}; {budgets})")
    add_option(
        parser, "--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
        help="weights' dtype (default: auto = bfloat16 on a CUDA device that supports it, else float32)",
    )  # fmt: skip
    add_option(parser, "--device", default=None, help="where the model runs, e.g. cpu, cuda, cuda:1 (default: cuda when available, else cpu)")
    add_option(
        parser, "--analysis", nargs="+", default=[], choices=ANALYSES, help="extra analyses: svd (Figure 6), straightness (default: none)"
    )
    return parser


def default_output_dir(model: str | None, task: str) -> Path:
    """A fresh eval-<task>-<timestamp> folder next to a model folder's weights, else under the
    current directory; never an existing folder, so nothing is overwritten by default."""
    parent = Path(model) if model and Path(model).is_dir() else Path(".")
    base = f"eval-{task}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder, n = parent / base, 1
    while folder.exists():  # two runs within one second
        folder, n = parent / f"{base}-{n}", n + 1
    return folder


def check_output_dir(folder: Path, overwrite: bool) -> None:
    """An existing eval.json is someone's result: replaced only when asked."""
    if (folder / EVAL_FILE).exists() and not overwrite:
        raise EvalError(f"{folder / EVAL_FILE} already exists; pass --overwrite_output_dir to replace it, or another --output_dir")


def launcher_shard() -> tuple[int, int]:
    """(rank, world size) under torchrun or accelerate launch (their RANK / WORLD_SIZE); (0, 1) alone."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def process_device(requested: str | None) -> str:
    """--device, else under a launcher this process's GPU (LOCAL_RANK), else the default device."""
    if requested:
        return requested
    device = default_device()
    return f"cuda:{os.environ.get('LOCAL_RANK', '0')}" if device == "cuda" and "LOCAL_RANK" in os.environ else device


def agreed_output_dir(args: argparse.Namespace, task: str, world: int) -> Path:
    """The output folder, rank 0's choice under a launcher (a timestamped default could differ)."""
    folder = [args.output_dir or default_output_dir(args.model_name_or_path, task)]
    if world > 1:
        import torch.distributed as dist

        dist.broadcast_object_list(folder, src=0)
    return Path(folder[0])


def run(args: argparse.Namespace):
    """Check data and output folder first and load the model last, so mistakes surface before a slow model load.

    Under a launcher (torchrun, accelerate launch) every process predicts its share of the
    examples on its own device, the predictions are gathered in order, and rank 0 writes them.
    """
    task = get_task(args.task)
    if args.data is None:
        raise EvalError(f"task {task.name} needs --data: a messages-format JSONL file of its examples")
    if args.limit is not None and args.limit < 1:
        raise EvalError(f"--limit must be >= 1, got {args.limit}")
    examples = task.load(args.data, limit=args.limit)
    check_records(task, [{"prompt": e.user, "source": e.source} for e in examples], score_options(args))
    rank, world = launcher_shard()
    device = process_device(args.device)
    if world > 1:
        import torch.distributed as dist

        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    output_dir = agreed_output_dir(args, task.name, world)
    check_output_dir(output_dir, args.overwrite_output_dir)
    tokenizer = load_tokenizer(args.model_name_or_path)
    model = load_model(args.model_name_or_path, dtype=args.dtype).to(device)
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
        progress=rank == 0,
        shard=(rank, world),
    )
    report.meta |= {"model": args.model_name_or_path or "embedded", "data": str(args.data), "limit": args.limit, "device": str(model.device)}
    if rank == 0:
        report.write(output_dir)
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return report, output_dir, rank


def main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse exits on --help and on bad arguments
        return int(exit_.code or 0)
    try:
        report, output_dir, rank = run(args)
    except (*USER_ERRORS, OSError) as err:
        print(f"stp eval: error: {err}", file=sys.stderr)
        return 2
    if rank == 0:
        print(report.table())
        print(f"wrote {output_dir}")
    return 0
