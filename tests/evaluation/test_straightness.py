"""Trajectory straightness: the consecutive-step angles with the template gap bypassed, and the
STP value and curvature of a model whose hidden states lie on a line."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from semantic_tube.data.messages import ChatExample
from semantic_tube.evaluation.straightness import _step_angles, trajectory_straightness
from tests.tiny_models import tiny_tokenizer


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


class LineModel(torch.nn.Module):
    """Hidden state p * (1, 2, 3) at position p: every trajectory lies on one ray, whatever the tokens."""

    def __init__(self):
        super().__init__()
        self.direction = torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))

    def forward(self, input_ids, attention_mask, position_ids, output_hidden_states, logits_to_keep):
        hidden = position_ids.unsqueeze(-1).float() * self.direction
        return SimpleNamespace(hidden_states=(hidden,))


def test_a_straight_trajectory_has_no_stp_value_and_no_curvature():
    """On a line every displacement, the bypassed ones included, is a positive multiple of one
    direction, so each 1 - cos is 0 and each consecutive-step angle is 0 (arccos of a float32
    cosine near 1 leaves a few hundredths of a degree)."""
    tokenizer = tiny_tokenizer("chatml")
    data = [ChatExample(user="lines with a vowel before a number", assistant="dog.*[0-9].*"), ChatExample(user="dog or truck", assistant="(dog)|(truck)")]
    values = trajectory_straightness(LineModel(), tokenizer, data, batch_size=2, triplets=3)
    assert values["stp"] == pytest.approx(0.0, abs=1e-5) and values["stp_triplets"] == 6
    assert values["curvature_deg"] == pytest.approx(0.0, abs=0.1) and values["curvature_angles"] > 0
