"""`STPArguments` (training/config/method.py): the method's fields, their checks, the option table
(`OPTION_METHODS`: an option set for a method it does not apply to is an error naming both) and
the helpers that read a field's value in its own type."""

import pytest

from semantic_tube.losses.sampling import GapOrigin, STPForm
from semantic_tube.methods.options import DrawScope, Method, Predictor
from semantic_tube.training.config import ConfigError, STPTrainingArguments, option_default, option_value, parse_forms
from tests.training.test_trainer import args


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"method": "curvature", "predictor": "linear"}, ("predictor=linear", "method=curvature")),
        ({"method": "stp", "mask_target": "full"}, ("mask_target=full", "method=stp")),
        ({"method": "mask", "two_view_pool": "mean"}, ("two_view_pool=mean", "method=mask")),
        ({"method": "stp", "jepa_single_pass": True}, ("jepa_single_pass=True", "method=stp")),
        ({"method": "llm-jepa", "stp_form": "span"}, ("stp_form=span", "method=llm-jepa")),
        ({"method": "curvature", "curvature_angle": "signed", "trajectory": "inst", "stp_draws": 1, "predictor_target": "section_4_6"}, ("predictor_target",)),
        ({"method": "stp", "predictor_target": "section_4_6"}, ("predictor_target=section_4_6", "predictor=identity")),
        ({"method": "two-view", "predictor": "linear", "two_view_pool": "mean", "predictor_target": "section_4_6"}, ("two_view_pool=mean",)),
        ({"method": "mask", "stp_draws": 2}, ("stp_draws=2", "method=mask")),
        ({"method": "llm-jepa", "stp_gap": "none"}, ("stp_gap=none", "method=llm-jepa")),
        ({"method": "llm-jepa", "stp_gap": "before_answer"}, ("stp_gap=before_answer", "method=llm-jepa")),
        ({"stp_form": "span", "stp_gap": "answer_start"}, ("stp_gap=answer_start", "stp_form=span")),
        ({"stp_form": "span", "predictor": "linear", "predictor_target": "section_4_6"}, ("predictor_target=section_4_6", "stp_form=span")),
        ({"method": "two-view", "two_view_pool": "mean", "stp_gap": "none"}, ("stp_gap=none", "two_view_pool=mean")),
        ({"method": "two-view", "two_view_pool": "mean", "stp_gap": "answer_start"}, ("stp_gap=answer_start", "two_view_pool=mean")),
        ({"stp_gap": "start"}, ("stp_gap", "'start'")),
        ({"method": "ntp", "stp_draws": 4}, ("stp_draws=4", "method=ntp", "stp_log_when_off")),
        ({"method": "ntp", "stp_gap": "before_answer"}, ("stp_gap=before_answer", "method=ntp", "stp_log_when_off")),
        ({"method": "ntp", "stp_gap": "none"}, ("stp_gap=none", "method=ntp", "stp_log_when_off")),
        ({"method": "jepa"}, ("method", "'jepa'")),
        ({"stp_lambda_warmup_ratio": 1.5}, ("stp_lambda_warmup_ratio",)),
    ],
)
def test_invalid_combinations_name_both_fields(tmp_path, overrides, named):
    with pytest.raises(ConfigError) as raised:
        args(tmp_path, **overrides)
    for text in named:
        assert text in str(raised.value)


def test_ntp_takes_the_logged_stp_options_when_it_logs_stp(tmp_path):
    logged = args(tmp_path, method="ntp", stp_log_when_off=True, trajectory="inst", stp_draws=4, stp_gap="before_answer")
    assert logged.trajectory.value == "inst" and logged.stp_draws == 4 and logged.stp_gap.value == "before_answer"


@pytest.mark.parametrize(
    ("overrides", "origin"),
    [
        ({}, "answer_start"),
        ({"stp_form": "span"}, "before_answer"),
        ({"stp_gap": "before_answer"}, "before_answer"),
        ({"stp_form": "span", "stp_gap": "before_answer"}, "before_answer"),
        ({"stp_gap": "none"}, None),
        ({"stp_form": "span", "stp_gap": "none"}, None),
    ],
)
def test_the_gap_origin_is_appendix_g_unless_the_form_is_the_reference(tmp_path, overrides, origin):
    gap_origin = args(tmp_path, **overrides).gap_origin
    assert (gap_origin.value if gap_origin else None) == origin



@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"method": "two-view"}, ("stp_draw_scope=exchange", "method=two-view")),
        ({"method": "curvature"}, ("stp_draw_scope=exchange", "method=curvature")),
        ({"method": "llm-jepa"}, ("stp_draw_scope=exchange", "method=llm-jepa")),
        ({"method": "ntp"}, ("stp_draw_scope=exchange", "method=ntp", "stp_log_when_off")),
        ({"stp_draw_scope": "turn"}, ("stp_draw_scope", "'turn'")),
    ],
)
def test_methods_that_do_not_draw_refuse_the_scope(tmp_path, overrides, named):
    with pytest.raises(ConfigError) as raised:
        STPTrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none", **{"stp_draw_scope": "exchange", **overrides})
    for text in named:
        assert text in str(raised.value)


