"""Older configs' fields (training/config/legacy.py): stp_skip_gap and stp_gap_origin read as the
one stp_gap that replaced them (the committed results' stp_config.yaml among them), with a
message; contradictions are a ConfigError naming both."""

import logging
from pathlib import Path

import pytest
import yaml

from semantic_tube.training.arguments import parse_train_args
from semantic_tube.training.config import ConfigError, upgrade_replaced_fields

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = sorted(ROOT.glob("results/*/runs/*/stp_config.yaml"))


def parse_preset(tmp_path, values, *argv):
    preset = tmp_path / "preset.yaml"
    preset.write_text(yaml.safe_dump(values))
    return parse_train_args(["--config", str(preset), "--output_dir", str(tmp_path / "out"), "--use_cpu", "true", *argv])


def expected_gap(values: dict):
    """What the older fields meant: false = straight across, an origin = that origin, else the form's own."""
    if values.get("stp_skip_gap") is False:
        return "none"
    return values.get("stp_gap_origin")


@pytest.mark.skipif(not COMMITTED, reason="no committed results in this checkout")
def test_the_committed_results_configs_load_with_their_gap_read_as_stp_gap(caplog):
    """Configs written before stp_gap existed read their older fields with a message; those written
    since hold stp_gap alone and load without one."""
    older = 0
    with caplog.at_level(logging.WARNING, logger="semantic_tube.training.config"):
        for path in COMMITTED:
            values = yaml.safe_load(path.read_text())
            training = parse_train_args(["--config", str(path), "--use_cpu", "true"])[2]
            if {"stp_skip_gap", "stp_gap_origin"} & set(values):
                older += 1
                assert "stp_gap" not in values, path
                assert (training.stp_gap.value if training.stp_gap else None) == expected_gap(values), path
            else:
                assert (training.stp_gap.value if training.stp_gap else None) == values.get("stp_gap"), path
    assert sum("replaced by stp_gap" in message for message in caplog.messages) == older


@pytest.mark.parametrize(
    ("values", "gap", "origin"),
    [
        ({"stp_skip_gap": False}, "none", None),
        ({"stp_skip_gap": True}, None, "answer_start"),
        ({"stp_skip_gap": True, "stp_gap_origin": None}, None, "answer_start"),
        ({"stp_skip_gap": True, "stp_form": "span"}, None, "before_answer"),
        ({"stp_gap_origin": "before_answer"}, "before_answer", "before_answer"),
        ({"stp_skip_gap": True, "stp_gap_origin": "answer_start"}, "answer_start", "answer_start"),
        ({"stp_skip_gap": False, "stp_gap": "none"}, "none", None),  # old and new agree
    ],
)
def test_older_gap_fields_in_a_preset_read_as_stp_gap_with_a_message(tmp_path, caplog, values, gap, origin):
    with caplog.at_level(logging.WARNING, logger="semantic_tube.training.config"):
        training = parse_preset(tmp_path, values)[2]
    assert (training.stp_gap.value if training.stp_gap else None) == gap
    assert (training.gap_origin.value if training.gap_origin else None) == origin
    (message,) = caplog.messages
    assert "replaced by stp_gap" in message and "preset.yaml" in message


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"stp_skip_gap": False, "stp_gap": "answer_start"}, ("stp_skip_gap=false", "stp_gap=answer_start")),
        ({"stp_skip_gap": True, "stp_gap": "none"}, ("stp_skip_gap=true", "stp_gap=none")),
        ({"stp_gap_origin": "before_answer", "stp_gap": "answer_start"}, ("stp_gap_origin=before_answer", "stp_gap=answer_start")),
        ({"stp_skip_gap": False, "stp_gap_origin": "before_answer"}, ("stp_skip_gap=false", "stp_gap_origin=before_answer", "stp_gap")),
        ({"stp_gap_origin": "start"}, ("stp_gap_origin", "'start'", "stp_gap")),
    ],
)
def test_older_gap_fields_that_contradict_are_a_config_error_naming_both(tmp_path, values, named):
    with pytest.raises(ConfigError) as raised:
        parse_preset(tmp_path, values)
    assert all(text in str(raised.value) for text in named), raised.value



def test_a_config_without_older_fields_is_returned_as_it_is(caplog):
    values = {"stp_gap": "none", "stp_lambda": 0.1}
    with caplog.at_level(logging.WARNING, logger="semantic_tube.training.config"):
        assert upgrade_replaced_fields(values) is values
    assert caplog.messages == []


@pytest.mark.parametrize(
    ("old", "gap"),
    [
        ({"stp_skip_gap": "false"}, "none"),  # a string from a flag or an older YAML reads as a boolean
        ({"stp_skip_gap": "yes"}, None),
        ({"stp_skip_gap": None, "stp_gap_origin": ""}, None),  # both empty: the form's own
        ({"stp_skip_gap": "1", "stp_gap_origin": "before_answer"}, "before_answer"),
    ],
)
def test_the_older_fields_are_replaced_by_stp_gap_and_the_rest_kept(old, gap, caplog):
    with caplog.at_level(logging.WARNING, logger="semantic_tube.training.config"):
        upgraded = upgrade_replaced_fields({**old, "seed": 3}, "x.yaml: ")
    assert upgraded == {"seed": 3, "stp_gap": gap}
    (message,) = caplog.messages
    assert message.startswith("x.yaml: stp_skip_gap=") or message.startswith("x.yaml: stp_gap_origin=")
    assert message.endswith(f"read as stp_gap={gap}" if gap else "read as stp_gap empty (the form's own: answer_start, or before_answer for span)")


def test_an_older_field_beside_an_agreeing_stp_gap_reads_as_that_stp_gap():
    assert upgrade_replaced_fields({"stp_gap_origin": "answer_start", "stp_gap": "answer_start"}) == {"stp_gap": "answer_start"}
    # skip true alone says "bypass" without an origin: any bypassing stp_gap agrees with it
    assert upgrade_replaced_fields({"stp_skip_gap": True, "stp_gap": "before_answer"}) == {"stp_gap": "before_answer"}
