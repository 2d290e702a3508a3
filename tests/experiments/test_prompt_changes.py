"""Per-prompt changes against the baseline: counted by hand, and as the report shows them."""

from __future__ import annotations

import json

import pytest

from semantic_tube.experiments.prompt_changes import PromptChanges, predictions_path, prompt_changes, run_prompt_changes
from semantic_tube.experiments.report import write_report
from tests.experiments.report_fixtures import TASK, write_run


def record(prompt: str, prediction: str, exact: bool, reference: str = "a") -> dict:
    return {"system": "s", "prompt": prompt, "reference": reference, "prediction": prediction, "verdicts": {"exact": exact}}


BASELINE = [record("p1", "a", True), record("p2", "x", False), record("p3", "y", False), record("p4", "a", True)]


def test_counts_changed_gained_and_lost_by_hand():
    # p1 same; p2 wrong -> right (gained); p3 a different wrong answer (changed only); p4 right -> wrong (lost)
    mine = [record("p1", "a", True), record("p2", "a", True), record("p3", "z", False), record("p4", "w", False)]
    assert prompt_changes(mine, BASELINE, "exact") == PromptChanges(prompts=4, changed=3, gained=1, lost=1)
    assert prompt_changes(BASELINE, BASELINE, "exact") == PromptChanges(prompts=4, changed=0, gained=0, lost=0)


@pytest.mark.parametrize(
    "mine",
    [
        BASELINE[:3],  # fewer prompts
        [BASELINE[1], BASELINE[0], *BASELINE[2:]],  # the same prompts in another order
        [record("p1", "a", True, reference="b"), *BASELINE[1:]],  # another reference
    ],
)
def test_runs_not_scored_on_the_same_prompts_are_not_compared(mine):
    assert prompt_changes(mine, BASELINE, "exact") is None


def test_a_metric_without_a_true_false_verdict_is_not_compared():
    assert prompt_changes(BASELINE, BASELINE, "equivalent") is None


def write_predictions(folder, outcomes: list[tuple[str, bool]]) -> None:
    path = predictions_path(folder, TASK)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [record(f"p{i}", prediction, exact) for i, (prediction, exact) in enumerate(outcomes)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_report_sums_the_changes_over_seeds_and_net_is_the_difference_in_hits(tmp_path):
    # 4 prompts; per seed: (ntp's, stp's) (prediction, exact) on each
    plan = {
        82: ([("a", True), ("a", True), ("x", False), ("x", False)], [("a", True), ("a", True), ("a", True), ("y", False)]),
        23: ([("a", True), ("x", False), ("x", False), ("x", False)], [("b", False), ("a", True), ("a", True), ("x", False)]),
    }
    for seed, (ntp, stp) in plan.items():
        for method, outcomes in (("ntp", ntp), ("stp", stp)):
            folder = write_run(tmp_path / f"method={method}__seed={seed}", method=method, seed=seed, exact_hits=sum(e for _, e in outcomes))
            write_predictions(folder, outcomes)
    write_run(tmp_path / "method=mask__seed=82", method="mask", seed=82, exact_hits=2)  # no predictions kept: no row
    report = write_report(tmp_path, tmp_path / "out")
    (row,) = report.data.tasks[0].prompt_changes  # mask kept no predictions: no row
    assert (row.arm, [seed for seed, _ in row.changes], row.gained, row.lost) == ("stp", [23, 82], 3, 1)
    assert dict(row.changes)[82] == PromptChanges(prompts=4, changed=2, gained=1, lost=0)
    text = (tmp_path / "out" / "report.md").read_text()
    section = text.split("### Per-prompt changes against `ntp` on `exact`")[1].split("###")[0]
    # seed 82: 2 changed (p1, p2), 1 gained, 0 lost; seed 23: 3 changed, 2 gained, 1 lost; net +2 = (3 - 2) + (2 - 1) hits
    assert "| all runs | `stp` | 2 | 23: 3 of 4, 82: 2 of 4 | 3 | 1 | +2 |" in section
    assert "`mask`" in text and "`mask`" not in section


def test_report_without_predictions_has_no_per_prompt_section(tmp_path):
    for seed in (82, 23):
        write_run(tmp_path / f"ntp-{seed}", method="ntp", seed=seed, exact_hits=50)
        write_run(tmp_path / f"stp-{seed}", method="stp", seed=seed, exact_hits=52)
    write_report(tmp_path, tmp_path / "out")
    assert "Per-prompt changes" not in (tmp_path / "out" / "report.md").read_text()


def test_run_folders_without_predictions_give_none(tmp_path):
    write_predictions(tmp_path / "a", [("a", True)])
    assert run_prompt_changes(tmp_path / "a", tmp_path / "b", TASK, "exact") is None
    assert run_prompt_changes(tmp_path / "a", tmp_path / "a", TASK, "exact") == PromptChanges(1, 0, 0, 0)
