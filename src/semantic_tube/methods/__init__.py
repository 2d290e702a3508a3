"""Training methods: NTP plus one auxiliary loss, chosen by `--method` (Sec. 4.6, Appendix L).

    stp train --method stp            # the paper's STP (default)
    stp train --method llm-jepa --jepa_predictor_tokens 1
    stp train --method mask --mask_target full

`build_objective` turns the configuration into the `Objective` the trainer calls, after giving
the model what the method needs (a linear predictor, new special tokens).
"""

from __future__ import annotations

from semantic_tube.methods.base import Objective
from semantic_tube.methods.options import Method, Predictor
from semantic_tube.methods.predictor import attach_predictor


def method_tokens(args) -> list[str]:
    """The special tokens the method needs in the tokenizer before any data is encoded."""
    if args.method is Method.LLM_JEPA and args.jepa_predictor_tokens > 0:
        from semantic_tube.data.jepa_views import predictor_token_names

        return predictor_token_names(args.jepa_predictor_tokens)
    return []


def build_objective(args, model, tokenizer) -> Objective | None:
    """The objective for `args.method` (None for plain NTP unless STP is logged without gradient),
    with the model prepared for it: new tokens added (embeddings resized) and the predictor attached.
    Call it before the optimizer is built, so new weights are trained."""
    from semantic_tube.methods import objectives

    method = args.method
    if method is Method.NTP:
        return objectives.STPObjective(args) if args.stp_logged_when_off else None
    if args.predictor is Predictor.LINEAR:
        attach_predictor(model, args.seed)
    if method is Method.STP:
        return objectives.STPObjective(args)
    if method is Method.TWO_VIEW:
        return objectives.TwoViewObjective(args)
    if method is Method.CURVATURE:
        return objectives.CurvatureObjective(args)
    if method is Method.MASK:
        return objectives.MaskObjective(args, mask_token_id(model, tokenizer))
    from semantic_tube.methods.llm_jepa import LLMJepaObjective

    return LLMJepaObjective(args, model, tokenizer)


def mask_token_id(model, tokenizer) -> int:
    """The tokenizer's own mask token, else `<|stp_mask|>` added (embeddings resized)."""
    if tokenizer is None:
        raise ValueError("method=mask needs the tokenizer (processing_class) to find or add a mask token")
    if tokenizer.mask_token_id is not None:
        return tokenizer.mask_token_id
    from semantic_tube.methods.tokens import MASK_TOKEN, add_special_tokens

    return add_special_tokens(model, tokenizer, [MASK_TOKEN])[0]


__all__ = ["Method", "Objective", "build_objective", "method_tokens"]
