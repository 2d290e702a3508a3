"""Evaluation: the paper's tasks, their scorers (each task's metrics beside the paper's own,
named `paper_...`), batched generation with prompts rendered as in training, and the analyses
(Table 1's suffix split, Figure 6's spectrum, trajectory straightness).

    from semantic_tube.evaluation import evaluate, get_task
    report = evaluate(model, tokenizer, "synth", get_task("synth").load("test.jsonl"))
    report.metrics["equivalent"], report.write("runs/x/eval/synth")

`evaluate` is imported on first use, so scoring alone (`stp score`) never imports torch.
"""

from semantic_tube.evaluation.errors import EvalError
from semantic_tube.evaluation.report import EvalReport, read_predictions
from semantic_tube.evaluation.scorers import ScoreOptions
from semantic_tube.evaluation.scoring import score_records
from semantic_tube.evaluation.tasks import TASKS, Task, get_task

__all__ = ["ANALYSES", "TASKS", "EvalError", "EvalReport", "ScoreOptions", "Task", "evaluate", "get_task", "read_predictions", "score_records"]


def __getattr__(name: str):
    if name in ("evaluate", "ANALYSES"):
        from semantic_tube.evaluation import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
