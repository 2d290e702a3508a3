"""The report's opening: the overview, the headline tables, treatment strength, provenance, what
was run and the runs not counted."""

from __future__ import annotations

from collections import defaultdict

from semantic_tube.experiments import stats
from semantic_tube.experiments.report import strength as st
from semantic_tube.experiments.report.compute import ReportData
from semantic_tube.experiments.report.design import show
from semantic_tube.experiments.report.keys import task_key
from semantic_tube.experiments.report.render.common import docs, model_name
from semantic_tube.experiments.report.text import distinct, fmt, format_p, mean_std, plural, quoted, signed, status_name, table
from semantic_tube.run_folder import SWEEP_FILE, Status

# Settings recorded in stp_config.yaml worth stating once per report (their distinct values).
RUN_FACTS = (
    "model_name_or_path",
    "finetuning",
    "stp_form",
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "label_mode",
    "eval_task",
    "eval_task_limit",
    "train_subset_seed",
)


def overview(data: ReportData) -> list[str]:
    counts = defaultdict(int)
    for run in data.runs:
        counts[status_name(run.status)] += 1
    states = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    return [
        f"`{data.command}` read {plural(len(data.runs), 'run folder')} ({states}) from their files "
        f"(metrics.json, stp_config.yaml, trainer_state.json, sweep_point.json, eval/*/eval.json and predictions.jsonl; never logs). "
        "Every mean is over the finished runs of one configuration (its coordinates except the seed), with the "
        "sample standard deviation (n - 1) and the number of seeds n; runs that did not finish are listed under "
        f"*Runs not counted*, never averaged in. How each number is computed and read: [Reading a report]({data.docs}).",
        "",
    ]


def headline_tables(data: ReportData) -> list[str]:
    """The headline table of each task (what `stp report` prints)."""
    lines = []
    baseline = data.design.baseline
    for task in data.tasks:
        rows = [["configuration", "n", f"{task.task} `{task.metric}` mean ± std"]]
        rows[0] += [f"vs `{baseline}` (paired mean diff)", "p (one-tailed)", "pairs"] if baseline else []
        against = {(c.better, c.setting): c for c in task.against_baseline}
        for config in data.configurations:
            point = config.summary(task_key(task.task, task.metric))
            if not point.n:
                continue
            found = against.get((config.arm, config.setting))
            test = [signed(found.test.mean_difference), format_p(found.test.p_value), str(found.test.n)] if found else ["—"] * 3
            rows.append([config.label, str(point.n), mean_std(point, n_of_row=point.n), *(test if baseline else [])])
        intro = (
            f"Task `{task.task}`, metric `{task.metric}` (a rate in [0, 1]); p: paired one-tailed t-test of the method > `{baseline}` over seeds."
            if baseline
            else f"Task `{task.task}`, metric `{task.metric}`; no baseline method in these runs, so no tests against it."
        )
        lines += [intro, "", *table(rows), ""]
    return lines


def headline(data: ReportData) -> list[str]:
    if not data.tasks:
        return ["No finished run scored a task (set `eval_task`), so there are no accuracies to compare.", ""]
    return ["## Headline", "", *headline_tables(data)]


def treatment_strength(data: ReportData) -> list[str]:
    """Every configuration's trained STP against plain fine-tuning's logged STP (`strength`)."""
    if not data.strength:
        return []
    measured = [found for found in data.strength if found.weak is not None]
    lines = [
        "## Treatment strength",
        "",
        "Each configuration's trained STP at the end against the STP that plain fine-tuning of the same seed logged without "
        "gradient, in the same setting: difference and ratio per seed, mean ± std over the seeds. The rule: a treatment is "
        f"**weak** when its trained STP ends less than {st.WEAK_REDUCTION:.0%} below the reference's (1 - mean ratio < "
        f"{st.WEAK_REDUCTION:g}): the method then barely moved the quantity it trains, no effect on accuracy is to be "
        f"expected, and a null result says nothing about the method ({docs(data, 'strength', 'how it is measured')}).",
        "",
    ]
    if measured:
        rows = [["configuration", "against", "STP compared", "pairs", "trained", "reference", "difference", "ratio", "strength"]]
        for found in measured:
            trained = stats.summarize(pair[1] for pair in found.pairs)
            plain = stats.summarize(pair[2] for pair in found.pairs)
            source = "after training, same examples" if found.source == st.AFTER_TRAINING else "last logged"
            length = "" if found.same_length else " (a different training length)"
            rows.append(
                [
                    found.label,
                    f"`{found.reference}`{length}",
                    f"`{found.series}` ({source})",
                    str(len(found.pairs)),
                    mean_std(trained, 4, n_of_row=len(found.pairs)),
                    mean_std(plain, 4, n_of_row=len(found.pairs)),
                    f"{signed(found.difference.mean, 4)} ± {fmt(found.difference.std, 4)}",
                    f"{fmt(found.ratio.mean)} ± {fmt(found.ratio.std)}",
                    f"{'**weak**' if found.weak else 'strong'}: {found.reduction:.1%} below",
                ]
            )
        lines += [*table(rows), ""]
        left = [f"{found.label}: {'; '.join(found.left_out)}" for found in measured if found.left_out]
        if left:
            lines += [f"Seeds left out of the pairs: {' | '.join(left)}.", ""]
        weak = [found.label for found in measured if found.weak]
        if weak:
            lines += [
                f"{len(weak)} of {plural(len(measured), 'measured configuration')} ran at a weak treatment ({quoted(weak)}): "
                "the comparisons made there cannot show whether the method works.",
                "",
            ]
    reasons = defaultdict(list)
    for found in data.strength:
        if found.weak is None:
            reasons[found.reason].append(found.label)
    if reasons:
        lines += ["Not measured:", ""]
        lines += [f"- {quoted(labels)}: {reason}." for reason, labels in reasons.items()]
        lines.append("")
    return lines


