"""The LLM-JEPA baseline (Huang, LeCun, Balestriero 2025): NTP + lambda * (1 - cos(Pred(Enc(Text)), Enc(Code))).

Unlike STP, LLM-JEPA needs forward passes of its own: Enc(Text) and Enc(Code) are hidden states
of layer `stp_layer` at the last token of each view rendered alone (`data.jepa_views`), not of the
training sequence. Two ways to run them, as in the reference code (galilai-group/llm-jepa, stp.py):

- two-pass (default, forward_passes = 3): the Text rows and the Code rows go through the model
  stacked in one call, both padded on the right to the longer of the two widths. One call rather
  than two keeps one set of kernel launches and one hidden-state stack for backward (and makes
  the step two forward calls, like the other methods with a second pass); what it costs is the
  padding up to the longer view, small next to the main pass. The reference stacks its three
  batches (main, Text, Code) the same way.
- single pass (`jepa_single_pass`, forward_passes = 2): each example's Text and Code are packed
  into one row [Text | Code], with a block-diagonal causal 4D attention mask (each view attends
  only to itself) and position ids that restart at 0 for the Code block, so each view sees exactly
  what it would see alone (the reference's `--additive_mask` keeps the positions running on; here
  they restart, so both variants give the same loss). Padding attends only to itself, so no row of
  the mask is empty and no softmax is 0/0.

How transformers 5 takes a 4D mask (masking_utils._preprocess_mask_arguments): a 4D
`attention_mask` is passed to the attention function as it is. Llama's eager attention adds it to
the scores (`attn_weights + attention_mask`), so it must be additive: 0 where allowed and the
dtype's minimum elsewhere, in the embeddings' dtype, as transformers' own eager masks are. SDPA
takes a boolean mask (True = attend) as transformers' own sdpa masks are, with no dtype to match.
Other attention implementations (flash attention, flex attention) do not take a dense 4D mask:
the single pass refuses them.
"""

from __future__ import annotations

import inspect

import torch

from semantic_tube.data.jepa_views import JEPA_BATCH_KEYS, JEPA_ITEM_KEYS, predictor_token_names
from semantic_tube.losses.jepa import jepa_loss
from semantic_tube.methods.base import SPAN_KEYS, Objective, unwrap
from semantic_tube.methods.options import Method, Predictor, forward_passes_per_step

SINGLE_PASS_ATTENTION = ("eager", "sdpa")  # the implementations that take a dense 4D mask

# --------------------------------------------------------------------------------------------
# Pure tensor functions: the CPU batches each variant feeds the model


def view_lengths(attention_mask: torch.Tensor) -> torch.Tensor:
    """(batch, len) right-padded 0/1 mask -> (batch,) lengths."""
    return attention_mask.sum(dim=1)


