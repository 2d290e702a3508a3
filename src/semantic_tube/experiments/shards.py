"""Which points of a grid one process runs: `--shard i/n`, or the scheduler's array index.

Point k of the grid (in its fixed order) belongs to shard k mod n, so n processes started with
the same sweep over a shared folder split it with no coordinator: a Slurm array job
(`sbatch --array=0-7`) or a Kubernetes Indexed Job (`completionMode: Indexed`).

  Slurm       i = (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP,
              n = SLURM_ARRAY_TASK_COUNT (an array need not start at 0: --array=1-8 works).
  Kubernetes  i = JOB_COMPLETION_INDEX, which an Indexed Job sets in every pod; Kubernetes does
              not expose the Job's `completions` to the pod, so n comes from STP_SHARD_COUNT,
              which the Job spec sets to the same number (examples/kubernetes/sweep-job.yaml).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

SHARD_COUNT_VARIABLE = "STP_SHARD_COUNT"
_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class ShardError(ValueError):
    """A shard that cannot be worked out: names the flag or the variable."""


@dataclass(frozen=True)
class Shard:
    index: int
    count: int
    source: str  # where i/n came from, for the progress lines

    def __post_init__(self):
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ShardError(f"{self.source}: shard {self.index}/{self.count}: need 0 <= i < n")

    def owns(self, point_index: int) -> bool:
        return point_index % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


ALL = Shard(0, 1, "no sharding")


def parse_shard(text: str) -> Shard:
    """`i/n` with 0 <= i < n."""
    match = _SHARD.match(text)
    if not match:
        raise ShardError(f"--shard {text!r}: expected i/n, e.g. 0/4")
    return Shard(int(match[1]), int(match[2]), "--shard")


def resolve_shard(flag: str | None, environ: Mapping[str, str]) -> Shard:
    """The explicit `--shard` first, then a Slurm array, then a Kubernetes Indexed Job, else everything."""
    if flag:
        return parse_shard(flag)
    if "SLURM_ARRAY_TASK_ID" in environ:
        return slurm_shard(environ)
    if "JOB_COMPLETION_INDEX" in environ:
        return kubernetes_shard(environ)
    return ALL


def slurm_shard(environ: Mapping[str, str]) -> Shard:
    task, first = _int(environ, "SLURM_ARRAY_TASK_ID"), _int(environ, "SLURM_ARRAY_TASK_MIN", 0)
    step = _int(environ, "SLURM_ARRAY_TASK_STEP", 1)
    if "SLURM_ARRAY_TASK_COUNT" in environ:
        count = _int(environ, "SLURM_ARRAY_TASK_COUNT")
    else:
        count = (_int(environ, "SLURM_ARRAY_TASK_MAX") - first) // step + 1
    offset = task - first
    if offset % step or not 0 <= offset // step < count:
        raise ShardError(
            f"SLURM_ARRAY_TASK_ID={task} is not one of {count} evenly spaced ids from SLURM_ARRAY_TASK_MIN={first} "
            f"(an array like --array=1,3,7): use --array=A-B[:step], or pass --shard i/n"
        )
    return Shard(offset // step, count, f"Slurm array task {task}")


def kubernetes_shard(environ: Mapping[str, str]) -> Shard:
    index = _int(environ, "JOB_COMPLETION_INDEX")
    if SHARD_COUNT_VARIABLE not in environ:
        raise ShardError(
            f"JOB_COMPLETION_INDEX={index} (a Kubernetes Indexed Job) but no {SHARD_COUNT_VARIABLE}: Kubernetes does not give "
            f"the pod the Job's completions; set {SHARD_COUNT_VARIABLE} to it in the pod's env, or pass --shard i/n"
        )
    return Shard(index, _int(environ, SHARD_COUNT_VARIABLE), f"Kubernetes completion index {index}")


def _int(environ: Mapping[str, str], name: str, default: int | None = None) -> int:
    value = environ.get(name)
    if value is None and default is not None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ShardError(f"{name}={value!r}: expected an integer") from None
