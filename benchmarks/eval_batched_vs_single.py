"""python benchmarks/eval_batched_vs_single.py [--data ../shared/data/nl-rx-synth/test.jsonl] [--n 64] [--batch_size 64] [--threads N]

Times batched evaluation generation against one-at-a-time generation on the embedded default
model (SmolLM2-135M-Instruct) over the first N NL-RX test prompts, in one process with one
loaded model, and prints both times, the speed-up ratio and whether the predictions agree.
Both runs use the same greedy decoding, stop tokens and token budget; only the batching differs.
On a CPU shared with other jobs, `--threads 1` avoids OpenMP threads spin-waiting on each other,
which can slow batched matrix products tenfold.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nl-rx-synth" / "test.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA.resolve(), help="NL-RX messages-format JSONL")
    parser.add_argument("--n", type=int, default=64, help="prompts to generate for (default 64)")
    parser.add_argument("--batch_size", type=int, default=64, help="batch size of the batched run (default 64)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"NL-RX test data not found at {args.data}; pass --data path/to/test.jsonl", file=sys.stderr)
        return 2

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from semantic_tube.evaluation.generation import answer_budget, generate_answers
    from semantic_tube.evaluation.tasks import get_task
    from semantic_tube.training.model import load_model, load_tokenizer

    examples = get_task("synth").load(args.data, limit=args.n)
    tokenizer = load_tokenizer(None)
    model = load_model(None, dtype="float32").eval()
    budget = answer_budget(tokenizer, [example.assistant for example in examples])
    print(f"{len(examples)} prompts, max_new_tokens={budget}, torch threads={torch.get_num_threads()}")

    def timed(batch_size: int):
        start = time.perf_counter()
        generations = generate_answers(model, tokenizer, examples, max_new_tokens=budget, batch_size=batch_size)
        return time.perf_counter() - start, generations

    batched_s, batched = timed(args.batch_size)
    print(f"batched (batch_size={args.batch_size}): {batched_s:.1f} s")
    single_s, single = timed(1)
    print(f"one at a time: {single_s:.1f} s")
    disagreements = [i for i, (a, b) in enumerate(zip(batched, single)) if a.text != b.text]
    print(f"speed-up: {single_s / batched_s:.1f}x; predictions agree: {not disagreements} ({len(examples) - len(disagreements)}/{len(examples)} identical)")
    for i in disagreements[:5]:
        print(f"  differs at {examples[i].source}: batched {batched[i].text!r} vs single {single[i].text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
