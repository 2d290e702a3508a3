"""Time train steps of NTP alone against NTP + STP on the same batches, interleaved in one run.

    python benchmarks/stp_overhead.py [--model M] [--steps 20] [--batch_size 4] [--form tube]

Both sides run `STPTrainer.training_step` (forward, loss, backward) plus an AdamW step on one
shared model: stp_lambda=0 (plain NTP: no hidden states requested, no STP work) against
stp_lambda=0.02. Each round runs both in random order, so drifts in machine load hit both alike.
Prints the median seconds per step of each, the ratio of the 25th percentiles (robust to
occasional slow steps: on a GPU, launch-bound steps swung between 55 and 230 ms, see
results/gpu-check/) and the median over rounds of the within-round ratio (robust to load that
changes between rounds). Target: at most 1.02.

First it times the position sampling alone at batch 8, 32 and 128 (`--sampling_only` stops
there): the trainer's keyed draws (one vectorised hash over the batch) against one
torch.Generator per example in a Python loop, the way draws were made before. Target: < 1 ms at
batch 128. Then the draws over a conversation of three exchanges (six content segments, each
template stretch bypassed), the multi-turn trainer's path, at the same batch sizes.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import tempfile
import time

import torch

from semantic_tube.data.collator import STPCollator, encode_examples
from semantic_tube.data.nlrx import generate_nlrx
from semantic_tube.losses.sampling import KeyedDraws, STPForm, hash_keys, sample_positions, sample_segment_positions, segment_gaps
from semantic_tube.training.config import STPTrainingArguments
from semantic_tube.training.model import load_model, load_tokenizer
from semantic_tube.training.trainer import STPTrainer


def make_trainer(model, tokenizer, stp_lambda: float, form: str, output_dir: str) -> STPTrainer:
    args = STPTrainingArguments(
        output_dir=output_dir, stp_lambda=stp_lambda, stp_form=form, report_to="none", disable_tqdm=True, seed=82
    )
    trainer = STPTrainer(model=model, args=args, data_collator=STPCollator(tokenizer.pad_token_id), processing_class=tokenizer)
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(); we call training_step directly
    return trainer


def time_sampling(batch_size: int, form: STPForm, repeats: int = 200) -> tuple[float, float]:
    """Median seconds of one batch's draws: keyed (vectorised) and one generator per example."""
    lengths = torch.randint(20, 60, (batch_size,), generator=torch.Generator().manual_seed(batch_size))
    query = torch.stack([torch.full((batch_size,), 30), 30 + lengths // 2], dim=1)
    answer = torch.stack([query[:, 1] + 6, query[:, 1] + 6 + lengths - lengths // 2], dim=1)
    index = torch.arange(batch_size)

    def keyed() -> None:
        sample_positions(query, answer, 1, form, KeyedDraws(hash_keys(82, 7, 1, index)))

    def per_example() -> None:
        torch.cat([sample_positions(query[b : b + 1], answer[b : b + 1], 1, form, torch.Generator().manual_seed(b)) for b in range(batch_size)])

    medians = []
    for draw in (keyed, per_example):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            draw()
            times.append(time.perf_counter() - start)
        medians.append(statistics.median(times))
    return medians[0], medians[1]


def time_segment_sampling(batch_size: int, form: STPForm, exchanges: int = 3, repeats: int = 200) -> float:
    """Median seconds of one batch's keyed draws and template gaps over `exchanges` user/assistant
    pairs (2 x exchanges segments of 10-40 tokens, 6 template tokens between two segments)."""
    lengths = torch.randint(10, 40, (batch_size, 2 * exchanges), generator=torch.Generator().manual_seed(batch_size))
    starts = 30 + torch.cumsum(lengths + 6, dim=1) - (lengths + 6)
    segments = torch.stack([starts, starts + lengths], dim=-1)
    index = torch.arange(batch_size)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sample_segment_positions(segments, 1, form, KeyedDraws(hash_keys(82, 7, 1, index)))
        segment_gaps(segments)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed_step(trainer: STPTrainer, model, optimizer, batch: dict) -> float:
    """Seconds of one step, with Python's garbage collector held off while it runs (as `timeit`
    does), so a collection triggered by either side does not land on one side's clock."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        with trainer.accelerator.autocast():  # the mixed precision training applies (bf16 on a CUDA GPU by default)
            trainer.training_step(model, batch)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter() - start
    finally:
        gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model id or folder (default: embedded SmolLM2-135M-Instruct)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per side")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per side first")
    parser.add_argument("--batch_size", type=int, default=4)
    parser.add_argument("--form", default="tube", choices=["tube", "anchored", "span"])
    parser.add_argument("--sampling_only", action="store_true", help="time the position sampling alone and stop")
    options = parser.parse_args()

    for batch_size in (8, 32, 128):
        keyed, per_example = time_sampling(batch_size, STPForm(options.form))
        print(f"sampling batch={batch_size:>3}: keyed {keyed * 1000:.3f} ms, one generator per example {per_example * 1000:.3f} ms "
              f"({per_example / keyed:.0f}x)  (target < 1 ms at 128)")
    for batch_size in (8, 32, 128):
        seconds = time_segment_sampling(batch_size, STPForm(options.form))
        print(f"conversation draws batch={batch_size:>3} (3 exchanges, 6 segments): keyed {seconds * 1000:.3f} ms")
    if options.sampling_only:
        return

    tokenizer = load_tokenizer(options.model)
    model = load_model(options.model)
    train, _ = generate_nlrx(n=2 * (options.steps + options.warmup) * options.batch_size, seed=0, test_fraction=0.05)  # more than the batches take
    dataset = encode_examples(tokenizer, train, max_length=256)
    collate = STPCollator(tokenizer.pad_token_id)
    batches = [
        collate([dataset[i] for i in range(start, start + options.batch_size)])
        for start in range(0, (options.steps + options.warmup) * options.batch_size, options.batch_size)
    ]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    with tempfile.TemporaryDirectory() as tmp:
        sides = {"ntp": make_trainer(model, tokenizer, 0.0, options.form, tmp), "ntp+stp": make_trainer(model, tokenizer, 0.02, options.form, tmp)}
        model.to(sides["ntp"].args.device)
        times: dict[str, list[float]] = {name: [] for name in sides}
        order = random.Random(0)
        for index, batch in enumerate(batches):
            names = list(sides)
            order.shuffle(names)
            for name in names:
                elapsed = timed_step(sides[name], model, optimizer, dict(batch))
                if index >= options.warmup:
                    times[name].append(elapsed)
    tokens = statistics.mean(int(batch["attention_mask"].sum()) / options.batch_size for batch in batches)
    medians = {name: statistics.median(values) for name, values in times.items()}
    paired = statistics.median(stp / ntp for stp, ntp in zip(times["ntp+stp"], times["ntp"]))
    print(f"model={options.model or 'embedded SmolLM2-135M-Instruct'} device={sides['ntp'].args.device} "
          f"batch={options.batch_size} mean_tokens/example={tokens:.1f} steps/side={options.steps} form={options.form}")
    for name, median in medians.items():
        print(f"{name:>8}: median {median * 1000:.1f} ms/step (min {min(times[name]) * 1000:.1f}, max {max(times[name]) * 1000:.1f})")
    print(f"ratio of medians (ntp+stp / ntp): {medians['ntp+stp'] / medians['ntp']:.3f}")
    quartiles = {name: statistics.quantiles(values, n=4)[0] for name, values in times.items()}
    print(f"ratio of 25th percentiles (ntp+stp / ntp): {quartiles['ntp+stp'] / quartiles['ntp']:.3f}  (robust to occasional slow steps)")
    print(f"median within-round ratio (ntp+stp / ntp): {paired:.3f}  (target <= 1.02)")


if __name__ == "__main__":
    main()
