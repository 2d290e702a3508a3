"""`stp train`: fine-tune with NTP + lambda * STP.

    stp train --config configs/smollm2_nlrx.yaml
    stp train --model_name_or_path M --train_file F --output_dir O --stp_lambda 0.02 --seed 82 [--max_steps N]
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from semantic_tube.data.chat import ChatTemplateError
from semantic_tube.data.messages import DataError


def main(argv: list[str]) -> int:
    from semantic_tube.evaluation.errors import EvalError
    from semantic_tube.training.arguments import parse_train_args
    from semantic_tube.training.config import ConfigError
    from semantic_tube.training.run import train
    from semantic_tube.training.summary import run_summary

    started = time.monotonic()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        model_args, data_args, training_args, task_args = parse_train_args(argv)
        metrics = train(model_args, data_args, training_args, task_args)
    except (DataError, ChatTemplateError, ConfigError, EvalError, FileNotFoundError) as err:  # ours only: others keep their traceback
        print(f"stp train: error: {err}", file=sys.stderr)
        return 2
    if training_args.process_index == 0:  # one summary under a multi-process launcher
        print(run_summary(metrics, training_args.output_dir, time.monotonic() - started, logged_history(training_args.output_dir)))
    return 0


def logged_history(output_dir: str) -> list[dict]:
    """The run's log history from its trainer_state.json ([] when there is none)."""
    from semantic_tube.run_folder import STATE_FILE, UnreadableRecord, read_json

    try:
        state = read_json(Path(output_dir) / STATE_FILE) or {}
    except UnreadableRecord:
        return []
    return list(state.get("log_history", []))
