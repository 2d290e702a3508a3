"""`check_configs`: configurations parsed by `stp train`'s own parser in a child interpreter, each
error named by its field, each valid point's forward passes per step counted."""

from tests.experiments.presets import BAD_CONFIGS


def test_the_check_counts_each_points_forward_passes_per_step(validation):
    passes = {key.split("/")[1].split("__")[0]: n for key, n in validation.forward_passes.items() if key.startswith("ablation_quick/")}
    assert len(passes) == 15 and not set(BAD_CONFIGS) & set(validation.forward_passes)
    assert passes["method=llm-jepa"] == 3 and passes["method=mask+full"] == 2 and passes["method=ntp"] == 1
    assert {passes[f"method={name}"] for name in ("stp", "stp+pred", "two-view+mean", "curvature")} == {1}



def test_bad_values_are_rejected_by_the_train_parser(validation):
    assert validation.errors["bad-form"] == "stp_form: 'tubes' is not one of ['tube', 'anchored', 'span', 'zero']"
    assert validation.errors["bad-lambda"] == "stp_lambda must be >= 0, got -1"
    assert "unknown task 'nope'" in validation.errors["bad-task"]

