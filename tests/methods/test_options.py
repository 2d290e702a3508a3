"""The method and its options (methods/options.py): one enum per choice, the forward passes each
method costs, and where a gap setting restarts a displacement."""

import pytest

from semantic_tube.losses.sampling import GapOrigin
from semantic_tube.methods.options import Method, STPGap, forward_passes_per_step


@pytest.mark.parametrize(
    ("method", "single_pass", "passes"),
    [
        (Method.NTP, False, 1),
        (Method.STP, False, 1),  # no extra pass: the paper's case for STP (Sec. 3)
        (Method.TWO_VIEW, False, 1),
        (Method.CURVATURE, False, 1),
        (Method.MASK, False, 2),  # the masked copy
        (Method.LLM_JEPA, False, 3),  # the Text and the Code views on their own
        (Method.LLM_JEPA, True, 2),  # both views in one packed sequence
        (Method.STP, True, 1),  # the single-pass switch is LLM-JEPA's only
    ],
)
def test_forward_passes_per_step(method, single_pass, passes):
    assert forward_passes_per_step(method, single_pass) == passes


def test_a_gap_setting_names_its_origin_or_none_straight_across():
    assert STPGap.ANSWER_START.origin is GapOrigin.ANSWER_START
    assert STPGap.BEFORE_ANSWER.origin is GapOrigin.BEFORE_ANSWER
    assert STPGap.NONE.origin is None


def test_methods_are_named_as_the_command_line_takes_them():
    assert [method.value for method in Method] == ["ntp", "stp", "llm-jepa", "two-view", "mask", "curvature"]
    assert Method("two-view") is Method.TWO_VIEW
