"""Prompts rendered exactly as training renders them.

An example is rendered as it is: with its own system turn, or with none, in which case a template
such as SmolLM2's inserts its own default system prompt, exactly as it did in training.
Evaluation never adds a task's system prompt (`Task.system_prompt` only documents the paper's
data), since a model scored on prompts it was not trained on measures the mismatch, not the model.

`template_kwargs` are the extra chat-template variables the training run used (e.g.
{"enable_thinking": False}); they are forwarded to `data.chat`'s rendering functions only when
given, so callers that never set them do not depend on that keyword.
"""

from __future__ import annotations


def template_options(template_kwargs: dict | None) -> dict:
    """Keyword arguments for render_chat / encode_prompt / encode_chat."""
    return {} if template_kwargs is None else {"template_kwargs": template_kwargs}
