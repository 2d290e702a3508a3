"""A stand-in for `python -m semantic_tube train` in sweep tests, started as the sweep's launcher:

    python tests/experiments/fake_train.py -m semantic_tube train --config <point>/sweep_config.yaml

It writes what `stp train` would, in the contract's order, or dies at a chosen moment, in
milliseconds and without torch. What each attempt of a point does comes from the JSON file named
by $FAKE_TRAIN_PLAN: {point_id: [behaviour of attempt 1, of attempt 2, ...]} (the last repeats;
a point not named finishes). Behaviours:

  finish               provenance.json, trainer_state.json, metrics.json (last); exit 0
  finish_then_die      the same, then SIGKILL itself (the child killed after metrics.json)
  checkpoint_then_die  a complete checkpoint-5, then SIGKILL (a run killed mid-training)
  fail                 failed.json written by the run itself, exit 2 (as `stp train: error:`)
  die                  SIGKILL with no record (the out-of-memory killer)
  slow                 sleep $FAKE_TRAIN_SECONDS (default 1), then finish
"""

import json
import os
import signal
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))  # this checkout's package, whatever PYTHONPATH says
from semantic_tube.run_folder import (  # noqa: E402
    CHECKPOINT_PREFIX,
    FAILED_FILE,
    METRICS_FILE,
    STATE_FILE,
    failure_record,
    write_json_atomic,
    write_provenance,
)

ATTEMPTS_FILE = "fake_attempts.txt"


def main(argv: list[str]) -> int:
    config = yaml.safe_load(Path(argv[argv.index("--config") + 1]).read_text())
    folder = Path(config["output_dir"])
    folder.mkdir(parents=True, exist_ok=True)
    plan = json.loads(Path(os.environ["FAKE_TRAIN_PLAN"]).read_text()) if os.environ.get("FAKE_TRAIN_PLAN") else {}
    with (folder / ATTEMPTS_FILE).open("a") as attempts:
        attempts.write(f"{os.getpid()}\n")
    attempt = len((folder / ATTEMPTS_FILE).read_text().split())
    behaviours = plan.get(folder.name, ["finish"])
    behaviour = behaviours[min(attempt, len(behaviours)) - 1]
    (folder / FAILED_FILE).unlink(missing_ok=True)
    write_provenance(folder, " ".join(argv))
    if behaviour == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if behaviour == "fail":
        try:
            raise ValueError(f"{config.get('train_file')}:3: messages: missing")
        except ValueError as error:
            write_json_atomic(folder / FAILED_FILE, failure_record(error))
        print(f"stp train: error: {config.get('train_file')}:3: messages: missing", file=sys.stderr)
        return 2
    if behaviour == "checkpoint_then_die":
        write_json_atomic(folder / f"{CHECKPOINT_PREFIX}5" / STATE_FILE, {"global_step": 5, "log_history": []})
        os.kill(os.getpid(), signal.SIGKILL)
    if behaviour == "slow":
        time.sleep(float(os.environ.get("FAKE_TRAIN_SECONDS", "1")))
    write_json_atomic(folder / STATE_FILE, {"global_step": 10, "log_history": [{"step": 10, "loss": 1.0}]})
    metrics = {"seed": config.get("seed"), "task_synth/count": 2, "task_synth/exact": 0.5, "task_synth/exact_hits": 1}
    metrics |= {"task_synth/exact_ci95_low": 0.1, "task_synth/exact_ci95_high": 0.9}
    write_json_atomic(folder / METRICS_FILE, metrics)
    if behaviour == "finish_then_die":
        os.kill(os.getpid(), signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
