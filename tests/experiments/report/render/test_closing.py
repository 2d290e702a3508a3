"""The report's close (`render.closing`) on fabricated run folders: the scope and its limits, the
tally and the verdict of each comparison, the weak-treatment note, the gaps to the paper's setting."""

from scipy import stats as sps

from semantic_tube.experiments import stats
from semantic_tube.experiments.report import compute_report
from semantic_tube.experiments.report.render.closing import PAPER, limits, paper_gaps, strength_of, tally, verdict, weak_note
from semantic_tube.experiments.report.text import fmt, format_p
from tests.experiments.report_fixtures import write_failed, write_run

NTP = [0.600, 0.630, 0.590]  # conftest's HITS / 200, in SEEDS order


def comparison(data, first, second):
    return next(c for c in data.tasks[0].comparisons if {c.better, c.worse} == {first, second})


def test_strength_of_finds_a_configuration_by_arm_and_setting(mixed):
    setting = comparison(mixed, "down", "ntp").setting
    assert strength_of(mixed, "down", setting).weak is True
    assert strength_of(mixed, "ntp", setting) is None  # the reference has none
    assert strength_of(mixed, "down", (("train_fraction", 0.5),)) is None


def test_limits_state_the_scope_the_unfinished_runs_and_the_weak_treatments(mixed):
    lines = limits(mixed)
    assert lines[2] == (
        "- Scope: 16 finished runs of the embedded SmolLM2-135M-Instruct (de-quantised 4-bit GGUF), 50 (13 runs); 100 (3 runs) "
        "optimizer steps each, 4 seeds (4, 23, 37, 82)."
    )
    assert lines[3].startswith("- 2 run folders did not finish (listed above)")
    assert lines[4].startswith("- Unbalanced seeds: the configurations finished different seeds (") and "`flat`: 4, 23, 37, 82" in lines[4]
    assert lines[5].startswith("- Treatment: `down` ran at a weak treatment (trained STP less than 10% below plain fine-tuning's")
    assert lines[-2] == (
        "- 10 comparisons at 5% each, uncorrected: if no method differed, about 0.5 of them would still come out significant by chance "
        "(Bonferroni threshold: p < 0.005)."
    )


def test_with_more_than_six_comparisons_only_those_against_the_baseline_get_a_verdict(mixed):
    verdicts = [line.split(" on ")[0] for line in limits(mixed) if " vs `" in line]
    assert verdicts == ["- `dip` vs `ntp`", "- `down` vs `ntp`", "- `flat` vs `ntp`", "- `up` vs `ntp`"]  # of 10


def test_limits_say_when_no_run_has_finished(tmp_path):
    write_failed(tmp_path / "ntp-82", method="ntp", seed=82)
    assert limits(compute_report(tmp_path))[2:] == [
        "- No run has finished: nothing in this report is measured yet.",
        "- 1 run folder did not finish (listed above): those seeds are missing from the means of their configuration and from the pairs "
        "of the comparisons that needed them.",
        "",
    ]


def test_only_a_comparison_against_the_baseline_at_a_weak_treatment_gets_the_note(mixed):
    assert (
        weak_note(mixed, comparison(mixed, "down", "ntp"))
        == " At this treatment (trained STP 1.5% below `ntp`'s: weak) no effect was to be expected."
    )
    assert weak_note(mixed, comparison(mixed, "up", "ntp")) == ""
    assert weak_note(mixed, comparison(mixed, "dip", "down")) == ""  # weak `down`, but not against the baseline


def test_the_tally_counts_the_comparisons_with_the_baseline_by_outcome(mixed, strength, unpaired):
    assert tally(mixed, mixed.tasks[0]) == [
        "- Overall on `synth` `exact`, 4 comparisons with `ntp` (5%, one-tailed): 1 lower or equal, not significantly; "
        "1 significantly lower (reverse test); 1 higher, not significantly; 1 significantly higher."
    ]
    assert tally(strength.data, strength.data.tasks[0])[0].endswith(": 5 not testable.")  # every pair differs by the same amount
    assert tally(unpaired, unpaired.tasks[0]) == []


