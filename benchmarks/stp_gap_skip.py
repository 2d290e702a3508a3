"""How much bypassing the template gap (Appendix G) changes the measured STP value.

    python benchmarks/stp_gap_skip.py --model runs/smollm2_nlrx --data runs/smollm2_nlrx/data/train.jsonl

Scores the same examples with the same triplets (tube form, --draws per example, one seed) twice:
each displacement bypassing the template tokens between query and answer (the default), and
straight across them (`stp_skip_gap: false`). --gap_origin picks where the bypassed step restarts
in the answer: answer_start (Appendix G, the default; draws then skip the answer's first token,
the same point as the query's last) or before_answer (the reference code's; the README's figures).
It does so for the base model (step 0) and for each --model given, and prints a table. No
gradient, float32, batches of --batch_size.
"""

from __future__ import annotations

import argparse

import torch

from semantic_tube.data.collator import STPCollator, load_encoded_file
from semantic_tube.losses.sampling import GapOrigin, KeyedDraws, STPForm, hash_keys, sample_positions, template_gap, trajectory_answer_span
from semantic_tube.training.model import load_model, load_tokenizer
from semantic_tube.training.trainer import stp_objective


@torch.inference_mode()
def mean_stp(model, batches, draws: int, seed: int, origin: GapOrigin) -> dict[str, float]:
    """Mean STP over the batches, with and without the gap bypass, on identical draws."""
    totals = {"skip": 0.0, "across": 0.0}
    count = 0
    for batch in batches:
        hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True).hidden_states[-1]
        draws_of_batch = KeyedDraws(hash_keys(seed, batch["example_index"]))
        drawn_answer = trajectory_answer_span(batch["query_span"], batch["answer_span"], origin)
        positions = sample_positions(batch["query_span"], drawn_answer, draws, STPForm.TUBE, draws_of_batch)
        size = len(positions)
        gap = template_gap(batch["query_span"], batch["answer_span"], origin)
        totals["skip"] += size * stp_objective(hidden, positions, STPForm.TUBE, gap).item()
        totals["across"] += size * stp_objective(hidden, positions, STPForm.TUBE, None).item()
        count += size
    return {key: value / count for key, value in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", nargs="+", required=True, help="trained output folders to compare with the base model")
    parser.add_argument("--base", default=None, help="the base model (default: the embedded SmolLM2-135M-Instruct)")
    parser.add_argument("--data", required=True, help="messages-format JSONL (e.g. the run's own training file)")
    parser.add_argument("--examples", type=int, default=64, help="how many examples of --data to score (default 64)")
    parser.add_argument("--draws", type=int, default=8, help="triplets per example (default 8)")
    parser.add_argument("--batch_size", type=int, default=8, help="examples per forward (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    parser.add_argument("--gap_origin", choices=[o.value for o in GapOrigin], default=GapOrigin.ANSWER_START.value)
    args = parser.parse_args()

    torch.set_grad_enabled(False)
    tokenizer = load_tokenizer(args.base)
    dataset = load_encoded_file(tokenizer, args.data, max_length=1024)
    items = [dataset[i] for i in range(min(args.examples, len(dataset)))]
    collate = STPCollator(pad_token_id=tokenizer.pad_token_id)
    batches = [collate(items[i : i + args.batch_size]) for i in range(0, len(items), args.batch_size)]
    print(f"{len(items)} examples of {args.data}, {args.draws} tube triplets each, seed {args.seed}, gap origin {args.gap_origin}")
    print(f"{'model':<40} {'STP, gap bypassed':>18} {'STP, straight across':>21} {'ratio':>6}")
    for name in [args.base, *args.model]:
        model = load_model(name, dtype="float32").eval()
        values = mean_stp(model, batches, args.draws, args.seed, GapOrigin(args.gap_origin))
        label = name or "embedded base (step 0)"
        print(f"{label:<40} {values['skip']:>18.4f} {values['across']:>21.4f} {values['skip'] / values['across']:>6.3f}")


if __name__ == "__main__":
    main()
