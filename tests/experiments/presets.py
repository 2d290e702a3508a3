"""Every preset in sweeps/ and a few bad values, expanded into point configurations and checked
once by `stp train`'s own parser (one child interpreter for all): the `validation` fixture of
tests/experiments/conftest.py, which test_grid.py, test_validate.py and sweep/test_check.py share."""

from pathlib import Path

from semantic_tube.experiments.grid import expand, load_sweep
from semantic_tube.experiments.validate import Validation, check_configs

ROOT = Path(__file__).resolve().parents[2]
SWEEPS = sorted((ROOT / "sweeps").glob("*.yaml"))
BAD_CONFIGS = {"bad-form": {"stp_form": "tubes"}, "bad-lambda": {"stp_lambda": -1}, "bad-task": {"eval_task": "nope"}}


def validate_presets() -> Validation:
    from semantic_tube.experiments.sweep import point_config

    configs = {f"{path.stem}/{p.point_id}": point_config(p, Path("runs") / p.point_id) for path in SWEEPS for p in expand(load_sweep(path))}
    return check_configs({**configs, **BAD_CONFIGS}, on_this_hardware=False)
