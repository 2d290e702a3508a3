"""Step time of every training method relative to NTP, on the same batches, interleaved in one run.

    python benchmarks/method_cost.py [--model M] [--steps 8] [--batch_size 8]

One shared model (the embedded SmolLM2-135M-Instruct by default, float32) and one set of batches
of generated NL-RX, encoded once with everything any method reads (spans, LLM-JEPA's views). For
each batch every method runs one forward + backward through `STPTrainer.compute_loss` (no
optimizer step: the model stays the same for all), in a random order per batch, so drifts in
machine load hit all methods alike. Prints, per method, the forward passes per step, the median
seconds per step and the median over batches of the within-batch ratio to NTP. The paper's point
(Sec. 3): STP costs nothing extra (target <= 1.02), while LLM-JEPA and Mask pay for extra passes.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile

import torch

from semantic_tube.data.collator import STPCollator, encode_examples
from semantic_tube.data.jepa_views import JepaViewOptions
from semantic_tube.data.nlrx import generate_nlrx
from semantic_tube.methods import method_tokens
from semantic_tube.methods.tokens import add_special_tokens
from semantic_tube.training.config import STPTrainingArguments
from semantic_tube.training.cost import timed_step
from semantic_tube.training.model import load_model, load_tokenizer
from semantic_tube.training.trainer import STPTrainer

METHODS = {
    "ntp": {"method": "ntp"},
    "stp": {"method": "stp"},
    "stp+pred": {"method": "stp", "predictor": "linear"},
    "two-view": {"method": "two-view"},
    "two-view+mean": {"method": "two-view", "two_view_pool": "mean"},
    "curvature": {"method": "curvature"},
    "mask": {"method": "mask"},
    "llm-jepa": {"method": "llm-jepa", "stp_lambda": 0.5, "jepa_predictor_tokens": 1},
    "llm-jepa single pass": {"method": "llm-jepa", "stp_lambda": 0.5, "jepa_predictor_tokens": 1, "jepa_single_pass": True},
}


def make_trainer(model, tokenizer, output_dir: str, options: dict) -> STPTrainer:
    args = STPTrainingArguments(output_dir=output_dir, report_to="none", disable_tqdm=True, seed=82, **{"stp_lambda": 0.02, **options})
    trainer = STPTrainer(model=model, args=args, data_collator=STPCollator(tokenizer.pad_token_id), processing_class=tokenizer)
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(); we call compute_loss directly
    return trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model id or folder (default: embedded SmolLM2-135M-Instruct)")
    parser.add_argument("--steps", type=int, default=8, help="timed batches per method")
    parser.add_argument("--warmup", type=int, default=1, help="untimed batches per method first")
    parser.add_argument("--batch_size", type=int, default=8)
    options = parser.parse_args()

    tokenizer = load_tokenizer(options.model)
    model = load_model(options.model, dtype="float32")
    jepa_args = STPTrainingArguments(output_dir="unused", report_to="none", **METHODS["llm-jepa"])
    add_special_tokens(model, tokenizer, method_tokens(jepa_args))
    train, _ = generate_nlrx(n=2 * (options.steps + options.warmup) * options.batch_size, seed=0, test_fraction=0.05)  # more than the batches take
    dataset = encode_examples(tokenizer, train, max_length=256, jepa_views=JepaViewOptions.from_args(jepa_args))
    collate = STPCollator(tokenizer.pad_token_id)
    batches = [
        collate([dataset[i] for i in range(start, start + options.batch_size)])
        for start in range(0, (options.steps + options.warmup) * options.batch_size, options.batch_size)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {name: make_trainer(model, tokenizer, tmp, method) for name, method in METHODS.items()}
        model.to(trainers["ntp"].args.device)
        model.train()
        times: dict[str, list[float]] = {name: [] for name in trainers}
        order = random.Random(0)
        for index, batch in enumerate(batches):
            names = list(trainers)
            order.shuffle(names)
            for name in names:
                trainer = trainers[name]
                elapsed = timed_step(trainer, model, trainer._prepare_inputs(dict(batch)), plain=False)
                if index >= options.warmup:
                    times[name].append(elapsed)
    tokens = statistics.mean(int(batch["attention_mask"].sum()) / options.batch_size for batch in batches)
    print(f"model={options.model or 'embedded SmolLM2-135M-Instruct'} device={trainers['ntp'].args.device} threads={torch.get_num_threads()} "
          f"batch={options.batch_size} mean_tokens/example={tokens:.1f} timed batches/method={options.steps} (forward + backward, no update)")
    print(f"{'method':<22} {'passes':>6} {'median s/step':>14} {'ratio to ntp':>13}")
    for name, values in times.items():
        ratio = statistics.median(value / base for value, base in zip(values, times["ntp"]))
        passes = trainers[name].objective.forward_passes if trainers[name].objective is not None else 1
        print(f"{name:<22} {passes:>6} {statistics.median(values):>14.3f} {ratio:>13.3f}")
    print("target: stp <= 1.02; llm-jepa single pass well under two-pass")


if __name__ == "__main__":
    main()
