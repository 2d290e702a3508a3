"""`stp eval`: generate with a model on a task's data and score it.

    stp eval --model_name_or_path runs/smollm2_nlrx --eval_task synth --eval_task_file data/nlrx/test.jsonl
    stp eval --model runs/x --task spider --data spider_dev.jsonl --db_dir spider/database --limit 200
    stp eval --model runs/x --task synth --data test.jsonl --analysis svd straightness

Writes predictions.jsonl (prompt, reference, prediction, per-metric verdicts and the reason for
a miss) and eval.json (each metric with its 95% Wilson interval, the counts; a subset without
examples is null, printed n/a) and prints a table. The folder is --output_dir, by default a
fresh <model folder>/eval-<task>-<timestamp> (./eval-<task>-<timestamp> for a hub id or the
embedded model), so a training run's own scores (<run>/eval/<task>/) are never touched; an
existing eval.json is replaced only with --overwrite_output_dir. Without --model_name_or_path
the embedded SmolLM2-135M-Instruct is used; --dtype auto loads it in float32, as `stp train`
does, so a run's own end-of-training scores and `stp eval`'s agree (--dtype bfloat16 is faster on
a GPU).

The task's options are `stp train`'s task-evaluation fields (`TaskGenerationArguments`): the
same names, defaults and time limits (--eval_task, --eval_task_file, --eval_task_limit,
--eval_db_dir, --eval_sql_timeout, ...). The older spellings still work: --model for
--model_name_or_path, --task, --data and --eval_file for --eval_task_file, --limit,
--batch_size, --max_new_tokens, --db_dir, --sql_timeout, --regex_timeout, --suffixes.
Multi-word options take dashes or underscores (`--output-dir` = `--output_dir`).

Prompts are the lines as written (a line's own system turn, or none), rendered as training
renders them. Generation is greedy with a fixed budget per task: 128 new tokens (the paper's
reference default), gsm8k 512 and spider 256 (their answers run longer);
--eval_task_max_new_tokens overrides it. hellaswag needs no generation: one forward pass per
example reads the log-probabilities of the option letters.

Analyses (--analysis): `svd` saves the singular value spectrum of Enc(Text) - Enc(Code)
(Figure 6) as svd.json and svd.png; `straightness` adds the mean STP value and the mean angle
between consecutive hidden-state steps. synth/turk always report accuracy by answer suffix
(`.*` vs `.*.*`, Table 1), plus any --eval_suffixes.

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

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from semantic_tube.cli import score
from semantic_tube.cli.options import dataclass_parser
from semantic_tube.evaluation.arguments import TaskGenerationArguments
from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.report import EVAL_FILE
from semantic_tube.evaluation.runner import ANALYSES, evaluate
from semantic_tube.evaluation.scoring import check_records
from semantic_tube.evaluation.tasks import get_task
from semantic_tube.training.config import ModelArguments, ModelDtype
from semantic_tube.training.model import default_device, load_model, load_tokenizer

# Older spellings, kept: README and earlier versions gave them (field -> older flags).
ALIASES = {
    **score.ALIASES,
    "model_name_or_path": ("--model",),
    "eval_task_file": ("--data", "--eval_file"),
    "eval_task_limit": ("--limit",),
    "eval_task_batch_size": ("--batch_size",),
    "eval_task_max_new_tokens": ("--max_new_tokens",),
}
_MODEL = ModelArguments.__dataclass_fields__


@dataclass
class EvalRunArguments:
    """The model, where it runs and where its scores go; the task's options are `TaskGenerationArguments`."""

    _argument_group_name = "model and output"

    model_name_or_path: str | None = field(default=None, metadata=_MODEL["model_name_or_path"].metadata)
    dtype: ModelDtype = field(default=ModelDtype.AUTO, metadata=_MODEL["dtype"].metadata)
    device: str | None = field(
        default=None, metadata={"help": "where the model runs, e.g. cpu, cuda, cuda:1 (default: cuda when available, else cpu)"}
    )
    output_dir: str | None = field(
        default=None,
        metadata={
            "help": "where to write (default: <model folder>/eval-<task>-<timestamp>, or ./eval-<task>-<timestamp> for a hub "
            "id or the embedded model)"
        },
    )
    overwrite_output_dir: bool = field(
        default=False, metadata={"help": "replace an eval.json already in output_dir (default: off, an error)"}
    )
    analysis: list[str] = field(
        default_factory=list,
        metadata={"help": "extra analyses: svd (Figure 6), straightness (default: none)", "choices": list(ANALYSES)},
    )

    def __post_init__(self):
        self.dtype = ModelArguments.as_dtype(self.dtype)


def build_parser():
    return dataclass_parser("stp eval", (EvalRunArguments, TaskGenerationArguments), description=__doc__, aliases=ALIASES, required=("eval_task",))


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


def agreed_output_dir(args: EvalRunArguments, task: str, world: int) -> Path:
    """The output folder, rank 0's choice under a launcher (a timestamped default could differ)."""
    folder = [args.output_dir or default_output_dir(args.model_name_or_path, task)]
    if world > 1:
        import torch.distributed as dist

        dist.broadcast_object_list(folder, src=0)
    return Path(folder[0])


def run(args: EvalRunArguments, task_args: TaskGenerationArguments):
    """Check data and output folder first and load the model last, so mistakes surface before a slow model load.

    Under a launcher (torchrun, accelerate launch) every process predicts its share of the
    examples on its own device, the predictions are gathered in order, and rank 0 writes them.
    """
    task = get_task(task_args.eval_task)
    if task_args.eval_task_file is None:
        raise EvalError(f"task {task.name} needs --eval_task_file (or --data): a messages-format JSONL file of its examples")
    examples = task.load(task_args.eval_task_file, limit=task_args.eval_task_limit)
    options = task_args.score_options()
    check_records(task, [{"prompt": e.user, "source": e.source} for e in examples], options)
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
        batch_size=task_args.eval_task_batch_size,
        max_new_tokens=task_args.eval_task_max_new_tokens,
        score_options=options,
        suffixes=task_args.suffixes(),
        analyses=tuple(args.analysis),
        progress=rank == 0,
        shard=(rank, world),
    )
    report.meta |= {
        "model": args.model_name_or_path or "embedded",
        "data": str(task_args.eval_task_file),
        "limit": task_args.eval_task_limit,
        "device": str(model.device),
        "dtype": args.dtype.value,
    }
    if rank == 0:
        report.write(output_dir)
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return report, output_dir, rank


def main(argv: list[str]) -> int:
    try:
        args, task_args = build_parser().parse_args_into_dataclasses(args=argv)
        report, output_dir, rank = run(args, task_args)
    except SystemExit as exit_:  # argparse exits on --help and on bad arguments
        return int(exit_.code or 0)
    except (*score.USER_ERRORS, OSError) as err:
        print(f"stp eval: error: {err}", file=sys.stderr)
        return 2
    if rank == 0:
        print(report.table())
        print(f"wrote {output_dir}")
    return 0
