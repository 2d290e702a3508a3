"""The metric keys and loss series the report reads (`report.keys`), on fabricated run folders."""

import json

import pytest

from semantic_tube.experiments.report import ReportError, keys
from semantic_tube.experiments.runs import read_runs
from tests.experiments.report_fixtures import write_run


@pytest.fixture
def runs(tmp_path):
    """One NTP and one mask run on synth (report_fixtures' task keys), the mask run logging `aux_loss`."""
    write_run(tmp_path / "ntp", method="ntp", seed=1, exact_hits=100, family="ntp", sweep=False)
    folder = write_run(tmp_path / "mask", method="mask", seed=1, exact_hits=120, family="mask", sweep=False)
    state = json.loads((folder / "trainer_state.json").read_text())
    for entry in state["log_history"]:
        if "stp_loss" in entry:
            entry["aux_loss"] = entry.pop("stp_loss")
    (folder / "trainer_state.json").write_text(json.dumps(state))
    return {run.point_id: run for run in read_runs(tmp_path)}


def test_tasks_rates_and_other_metrics(runs):
    done = list(runs.values())
    assert keys.tasks_of(done) == ["synth"]
    # whole-set rates first, the task's own metric (exact) leading, then the subsets by name
    assert keys.rates_of(done, "synth") == [
        "exact", "equivalent", "empty_reference/exact", "suffix[.*.*]/exact", "suffix[.*]/exact", "suffix[other]/exact",
    ]  # fmt: skip
    others = keys.other_metrics_of(done, "synth")
    assert "count" in others and "unparsable" in others and "suffix[.*]/predicted" in others
    assert not [name for name in others if name.endswith(("_hits", "_ci95_low", "_ci95_high")) or name == "exact"]
    assert keys.suffix_classes(done, "synth") == [".*", ".*.*"]  # `other` has no examples


def test_count_key_is_the_size_of_the_set_or_subset_behind_a_rate():
    assert keys.count_key("synth", "exact") == "task_synth/count"
    assert keys.count_key("synth", "suffix[.*]/exact") == "task_synth/suffix[.*]/count"


def test_the_headline_metric_is_requested_or_the_tasks_own(runs):
    done = list(runs.values())
    assert keys.headline_metric(done, "synth", None) == "exact"
    assert keys.headline_metric(done, "synth", "task_synth/equivalent") == "equivalent"
    with pytest.raises(ReportError, match="--metric bleu: not a rate of task synth; its rates: exact, equivalent"):
        keys.headline_metric(done, "synth", "bleu")


def test_values_and_summaries_read_metrics(runs):
    assert keys.value(runs["mask"], "task_synth/exact") == pytest.approx(0.6) and keys.value(runs["mask"], "absent") is None
    both = keys.summary(list(runs.values()), "task_synth/exact")  # 100 and 120 hits of 200
    assert (both.n, both.mean) == (2, pytest.approx(0.55))


def test_each_family_logs_its_own_loss_under_its_name_or_aux_loss(runs):
    assert keys.own_series(runs["ntp"]) == "stp_loss" and keys.aux_log_key(runs["ntp"]) == "stp_loss"
    assert keys.own_series(runs["mask"]) == "mask_loss" and keys.aux_log_key(runs["mask"]) == "aux_loss"
    assert keys.final_aux(runs["ntp"]) == pytest.approx(1.3)  # final_stp_loss: no final_aux_loss recorded
    assert keys.logged_forms(list(runs.values())) == []


def test_logged_forms_come_from_metrics_or_the_log(tmp_path):
    write_run(tmp_path / "a", method="stp", seed=1, forms={"tube": 1.0, "span": 0.8}, sweep=False)
    assert keys.logged_forms(read_runs(tmp_path)) == ["span", "tube"]
    assert keys.form_series("span") == "stp_span_loss"
