"""The report sections' shared fabricated reports, each written once per session."""

import pytest

from semantic_tube.experiments.report import write_report
from tests.experiments.report.lambda_runs import lambda_sweep, strength_runs


@pytest.fixture(scope="session")
def strength(tmp_path_factory):
    return write_report(strength_runs(tmp_path_factory.mktemp("strength")))


@pytest.fixture(scope="session")
def swept(tmp_path_factory):
    return write_report(lambda_sweep(tmp_path_factory.mktemp("lambda")))
