"""Fixtures shared by the experiments' test files."""

import pytest

from tests.experiments.presets import validate_presets


@pytest.fixture(scope="session")
def validation():
    """Every preset's points and BAD_CONFIGS through `stp train`'s parser (a child interpreter, once per session)."""
    return validate_presets()