def provenance(data: ReportData) -> list[str]:
    points = [run.point for run in data.runs if run.point]
    lines = ["## Provenance", ""]
    if not points:
        return lines + [
            "Plain `stp train` folders (no sweep_point.json): the sweep file, commit and package versions were not recorded.",
            "",
        ]
    for label, field in (("sweep file", "sweep_file"), ("sweep file sha256", "sweep_sha256"), ("commit", "commit")):
        lines.append(f"- {label}: {distinct([str(point.get(field, 'not recorded')) for point in points], 'point')}")
    versions = [
        ", ".join(f"{key} {item}" for key, item in sorted(point["versions"].items()))
        if isinstance(point.get("versions"), dict)
        else str(point.get("versions", "not recorded"))
        for point in points
    ]
    lines.append(f"- package versions: {distinct(versions, 'point')}")
    if data.sweep_copy_sha:
        recorded = {point.get("sweep_sha256") for point in points}
        verdict = "matches" if recorded == {data.sweep_copy_sha} else "does NOT match"
        lines.append(f"- `{SWEEP_FILE}` in the sweep folder: sha256 `{data.sweep_copy_sha}`, {verdict} the hash the points recorded")
    example = next((point["command"] for point in points if point.get("command")), None)
    if example:
        shown = " ".join(map(str, example)) if isinstance(example, list) else str(example)
        lines.append(f"- command of one point: `{shown}`")
    return lines + [""]


def coverage(data: ReportData) -> list[str]:
    done = data.done
    lines = ["## What was run", "", f"- seeds (finished runs): {', '.join(map(str, data.seeds)) or 'none'}"]
    lines.append(f"- configurations: {len(data.configurations)} ({', '.join(f'`{c.label}`' for c in data.configurations)})")
    lines.append(f"- methods: {quoted(data.design.arms)}; baseline: `{data.design.baseline or 'none'}`")
    constant = {key: item for key, item in data.design.constant.items() if key not in RUN_FACTS}  # those are listed below
    if constant:
        lines.append(f"- the same in every run: {', '.join(f'{key}={show(key, item)}' for key, item in constant.items())}")
    for key in RUN_FACTS:
        found = [run.config.get(key) for run in done if key in run.config]
        if found:
            shown = [model_name(item) if key == "model_name_or_path" else item for item in found]
            lines.append(f"- {key}: {distinct(shown)}")
    steps = [run.global_step for run in done if run.global_step is not None]
    if steps:
        lines.append(f"- optimizer steps trained: {distinct(steps)}")
    examples = [int(run.metrics["train_examples"]) for run in done if "train_examples" in run.metrics]
    if examples:
        lines.append(f"- training examples: {distinct(examples)}")
    return lines + [""]


def not_counted(data: ReportData) -> list[str]:
    lines = ["## Runs not counted", ""]
    others = [run for run in data.runs if run.status != Status.FINISHED]
    if not others:
        lines.append("None: every run folder found has finished.")
    else:
        rows = [["point", "status", "method", "seed", "detail"]]
        rows += [
            [run.point_id, status_name(run.status), run.coordinates.get("method", "?"), "?" if run.seed is None else str(run.seed), (run.problem or "").strip()]
            for run in others
        ]
        lines += table(rows)
    lines += ["", "Grid points that were never started have no folder and do not appear here; `stp sweep --dry-run` lists the whole grid."]
    return lines + [""]
