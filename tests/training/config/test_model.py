"""`ModelArguments` and `ModelDtype` (training/config/model.py): the model's dtype with one meaning
in every command (auto = float32), LoRA under TRL's names too, and model_init_kwargs read from
JSON with a dtype inside it moved to the dtype field."""

import pytest
import torch

from semantic_tube.training.arguments import parse_train_args
from semantic_tube.training.config import ConfigError, Finetuning, ModelArguments, ModelDtype


def test_dtype_auto_is_float32_on_every_device_in_every_command(monkeypatch):
    from semantic_tube.cli.evaluate import build_parser
    from semantic_tube.training.model import resolve_dtype

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    assert resolve_dtype("auto") is torch.float32 and resolve_dtype(ModelDtype.BFLOAT16) is torch.bfloat16
    assert build_parser().parse_args_into_dataclasses(["--task", "synth"])[0].dtype is ModelDtype.AUTO
    assert parse_train_args(["--output_dir", "o", "--use_cpu", "true"])[0].dtype is ModelDtype.AUTO
    with pytest.raises(ConfigError, match="dtype: expected one of"):
        ModelArguments(dtype="bf16")



def test_each_dtype_names_its_torch_dtype():
    assert [dtype.torch_dtype for dtype in ModelDtype] == [torch.float32, torch.float32, torch.bfloat16, torch.float16]


def test_use_peft_is_lora_and_a_yaml_list_of_modules_is_joined():
    assert ModelArguments().finetuning is Finetuning.FULL
    assert ModelArguments(use_peft=True).finetuning is Finetuning.LORA
    assert ModelArguments(finetuning="lora").finetuning is Finetuning.LORA
    assert ModelArguments(lora_target_modules=[" q_proj", "v_proj "]).lora_target_modules == "q_proj,v_proj"
    assert ModelArguments(lora_target_modules="all-linear").lora_target_modules == "all-linear"


def test_model_init_kwargs_are_read_from_json_and_must_be_a_mapping():
    assert ModelArguments(model_init_kwargs='{"attn_implementation": "eager"}').model_init_kwargs == {"attn_implementation": "eager"}
    with pytest.raises(ConfigError, match=r"model_init_kwargs: not JSON \(Expecting property name enclosed in double quotes\)"):
        ModelArguments(model_init_kwargs="{attn: eager}")
    with pytest.raises(ConfigError, match=r"model_init_kwargs: expected a mapping, got \['eager'\]"):
        ModelArguments(model_init_kwargs='["eager"]')


@pytest.mark.parametrize(
    ("kwargs", "dtype", "rest"),
    [
        ({"dtype": "bfloat16", "trust_remote_code": True}, ModelDtype.BFLOAT16, {"trust_remote_code": True}),
        ({"torch_dtype": torch.float16}, ModelDtype.FLOAT16, {}),  # torch.float16 -> "float16"
        ({"torch_dtype": "torch.bfloat16"}, ModelDtype.BFLOAT16, {}),
        ({"revision": "main"}, ModelDtype.AUTO, {"revision": "main"}),
    ],
)
def test_a_dtype_inside_model_init_kwargs_moves_to_the_dtype_field(kwargs, dtype, rest):
    config = ModelArguments(model_init_kwargs=kwargs)
    assert (config.dtype, config.model_init_kwargs) == (dtype, rest)


@pytest.mark.parametrize(
    ("dtype", "kwargs", "message"),
    [
        ("float32", {"dtype": "bfloat16"}, "dtype given twice: dtype='float32' and model_init_kwargs['dtype']='bfloat16'"),
        ("auto", {"dtype": "bfloat16", "torch_dtype": "float16"}, "model_init_kwargs['dtype']='bfloat16', model_init_kwargs['torch_dtype']='float16'"),
        ("auto", {"dtype": "int8"}, "model_init_kwargs['dtype']='int8': expected one of ['auto', 'float32', 'bfloat16', 'float16'], got 'int8'"),
    ],
)
def test_a_dtype_given_twice_or_unknown_is_a_config_error_naming_both(dtype, kwargs, message):
    with pytest.raises(ConfigError) as raised:
        ModelArguments(dtype=dtype, model_init_kwargs=kwargs)
    assert message in str(raised.value)
