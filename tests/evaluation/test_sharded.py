"""Prompt shares under a launcher: a sharded model (FSDP, ZeRO-3) runs the same number of batches on every rank."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch.distributed as dist

from semantic_tube.data.messages import ChatExample
from semantic_tube.evaluation import runner
from semantic_tube.evaluation.tasks import get_task

ROOT = Path(__file__).resolve().parents[2]


def run_share(monkeypatch, sharded: bool, rank: int, world: int, n: int):
    examples = [ChatExample(user=f"q{i}", assistant=f"a{i}") for i in range(n)]
    records = [runner._record(example) for example in examples]
    predicted_on = []

    def fake_predict(model, tokenizer, task, share, part, max_new_tokens, settings):
        predicted_on.append([example.user for example in share])
        for record in part:
            record["prediction"], record["truncated"] = "p" + record["prompt"], True
        return {"max_new_tokens": 8, "truncated": len(part)}

    def fake_gather(shares, mine):
        for other in range(world):  # every rank's share as this rank would compute it (the same rule)
            indices = list(range(other, n, world))
            shares[other] = mine if other == rank else (indices, [dict(records[i], prediction="p" + records[i]["prompt"], truncated=True) for i in indices], {"truncated": len(indices)})

    monkeypatch.setattr(runner, "_predict", fake_predict)
    monkeypatch.setattr(runner, "is_sharded", lambda model: sharded)
    monkeypatch.setattr(dist, "all_gather_object", fake_gather)
    meta = runner._predict_shard(None, None, get_task("synth"), examples, records, None, {}, (rank, world))
    return predicted_on[0], records, meta


def test_a_sharded_model_tops_up_the_short_shares_and_drops_the_repeats(monkeypatch):
    share, records, meta = run_share(monkeypatch, sharded=True, rank=1, world=2, n=5)
    assert share == ["q1", "q3", "q3"]  # 3 = ceil(5 / 2) prompts on every rank: the same batches
    assert [record["prediction"] for record in records] == [f"pq{i}" for i in range(5)]
    assert meta["truncated"] == 5  # the repeat is not counted


def test_a_replicated_model_predicts_only_its_own_share(monkeypatch):
    share, records, meta = run_share(monkeypatch, sharded=False, rank=1, world=2, n=5)
    assert share == ["q1", "q3"]
    assert [record["prediction"] for record in records] == [f"pq{i}" for i in range(5)]


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not on PATH")
def test_an_fsdp_sharded_model_generates_what_the_whole_model_generates(tmp_path):
    """Two CPU processes, a tiny model sharded with FSDP2: every rank runs the same batches
    (the short share topped up) and the gathered predictions equal the unsharded model's."""
    command = ["torchrun", "--standalone", "--nproc_per_node", "2", "-m", "tests.evaluation.fsdp_worker", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    if done.returncode != 0 and "terminate called without an active exception" in done.stderr:
        # once in a fresh CI venv (2026-12-02) a rank aborted in gloo about 4 s after launch, before
        # any prediction; three reruns passed. One more launch, the same assertion on it.
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    for result in results:
        assert result["is_sharded"] and result["processes"] == 2
        assert len(result["whole"]) == 5 and result["sharded"] == result["whole"]
