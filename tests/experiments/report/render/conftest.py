"""The render sections' fabricated reports, each computed once per session (no figures drawn)."""

import pytest

from semantic_tube.experiments.report import compute_report
from tests.experiments.report.lambda_runs import SEEDS
from tests.experiments.report_fixtures import write_failed, write_run

# Exact hits of 200 in SEEDS order. Against ntp: `up` significantly higher, `flat` higher and `dip`
# lower without significance, `down` significantly lower (the reverse test).
HITS = {"ntp": (120, 126, 118), "dip": (115, 128, 117), "down": (110, 117, 112), "flat": (125, 119, 124), "up": (130, 131, 127)}
# ntp logs STP 1.3 without gradient; `down` ends 1.5% below it (weak), `up` trains twice as long.
TRAINING = {"ntp": {"family": "ntp"}, "down": {"stp_end": 1.28}, "up": {"stp_end": 0.9, "steps": 100}}


def mixed_runs(root):
    """ntp and four STP methods over SEEDS, `flat` at a seed 4 ntp lacks, `up` failed at seed 5, an unreadable folder."""
    for method, hits in HITS.items():
        for seed, exact in zip(SEEDS, hits):
            write_run(
                root / f"{method}-{seed}", method=method, seed=seed, exact_hits=exact, **({"family": "stp"} | TRAINING.get(method, {}))
            )
    write_run(root / "flat-4", method="flat", seed=4, exact_hits=122, family="stp")
    write_failed(root / "up-5", method="up", seed=5)
    (root / "broken").mkdir()
    (root / "broken" / "stp_config.yaml").write_text("a: [")
    return root


@pytest.fixture(scope="session")
def mixed(tmp_path_factory):
    return compute_report(mixed_runs(tmp_path_factory.mktemp("mixed")))


@pytest.fixture(scope="session")
def unpaired(tmp_path_factory):
    """Two methods at lambda 0.02 and no plain fine-tuning: no baseline, no treatment strength."""
    root = tmp_path_factory.mktemp("unpaired")
    for method, hits in (("a", 100), ("b", 110)):
        for seed in SEEDS[:2]:
            write_run(root / f"{method}-{seed}", method=method, seed=seed, exact_hits=hits, family="stp")
    return compute_report(root)
