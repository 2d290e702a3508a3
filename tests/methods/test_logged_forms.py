"""`stp_log_forms`: other STP forms logged beside the trained one, on the same hidden states,
without gradient: the loss and the training are unchanged, and each logged value is its form's
formula on the positions it drew."""

import pytest
import torch

from semantic_tube.losses.sampling import KeyedDraws
from semantic_tube.methods.objectives import STPObjective, logged_form_gap_key, logged_form_key
from tests.methods.test_objectives import BATCH
from tests.training.test_trainer import args


def plain_step(h, a, b, gap):
    """h_b - h_a, minus the gap's own step when the step crosses it (Appendix G), by hand."""
    g0, g1 = gap
    step = h[b] - h[a]
    if g1 > g0 >= 1 and a < g0 and b >= g1 - 1:
        step = step - (h[g1 - 1] - h[g0 - 1])
    return step


def plain_cos_loss(u, v):
    return 1 - torch.dot(u, v) / (u.norm() * v.norm())


def test_a_logged_span_is_the_reference_formula_on_its_own_draws(tmp_path):
    objective = STPObjective(args(tmp_path, stp_log_forms="tube,span", stp_draws=8))
    drawn = objective.draw(dict(BATCH), KeyedDraws(torch.tensor([5])))
    spans, gap = drawn[logged_form_key(objective.args.stp_log_forms[1])], drawn[logged_form_gap_key(objective.args.stp_log_forms[1])]
    assert gap.tolist() == [[8, 11]]  # the span form's own origin: the state before the answer
    assert spans.shape == (1, 8, 4) and not torch.equal(spans[..., 1:3], drawn["stp_positions"][..., :2])
    h = torch.randn(1, 14, 6, dtype=torch.float64)
    aux = objective.loss(None, {}, h, drawn)
    logged = objective.logged(None, h, drawn, aux)
    assert set(logged) == {"stp_tube_loss", "stp_span_loss"}
    assert logged["stp_tube_loss"].item() == aux.item()  # the trained form is stp_loss itself
    expected = []
    for first, a, b, last in spans[0].tolist():
        patch = plain_step(h[0], a, b, (8, 11))
        rest = plain_step(h[0], first, last, (8, 11)) - patch
        expected.append(plain_cos_loss(rest, patch))
    assert logged["stp_span_loss"].item() == pytest.approx(torch.stack(expected).mean().item(), abs=1e-12)


def test_a_logged_tube_beside_a_trained_span_uses_appendix_g(tmp_path):
    objective = STPObjective(args(tmp_path, stp_form="span", stp_log_forms=["span", "tube"], stp_draws=8))
    drawn = objective.draw(dict(BATCH), KeyedDraws(torch.tensor([5])))
    tube = objective.args.stp_log_forms[1]
    assert drawn[logged_form_gap_key(tube)].tolist() == [[8, 12]]
    assert set(drawn[logged_form_key(tube)].flatten().tolist()) <= {5, 6, 7, 12}  # 11 is the query's last point
    h = torch.randn(1, 14, 6, dtype=torch.float64)
    logged = objective.logged(None, h, drawn, objective.loss(None, {}, h, drawn))
    expected = [
        plain_cos_loss(plain_step(h[0], r, t, (8, 12)), plain_step(h[0], s, r, (8, 12)))
        for s, r, t in drawn[logged_form_key(tube)][0].tolist()
    ]
    assert logged["stp_tube_loss"].item() == pytest.approx(torch.stack(expected).mean().item(), abs=1e-12)


def test_logging_forms_leaves_the_trained_draws_as_they_were(tmp_path):
    keys = KeyedDraws(torch.tensor([5, 9]))
    batch = {key: value.repeat(2, 1) for key, value in BATCH.items()}
    plain = STPObjective(args(tmp_path, stp_draws=4)).draw(dict(batch), keys)
    logging = STPObjective(args(tmp_path, stp_draws=4, stp_log_forms="span,anchored")).draw(dict(batch), keys)
    assert torch.equal(plain["stp_positions"], logging["stp_positions"])
    assert torch.equal(plain["stp_skip"], logging["stp_skip"])