def test_the_default_is_the_whole_conversation_and_ntp_takes_it_when_logging(tmp_path):
    assert STPTrainingArguments(output_dir=str(tmp_path), use_cpu=True).stp_draw_scope is DrawScope.CONVERSATION
    logged = STPTrainingArguments(output_dir=str(tmp_path), use_cpu=True, method="ntp", stp_log_when_off=True, stp_draw_scope="exchange")
    assert logged.stp_draw_scope is DrawScope.EXCHANGE



@pytest.mark.parametrize(("overrides", "named"), [({"stp_log_forms": "tube,bent"}, "'bent'"), ({"method": "mask", "stp_log_forms": "tube"}, "method=mask")])
def test_bad_logged_forms_are_config_errors(tmp_path, overrides, named):
    with pytest.raises(ConfigError, match=named):
        args(tmp_path, **overrides)


@pytest.mark.parametrize("overrides", [{"method": "ntp"}, {"stp_lambda": 0.0}])
def test_the_gradient_balance_needs_a_trained_loss(tmp_path, overrides):
    with pytest.raises(ConfigError, match="stp_log_grad_balance needs a trained auxiliary loss"):
        args(tmp_path, stp_log_grad_balance=True, **overrides)



def test_negative_lambda_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="stp_lambda must be >= 0"):
        args(tmp_path, stp_lambda=-0.1)



# --- the helpers of the option table ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "forms"),
    [
        (None, ()),
        ("", ()),
        ("tube", (STPForm.TUBE,)),
        (" span, tube,span ", (STPForm.SPAN, STPForm.TUBE)),  # stripped, each once, in the order given
        (["zero", STPForm.ANCHORED, "zero"], (STPForm.ZERO, STPForm.ANCHORED)),  # a YAML list, members or names
    ],
)
def test_logged_forms_are_read_from_a_comma_list_or_a_yaml_list(value, forms):
    assert parse_forms(value) == forms


def test_an_unknown_logged_form_is_a_config_error_listing_the_forms():
    with pytest.raises(ConfigError, match=r"stp_log_forms: 'bent' is not one of \['tube', 'anchored', 'span', 'zero'\]"):
        parse_forms("tube,bent")


def test_an_option_value_is_read_in_its_fields_own_type():
    assert option_value("method", "mask") is Method.MASK
    assert option_value("predictor", Predictor.LINEAR) is Predictor.LINEAR
    assert option_value("stp_gap", None) is None  # the field's default is None: unset stays unset
    assert option_value("stp_draws", 3) == 3  # not an enum: as it is
    assert option_value("stp_log_forms", "span") == (STPForm.SPAN,)
    with pytest.raises(ConfigError, match="predictor: None is not one of"):  # its default is identity, not None
        option_value("predictor", None)
    assert option_default("stp_form") is STPForm.TUBE and option_default("stp_log_forms") == ()
    assert option_default("stp_draw_scope") is DrawScope.CONVERSATION


def test_an_option_left_at_its_default_is_no_error_for_any_method(tmp_path):
    """Only a value away from the default names the method it does not apply to."""
    curvature = args(tmp_path, method="curvature", predictor="identity", mask_target="span", two_view_pool="displacement")
    assert curvature.method is Method.CURVATURE and curvature.predictor is Predictor.IDENTITY


# --- what the fields imply ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "trained", "active", "passes"),
    [
        ({}, True, True, 1),
        ({"stp_lambda": 0.0}, False, False, 1),
        ({"stp_lambda": 0.0, "stp_log_when_off": True}, False, True, 1),
        ({"method": "ntp"}, False, False, 1),
        ({"method": "ntp", "stp_log_forms": "span"}, False, True, 1),  # logging a form logs STP when off
        ({"method": "mask", "stp_lambda": 0.5}, True, True, 2),
        ({"method": "mask", "stp_lambda": 0.0}, False, False, 1),  # the masked pass runs only when it is trained
        ({"method": "llm-jepa", "stp_lambda": 0.5}, True, True, 3),
        ({"method": "llm-jepa", "stp_lambda": 0.5, "jepa_single_pass": True}, True, True, 2),
        ({"method": "curvature", "stp_lambda": 0.5}, True, True, 1),
    ],
)
def test_trained_active_and_forward_passes_follow_the_method_and_lambda(tmp_path, overrides, trained, active, passes):
    config = args(tmp_path, **overrides)
    assert (config.aux_trained, config.stp_active, config.forward_passes_per_step) == (trained, active, passes)


def test_a_logged_span_keeps_its_own_gap_origin_beside_a_trained_tube(tmp_path):
    """gap_origin_of: the span form restarts before the answer (the reference code), every other
    form at the answer's first token (Appendix G), unless stp_gap says otherwise."""
    config = args(tmp_path, stp_log_forms="span")
    assert config.gap_origin is GapOrigin.ANSWER_START and config.gap_origin_of(STPForm.SPAN) is GapOrigin.BEFORE_ANSWER
    reference = args(tmp_path, stp_gap="before_answer")
    assert reference.gap_origin_of(STPForm.TUBE) is GapOrigin.BEFORE_ANSWER and reference.gap_origin_of(STPForm.ZERO) is GapOrigin.BEFORE_ANSWER
    straight = args(tmp_path, stp_gap="none")
    assert straight.gap_origin_of(STPForm.SPAN) is None and straight.gap_origin_of(STPForm.TUBE) is None
