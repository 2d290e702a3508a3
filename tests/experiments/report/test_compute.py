"""`compute_report` apart from rendering: it reads run folders and writes nothing."""

from semantic_tube.experiments.report import compute_report
from tests.experiments.test_report import lambda_runs


def test_computing_writes_nothing(tmp_path):
    lambda_runs(tmp_path / "runs")
    before = sorted(tmp_path.rglob("*"))
    data = compute_report(tmp_path / "runs", tmp_path / "out")
    assert sorted(tmp_path.rglob("*")) == before and data.figure_7 is not None


