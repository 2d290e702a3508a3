"""Multiple choice without generation: the option whose answer tokens are most likely.

Each option letter is put in the assistant turn and the conversation is encoded exactly as in
training (`encode_chat`); its score is the sum of the log-probabilities of the answer's tokens
(the letter, not the end-of-turn token after it). All options of all examples are scored in
left-padded batches, keeping only the logits of the last few positions, where the answer is.
"""

from __future__ import annotations

import dataclasses

import torch

from semantic_tube.data.chat import encode_chat
from semantic_tube.data.messages import ChatExample
from semantic_tube.evaluation.batching import length_sorted_batches, model_device, pad_left, positions_from_mask
from semantic_tube.evaluation.prompts import template_options

_NO_LIMIT = 1 << 30  # encode_chat's max_length: options are scored whole


def option_log_likelihoods(
    model, tokenizer, examples: list[ChatExample], options: list[list[str]], *, batch_size: int = 16, template_kwargs: dict | None = None
) -> list[dict[str, float]]:
    """For each example, {option: sum of log p(answer tokens | conversation so far)}."""
    items = [(e, option) for e, example in enumerate(examples) for option in options[e]]
    render = template_options(template_kwargs)
    encoded = [encode_chat(tokenizer, dataclasses.replace(examples[e], assistant=option), max_length=_NO_LIMIT, **render) for e, option in items]
    scores: list[float] = [0.0] * len(items)
    for batch in length_sorted_batches([len(x.input_ids) for x in encoded], batch_size):
        batch_scores = _score_batch(model, tokenizer, [encoded[i].input_ids for i in batch], [encoded[i].answer_span for i in batch])
        for i, value in zip(batch, batch_scores):
            scores[i] = value
    result: list[dict[str, float]] = [{} for _ in examples]
    for (e, option), value in zip(items, scores):
        result[e][option] = value
    return result


@torch.inference_mode()
def _score_batch(model, tokenizer, sequences: list[list[int]], spans: list[tuple[int, int]]) -> list[float]:
    input_ids, attention_mask = pad_left(sequences, tokenizer.pad_token_id, model_device(model))
    width = input_ids.shape[1]
    # Columns (in the padded batch) of the answer tokens; a token at column c is predicted at c - 1.
    starts = [width - len(seq) + span[0] for seq, span in zip(sequences, spans)]
    ends = [width - len(seq) + span[1] for seq, span in zip(sequences, spans)]
    keep = width - min(starts) + 1
    logits = model(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=positions_from_mask(attention_mask), logits_to_keep=keep
    ).logits.float()
    log_probs = torch.log_softmax(logits, dim=-1)  # column j of log_probs predicts column width - keep + j + 1
    offset = width - keep + 1
    totals = []
    for row, (start, end) in enumerate(zip(starts, ends)):
        targets = input_ids[row, start:end]
        predicted_at = torch.arange(start, end, device=targets.device) - offset
        totals.append(float(log_probs[row, predicted_at, targets].sum()))
    return totals
