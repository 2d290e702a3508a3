"""Throughput of `stp train` against TRL's SFTTrainer on the same work, interleaved in one run.

    python benchmarks/vs_trl.py [--model M] [--steps 12] [--batch_size 8] [--data single|multi] [--packing]

Three sides train one shared model on the same rows, batch, precision (float32 unless --bf16),
packing setting and no gradient checkpointing (TRL's SFTConfig turns it on by default): TRL's `SFTTrainer` (its default loss, answer-only labels from
prompt-completion rows), `stp train`'s `STPTrainer` at lambda 0 (plain NTP) and at lambda 0.02
(NTP + STP). Each side collates the same examples with its own collator and runs its own
`training_step` (forward, loss, backward) plus one AdamW step; every round runs the three in a
random order, so drifts in machine load hit all alike. Prints tokens per second per side (the
non-padding tokens of the batch over the step's time, median over steps), and the ratios:
targets: stp train at lambda 0 at least 1.0x TRL's throughput, and lambda 0.02 at most 1.02x
lambda 0's step time.

--data single: NL-RX rows (one user and one assistant turn); multi: the same pairs chained into
conversations of three user/assistant exchanges (labels on every assistant turn).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
from pathlib import Path

import torch
from stp_overhead import timed_step  # benchmarks/: one timed step (training_step + AdamW, GC held off) for every side

from semantic_tube.data.collator import STPCollator, load_encoded_file
from semantic_tube.data.nlrx import generate_nlrx
from semantic_tube.training.config import STPTrainingArguments
from semantic_tube.training.model import load_model, load_tokenizer
from semantic_tube.training.trainer import STPTrainer


def rows_of(examples, turns: int) -> list[dict]:
    """Prompt-completion rows (TRL's conversational type, which `stp train` reads too): one
    exchange per row, or `turns` exchanges chained (the earlier ones in the prompt)."""
    rows = []
    for start in range(0, len(examples) - turns + 1, turns):
        chain = examples[start : start + turns]
        prompt = []
        for earlier in chain[:-1]:
            prompt += [{"role": "user", "content": earlier.user}, {"role": "assistant", "content": earlier.assistant}]
        prompt.append({"role": "user", "content": chain[-1].user})
        rows.append({"prompt": prompt, "completion": [{"role": "assistant", "content": chain[-1].assistant}]})
    return rows


def trl_trainer(model, tokenizer, rows, options, output_dir):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    config = SFTConfig(
        output_dir=output_dir, report_to="none", bf16=options.bf16, use_cpu=not torch.cuda.is_available(),
        per_device_train_batch_size=options.batch_size, padding_free=options.packing,
        max_length=None if options.packing else options.max_length,  # TRL's padding-free rows are not truncated (ours are short)
        seed=82, disable_tqdm=True, gradient_checkpointing=False,  # TRL's default is on; stp train's off: the same work
    )  # fmt: skip
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(); we call training_step directly
    return trainer, [trainer.train_dataset[index] for index in range(len(trainer.train_dataset))]


def stp_trainer(model, tokenizer, data_file: Path, stp_lambda: float, options, output_dir):
    args = STPTrainingArguments(
        output_dir=output_dir, stp_lambda=stp_lambda, report_to="none", disable_tqdm=True, seed=82, bf16=options.bf16,
        use_cpu=not torch.cuda.is_available(), per_device_train_batch_size=options.batch_size,
    )  # fmt: skip
    dataset = load_encoded_file(tokenizer, data_file, max_length=options.max_length)
    trainer = STPTrainer(model=model, args=args, data_collator=STPCollator(tokenizer.pad_token_id, packing=options.packing), processing_class=tokenizer)
    trainer.current_gradient_accumulation_steps = 1
    return trainer, [dataset[index] for index in range(len(dataset))]


def tokens_of(batch: dict) -> int:
    """Non-padding tokens of a collated batch (padded: the attention mask; padding-free: the row)."""
    if "attention_mask" in batch:
        return int(batch["attention_mask"].sum())
    return int(batch["input_ids"].numel())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model id or folder (default: embedded SmolLM2-135M-Instruct)")
    parser.add_argument("--steps", type=int, default=12, help="timed steps per side")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per side first")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--max_length", type=int, default=512)
    parser.add_argument("--data", choices=["single", "multi"], default="single")
    parser.add_argument("--packing", action="store_true", help="each batch's examples in one row without padding (TRL's padding_free, our packing)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (GPUs; never on these CPUs)")
    options = parser.parse_args()

    tokenizer = load_tokenizer(options.model)
    model = load_model(options.model)
    turns = 3 if options.data == "multi" else 1
    steps = options.steps + options.warmup
    examples, _ = generate_nlrx(n=int(1.1 * steps * options.batch_size * turns) + 40, seed=0, test_fraction=0.05)
    rows = rows_of(examples, turns)[: steps * options.batch_size]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    with tempfile.TemporaryDirectory() as tmp:
        data_file = Path(tmp) / "rows.jsonl"
        data_file.write_text("".join(json.dumps(row) + "\n" for row in rows))
        sides = {
            "trl": trl_trainer(model, tokenizer, rows, options, tmp),
            "stp train, lambda 0": stp_trainer(model, tokenizer, data_file, 0.0, options, tmp),
            "stp train, lambda 0.02": stp_trainer(model, tokenizer, data_file, 0.02, options, tmp),
        }
        model.to(sides["trl"][0].args.device)
        times: dict[str, list[float]] = {name: [] for name in sides}
        tokens: dict[str, list[int]] = {name: [] for name in sides}
        order = random.Random(0)
        for step in range(steps):
            names = list(sides)
            order.shuffle(names)
            for name in names:
                trainer, items = sides[name]
                batch = trainer.data_collator(items[step * options.batch_size : (step + 1) * options.batch_size])
                batch = {key: value for key, value in batch.items()}
                count = tokens_of(batch)
                elapsed = timed_step(trainer, model, optimizer, batch)
                if step >= options.warmup:
                    times[name].append(elapsed)
                    tokens[name].append(count)
    print(f"model={options.model or 'embedded SmolLM2-135M-Instruct'} device={sides['trl'][0].args.device} data={options.data} "
          f"batch={options.batch_size} packing={options.packing} bf16={options.bf16} steps/side={options.steps}")
    throughput = {}
    for name in sides:
        throughput[name] = statistics.median(count / seconds for count, seconds in zip(tokens[name], times[name]))
        print(f"{name:>24}: {throughput[name]:8.0f} tokens/s, median step {statistics.median(times[name]) * 1000:.0f} ms, "
              f"{statistics.mean(tokens[name]):.0f} tokens/step")
    print(f"stp train at lambda 0 / TRL, throughput: {throughput['stp train, lambda 0'] / throughput['trl']:.3f}  (target >= 1.0)")
    paired = statistics.median(a / b for a, b in zip(times["stp train, lambda 0.02"], times["stp train, lambda 0"]))
    print(f"lambda 0.02 / lambda 0, median within-round step time: {paired:.3f}  (target <= 1.02)")


if __name__ == "__main__":
    main()
