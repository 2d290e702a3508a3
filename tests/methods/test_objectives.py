"""The trajectory objectives' draws: which tokens `trajectory=inst` adds, the gap each method passes on."""

import torch

from semantic_tube.losses.sampling import KeyedDraws
from semantic_tube.methods.objectives import MaskObjective, STPObjective, TwoViewObjective, trajectory_spans
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
    """Appendix G's gap: the answer's first state (11) is the query's last on the bypassed
    trajectory, so draws pick among 0..7 and 12 (inst) or 5..7 and 12, never 11."""
    objective = STPObjective(args(tmp_path, trajectory="inst", stp_draws=64))
    drawn = objective.draw(dict(BATCH), KeyedDraws(torch.tensor([3])))
    points = set(drawn["stp_positions"].flatten().tolist())
    assert points <= set(range(0, 8)) | {12}
    assert points & set(range(0, 5))  # 64 triplets over 9 points reach the system prompt
    assert drawn["stp_skip"].tolist() == [[8, 12]]  # the template, and the step into the answer's first token
    content = STPObjective(args(tmp_path, stp_draws=64)).draw(dict(BATCH), KeyedDraws(torch.tensor([3])))
    assert set(content["stp_positions"].flatten().tolist()) == {5, 6, 7, 12}


def test_the_reference_origin_and_straight_across_draw_the_answer_first_token(tmp_path):
    for options in ({"stp_gap": "before_answer"}, {"stp_gap": "none"}):
        drawn = STPObjective(args(tmp_path, stp_draws=64, **options)).draw(dict(BATCH), KeyedDraws(torch.tensor([3])))
        assert set(drawn["stp_positions"].flatten().tolist()) == {5, 6, 7, 11, 12}
    drawn = STPObjective(args(tmp_path, stp_gap="before_answer")).draw(dict(BATCH), KeyedDraws(torch.tensor([3])))
    assert drawn["stp_skip"].tolist() == [[8, 11]]


def test_two_view_with_a_one_token_answer_is_absent_under_appendix_g(tmp_path):
    """r (the query's last token) and t (the only answer token) are one point: no angle."""
    batch = dict(BATCH, answer_span=torch.tensor([[11, 12]]))
    paper = TwoViewObjective(args(tmp_path, method="two-view")).draw(batch, KeyedDraws(torch.tensor([0])))
    assert paper["stp_positions"].tolist() == [[[-1, -1, -1]]]
    reference = TwoViewObjective(args(tmp_path, method="two-view", stp_gap="before_answer")).draw(batch, KeyedDraws(torch.tensor([0])))
    assert reference["stp_positions"].tolist() == [[[5, 7, 11]]]


def test_mask_with_inst_masks_system_tokens_inside_the_span_and_never_the_template(tmp_path):
    """Every drawn span [s, r] masks exactly the content tokens s..r (the answer's first among
    them when the span reaches past it): with inst those may be system-prompt tokens; the
    template between query and answer is never masked, and no end of the span is the answer's
    first token, the same point as the query's last."""
    for trajectory, content in (("inst", set(range(0, 8)) | {11, 12}), ("content", {5, 6, 7, 11, 12})):
        objective = MaskObjective(args(tmp_path, method="mask", trajectory=trajectory), MASK_ID)
        reached = set()
        for key in range(40):
            drawn = objective.draw(dict(BATCH), KeyedDraws(torch.tensor([key])))
            s, r, t = drawn["stp_positions"][0].tolist()
            assert 11 not in (s, r) and t == 12
            masked = set((drawn["stp_mask_input_ids"][0] == MASK_ID).nonzero().flatten().tolist())
            assert masked == {p for p in content if s <= p <= r}
            reached |= masked
        assert reached <= content and 11 in reached and (trajectory == "content" or reached & set(range(0, 5)))