def stack_views(
    text_ids: torch.Tensor, text_mask: torch.Tensor, code_ids: torch.Tensor, code_mask: torch.Tensor, pad_id: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two-pass batch: Text rows then Code rows, right padded to the wider of the two.

    text_ids, text_mask: (batch, Lt); code_ids, code_mask: (batch, Lc).
    Returns input_ids and attention_mask, each (2 * batch, max(Lt, Lc)): row i is example i's Text
    view, row batch + i its Code view.
    """
    width = max(text_ids.shape[1], code_ids.shape[1])

    def pad(x: torch.Tensor, value: int) -> torch.Tensor:
        return torch.nn.functional.pad(x, (0, width - x.shape[1]), value=value)

    return torch.cat([pad(text_ids, pad_id), pad(code_ids, pad_id)]), torch.cat([pad(text_mask, 0), pad(code_mask, 0)])


def pack_views(text_ids: torch.Tensor, text_mask: torch.Tensor, code_ids: torch.Tensor, code_mask: torch.Tensor, pad_id: int = 0) -> dict[str, torch.Tensor]:
    """The single-pass batch: each example's two views in one row, [Text | Code | padding].

    text_ids, text_mask: (batch, Lt); code_ids, code_mask: (batch, Lc), right padded, with n_t and
    n_c real tokens per row. With L = max(n_t + n_c), returns
      input_ids (batch, L): Text's n_t tokens, then Code's n_c tokens, then pad_id;
      position_ids (batch, L): 0..n_t-1 over Text, 0..n_c-1 again over Code, 0 over padding;
      allowed (batch, 1, L, L) bool: query q attends key k iff both are in the same view and
        k <= q (causal), or q == k (padding attends only to itself, so no row is empty);
      code_offset (batch,): n_t, where the Code block starts.
    """
    batch = text_ids.shape[0]
    n_text, n_code = view_lengths(text_mask), view_lengths(code_mask)  # (batch,)
    length = int((n_text + n_code).max()) if batch else 0
    j = torch.arange(length).unsqueeze(0)  # (1, L)
    in_text = j < n_text.unsqueeze(1)  # (batch, L)
    in_code = ~in_text & (j < (n_text + n_code).unsqueeze(1))
    code_position = (j - n_text.unsqueeze(1)).clamp_min(0)  # (batch, L)
    from_text = text_ids.gather(1, j.clamp_max(text_ids.shape[1] - 1).expand(batch, -1))
    from_code = code_ids.gather(1, code_position.clamp_max(code_ids.shape[1] - 1))
    input_ids = torch.where(in_text, from_text, torch.where(in_code, from_code, torch.full_like(from_text, pad_id)))
    position_ids = torch.where(in_text, j.expand(batch, -1), torch.where(in_code, code_position, torch.zeros_like(code_position)))
    segment = torch.where(in_text, 0, torch.where(in_code, 1, 2))  # (batch, L): Text, Code, padding
    same_view = (segment.unsqueeze(2) == segment.unsqueeze(1)) & (segment.unsqueeze(2) < 2)  # (batch, L, L) [q, k]
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    allowed = (same_view & causal) | torch.eye(length, dtype=torch.bool)
    return {"input_ids": input_ids, "position_ids": position_ids, "allowed": allowed.unsqueeze(1), "code_offset": n_text}


def model_attention_mask(allowed: torch.Tensor, attention: str, dtype: torch.dtype) -> torch.Tensor:
    """The 4D mask to pass as `attention_mask` for the attention implementation `attention`:
    allowed (batch, 1, L, L) bool -> itself for sdpa, additive (0 / finfo(dtype).min) for eager."""
    if attention == "sdpa":
        return allowed
    if attention == "eager":
        return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, torch.finfo(dtype).min)
    raise ValueError(
        f"jepa_single_pass needs attn_implementation in {SINGLE_PASS_ATTENTION} (a dense 4D mask), got {attention!r}; "
        "load the model with attn_implementation='sdpa' or set jepa_single_pass=false"
    )


def gather_rows(states: torch.Tensor, rows: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """states (N, L, dim), rows and positions (batch,) -> (batch, dim): states[rows[i], positions[i]]."""
    return states[rows, positions]


# --------------------------------------------------------------------------------------------
# The objective


def _check_index(last: torch.Tensor, lengths: torch.Tensor, name: str) -> None:
    if ((last < 0) | (last >= lengths)).any():
        raise ValueError(f"{name} must index each view's own tokens: got {last.tolist()} for lengths {lengths.tolist()}")


def _keeps_logits(model) -> bool:
    """Whether the model's forward takes `logits_to_keep` (the JEPA passes need no logits)."""
    base = unwrap(model)
    base = base.get_base_model() if hasattr(base, "get_base_model") else base
    return "logits_to_keep" in inspect.signature(base.forward).parameters


class LLMJepaObjective(Objective):
    """LLM-JEPA (Huang et al. 2025): 1 - cos(Pred(Enc(Text)), Enc(Code)), Enc at layer `stp_layer`.

    args fields read: stp_layer, predictor (identity, or linear: `stp_predictor` on the model, applied
    to Enc(Text)), jepa_predictor_tokens, jepa_single_pass, jepa_last_token (the views' encoding:
    `JepaViewOptions.from_args`). Given the model and tokenizer, the constructor adds the predictor
    tokens (idempotent: a no-op when they were added before the data was encoded, as they must be).
    """

    log_name = "jepa_loss"
    batch_keys = SPAN_KEYS + JEPA_BATCH_KEYS
    item_keys = SPAN_KEYS + JEPA_ITEM_KEYS

    def __init__(self, args, model=None, tokenizer=None):
        super().__init__(args)
        self.forward_passes = forward_passes_per_step(Method.LLM_JEPA, args.jepa_single_pass)
        self.pad_id = 0  # what padding positions of the JEPA batches hold; masked, never read
        if tokenizer is not None and tokenizer.pad_token_id is not None:
            self.pad_id = tokenizer.pad_token_id
        if model is not None and tokenizer is not None and args.jepa_predictor_tokens > 0:
            from semantic_tube.methods.tokens import add_special_tokens

            add_special_tokens(model, tokenizer, predictor_token_names(args.jepa_predictor_tokens))
        if model is not None and args.jepa_single_pass:
            model_attention_mask(torch.ones(1, 1, 1, 1, dtype=torch.bool), unwrap(model).config._attn_implementation, torch.float32)
        self._logits_to_keep: bool | None = None

    def draw(self, batch, draws):
        """The view batches, on the CPU (nothing random): stp_jepa_input_ids, stp_jepa_text_last,
        stp_jepa_code_last, and stp_jepa_attention_mask ((2 * batch, W) for two passes) or
        stp_jepa_allowed (batch, 1, L, L) and stp_jepa_position_ids for the single pass."""
        text_ids, text_mask, text_last = (batch[f"jepa_text_{key}"] for key in ("input_ids", "attention_mask", "last"))
        code_ids, code_mask, code_last = (batch[f"jepa_code_{key}"] for key in ("input_ids", "attention_mask", "last"))
        _check_index(text_last, view_lengths(text_mask), "jepa_text_last")
        _check_index(code_last, view_lengths(code_mask), "jepa_code_last")
        if self.args.jepa_single_pass:
            packed = pack_views(text_ids, text_mask, code_ids, code_mask, self.pad_id)
            return {
                "stp_jepa_input_ids": packed["input_ids"],
                "stp_jepa_position_ids": packed["position_ids"],
                "stp_jepa_allowed": packed["allowed"],
                "stp_jepa_text_last": text_last,
                "stp_jepa_code_last": code_last + packed["code_offset"],
            }
        input_ids, attention_mask = stack_views(text_ids, text_mask, code_ids, code_mask, self.pad_id)
        return {"stp_jepa_input_ids": input_ids, "stp_jepa_attention_mask": attention_mask, "stp_jepa_text_last": text_last, "stp_jepa_code_last": code_last}

    def _forward(self, model, **inputs) -> torch.Tensor:
        """Layer stp_layer's hidden states of one extra forward pass (no labels, no cache, and only
        the last position's logits when the model can skip the rest)."""
        if self._logits_to_keep is None:
            self._logits_to_keep = _keeps_logits(model)
        if self._logits_to_keep:
            inputs["logits_to_keep"] = 1
        outputs = model(**inputs, output_hidden_states=True, use_cache=False)
        return outputs.hidden_states[self.args.stp_layer]

    def encodings(self, model, drawn: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(Enc(Text), Enc(Code)), each (batch, dim), from the view passes."""
        text_last, code_last = drawn["stp_jepa_text_last"], drawn["stp_jepa_code_last"]
        rows = torch.arange(text_last.shape[0], device=text_last.device)
        if self.args.jepa_single_pass:
            input_embeddings = unwrap(model).get_input_embeddings()
            mask = model_attention_mask(drawn["stp_jepa_allowed"], unwrap(model).config._attn_implementation, input_embeddings.weight.dtype)
            states = self._forward(model, input_ids=drawn["stp_jepa_input_ids"], attention_mask=mask, position_ids=drawn["stp_jepa_position_ids"])
            return gather_rows(states, rows, text_last), gather_rows(states, rows, code_last)
        states = self._forward(model, input_ids=drawn["stp_jepa_input_ids"], attention_mask=drawn["stp_jepa_attention_mask"])
        return gather_rows(states, rows, text_last), gather_rows(states, rows + len(rows), code_last)

    def loss(self, model, inputs, hidden, drawn):
        """The batch mean of 1 - cos(Pred(Enc(Text)), Enc(Code)), in float32 (the main pass's `hidden` is not used)."""
        text, code = self.encodings(model, drawn)
        text, code = text.float(), code.float()
        if self.args.predictor is Predictor.LINEAR:
            predictor = getattr(unwrap(model), "stp_predictor", None)
            if predictor is None:
                raise ValueError("predictor=linear needs the model's stp_predictor (attach_predictor) before training")
            predicted = predictor(text)
            if predicted.shape != text.shape:
                raise ValueError(f"stp_predictor must map (batch, dim) to {tuple(text.shape)}, got {tuple(predicted.shape)}")
            text = predicted
        return jepa_loss(text, code)
