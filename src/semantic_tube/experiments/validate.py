"""Every point's configuration checked by `stp train`'s own parser before anything trains.

The check runs `parse_train_args` (the same code as `stp train --config`) in a child interpreter:
the sweep process itself never imports torch or transformers, so `--dry-run` stays light and a
long sweep keeps no accelerator state of its own while its runs train.

    python -m semantic_tube.experiments.validate REQUEST.json RESULT.json   (used by check_configs)
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from semantic_tube.experiments.grid import SweepError


@dataclass(frozen=True)
class Validation:
    fields: frozenset[str]  # every field `stp train` knows
    errors: dict[str, str]  # point id -> the parser's error
    forward_passes: dict[str, int]  # point id -> model forward passes per training step (valid points)


def check_configs(configs: dict[str, dict], *, on_this_hardware: bool) -> Validation:
    """Parse each config as `stp train --config` would. `on_this_hardware=False` (dry-run)
    validates as if the run were on the machine it is meant for: use_cpu is set for the check
    only, so a GPU preset's bf16 passes on a laptop."""
    with tempfile.TemporaryDirectory(prefix="stp-validate-") as folder:
        request, result = Path(folder) / "request.json", Path(folder) / "result.json"
        request.write_text(json.dumps({"configs": configs, "on_this_hardware": on_this_hardware}))
        command = [sys.executable, "-m", "semantic_tube.experiments.validate", str(request), str(result)]
        finished = subprocess.run(command, capture_output=True, text=True, check=False)
        if finished.returncode != 0 or not result.is_file():
            raise SweepError(f"the configuration check failed to run ({' '.join(command)}):\n{finished.stderr[-3000:]}")
        answer = json.loads(result.read_text())
    return Validation(frozenset(answer["fields"]), answer["errors"], answer["forward_passes"])


def _parse_one(config: dict, folder: Path, on_this_hardware: bool) -> int | str:
    """The point's forward passes per training step, or the parser's error."""
    from semantic_tube.training.arguments import parse_train_args

    path = folder / "point.yaml"
    path.write_text(yaml.safe_dump(config if on_this_hardware else {**config, "use_cpu": True}))
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            training = parse_train_args(["--config", str(path)])[2]
    except SystemExit:  # argparse printed the reason
        lines = [line for line in captured.getvalue().splitlines() if line.strip()]
        return lines[-1].replace("stp train: error: ", "") if lines else "rejected by the argument parser"
    except (ValueError, TypeError, ImportError) as err:  # the config classes' checks (ConfigError is a ValueError)
        return _name_the_field(str(err).replace(str(path), "the point's config"), config)
    return training.forward_passes_per_step


def _name_the_field(message: str, config: dict) -> str:
    """Prefix the field when the message quotes its value without naming it (an enum's
    "'tubes' is not a valid STPForm")."""
    if any(key in message for key in config):
        return message
    quoted = [key for key, value in config.items() if isinstance(value, str) and repr(value) in message]
    return f"{quoted[0]}: {message}" if len(quoted) == 1 else message


def main(argv: list[str]) -> int:
    from semantic_tube.training.arguments import make_parser

    request_path, result_path = map(Path, argv)
    request = json.loads(request_path.read_text())
    errors, passes = {}, {}
    with tempfile.TemporaryDirectory(prefix="stp-validate-") as folder:
        for point_id, config in request["configs"].items():
            parsed = _parse_one(config, Path(folder), request["on_this_hardware"])
            if isinstance(parsed, str):
                errors[point_id] = parsed
            else:
                passes[point_id] = parsed
    fields = sorted(action.dest for action in make_parser()._actions if action.dest not in ("help", "config"))
    result_path.write_text(json.dumps({"fields": fields, "errors": errors, "forward_passes": passes}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
