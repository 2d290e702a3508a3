"""The report's opening (`render.opening`) on fabricated run folders: the overview, the headline
tables, treatment strength, provenance, what was run and the runs not counted."""

from dataclasses import replace

from scipy import stats as sps

from semantic_tube.experiments.report.render.opening import (
    coverage,
    headline,
    headline_tables,
    not_counted,
    overview,
    provenance,
    treatment_strength,
)
from semantic_tube.experiments.report.text import format_p
from tests.experiments.report_fixtures import SWEEP_SHA


def rows_of(lines: list[str]) -> dict[str, str]:
    """A table's body rows by their first cell."""
    return {line.split(" | ")[0][2:]: line for line in lines if line.startswith("| ")}


def test_overview_counts_the_folders_by_status(mixed):
    line, blank = overview(mixed)
    assert line.startswith(f"`stp report {mixed.root}` read 18 run folders (1 failed, 16 finished, 1 unreadable) from their files")
    assert line.endswith(f"[Reading a report]({mixed.docs}).") and blank == ""


def test_a_headline_row_holds_the_mean_and_the_paired_test_against_the_baseline(mixed):
    rows = rows_of(headline_tables(mixed))
    p = sps.ttest_rel([0.650, 0.655, 0.635], [0.600, 0.630, 0.590], alternative="greater").pvalue
    assert rows["ntp"] == "| ntp | 3 | 0.607 ± 0.021 | — | — | — |"
    assert rows["up"] == f"| up | 3 | 0.647 ± 0.010 | +0.040 | {format_p(p)} | 3 |"
    assert rows["flat"].startswith("| flat | 4 |") and rows["flat"].endswith("| 3 |")  # seed 4 has no ntp run to pair with


def test_without_a_baseline_the_headline_has_no_test_columns(unpaired):
    lines = headline_tables(unpaired)
    assert lines[0] == "Task `synth`, metric `exact`; no baseline method in these runs, so no tests against it."
    assert lines[2:6] == [
        "| configuration | n | synth `exact` mean ± std |",
        "|---|---|---|",
        "| a | 2 | 0.500 ± 0.000 |",
        "| b | 2 | 0.550 ± 0.000 |",
    ]


def test_the_headline_says_when_no_run_scored_a_task(mixed):
    assert headline(replace(mixed, tasks=())) == [
        "No finished run scored a task (set `eval_task`), so there are no accuracies to compare.",
        "",
    ]
    assert headline(mixed)[:2] == ["## Headline", ""]


def test_the_strength_table_names_each_configuration_weak_or_strong_with_its_numbers(mixed):
    rows = rows_of(treatment_strength(mixed))
    assert rows["down"] == (
        "| down | `ntp` | `stp_loss` (last logged) | 3 | 1.2800 ± 0.0000 | 1.3000 ± 0.0000 | -0.0200 ± 0.0000 | 0.985 ± 0.000 | **weak**: 1.5% below |"
    )
    assert rows["dip"].endswith("| 0.6000 ± 0.0000 | 1.3000 ± 0.0000 | -0.7000 ± 0.0000 | 0.462 ± 0.000 | strong: 53.8% below |")
    assert rows["up"].startswith("| up | `ntp` (a different training length) |")  # 100 steps against ntp's 50
    assert rows["up"].endswith("| 0.692 ± 0.000 | strong: 30.8% below |")


def test_the_strength_section_counts_the_weak_and_names_the_seeds_left_out(mixed):
    lines = treatment_strength(mixed)
    assert "Seeds left out of the pairs: flat: seed 4 (ntp: no run)." in lines
    assert (
        "1 of 4 measured configurations ran at a weak treatment (`down`): the comparisons made there cannot show whether the method works."
        in lines
    )


def test_configurations_without_a_measurement_are_grouped_by_reason_without_a_table(unpaired, mixed):
    lines = treatment_strength(unpaired)
    assert lines[4:] == ["Not measured:", "", "- `a`, `b`: no plain fine-tuning (ntp) run in this setting.", ""]
    assert treatment_strength(replace(mixed, strength=())) == []


def test_provenance_lists_what_the_points_recorded_and_checks_the_sweep_copy(mixed):
    assert provenance(replace(mixed, sweep_copy_sha=SWEEP_SHA)) == [
        "## Provenance",
        "",
        "- sweep file: sweeps/fabricated.yaml",
        f"- sweep file sha256: {SWEEP_SHA}",
        "- commit: 0123abc",
        "- package versions: semantic-tube 0.1.0, torch 2.13.0, transformers 5.0.0",
        f"- `sweep.yaml` in the sweep folder: sha256 `{SWEEP_SHA}`, matches the hash the points recorded",
        "- command of one point: `stp train --seed 23`",  # dip-23, the first folder with a point
        "",
    ]
    assert f"sha256 `{'cd' * 32}`, does NOT match the hash" in provenance(replace(mixed, sweep_copy_sha="cd" * 32))[6]


def test_provenance_of_plain_train_folders_says_nothing_was_recorded(swept):
    assert provenance(swept.data)[2].startswith("Plain `stp train` folders (no sweep_point.json)")


def test_coverage_lists_the_finished_seeds_and_the_settings_runs_disagree_on(mixed, unpaired):
    lines = coverage(mixed)
    assert lines[2:5] == [
        "- seeds (finished runs): 4, 23, 37, 82",  # seed 5 only failed
        "- configurations: 5 (`ntp`, `dip`, `down`, `flat`, `up`)",
        "- methods: `ntp`, `dip`, `down`, `flat`, `up`; baseline: `ntp`",
    ]
    assert "- the same in every run: train_fraction=1" in lines and "- learning_rate: 0.0001" in lines
    assert "- optimizer steps trained: 50 (13 runs); 100 (3 runs)" in lines
    assert "- methods: `a`, `b`; baseline: `none`" in coverage(unpaired)


def test_runs_not_counted_are_tabled_with_their_status_and_problem(mixed, unpaired):
    rows = rows_of(not_counted(mixed))
    assert rows["up-5"] == "| up-5 | failed | up | 5 | RuntimeError: CUDA out of memory |"
    assert rows["broken"].startswith("| broken | unreadable | ? | ? | ") and "broken/stp_config.yaml: not valid YAML" in rows["broken"]
    assert not_counted(unpaired)[2] == "None: every run folder found has finished."
