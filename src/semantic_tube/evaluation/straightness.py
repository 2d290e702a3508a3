"""How straight a model's hidden-state trajectories are on a task's examples.

Two numbers over the query+answer positions (the template tokens between them bypassed in every
displacement, as in training, Appendix G): the mean STP value 1 - cos(h_t - h_r, h_r - h_s) over random triplets s < r < t
(the training objective itself, 0 for a straight tube), and the mean angle in degrees between
consecutive steps h_i - h_{i-1} and h_{i+1} - h_i (local curvature). Comparing them before and
after training shows whether STP straightened the tube. Examples carry their reference
answers: the trajectory the model was trained on.
"""

from __future__ import annotations

import math

import torch

from semantic_tube.data.chat import encode_chat
from semantic_tube.data.messages import ChatExample
from semantic_tube.evaluation.batching import last_layer_states, length_sorted_batches
from semantic_tube.losses import STPForm, sample_positions
from semantic_tube.losses.sampling import GapOrigin, template_gap, trajectory_answer_span
from semantic_tube.losses.stp import safe_cosine, tube_loss_per_triplet

_NO_LIMIT = 1 << 30


def trajectory_straightness(
    model,
    tokenizer,
    examples: list[ChatExample],
    *,
    batch_size: int = 16,
    triplets: int = 16,
    seed: int = 0,
    template_kwargs: dict | None = None,
) -> dict[str, float]:
    """{'stp': mean 1 - cos over triplets, 'curvature_deg': mean consecutive-step angle, and their counts}."""
    encoded = [encode_chat(tokenizer, example, max_length=_NO_LIMIT, template_kwargs=template_kwargs) for example in examples]
    generator = torch.Generator().manual_seed(seed)
    stp_values: list[torch.Tensor] = []
    angles: list[torch.Tensor] = []
    for batch in length_sorted_batches([len(e.input_ids) for e in encoded], batch_size):
        stp, angle = _batch_values(model, tokenizer, [encoded[i] for i in batch], triplets, generator)
        stp_values.append(stp)
        angles.append(angle)
    stp_all, angle_all = torch.cat(stp_values), torch.cat(angles)
    return {
        "stp": float(stp_all.mean()) if stp_all.numel() else math.nan,
        "stp_triplets": int(stp_all.numel()),
        "curvature_deg": float(angle_all.mean()) if angle_all.numel() else math.nan,
        "curvature_angles": int(angle_all.numel()),
    }


@torch.inference_mode()
def _batch_values(model, tokenizer, encoded, triplets: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Present STP values and all consecutive-step angles (degrees) of one batch, flattened."""
    hidden = last_layer_states(model, tokenizer.pad_token_id, [e.input_ids for e in encoded])
    shift = torch.tensor([hidden.shape[1] - len(e.input_ids) for e in encoded]).view(-1, 1)  # left-padding offset
    query_span = torch.tensor([e.query_span for e in encoded]) + shift
    answer_span = torch.tensor([e.answer_span for e in encoded]) + shift
    drawn_answer = trajectory_answer_span(query_span, answer_span, GapOrigin.ANSWER_START)  # one point per state, as in training
    positions = sample_positions(query_span, drawn_answer, triplets, STPForm.TUBE, generator)
    loss, present = tube_loss_per_triplet(hidden, positions, template_gap(query_span, answer_span))
    angles = [_step_angles(hidden[row], query_span[row], answer_span[row]) for row in range(len(encoded))]
    return loss[present], torch.cat(angles)


def _step_angles(hidden: torch.Tensor, query_span: torch.Tensor, answer_span: torch.Tensor) -> torch.Tensor:
    """Angles (degrees) between consecutive steps along the query positions then the answer positions.

    Every step is a token's own increment h_p - h_(p-1) within the query or the answer; across a
    template gap the query's last state and the answer's first are one point (Appendix G's
    h_r', as in training), so the next step is the answer's second token's increment.
    """
    q_start, q_end = query_span.tolist()
    a_start, a_end = trajectory_answer_span(query_span.view(1, 2), answer_span.view(1, 2), GapOrigin.ANSWER_START)[0].tolist()
    points = [*range(q_start, q_end), *range(a_start, a_end)]
    # each step ends at a point p and is p's own increment h_p - h_(p-1): the step into the answer's
    # first point after a gap starts from the merged point, its predecessor's state
    positions = torch.tensor(points[1:], dtype=torch.long)
    steps = hidden[positions] - hidden[positions - 1]
    if steps.shape[0] < 2:
        return torch.empty(0)
    cosine = safe_cosine(steps[:-1], steps[1:]).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.arccos(cosine))
