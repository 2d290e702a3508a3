"""One process of `test_an_fsdp_sharded_model_generates_what_the_whole_model_generates`, under
torchrun on CPU (gloo): a tiny model generates unsharded, then sharded with FSDP2 (fully_shard,
what accelerate's FSDP v2 applies), through `evaluate` with this process's share of the prompts.

    torchrun --standalone --nproc_per_node 2 -m tests.evaluation.fsdp_worker OUT_DIR
"""

import copy
import json
import sys
from pathlib import Path

import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

from semantic_tube.data.messages import ChatExample
from semantic_tube.evaluation.runner import evaluate, is_sharded
from tests.tiny_models import tiny_model, tiny_tokenizer

PROMPTS = 5  # two ranks: shares of 3 and 2, so the short share is topped up


def main(out: Path) -> None:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    tokenizer = tiny_tokenizer("chatml")
    model = tiny_model(tokenizer, seed=0)
    examples = [ChatExample(user=f"lines with a vowel before {i} numbers", assistant=".*[AEIOUaeiou].*") for i in range(PROMPTS)]
    settings = {"batch_size": 2, "max_new_tokens": 12, "progress": False}
    whole = evaluate(copy.deepcopy(model), tokenizer, "synth", examples, **settings)
    mesh = init_device_mesh("cpu", (world,))
    for layer in model.model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    sharded = evaluate(model, tokenizer, "synth", examples, shard=(rank, world), **settings)
    result = {
        "is_sharded": is_sharded(model),
        "whole": [record["prediction"] for record in whole.predictions],
        "sharded": [record["prediction"] for record in sharded.predictions],
        "processes": sharded.meta.get("processes"),
    }
    (out / f"rank{rank}.json").write_text(json.dumps(result))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
