"""The report's close: what these numbers show and what they cannot (scope, unfinished runs, weak
treatments, one verdict per comparison, how far the runs are from the paper's setting)."""

from __future__ import annotations

from collections import defaultdict

from semantic_tube.experiments import stats
from semantic_tube.experiments.report import strength as st
from semantic_tube.experiments.report.comparisons import Comparison
from semantic_tube.experiments.report.compute import ReportData, TaskData
from semantic_tube.experiments.report.design import Setting, seed_order
from semantic_tube.experiments.report.render.common import model_name
from semantic_tube.experiments.report.text import distinct, fmt, format_p, plural, quoted, signed
from semantic_tube.run_folder import Status

# The paper's setting (../shared/docs/PAPER_SETTINGS.md), to say how far these runs are from it.
PAPER = {"model": "meta-llama/Llama-3.2-1B-Instruct", "seeds": 5, "effective_batch": 128, "learning_rate": 2e-5, "num_train_epochs": 4}


def strength_of(data: ReportData, arm: str, setting: Setting):
    return next((found for found in data.strength if (found.arm, found.setting) == (arm, setting)), None)


def limits(data: ReportData) -> list[str]:
    lines = ["## What these numbers show, and what they cannot", ""]
    done = data.done
    models = (
        distinct([model_name(run.config.get("model_name_or_path")) for run in done if run.config])
        if any(run.config for run in done)
        else "not recorded"
    )
    steps = (
        distinct([run.global_step for run in done if run.global_step is not None])
        if any(run.global_step is not None for run in done)
        else "not recorded"
    )
    if not done:
        lines.append("- No run has finished: nothing in this report is measured yet.")
    else:
        lines.append(
            f"- Scope: {plural(len(done), 'finished run')} of {models}, {steps} optimizer steps each, "
            f"{plural(len(data.seeds), 'seed')} ({', '.join(map(str, data.seeds))})."
        )
    unfinished = [run for run in data.runs if run.status != Status.FINISHED]
    if unfinished:
        lines.append(
            f"- {plural(len(unfinished), 'run folder')} did not finish (listed above): those seeds are missing from the means of "
            "their configuration and from the pairs of the comparisons that needed them."
        )
    lines += unbalanced_seeds(data)
    weak = [found.label for found in data.strength if found.weak]
    if weak:
        lines.append(
            f"- Treatment: {quoted(weak)} ran at a weak treatment (trained STP less than {st.WEAK_REDUCTION:.0%} below plain "
            "fine-tuning's, *Treatment strength* above): their comparisons cannot show an effect of the method."
        )
    gaps = paper_gaps(data)
    if gaps:
        lines.append(f"- Not the paper's setting: {'; '.join(gaps)}. Whether STP helps here says little about whether it helps there.")
    total = sum(len(task.comparisons) for task in data.tasks)
    for task in data.tasks:
        if task.test_counts:
            lines.append(
                f"- `{task.task}` is scored on {distinct(task.test_counts)} test examples, the same for every seed and method: test-set sampling "
                "error does not average out over seeds, and the p-values below cover training randomness only."
            )
        lines += tally(data, task)
        for c in task.comparisons:
            if c.against_baseline or len(task.comparisons) <= 6:
                lines.append(f"- {verdict(data, c)}{weak_note(data, c)}")
    if total:
        lines.append(
            f"- {plural(total, 'comparison')} at 5% each, uncorrected: if no method differed, about {0.05 * total:.1f} of them "
            f"would still come out significant by chance (Bonferroni threshold: p < {0.05 / total:.2g})."
        )
    return lines + [""]


def unbalanced_seeds(data: ReportData) -> list[str]:
    """A bullet when the configurations finished different sets of seeds: means across them (and
    the curves and fits drawn through those means) then mix seeds, as in a grid still running."""
    by_seeds = defaultdict(list)
    for c in data.configurations:
        if c.done:
            by_seeds[tuple(sorted({run.seed for run in c.done}, key=seed_order))].append(c.label)
    if len(by_seeds) < 2:
        return []
    groups = "; ".join(f"{quoted(labels)}: {', '.join(map(str, seeds))}" for seeds, labels in by_seeds.items())
    return [
        f"- Unbalanced seeds: the configurations finished different seeds ({groups}). Means across configurations (the "
        "headline table, the figures and their fits) compare different seeds at different configurations, so a difference "
        "between them can be a seed's; the paired tests use matching seeds only. Read the curves once every configuration "
        "has the same seeds."
    ]


def weak_note(data: ReportData, c: Comparison) -> str:
    """A comparison against the baseline made at a weak treatment says so."""
    found = strength_of(data, c.better, c.setting) if c.against_baseline else None
    if found is None or not found.weak:
        return ""
    return f" At this treatment (trained STP {found.reduction:.1%} below `{found.reference}`'s: weak) no effect was to be expected."


