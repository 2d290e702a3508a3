"""`STPTrainingArguments` (training/config/trainer.py): the Trainer's arguments plus the method's,
with this project's defaults: bf16 autocast only where CUDA supports it, NTP logits on the
labelled positions."""

import pytest
import torch

from semantic_tube.training.config import NTPLogits, STPTrainingArguments
from tests.training.test_trainer import args


def test_mixed_precision_by_default_on_cuda_only(tmp_path):
    """fp32 master weights everywhere; bf16 autocast by default only where CUDA supports it, and
    never on CPU (bf16 autocast is many times slower there) or when fp16 was asked for."""
    from semantic_tube.training.config import default_bf16

    assert default_bf16(use_cpu=False, fp16=False, cuda_supports_bf16=True)
    assert not default_bf16(use_cpu=True, fp16=False, cuda_supports_bf16=True)
    assert not default_bf16(use_cpu=False, fp16=True, cuda_supports_bf16=True)
    assert not default_bf16(use_cpu=False, fp16=False, cuda_supports_bf16=False)
    if not torch.cuda.is_available():
        assert args(tmp_path).bf16 is False and STPTrainingArguments(output_dir=str(tmp_path)).mixed_precision == "no"
    assert STPTrainingArguments(output_dir=str(tmp_path), bf16=False).bf16 is False



def test_an_explicit_bf16_is_kept_and_not_replaced_by_the_default(tmp_path):
    assert STPTrainingArguments(output_dir=str(tmp_path), use_cpu=True, bf16=True).bf16 is True


def test_ntp_logits_default_to_the_labelled_positions_and_read_their_name(tmp_path):
    assert args(tmp_path).ntp_logits is NTPLogits.LABELLED
    assert args(tmp_path, ntp_logits="all").ntp_logits is NTPLogits.ALL
    with pytest.raises(ValueError, match="'some' is not a valid NTPLogits"):
        args(tmp_path, ntp_logits="some")

