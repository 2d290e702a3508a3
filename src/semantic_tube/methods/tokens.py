"""Adding special tokens to a tokenizer and the embedding rows they need to a model.

New rows start at the mean of the existing rows (Hewitt 2021, "Initializing new word
embeddings for pretrained language models"). An output row at the mean gives the new token the
average logit of the existing ones, so the model's next-token distribution barely moves (its KL
to the old one is bounded by the logits' spread), where a random row from the init
distribution can have a logit far above or below the others. An input row at the mean is an
"average token" whose norm is like the trained rows', not a vector the model has never seen.
Every new token starts at the same point, so LLM-JEPA's k predictor tokens start alike and are
told apart only by their positions and by training. Hugging Face's `mean_resizing` draws the rows
around that mean from a covariance it estimates over the whole vocabulary (a dim x dim matrix);
the exact mean is cheaper and deterministic.
"""

from __future__ import annotations

import re

import torch

MASK_TOKEN = "<|stp_mask|>"  # method=mask adds it when the tokenizer has no mask token of its own
_PROJECT_TOKEN = re.compile(r"<\|stp_mask\|>|<\|predictor_\d+\|>")  # the tokens this project adds (mask, LLM-JEPA predictors)


def _base(model):
    """The PreTrainedModel under a peft adapter (resizing goes to the base model's embeddings)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _fill_mean(weight: torch.Tensor, reference_rows: int, rows: list[int]) -> None:
    """weight[rows] = mean of weight[:reference_rows] (the mean taken in float32)."""
    if not rows:
        return
    with torch.no_grad():
        mean = weight[:reference_rows].float().mean(dim=0)
        weight[torch.tensor(rows, device=weight.device)] = mean.to(weight.dtype)


def add_special_tokens(model, tokenizer, tokens: list[str]) -> list[int]:
    """Add the `tokens` the tokenizer lacks as special tokens (never split, skipped when decoding
    with skip_special_tokens), grow the model's input embeddings and its output embeddings when they
    are not tied, set the new rows to the mean of the rows in use before, and return the ids of
    `tokens` in order.

    Idempotent: tokens already in the tokenizer are kept with their ids, and rows are added only
    when the model has fewer rows than the tokenizer has tokens. Spare rows a model already has
    beyond its tokenizer (Qwen pads its vocabulary) are used as they are, never cut off.
    Works on a plain PreTrainedModel; with a peft model it resizes the base model, whose new rows
    LoRA leaves frozen unless the embeddings are among its modules_to_save.
    """
    base = _base(model)
    vocabulary = tokenizer.get_vocab()
    missing = [token for token in dict.fromkeys(tokens) if token not in vocabulary]
    in_use = len(tokenizer)  # the rows holding real tokens before this call
    if missing:
        tokenizer.add_special_tokens({"extra_special_tokens": missing}, replace_extra_special_tokens=False)
    ids = tokenizer.convert_tokens_to_ids(list(tokens))
    rows = base.get_input_embeddings().weight.shape[0]
    needed = max(len(tokenizer), max(ids, default=-1) + 1)
    reference = min(in_use, rows)
    new_rows = sorted({tokenizer.convert_tokens_to_ids(token) for token in missing} | set(range(rows, needed)))
    if needed > rows:
        base.resize_token_embeddings(needed, mean_resizing=False)
    if new_rows:
        input_weight = base.get_input_embeddings().weight
        _fill_mean(input_weight, reference, new_rows)
        output = base.get_output_embeddings()
        if output is not None and output.weight is not input_weight:
            _fill_mean(output.weight, reference, new_rows)
            if getattr(output, "bias", None) is not None:
                _fill_mean(output.bias.unsqueeze(-1), reference, new_rows)
    return list(ids)


def restore_added_rows(model, tokenizer) -> list[int]:
    """Rebuild the embedding rows of the tokens this project added, on a freshly loaded base model.

    A LoRA adapter does not hold the embeddings, and LoRA leaves the added rows frozen at their
    initial value, the mean of the rows before the first added token: recomputing that mean
    restores them exactly. Called when a LoRA folder whose tokenizer holds such tokens is loaded.
    Returns their ids (empty when there are none).
    """
    ids = sorted(tokenizer.convert_tokens_to_ids(token) for token in tokenizer.get_vocab() if _PROJECT_TOKEN.fullmatch(token))
    if not ids:
        return []
    base = _base(model)
    if base.get_input_embeddings().weight.shape[0] < max(len(tokenizer), ids[-1] + 1):
        base.resize_token_embeddings(max(len(tokenizer), ids[-1] + 1), mean_resizing=False)
    input_weight = base.get_input_embeddings().weight
    _fill_mean(input_weight, ids[0], ids)
    output = base.get_output_embeddings()
    if output is not None and output.weight is not input_weight:
        _fill_mean(output.weight, ids[0], ids)
        if getattr(output, "bias", None) is not None:
            _fill_mean(output.bias.unsqueeze(-1), ids[0], ids)
    return ids
