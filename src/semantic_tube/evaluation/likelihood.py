"""Multiple choice without generation: the most likely option letter.

When every option is a single token as training encodes it (the letters A-D are), one forward
pass per example: the prompt is rendered with the generation prompt, exactly as for generation,
and the log-probabilities of the options' tokens are read at its last position, the one that
predicts the answer's first token. This is the reference evaluate.py's `relative_probability`
(its argmax over softmax probabilities is the argmax over these log-probabilities), and for a
one-token answer it is the very number per-option scoring computes, at a quarter of the cost.

When an option is more than one token, each option is put in the assistant turn and the
conversation encoded exactly as in training (`encode_chat`); its score is the sum of the
log-probabilities of the answer's tokens (not the end-of-turn token after it), in left-padded
batches keeping only the logits of the last few positions, where the answer is.
"""

from __future__ import annotations

import torch

from semantic_tube.data.chat import encode_chat, encode_prompt
from semantic_tube.data.messages import ChatExample
from semantic_tube.evaluation.batching import length_sorted_batches, model_device, pad_left, positions_from_mask, progress_bar

_NO_LIMIT = 1 << 30  # encode_chat's max_length: options are scored whole
NEXT_TOKEN = "next_token"  # one forward per example, the options' token log-probabilities
PER_OPTION = "per_option"  # one forward per option, the answer's summed log-probability


def choose_options(
    model,
    tokenizer,
    examples: list[ChatExample],
    options: list[list[str]],
    *,
    batch_size: int = 16,
    template_kwargs: dict | None = None,
    progress: bool = False,
) -> tuple[list[dict[str, float]], str]:
    """For each example {option: log-likelihood of answering it}, and the method used (NEXT_TOKEN or PER_OPTION).

    The options' tokens are read from the first example: what surrounds the answer is the
    template's generation prompt and end of turn, the same in every example.
    """
    token_ids = single_token_ids(tokenizer, examples[0], sorted({o for listed in options for o in listed}), template_kwargs)
    settings = {"batch_size": batch_size, "template_kwargs": template_kwargs, "progress": progress}
    if token_ids is None:
        return option_log_likelihoods(model, tokenizer, examples, options, **settings), PER_OPTION
    return next_token_log_probs(model, tokenizer, examples, options, token_ids, **settings), NEXT_TOKEN


def single_token_ids(tokenizer, example: ChatExample, options: list[str], template_kwargs: dict | None = None) -> dict[str, int] | None:
    """{option: its one answer token} as training encodes it in `example`'s conversation.

    None when an option takes more than one token there, or its token does not directly follow
    the prompt's tokens (then the prompt's last position is not the one that predicts it). Read
    in context, since a tokenizer may encode a letter alone differently than after the prompt.
    """
    prompt = encode_prompt(tokenizer, example, template_kwargs=template_kwargs)
    token_ids = {}
    for option in options:
        encoded = encode_chat(tokenizer, _answered(example, option), max_length=_NO_LIMIT, use_views=False, template_kwargs=template_kwargs)
        start, end = encoded.answer_span
        if end - start != 1 or encoded.input_ids[:start] != prompt:
            return None
        token_ids[option] = encoded.input_ids[start]
    return token_ids


def next_token_log_probs(
    model,
    tokenizer,
    examples: list[ChatExample],
    options: list[list[str]],
    token_ids: dict[str, int],
    *,
    batch_size: int = 16,
    template_kwargs: dict | None = None,
    progress: bool = False,
) -> list[dict[str, float]]:
    """For each example, {option: log p(option's token | prompt)}, one forward pass per example."""
    prompts = [encode_prompt(tokenizer, example, template_kwargs=template_kwargs) for example in examples]
    result: list[dict[str, float]] = [{} for _ in examples]
    with progress_bar(len(prompts), "scoring options", "prompt", progress) as bar:
        for batch in length_sorted_batches([len(p) for p in prompts], batch_size):
            log_probs = _next_token_log_probs(model, tokenizer, [prompts[i] for i in batch])
            for row, i in enumerate(batch):
                result[i] = {option: float(log_probs[row, token_ids[option]]) for option in options[i]}
            bar.update(len(batch))
    return result


def option_log_likelihoods(
    model,
    tokenizer,
    examples: list[ChatExample],
    options: list[list[str]],
    *,
    batch_size: int = 16,
    template_kwargs: dict | None = None,
    progress: bool = False,
) -> list[dict[str, float]]:
    """For each example, {option: sum of log p(answer tokens | conversation so far)}, one forward per option."""
    items = [(e, option) for e, example in enumerate(examples) for option in options[e]]
    # use_views=False: answer_span must be the assistant's option, not the line's `code` view
    encoded = [
        encode_chat(tokenizer, _answered(examples[e], option), max_length=_NO_LIMIT, use_views=False, template_kwargs=template_kwargs)
        for e, option in items
    ]
    scores: list[float] = [0.0] * len(items)
    with progress_bar(len(encoded), "scoring options", "option", progress) as bar:
        for batch in length_sorted_batches([len(x.input_ids) for x in encoded], batch_size):
            batch_scores = _score_batch(model, tokenizer, [encoded[i].input_ids for i in batch], [encoded[i].answer_span for i in batch])
            for i, value in zip(batch, batch_scores):
                scores[i] = value
            bar.update(len(batch))
    result: list[dict[str, float]] = [{} for _ in examples]
    for (e, option), value in zip(items, scores):
        result[e][option] = value
    return result


def _answered(example: ChatExample, option: str) -> ChatExample:
    """The conversation with `option` as the answer, its earlier exchanges kept as in training (a
    fresh example: no other field of the line's)."""
    return ChatExample(user=example.user, assistant=option, system=example.system, source=example.source, history=example.history)


@torch.inference_mode()
def _next_token_log_probs(model, tokenizer, sequences: list[list[int]]) -> torch.Tensor:
    """(batch, vocab) log-probabilities of the token after each sequence's last one."""
    input_ids, attention_mask = pad_left(sequences, tokenizer.pad_token_id, model_device(model))
    logits = model(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=positions_from_mask(attention_mask), logits_to_keep=1
    ).logits[:, -1].float()
    return torch.log_softmax(logits, dim=-1).cpu()


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
