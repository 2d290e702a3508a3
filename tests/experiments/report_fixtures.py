"""Fabricated run folders, as `stp sweep` and `stp train` write them, for the report's tests.

Only the files the report reads, with small hand-chosen numbers: metrics.json (task keys as
`evaluation.scoring` names them, e.g. `task_synth/suffix[.*]/exact`), stp_config.yaml,
trainer_state.json, sweep_point.json, failed.json, eval/<task>/eval.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

TASK = "synth"
TEST_COUNT = 200
SWEEP_SHA = "ab" * 32


def rate_keys(prefix: str, name: str, hits: int, count: int) -> dict:
    """A rate with its hits and (placeholder) interval, as `evaluation.report.proportions` writes it."""
    rate = hits / count if count else None
    return {f"{prefix}{name}": rate, f"{prefix}{name}_hits": hits, f"{prefix}{name}_ci95_low": rate, f"{prefix}{name}_ci95_high": rate}


def task_metrics(
    exact_hits: int, count: int = TEST_COUNT, suffix_hits: tuple[int, int] = (0, 0), suffix_counts: tuple[int, int] = (150, 50)
) -> dict:
    """`task_synth/...` keys: exact and equivalent (exact + 10 hits), counts, the Table 1 suffix split."""
    prefix = f"task_{TASK}/"
    metrics = {f"{prefix}count": count, f"{prefix}unparsable": 3, f"{prefix}timeout": 0}
    metrics |= rate_keys(prefix, "exact", exact_hits, count)
    metrics |= rate_keys(prefix, "equivalent", min(count, exact_hits + 10), count)
    metrics |= {f"{prefix}empty_reference/count": 0, **rate_keys(f"{prefix}empty_reference/", "exact", 0, 0)}
    for suffix, hits, total in ((".*", suffix_hits[0], suffix_counts[0]), (".*.*", suffix_hits[1], suffix_counts[1]), ("other", 0, 0)):
        sub = f"{prefix}suffix[{suffix}]/"
        metrics |= {f"{sub}count": total, f"{sub}predicted": total, **rate_keys(sub, "exact", hits, total)}
    return metrics


def config(method: str, seed: int, fraction: float, stp_lambda: float, **extra) -> dict:
    return {
        "model_name_or_path": None,
        "seed": seed,
        "stp_lambda": stp_lambda,
        "stp_form": "tube",
        "stp_log_when_off": method == "ntp",
        "train_fraction": fraction,
        "train_subset_seed": 0,
        "learning_rate": 1e-4,
        "num_train_epochs": 3.0 / fraction,
        "max_steps": -1,
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 1,
        "eval_task": TASK,
        "output_dir": f"runs/x/{method}-{seed}",
        "train_file": f"runs/x/{method}-{seed}/data/train.jsonl",
        **extra,
    }


def log_history(ntp_end: float, stp_end: float | None, steps: int = 50, forms: dict | None = None) -> list[dict]:
    """Training entries every 10 steps, losses falling linearly to their final values; `forms`
    ({form: final value}) adds `stp_<form>_loss` series, as `stp_log_forms` logs them."""
    entries = []
    for step in range(10, steps + 1, 10):
        left = (steps - step) / steps
        entry = {"step": step, "loss": ntp_end + left, "ntp_loss": ntp_end + left, "epoch": step / steps}
        if stp_end is not None:
            entry["stp_loss"] = stp_end + 0.5 * left
        for form, end in (forms or {}).items():
            entry[f"stp_{form}_loss"] = end + 0.5 * left
        entries.append(entry)
    return entries + [{"step": steps, "train_loss": ntp_end + 0.3, "train_runtime": 60.0}]


def write_run(
    folder: Path,
    *,
    method: str,
    seed: int,
    fraction: float = 1.0,
    stp_lambda: float | None = None,
    exact_hits: int | None = None,
    suffix_hits: tuple[int, int] = (0, 0),
    sweep: bool = True,
    svd: list[float] | None = None,
    steps: int = 50,
    extra_coordinates: dict | None = None,
    family: str | None = None,
    ntp_end: float | None = None,
    stp_end: float | None = None,
    forms: dict | None = None,
    history: list[dict] | None = None,
    extra_config: dict | None = None,
    extra_metrics: dict | None = None,
) -> Path:
    """A finished run (metrics.json present) of a sweep point, or a plain stp train folder.

    `method` is the grid's name for it (a sweep's bundle, `two-view+warmup`); `family` the `method`
    field training records in stp_config.yaml and metrics.json (`two-view`), left out when None, as
    in runs older than that field. `ntp_end` and `stp_end` are the final losses (default: NTP
    0.2 + 0.001 (seed mod 7), STP 0.6 when trained, else 1.3), `forms` ({form: final value}) the
    STP forms logged beside them (`stp_log_forms`), `history` a log history of its own."""
    stp_lambda = (0.0 if method == "ntp" else 0.02) if stp_lambda is None else stp_lambda
    recorded = {} if family is None else {"method": family}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stp_config.yaml").write_text(yaml.safe_dump(config(method, seed, fraction, stp_lambda, **(extra_config or {})) | recorded))
    ntp_end = 0.2 + 0.001 * (seed % 7) if ntp_end is None else ntp_end
    stp_end = (0.6 if stp_lambda else 1.3) if stp_end is None else stp_end
    state = {"global_step": steps, "log_history": history if history is not None else log_history(ntp_end, stp_end, steps, forms)}
    (folder / "trainer_state.json").write_text(json.dumps(state))
    metrics = {
        "final_ntp_loss": ntp_end,
        "final_stp_loss": stp_end,
        **{f"final_stp_{form}_loss": end for form, end in (forms or {}).items()},
        "final_loss": ntp_end + stp_lambda * stp_end,
        "train_runtime": 60.0,
        "train_examples": int(512 * fraction),
        "train_fraction": fraction,
        "seed": seed,
        "stp_lambda": stp_lambda,
        "stp_form": "tube",
        **recorded,
        **(extra_metrics or {}),
    }
    if exact_hits is not None:
        metrics |= task_metrics(exact_hits, suffix_hits=suffix_hits)
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    if sweep:
        write_point(folder, method=method, seed=seed, fraction=fraction, extra=extra_coordinates)
    if svd is not None:
        analyses = {"svd": {"raw": svd, "normalized": [value / svd[0] for value in svd], "rank_raw": len(svd), "rank_normalized": len(svd)}}
        write_json(folder / "eval" / TASK / "eval.json", {"task": TASK, "metrics": {}, "analyses": analyses, "meta": {}})
    return folder


def write_point(folder: Path, *, method: str, seed: int, fraction: float = 1.0, extra: dict | None = None) -> None:
    coordinates = {"method": method, "seed": seed, "train_fraction": fraction, **(extra or {})}
    point = {
        "sweep": "fabricated",
        "sweep_file": "sweeps/fabricated.yaml",
        "sweep_sha256": SWEEP_SHA,
        "point_id": folder.name,
        "coordinates": coordinates,
        "overrides": {},
        "command": ["stp", "train", "--seed", str(seed)],
        "commit": "0123abc",
        "versions": {"semantic-tube": "0.1.0", "torch": "2.13.0", "transformers": "5.0.0"},
    }
    write_json(folder / "sweep_point.json", point)


def write_failed(folder: Path, *, method: str, seed: int, fraction: float = 1.0, error: str = "RuntimeError: CUDA out of memory") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_point(folder, method=method, seed=seed, fraction=fraction)
    write_json(folder / "failed.json", {"error": error, "traceback": "Traceback ...\n" + error, "finished_at": "2025-01-01T00:00:00"})
    return folder


def write_json(path: Path, content) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2))
