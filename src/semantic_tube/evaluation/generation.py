"""Greedy, batched generation of answers, tokenized exactly as in training.

Prompts are `encode_prompt` ids (the chat template's text up to the generation prompt, no
extra special tokens), batched by length with left padding and decoded with the KV cache.
Decoding stops at the tokenizer's EOS and at the template's end-of-turn token when it differs
(`<|eot_id|>`, `<end_of_turn>` ...). The token budget is the caller's (a task's fixed default,
`Task.max_new_tokens`): an answer that hits it is flagged `truncated`, not silently cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from semantic_tube.data.chat import encode_prompt, render_chat
from semantic_tube.data.messages import ChatExample
from semantic_tube.evaluation.batching import length_sorted_batches, model_device, pad_left, progress_bar

_SENTINEL = "zq7sentinel"


@dataclass(frozen=True)
class Generation:
    """One decoded answer; `truncated` when it hit the token budget without stopping."""

    text: str
    tokens: int
    truncated: bool


def end_of_turn_id(tokenizer, template_kwargs: dict | None = None) -> int | None:
    """The special token the chat template closes an assistant turn with, found by rendering one."""
    rendered = render_chat(tokenizer, ChatExample(user="q", assistant=_SENTINEL), template_kwargs=template_kwargs)
    tail = rendered[rendered.rindex(_SENTINEL) + len(_SENTINEL) :]
    ids = tokenizer(tail, add_special_tokens=False)["input_ids"]
    special = set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)
    return ids[0] if ids and ids[0] in special else None


def stop_token_ids(tokenizer, model=None, template_kwargs: dict | None = None) -> list[int]:
    """EOS, the end-of-turn token and the model's own configured EOS ids, deduplicated."""
    ids = [tokenizer.eos_token_id, end_of_turn_id(tokenizer, template_kwargs)]
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids += configured if isinstance(configured, list) else [configured]
    return list(dict.fromkeys(i for i in ids if i is not None))


def generate_answers(
    model,
    tokenizer,
    examples: list[ChatExample],
    *,
    max_new_tokens: int,
    batch_size: int = 16,
    template_kwargs: dict | None = None,
    progress: bool = False,
) -> list[Generation]:
    """Greedy answers for `examples`, in their order; batch_size=1 decodes one at a time."""
    prompts = [encode_prompt(tokenizer, example, template_kwargs=template_kwargs) for example in examples]
    stops = stop_token_ids(tokenizer, model, template_kwargs)
    results: list[Generation | None] = [None] * len(examples)
    with progress_bar(len(prompts), "generating", "prompt", progress) as bar:
        for batch in length_sorted_batches([len(p) for p in prompts], batch_size):
            generated = _generate_batch(model, tokenizer, [prompts[i] for i in batch], max_new_tokens, stops)
            for i, tokens in zip(batch, generated):
                results[i] = _decode(tokenizer, tokens, stops, max_new_tokens)
            bar.update(len(batch))
    return results


@torch.inference_mode()
def _generate_batch(model, tokenizer, prompts: list[list[int]], max_new_tokens: int, stops: list[int]) -> list[list[int]]:
    input_ids, attention_mask = pad_left(prompts, tokenizer.pad_token_id, model_device(model))
    output = model.generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        eos_token_id=stops,
        pad_token_id=tokenizer.pad_token_id,
        use_cache=True,
    )
    return output[:, input_ids.shape[1] :].tolist()


def _decode(tokenizer, tokens: list[int], stops: list[int], max_new_tokens: int) -> Generation:
    """Cut at the first stop token (what follows is padding), decode without special tokens."""
    stop_at = next((i for i, token in enumerate(tokens) if token in stops), None)
    kept = tokens if stop_at is None else tokens[:stop_at]
    text = tokenizer.decode(kept, skip_special_tokens=True).strip()
    return Generation(text=text, tokens=len(kept), truncated=stop_at is None and len(tokens) >= max_new_tokens)