def tally(data: ReportData, task: TaskData) -> list[str]:
    """One line per task: how the comparisons against the baseline came out, by kind."""
    against = task.against_baseline
    if not against:
        return []
    kinds = defaultdict(int)
    for c in against:
        if c.test.p_value is None:
            kinds["not testable"] += 1
        elif c.significant:
            kinds["significantly higher"] += 1
        elif c.test.mean_difference > 0:
            kinds["higher, not significantly"] += 1
        elif 1 - c.test.p_value < stats.ALPHA:
            kinds["significantly lower (reverse test)"] += 1
        else:
            kinds["lower or equal, not significantly"] += 1
    counts = "; ".join(f"{count} {kind}" for kind, count in kinds.items())
    return [
        f"- Overall on `{task.task}` `{task.metric}`, {plural(len(against), 'comparison')} with `{data.design.baseline}` (5%, "
        f"one-tailed): {counts}."
    ]


def verdict(data: ReportData, c: Comparison) -> str:
    where = f" ({data.design.setting_label(c.setting)})" if data.design.varying else ""
    head = f"`{c.better}` vs `{c.worse}` on {c.task} `{c.metric}`{where}"
    if c.test.p_value is None:
        return f"{head}: not tested, {c.test.reason}."
    direction = "higher" if c.test.mean_difference > 0 else "lower" if c.test.mean_difference < 0 else "no different"
    numbers = f"{signed(c.test.mean_difference)} ({direction}; n = {c.test.n} pairs, p = {format_p(c.test.p_value)})"
    if c.significant:
        caveat = ""
        if c.detect.test_set is not None and c.test.mean_difference < c.detect.test_set:
            caveat = (
                f"; smaller than what a test set of {c.detect.test_count} resolves ({fmt(c.detect.test_set)}), so it holds "
                "for these test examples and may not carry over to the task"
            )
        return f"{head}: {numbers}, significant at 5% (one-tailed, `{c.better}` > `{c.worse}`){caveat}."
    if c.test.mean_difference < 0:  # the one-tailed test cannot flag a loss: say what the reverse test gives
        return f"{head}: {numbers}: no evidence of a gain; the reverse test (`{c.worse}` > `{c.better}`) gives p = {format_p(1 - c.test.p_value)}."
    reach = (
        f"only differences of about {fmt(c.detect.combined)} or more would be found with 80% power"
        if c.detect.combined is not None
        else "its power cannot be estimated"
    )
    gain = (
        f"; {c.detect.seeds_for_gain} seeds would detect a {stats.GAIN * 100:g}-point gain at this spread"
        if c.detect.seeds_for_gain
        else ""
    )
    if c.detect.test_set is not None and c.detect.test_set >= stats.GAIN and c.detect.accuracy is not None:
        gain += (
            f" (but a test set of {c.detect.test_count} cannot resolve {stats.GAIN * 100:g} points: about "
            f"{stats.test_examples_to_detect(stats.GAIN, c.detect.accuracy)} examples would)"
        )
    return f"{head}: {numbers}, not significant: no evidence either way, since {reach}{gain}."


def paper_gaps(data: ReportData) -> list[str]:
    """How these runs differ from the paper's setting, from their configs."""
    done = data.done
    configs = [run.config for run in done if run.config]
    if not configs:
        return []
    gaps = []
    models = {model_name(config.get("model_name_or_path")) for config in configs}
    if models != {PAPER["model"]}:
        gaps.append(f"model {', '.join(sorted(models))} (paper: {PAPER['model']})")
    seeds = len({run.seed for run in done})
    if seeds < PAPER["seeds"]:
        gaps.append(f"{plural(seeds, 'seed')} (paper: {PAPER['seeds']})")
    batches = {config.get("per_device_train_batch_size", 8) * config.get("gradient_accumulation_steps", 1) for config in configs}
    if batches != {PAPER["effective_batch"]}:
        gaps.append(
            f"batch {', '.join(map(str, sorted(batches)))} per step and device (batch x accumulation; "
            f"paper: {PAPER['effective_batch']} = 4 x 4 on each of 8 GPUs)"
        )
    rates = {float(config["learning_rate"]) for config in configs if config.get("learning_rate") is not None}
    if rates and rates != {PAPER["learning_rate"]}:
        gaps.append(f"learning rate {', '.join(f'{rate:g}' for rate in sorted(rates))} (paper: {PAPER['learning_rate']:g})")
    if any((config.get("max_steps") or -1) > 0 for config in configs):
        gaps.append(
            f"a fixed number of steps (max_steps {distinct([config.get('max_steps') for config in configs])}) rather than "
            f"{PAPER['num_train_epochs']} epochs"
        )
    return gaps
