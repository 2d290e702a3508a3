"""Figure 6's spectrum: the query and answer embeddings, the singular values of their
differences, and the numerical rank."""

from __future__ import annotations

import json

import pytest
import torch

from semantic_tube.data.messages import ChatExample
from semantic_tube.evaluation.representations import (
    PLOT_FILE,
    SPECTRA_FILE,
    difference_spectra,
    numerical_rank,
    text_code_embeddings,
    text_code_sequences,
    write_spectra,
)
from tests.tiny_models import tiny_model, tiny_tokenizer


def test_svd_recovers_the_rank_of_a_synthetic_difference():
    generator = torch.Generator().manual_seed(0)
    text = torch.randn(40, 24, generator=generator)
    code = text - torch.randn(40, 3, generator=generator) @ torch.randn(3, 24, generator=generator)
    spectra = difference_spectra(text, code)
    assert spectra["rank_raw"] == 3 and spectra["rank_normalized"] == 3
    assert len(spectra["raw"]) == 24 and spectra["raw"] == sorted(spectra["raw"], reverse=True)
    assert numerical_rank(torch.zeros(5)) == 0


def test_figure6_renders_query_and_answer_as_the_reference(tmp_path):
    """Each embedding is the last hidden state of the turn rendered alone with the generation
    prompt (reference evaluate.py, `similarity`); the line's system turn is left out."""
    tokenizer = tiny_tokenizer("chatml")
    model = tiny_model(tokenizer, seed=1).eval()
    example = ChatExample(user="lines with a vowel", assistant="dog.*", system="Convert natural language to regular expression.")
    text, code = text_code_embeddings(model, tokenizer, [example, example], batch_size=2)
    for role, content, embedding in (("user", example.user, text[0]), ("assistant", example.assistant, code[0])):
        rendered = tokenizer.apply_chat_template([{"role": role, "content": content}], tokenize=False, add_generation_prompt=True)
        assert rendered.endswith("<|im_start|>assistant\n")
        ids = tokenizer(rendered, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            expected = model(input_ids=ids, output_hidden_states=True).hidden_states[-1][0, -1]
        assert torch.allclose(embedding, expected, atol=1e-5)


def test_spectra_of_a_diagonal_difference_by_hand():
    """Text - Code = diag(3, 4): singular values 4 and 3; each row scaled to unit length gives the
    identity, singular values 1 and 1."""
    spectra = difference_spectra(torch.tensor([[3.0, 0.0], [0.0, 4.0]]), torch.zeros(2, 2))
    assert spectra["raw"] == [4.0, 3.0] and spectra["normalized"] == [1.0, 1.0]
    assert spectra["count"] == 2 and spectra["hidden_size"] == 2
    assert spectra["rank_raw"] == spectra["rank_normalized"] == 2


def test_spectra_of_a_rank_one_difference_by_hand():
    """Rows (1, 2) (2, 4) (3, 6) = u v^T with u = (1, 2, 3), v = (1, 2): one singular value
    |u| |v| = sqrt(14 * 5); normalised, three equal unit rows: one singular value sqrt(3)."""
    text = torch.tensor([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    spectra = difference_spectra(text + 1.0, torch.ones(3, 2))
    assert spectra["raw"][0] == pytest.approx(70**0.5) and spectra["normalized"][0] == pytest.approx(3**0.5)
    assert spectra["rank_raw"] == spectra["rank_normalized"] == 1


def test_numerical_rank_counts_values_above_the_tolerance():
    assert numerical_rank(torch.tensor([1.0, 1e-4, 1e-6])) == 2  # 1e-6 is below 1e-5 of the largest
    assert numerical_rank(torch.tensor([2.0, 1.0]), tolerance=0.6) == 1
    assert numerical_rank(torch.tensor([])) == 0


def test_query_and_answer_are_rendered_alone_with_the_generation_prompt():
    tokenizer = tiny_tokenizer("chatml")
    example = ChatExample(user="lines with a vowel", assistant="dog.*", system="Convert natural language to regular expression.")
    (text,), (code,) = text_code_sequences(tokenizer, [example])
    assert tokenizer.decode(text) == "<|im_start|>user\nlines with a vowel<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.decode(code) == "<|im_start|>assistant\ndog.*<|im_end|>\n<|im_start|>assistant\n"


def test_write_spectra_writes_the_numbers_and_a_plot(tmp_path):
    spectra = difference_spectra(torch.tensor([[3.0, 0.0], [0.0, 4.0]]), torch.zeros(2, 2))
    numbers, plot = write_spectra(tmp_path / "out", spectra)
    assert numbers == tmp_path / "out" / SPECTRA_FILE and plot == tmp_path / "out" / PLOT_FILE
    assert json.loads(numbers.read_text()) == spectra
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
