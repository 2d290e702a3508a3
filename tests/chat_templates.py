"""The chat templates people fine-tune with, in their own formats, over a local tokenizer.

Tokenizers cannot be downloaded in tests, so each template (tests/fixtures/chat_templates/*.jinja,
the text-only part of the model's own template) runs over `tiny_models.tiny_tokenizer`'s byte-level
BPE with the template's special tokens added and its bos/eos set as the model's tokenizer sets them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.tiny_models import tiny_tokenizer

FOLDER = Path(__file__).parent / "fixtures" / "chat_templates"


@dataclass(frozen=True)
class Template:
    file: str
    bos: str | None
    eos: str  # the end-of-turn token the tokenizer calls eos
    end_of_turn: str  # the token that closes an assistant turn
    special: tuple[str, ...] = ()
    kwargs: dict | None = None  # chat_template_kwargs training passes


TEMPLATES = {
    "llama3": Template("llama3.jinja", "<|begin_of_text|>", "<|eot_id|>", "<|eot_id|>"),
    "qwen2.5": Template("qwen2_5.jinja", None, "<|im_end|>", "<|im_end|>"),
    "qwen3": Template("qwen3.jinja", None, "<|im_end|>", "<|im_end|>", ("<think>", "</think>"), {"enable_thinking": False}),
    "gemma3": Template("gemma3.jinja", "<bos>", "<end_of_turn>", "<end_of_turn>"),
    "mistral": Template("mistral.jinja", "<s>", "</s>", "</s>", ("<s>", "</s>", "[INST]", "[/INST]")),
    "phi3": Template("phi3.jinja", None, "<|endoftext|>", "<|end|>", ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "<|endoftext|>")),
    "chatml": Template("chatml.jinja", None, "<|im_end|>", "<|im_end|>"),
}


def template_tokenizer(name: str):
    """A tiny tokenizer rendering with template `name` (`TEMPLATES`)."""
    spec = TEMPLATES[name]
    tokenizer = tiny_tokenizer("chatml")
    if spec.special:
        tokenizer.add_special_tokens({"additional_special_tokens": list(spec.special)})
    tokenizer.eos_token = spec.eos
    if spec.bos:
        tokenizer.bos_token = spec.bos
    tokenizer.chat_template = (FOLDER / spec.file).read_text()
    return tokenizer
