"""`stp train`: fine-tune with NTP + lambda * STP.

    stp train --config configs/smollm2_nlrx.yaml
    stp train --model_name_or_path M --train_file F --output_dir O --stp_lambda 0.02 --seed 82 [--max_steps N]
"""

from __future__ import annotations

import logging
import sys

from semantic_tube.data.messages import DataError


def main(argv: list[str]) -> int:
    from semantic_tube.training.arguments import parse_train_args
    from semantic_tube.training.run import train

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        model_args, data_args, training_args, task_args = parse_train_args(argv)
        metrics = train(model_args, data_args, training_args, task_args)
    except (DataError, FileNotFoundError, ValueError) as err:  # EvalError is a ValueError
        print(f"stp train: error: {err}", file=sys.stderr)
        return 2
    print(f"done: {training_args.output_dir} (final ntp_loss={metrics.get('final_ntp_loss')}, stp_loss={metrics.get('final_stp_loss')})")
    return 0
