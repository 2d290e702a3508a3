"""`STPTrainingArguments`: `transformers.TrainingArguments` plus the method's fields, and this
project's defaults for the Trainer (bf16 where CUDA supports it, NTP logits on labelled positions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import torch
from transformers import TrainingArguments

from semantic_tube.training.config.method import STPArguments


class NTPLogits(str, Enum):
    """Which positions the NTP loss computes logits for (`stp train`'s trainer)."""

    LABELLED = "labelled"  # those whose next token carries a label: the same loss, less LM-head work
    ALL = "all"  # every position (the Trainer's own loss)


def default_bf16(use_cpu: bool, fp16: bool, cuda_supports_bf16: bool) -> bool:
    """bf16 mixed precision unless asked otherwise, where a CUDA device supports it: float32
    master weights keep AdamW's small updates, which pure bf16 weights round away."""
    return cuda_supports_bf16 and not (use_cpu or fp16)


@dataclass
class STPTrainingArguments(STPArguments, TrainingArguments):
    """`transformers.TrainingArguments` plus the method's fields (`STPArguments`)."""

    _argument_group_name = "transformers.TrainingArguments (the Trainer's own options)"

    bf16: bool | None = field(
        default=None,
        metadata={
            "help": "bf16 mixed precision: float32 master weights, bf16 autocast; default: on when a CUDA device "
            "supports bf16 (never on CPU, where bf16 autocast is many times slower)"
        },
    )
    ntp_logits: NTPLogits = field(
        default=NTPLogits.LABELLED,
        metadata={
            "help": "labelled: run the LM head only on the positions whose next token has a label (the same NTP loss, "
            "without the prompt's logits; needs a model whose forward takes logits_to_keep, else all); all: every "
            "position, as the Trainer's own loss"
        },
    )

    def __post_init__(self):
        self.ntp_logits = NTPLogits(self.ntp_logits)
        if self.bf16 is None:
            self.bf16 = default_bf16(self.use_cpu, self.fp16, torch.cuda.is_available() and torch.cuda.is_bf16_supported())
        super().__post_init__()
