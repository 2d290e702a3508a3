"""Wilson's score interval, against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from semantic_tube.evaluation.stats import Z_95, wilson_interval


def test_wilson_interval():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)
    assert wilson_interval(0, 20)[0] == 0.0 and 0 < wilson_interval(0, 20)[1] < 0.2
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_interval_at_one_half_worked_by_hand():
    """5 of 10, z^2 = 3.8415: the centre (0.5 + z^2/20) / (1 + z^2/10) is 0.5 exactly; the half
    width z sqrt(0.025 + z^2/400) / 1.38415 = 1.96 * 0.18602 / 1.38415 = 0.26341."""
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.5 - 0.26341, abs=1e-4) and high == pytest.approx(0.5 + 0.26341, abs=1e-4)


def test_wilson_interval_of_all_hits():
    """p = 1: centre and half width give low = n / (n + z^2) = 10 / 13.8415; the top is 1 exactly."""
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(10 / (10 + Z_95**2)) and high == 1.0


def test_wilson_interval_is_symmetric_and_collapses_without_z():
    low, high = wilson_interval(3, 7)
    mirrored_low, mirrored_high = wilson_interval(4, 7)
    assert low == pytest.approx(1 - mirrored_high) and high == pytest.approx(1 - mirrored_low)
    assert wilson_interval(3, 4, z=0.0) == (0.75, 0.75)
    assert wilson_interval(1, -1) == (0.0, 1.0)
    assert math.isclose(Z_95, 1.96, abs_tol=1e-3)
