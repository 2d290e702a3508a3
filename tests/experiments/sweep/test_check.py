"""A sweep checked before anything trains: unknown field names where they are written (the
`validation` fixture: tests/experiments/conftest.py)."""

import pytest

from semantic_tube.experiments.grid import SweepError
from semantic_tube.experiments.sweep import check_field_names
from tests.experiments.test_grid import sweep_of


def test_unknown_fields_are_named_where_they_are(validation):
    cases = [
        ({"config": {"lerning_rate": 1}}, None, "config.lerning_rate: unknown field 'lerning_rate' (did you mean learning_rate?)"),
        ({"methods": {"stp": {"stp_lamda": 0.1}}}, None, "methods.stp.stp_lamda: unknown field 'stp_lamda' (did you mean stp_lambda?)"),
        ({"grid": {"stp_frm": ["tube"]}}, None, "grid.stp_frm: unknown field"),
        ({}, {"train_fle": "x"}, "--train_fle: unknown field 'train_fle' (did you mean train_file?)"),
    ]
    for document, overrides, message in cases:
        with pytest.raises(SweepError) as info:
            check_field_names(sweep_of(document, overrides), validation.fields)
        assert message in str(info.value)

