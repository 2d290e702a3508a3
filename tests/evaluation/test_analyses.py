"""Figure 6's spectrum and the straightness measures."""

from __future__ import annotations

import json
import math

import torch

from semantic_tube.data.messages import ChatExample
from semantic_tube.evaluation import evaluate
from semantic_tube.evaluation.representations import difference_spectra, numerical_rank, text_code_embeddings
from semantic_tube.evaluation.straightness import _step_angles, trajectory_straightness
from tests.tiny_models import tiny_model, tiny_tokenizer


def test_svd_recovers_the_rank_of_a_synthetic_difference():
    generator = torch.Generator().manual_seed(0)
    text = torch.randn(40, 24, generator=generator)
    code = text - torch.randn(40, 3, generator=generator) @ torch.randn(3, 24, generator=generator)
    spectra = difference_spectra(text, code)
    assert spectra["rank_raw"] == 3 and spectra["rank_normalized"] == 3
    assert len(spectra["raw"]) == 24 and spectra["raw"] == sorted(spectra["raw"], reverse=True)
    assert numerical_rank(torch.zeros(5)) == 0


def test_step_angles_of_a_line_and_a_zigzag():
    line = torch.arange(6, dtype=torch.float32).view(-1, 1) * torch.tensor([[1.0, 2.0]])
    assert torch.allclose(_step_angles(line, torch.tensor([0, 3]), torch.tensor([3, 6])), torch.zeros(4), atol=1e-3)
    zigzag = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
    assert torch.allclose(_step_angles(zigzag, torch.tensor([0, 2]), torch.tensor([2, 4])), torch.full((2,), 90.0))


def test_step_angles_bypass_the_template_gap():
    """Query 0-1 and answer 4-5 each along (1, 0), template states 2-3 far off: on Appendix G's
    bypassed trajectory the answer's first state is the query's last, so there are two steps,
    h_1 - h_0 and h_5 - h_4, and one angle, 0 (a step into the answer from h_3 would turn)."""
    h = torch.tensor([[0.0, 0.0], [1.0, 0.0], [9.0, 9.0], [7.0, 7.0], [3.0, 5.0], [4.0, 5.0]])
    assert torch.allclose(_step_angles(h, torch.tensor([0, 2]), torch.tensor([4, 6])), torch.zeros(1), atol=1e-3)


def test_step_angles_of_an_empty_query_or_answer():
    h = torch.randn(20, 6)
    assert _step_angles(h, torch.tensor([2, 7]), torch.tensor([11, 11])).shape == (3,)  # the query's 4 steps
    assert _step_angles(h, torch.tensor([7, 7]), torch.tensor([11, 15])).shape == (2,)  # the answer's 3 steps, no merged point


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


def test_analyses_on_a_tiny_model(tmp_path):
    tokenizer = tiny_tokenizer("chatml")
    model = tiny_model(tokenizer, seed=1).eval()
    data = [ChatExample(user=f"lines with a vowel {i}", assistant=f"dog.*{i}") for i in range(5)]
    text, code = text_code_embeddings(model, tokenizer, data, batch_size=2)
    assert text.shape == code.shape == (5, 32)
    values = trajectory_straightness(model, tokenizer, data, batch_size=2, triplets=4)
    assert 0 <= values["stp"] <= 2 and 0 <= values["curvature_deg"] <= 180 and values["stp_triplets"] == 20
    assert not math.isnan(values["curvature_deg"])
    report = evaluate(model, tokenizer, "nq_open", data, max_new_tokens=2, analyses=("svd", "straightness"), output_dir=tmp_path)
    assert report.metrics["svd/rank_raw"] <= 5 and "straightness/stp" in report.metrics
    assert json.loads((tmp_path / "svd.json").read_text())["count"] == 5
    assert (tmp_path / "svd.png").stat().st_size > 0
