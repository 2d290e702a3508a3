"""Packed versus dynamically padded batches: tokens per second and padding, on the same batches.

    python benchmarks/packing.py [--model M] [--steps 10] [--batch_size 32] [--attn_implementation sdpa]

One model (the embedded SmolLM2-135M-Instruct by default, float32 weights; bf16 autocast on a CUDA
GPU that supports it, as `stp train` does) and batches of generated NL-RX, encoded once. Each
batch is collated twice by `STPCollator`: padded to its longest example (the default), and packed
(`--packing`: its examples one after the other in one row, position ids restarting per example).
For each batch both run one forward + backward through `STPTrainer.compute_loss` with STP on (no
optimizer step, so the model stays the same), in a random order per batch so drifts in machine
load hit both alike. Prints, side by side from one run: real (non-padding) tokens per second,
the padding fraction of the tokens the model processed, the median per-batch time ratio, and how
far the packed NTP and STP losses are from the padded ones (they should agree to float precision).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile

import torch

from semantic_tube.data.collator import STPCollator, encode_examples
from semantic_tube.data.nlrx import generate_nlrx
from semantic_tube.training.config import STPTrainingArguments
from semantic_tube.training.cost import timed_step
from semantic_tube.training.model import load_model, load_tokenizer
from semantic_tube.training.trainer import STPTrainer

LAYOUTS = ("padded", "packed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model id or folder (default: embedded SmolLM2-135M-Instruct)")
    parser.add_argument("--steps", type=int, default=10, help="timed batches per layout")
    parser.add_argument("--warmup", type=int, default=2, help="untimed batches per layout first")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--attn_implementation", default=None, help="e.g. sdpa, eager, flash_attention_2 (default: the model's)")
    options = parser.parse_args()

    tokenizer = load_tokenizer(options.model)
    model = load_model(options.model, dtype="float32")
    if options.attn_implementation:
        model.set_attn_implementation(options.attn_implementation)
    count = (options.steps + options.warmup) * options.batch_size
    train, _ = generate_nlrx(n=2 * count, seed=0, test_fraction=0.05)  # more than `count` training examples
    dataset = encode_examples(tokenizer, train[:count], max_length=256)
    collators = {layout: STPCollator(tokenizer.pad_token_id, packing=layout == "packed") for layout in LAYOUTS}
    items = [[dataset[i] for i in range(start, start + options.batch_size)] for start in range(0, count, options.batch_size)]

    with tempfile.TemporaryDirectory() as tmp:
        args = STPTrainingArguments(output_dir=tmp, report_to="none", disable_tqdm=True, seed=82, stp_lambda=0.02)
        trainer = STPTrainer(model=model, args=args, data_collator=collators["padded"], processing_class=tokenizer)
        trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(); we call compute_loss directly
        model.to(args.device)
        model.train()
        seconds: dict[str, list[float]] = {layout: [] for layout in LAYOUTS}
        processed = {layout: 0 for layout in LAYOUTS}  # tokens through the model, padding included
        real = 0
        gaps = {"ntp_loss": 0.0, "stp_loss": 0.0}
        order = random.Random(0)
        for index, batch_items in enumerate(items):
            batches = {layout: collators[layout](batch_items) for layout in LAYOUTS}
            layouts = list(LAYOUTS)
            order.shuffle(layouts)
            losses = {}
            for layout in layouts:
                elapsed = timed_step(trainer, model, trainer._prepare_inputs(dict(batches[layout])), plain=False)
                losses[layout] = {key: records[-1][0].item() for key, records in trainer._stp_metrics["train"].items()}
                if index >= options.warmup:
                    seconds[layout].append(elapsed)
                    processed[layout] += batches[layout]["input_ids"].numel()
            for records in trainer._stp_metrics["train"].values():
                records.clear()
            if index >= options.warmup:
                real += sum(len(item["input_ids"]) for item in batch_items)
            for key in gaps:
                gaps[key] = max(gaps[key], abs(losses["packed"][key] - losses["padded"][key]) / abs(losses["padded"][key]))

    device = args.device
    print(
        f"model={options.model or 'embedded SmolLM2-135M-Instruct'} device={device} bf16={args.bf16} "
        f"attention={model.config._attn_implementation} threads={torch.get_num_threads()} batch={options.batch_size} "
        f"timed batches={options.steps} mean tokens/example={real / (options.steps * options.batch_size):.1f} (forward + backward, no update)"
    )
    print(f"{'layout':<8} {'tokens/s':>10} {'padding':>8} {'median s/batch':>15}")
    rate = {layout: real / sum(seconds[layout]) for layout in LAYOUTS}
    for layout in LAYOUTS:
        padding = 1 - real / processed[layout]
        print(f"{layout:<8} {rate[layout]:>10.0f} {padding:>8.1%} {statistics.median(seconds[layout]):>15.3f}")
    ratio = statistics.median(packed / padded for packed, padded in zip(seconds["packed"], seconds["padded"]))
    print(f"packed / padded: tokens/s x{rate['packed'] / rate['padded']:.3f}, median per-batch time x{ratio:.3f}")
    print(f"largest relative loss difference, packed vs padded, over all batches: ntp {gaps['ntp_loss']:.1e}, stp {gaps['stp_loss']:.1e}")


if __name__ == "__main__":
    main()