def test_a_significant_gain_below_what_the_test_set_resolves_says_it_may_not_carry_over(mixed):
    c = comparison(mixed, "up", "ntp")
    p = sps.ttest_rel([0.650, 0.655, 0.635], NTP, alternative="greater").pvalue
    resolves = stats.binomial_detectable_difference((sum(NTP) + 0.650 + 0.655 + 0.635) / 6, 200)
    assert verdict(mixed, c) == (
        f"`up` vs `ntp` on synth `exact`: +0.040 (higher; n = 3 pairs, p = {format_p(p)}), significant at 5% (one-tailed, `up` > `ntp`); "
        f"smaller than what a test set of 200 resolves ({fmt(resolves)}), so it holds for these test examples and may not carry over to the task."
    )


def test_a_loss_gives_the_reverse_test(mixed):
    p = sps.ttest_rel([0.550, 0.585, 0.560], NTP, alternative="greater").pvalue
    assert verdict(mixed, comparison(mixed, "down", "ntp")) == (
        f"`down` vs `ntp` on synth `exact`: -0.042 (lower; n = 3 pairs, p = {format_p(p)}): no evidence of a gain; "
        f"the reverse test (`ntp` > `down`) gives p = {format_p(1 - p)}."
    )


def test_an_untestable_comparison_gives_its_reason(strength):
    assert verdict(strength.data, comparison(strength.data, "mask", "ntp")) == (
        "`mask` vs `ntp` on synth `exact`: not tested, every pair differs by the same amount: no spread to test against."
    )


def test_paper_gaps_name_each_setting_that_differs_from_the_paper(mixed):
    assert paper_gaps(mixed) == [
        "model the embedded SmolLM2-135M-Instruct (de-quantised 4-bit GGUF) (paper: meta-llama/Llama-3.2-1B-Instruct)",
        "4 seeds (paper: 5)",
        "batch 8 per step and device (batch x accumulation; paper: 128 = 4 x 4 on each of 8 GPUs)",
        "learning rate 0.0001 (paper: 2e-05)",
    ]


def test_runs_in_the_paper_s_setting_have_no_gap_but_a_fixed_step_count(tmp_path):
    paper = {
        "model_name_or_path": PAPER["model"],
        "per_device_train_batch_size": 32,
        "gradient_accumulation_steps": 4,
        "learning_rate": 2e-5,
    }
    for seed in range(PAPER["seeds"]):
        write_run(tmp_path / "epochs" / f"stp-{seed}", method="stp", seed=seed, extra_config=paper)
        write_run(tmp_path / "steps" / f"stp-{seed}", method="stp", seed=seed, extra_config=paper | {"max_steps": 200})
    assert paper_gaps(compute_report(tmp_path / "epochs")) == []
    assert paper_gaps(compute_report(tmp_path / "steps")) == ["a fixed number of steps (max_steps 200) rather than 4 epochs"]


def test_limits_say_when_configurations_finished_different_seeds(tmp_path):
    """A grid still running: ntp at seeds 4, 23 and 82, stp at 82 only; then balanced, no bullet."""
    for seed in (4, 23, 82):
        write_run(tmp_path / f"ntp-{seed}", method="ntp", seed=seed, exact_hits=100)
    write_run(tmp_path / "stp-82", method="stp", seed=82, exact_hits=104)
    (line,) = [line for line in limits(compute_report(tmp_path)) if line.startswith("- Unbalanced seeds")]
    assert "(`ntp`: 4, 23, 82; `stp`: 82)" in line and "a difference between them can be a seed's" in line
    for seed in (4, 23):
        write_run(tmp_path / f"stp-{seed}", method="stp", seed=seed, exact_hits=104)
    assert not [line for line in limits(compute_report(tmp_path)) if line.startswith("- Unbalanced seeds")]
