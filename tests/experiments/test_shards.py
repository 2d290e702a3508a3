"""Shards: every point exactly once, from the `--shard` flag or the scheduler's variables (Slurm
array, Kubernetes Indexed Job), and the example job files shard as `stp sweep` reads them."""

import subprocess
from pathlib import Path

import pytest
import yaml

from semantic_tube.experiments.shards import ALL, ShardError, resolve_shard

ROOT = Path(__file__).resolve().parents[2]


def covered(shards, n_points=23):
    owners = [[s for s in shards if s.owns(k)] for k in range(n_points)]
    return [len(found) for found in owners]


def test_explicit_shards_cover_every_point_once():
    for n in (1, 2, 3, 7, 30):
        assert covered([resolve_shard(f"{i}/{n}", {}) for i in range(n)]) == [1] * 23
    assert resolve_shard(None, {}) == ALL


def test_slurm_array_shards_cover_every_point_once_whatever_the_first_id_and_step():
    for first, step, count in ((0, 1, 4), (1, 1, 5), (10, 3, 4)):
        environ = {"SLURM_ARRAY_TASK_MIN": str(first), "SLURM_ARRAY_TASK_COUNT": str(count), "SLURM_ARRAY_TASK_STEP": str(step)}
        shards = [resolve_shard(None, {**environ, "SLURM_ARRAY_TASK_ID": str(first + k * step)}) for k in range(count)]
        assert sorted(s.index for s in shards) == list(range(count)) and {s.count for s in shards} == {count}
        assert covered(shards) == [1] * 23
    no_count = {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_MAX": "8"}
    assert (resolve_shard(None, no_count).index, resolve_shard(None, no_count).count) == (2, 4)
    with pytest.raises(ShardError, match="SLURM_ARRAY_TASK_ID=7 is not one of 3 evenly spaced ids"):
        resolve_shard(None, {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "3"})


def test_kubernetes_indexed_job_shards_cover_every_point_once():
    shards = [resolve_shard(None, {"JOB_COMPLETION_INDEX": str(i), "STP_SHARD_COUNT": "6"}) for i in range(6)]
    assert covered(shards) == [1] * 23
    with pytest.raises(ShardError, match="no STP_SHARD_COUNT"):
        resolve_shard(None, {"JOB_COMPLETION_INDEX": "0"})


def test_the_flag_wins_over_the_scheduler_and_bad_shards_are_errors():
    assert str(resolve_shard("2/3", {"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "9"})) == "2/3"
    for bad in ("3/3", "1-4", "a/b"):
        with pytest.raises(ShardError, match="--shard"):
            resolve_shard(bad, {})



def test_the_example_job_files_shard_as_stp_sweep_reads_them():
    job = yaml.safe_load((ROOT / "examples" / "kubernetes" / "sweep-job.yaml").read_text())
    spec = job["spec"]
    container = spec["template"]["spec"]["containers"][0]
    count = {item["name"]: item["value"] for item in container["env"]}["STP_SHARD_COUNT"]
    assert spec["completionMode"] == "Indexed" and int(count) == spec["completions"]
    assert container["command"][:2] == ["stp", "sweep"] and "--shard" not in container["command"]
    batch = ROOT / "examples" / "slurm" / "sweep.sbatch"
    assert subprocess.run(["bash", "-n", str(batch)], check=False).returncode == 0
    assert 'exec stp sweep --config "$SWEEP" --out "$OUT" "$@"' in batch.read_text()

