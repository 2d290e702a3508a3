"""The trajectory objectives' draws: which tokens `trajectory=inst` adds, the gap each method passes on."""

import torch

from semantic_tube.losses.sampling import KeyedDraws
from semantic_tube.methods.objectives import MaskObjective, STPObjective, trajectory_spans
from semantic_tube.methods.options import Trajectory
from tests.training.test_trainer import args

# System prompt and its template at 0..4, query content 5..7, template 8..10, answer content 11..12.
BATCH = {
    "input_ids": torch.arange(100, 114).view(1, -1),
    "attention_mask": torch.ones(1, 14, dtype=torch.long),
    "query_span": torch.tensor([[5, 8]]),
    "answer_span": torch.tensor([[11, 13]]),
}
MASK_ID = 7


def test_inst_starts_the_trajectory_at_the_first_token():
    assert trajectory_spans(BATCH, Trajectory.INST)[0].tolist() == [[0, 8]]
    assert trajectory_spans(BATCH, Trajectory.CONTENT)[0].tolist() == [[5, 8]]
    assert trajectory_spans(BATCH, Trajectory.INST)[1].tolist() == [[11, 13]]


def test_stp_with_inst_draws_system_tokens_and_still_bypasses_the_query_answer_gap(tmp_path):
    objective = STPObjective(args(tmp_path, trajectory="inst", stp_draws=64))
    drawn = objective.draw(dict(BATCH), KeyedDraws(torch.tensor([3])))
    points = set(drawn["stp_positions"].flatten().tolist())
    assert points <= set(range(0, 8)) | {11, 12}
    assert points & set(range(0, 5))  # 64 triplets over 10 points reach the system prompt
    assert drawn["stp_skip"].tolist() == [[8, 12]]  # the template, and the step into the answer's first token
    content = STPObjective(args(tmp_path, stp_draws=64)).draw(dict(BATCH), KeyedDraws(torch.tensor([3])))
    assert set(content["stp_positions"].flatten().tolist()) <= {5, 6, 7, 11, 12}


def test_mask_with_inst_masks_system_tokens_inside_the_span_and_never_the_template(tmp_path):
    """Every drawn span [s, r] masks exactly the trajectory's tokens s..r: with inst those may be
    system-prompt tokens; the template between query and answer is never masked."""
    for trajectory, allowed in (("inst", set(range(0, 8)) | {11, 12}), ("content", {5, 6, 7, 11, 12})):
        objective = MaskObjective(args(tmp_path, method="mask", trajectory=trajectory), MASK_ID)
        reached = set()
        for key in range(40):
            drawn = objective.draw(dict(BATCH), KeyedDraws(torch.tensor([key])))
            s, r, _ = drawn["stp_positions"][0].tolist()
            masked = set((drawn["stp_mask_input_ids"][0] == MASK_ID).nonzero().flatten().tolist())
            assert masked == {p for p in allowed if s <= p <= r}
            reached |= masked
        assert reached <= allowed and (trajectory == "content" or reached & set(range(0, 5)))
