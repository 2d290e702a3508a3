"""`ModelArguments`: the model trained (or scored by `stp eval`), its dtype, full fine-tuning or LoRA."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum

import torch

from semantic_tube.training.config.numbers import MODEL_RANGES, ConfigError, check_numbers


class Finetuning(str, Enum):
    FULL = "full"
    LORA = "lora"


class ModelDtype(str, Enum):
    """The dtype a model's weights are loaded in, with one meaning in every command: `stp train`,
    its task evaluation (which scores the trained weights as they are) and `stp eval`."""

    # float32 on every device. Training keeps float32 master weights (on CUDA the bf16 math comes
    # from --bf16 autocast), and `stp eval` then scores a model as the run's own evaluation did.
    AUTO = "auto"
    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"  # pure bf16, on request: faster generation; in training, AdamW updates under half a bf16 ulp are lost
    FLOAT16 = "float16"

    @property
    def torch_dtype(self) -> torch.dtype:
        return {"auto": torch.float32, "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[self.value]


@dataclass
class ModelArguments:
    _argument_group_name = "model"

    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Hugging Face id, local folder or .gguf file; empty = the embedded SmolLM2-135M-Instruct"},
    )
    dtype: ModelDtype = field(
        default=ModelDtype.AUTO,
        metadata={
            "help": "dtype the weights are loaded in, by stp train and stp eval alike; auto = float32 on every device (on "
            "CUDA, training's --bf16 autocast does the bf16 math over float32 master weights); bfloat16 = pure bf16, on "
            "request only (faster generation; in training, AdamW updates under half a bf16 ulp are lost)"
        },
    )
    finetuning: Finetuning = field(default=Finetuning.FULL, metadata={"help": "full fine-tuning or a LoRA adapter (peft)"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator"})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    lora_target_modules: str = field(
        default="all-linear", metadata={"help": "comma-separated module names (a list in YAML), or all-linear"}
    )
    use_peft: bool = field(default=False, metadata={"help": "TRL's name for --finetuning lora"})
    model_init_kwargs: dict | str | None = field(
        default=None,
        metadata={
            "help": "keyword arguments for from_pretrained, as JSON, like TRL's model_init_kwargs (e.g. "
            '\'{"attn_implementation": "eager", "trust_remote_code": true}\'); its trust_remote_code and revision also '
            "load the tokenizer; a dtype in it sets --dtype (giving both is an error)"
        },
    )

    def __post_init__(self):
        check_numbers(self, MODEL_RANGES)
        self.finetuning = Finetuning(self.finetuning)
        self.dtype = self.as_dtype(self.dtype)
        if self.use_peft:
            self.finetuning = Finetuning.LORA
        if isinstance(self.lora_target_modules, (list, tuple)):  # TRL's configs write a list
            self.lora_target_modules = ",".join(str(name).strip() for name in self.lora_target_modules)
        if isinstance(self.model_init_kwargs, str):
            try:
                self.model_init_kwargs = json.loads(self.model_init_kwargs)
            except json.JSONDecodeError as err:
                raise ConfigError(f"model_init_kwargs: not JSON ({err.msg}): {self.model_init_kwargs!r}") from None
        if self.model_init_kwargs is not None and not isinstance(self.model_init_kwargs, dict):
            raise ConfigError(f"model_init_kwargs: expected a mapping, got {self.model_init_kwargs!r}")
        if self.model_init_kwargs is not None:
            self.dtype, self.model_init_kwargs = self.init_dtype(self.dtype, self.model_init_kwargs)

    @staticmethod
    def as_dtype(value, where: str = "dtype") -> ModelDtype:
        try:
            return ModelDtype(value)
        except ValueError:
            raise ConfigError(f"{where}: expected one of {[dtype.value for dtype in ModelDtype]}, got {value!r}") from None

    @staticmethod
    def init_dtype(dtype: ModelDtype | str, model_init_kwargs: dict) -> tuple[ModelDtype, dict]:
        """(dtype, the other kwargs): a `dtype` (or `torch_dtype`) inside model_init_kwargs moved to the
        dtype field, one of its choices; a ConfigError naming both when the field is set too (not auto)."""
        dtype = ModelArguments.as_dtype(dtype)
        given = {key: model_init_kwargs[key] for key in ("dtype", "torch_dtype") if key in model_init_kwargs}
        if not given:
            return dtype, dict(model_init_kwargs)
        shown = ", ".join(f"model_init_kwargs[{key!r}]={value!r}" for key, value in given.items())
        if dtype is not ModelDtype.AUTO or len(given) > 1:
            raise ConfigError(f"dtype given twice: dtype={dtype.value!r} and {shown}; set it in one place")
        value = str(next(iter(given.values()))).removeprefix("torch.")  # torch.bfloat16 or "bfloat16"
        return ModelArguments.as_dtype(value, shown), {key: item for key, item in model_init_kwargs.items() if key not in given}
