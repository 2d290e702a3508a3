"""report.md from a computed `ReportData`: one function per section, no statistics.

Each section states its numbers and links to the docs page (`ReportData.docs`) for how they are
computed and read, instead of repeating the explanation in every report.
"""

from __future__ import annotations

from collections import defaultdict

from semantic_tube.experiments import stats
from semantic_tube.experiments.report import figure_data as fd
from semantic_tube.experiments.report import landscape as ls
from semantic_tube.experiments.report import strength as st
from semantic_tube.experiments.report.comparisons import Comparison, FamilyLayout, PTable
from semantic_tube.experiments.report.compute import TRAINING_KEYS, ReportData, TaskData
from semantic_tube.experiments.report.design import FRACTION, NTP_FAMILY, Setting, show
from semantic_tube.experiments.report.keys import task_key
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
# The paper's setting (../shared/docs/PAPER_SETTINGS.md), to say how far these runs are from it.
PAPER = {"model": "meta-llama/Llama-3.2-1B-Instruct", "seeds": 5, "effective_batch": 128, "learning_rate": 2e-5, "num_train_epochs": 4}
EMBEDDED_MODEL = "the embedded SmolLM2-135M-Instruct (de-quantised 4-bit GGUF)"
# The docs page's sections (their MkDocs anchors), which the report's sections link to.
DOCS_SECTIONS = {
    "paired": "paired-comparisons",
    "detect": "what-a-comparison-could-detect",
    "tables": "tables-4-5-one-rule",
    "prompts": "per-prompt-changes",
    "families": "families-and-options-appendix-l",
    "efficiency": "data-efficiency-figure-1b",
    "curves": "loss-curves-figure-4a",
    "strength": "treatment-strength",
    "lambda": "losses-against-lambda-figure-4b",
    "accuracy": "accuracy-against-lambda-figure-7",
}


def render_markdown(data: ReportData) -> str:
    lines = [f"# Sweep report: {data.name}", "", *overview(data), *headline(data), *treatment_strength(data)]
    lines += provenance(data) + coverage(data) + not_counted(data)
    for task in data.tasks:
        lines += task_section(data, task)
    lines += training(data)
    lines += figure_1b(data) + figure_4a(data) + figure_4b(data) + figure_7(data) + figure_6(data)
    lines += limits(data)
    return "\n".join(lines).rstrip() + "\n"


def docs(data: ReportData, section: str, text: str) -> str:
    """A Markdown link to one section of the docs page."""
    return f"[{text}]({data.docs}#{DOCS_SECTIONS[section]})"


def model_name(name) -> str:
    return EMBEDDED_MODEL if name in (None, "") else str(name)


def _count(run, key: str) -> str:
    found = run.metrics.get(key)
    return "n/a" if found is None else str(int(found))


# ---------------------------------------------------------------------------------------------
# Overview, provenance, coverage


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
            source = "after training, same examples" if found.source == st.TREATMENT_PREFIX + "trained_" else "last logged"
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


def strength_of(data: ReportData, arm: str, setting: Setting):
    return next((found for found in data.strength if (found.arm, found.setting) == (arm, setting)), None)


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
            [run.point_id, status_name(run.status), run.coordinates.get("method", "?"), str(run.seed), (run.problem or "").strip()]
            for run in others
        ]
        lines += table(rows)
    lines += ["", "Grid points that were never started have no folder and do not appear here; `stp sweep --dry-run` lists the whole grid."]
    return lines + [""]


# ---------------------------------------------------------------------------------------------
# Per task


def task_section(data: ReportData, task: TaskData) -> list[str]:
    lines = [f"## Task `{task.task}`", ""]
    whole = [rate for rate in task.rates if "/" not in rate]
    rows = [["configuration", "n", *(f"`{rate}`" for rate in whole), "test examples"]]
    for config in data.configurations:
        if config.n and any(task_key(task.task, "count") in run.metrics for run in config.done):
            rows.append(
                [
                    config.label,
                    str(config.n),
                    *(mean_std(config.summary(task_key(task.task, rate)), n_of_row=config.n) for rate in whole),
                    distinct([_count(run, task_key(task.task, "count")) for run in config.done], "run"),
                ]
            )
    lines += ["Mean ± std over seeds (n = finished seeds of the configuration; a cell on fewer runs says its own n).", "", *table(rows), ""]
    lines += every_metric(data, task)
    lines += comparison_tables(data, task)
    lines += prompt_changes(data, task)
    lines += families(data, task)
    lines += table_1(data, task)
    return lines


def every_metric(data: ReportData, task: TaskData) -> list[str]:
    names = [rate for rate in task.rates if "/" in rate] + list(task.other_metrics)
    configurations = [config for config in data.configurations if config.n]
    if not names or not configurations:
        return []
    rows = [["metric", *(f"{config.label} (n={config.n})" for config in configurations)]]
    for name in names:
        digits = 3 if name in task.rates else 1  # rates in [0, 1]; counts of examples
        rows.append(
            [f"`{name}`", *(mean_std(config.summary(task_key(task.task, name)), digits, n_of_row=config.n) for config in configurations)]
        )
    return [
        f"<details><summary>Every other metric of {task.task} (subsets and counts), mean ± std</summary>",
        "",
        *table(rows),
        "",
        "</details>",
        "",
    ]


def comparison_tables(data: ReportData, task: TaskData) -> list[str]:
    found = task.comparisons
    baseline = data.design.baseline
    lines = [f"### Paired comparisons on `{task.metric}`", ""]
    if not found:
        return lines + ["Only one method in every setting: nothing to compare.", ""]
    lines += [
        f"One-tailed paired t-tests, runs paired by seed within a setting (same data fraction and every other coordinate): a method "
        f"against `{baseline}` as method > `{baseline}`, two other methods in the direction of the higher paired mean; p is n/a "
        f"when fewer than 2 seeds pair up ({docs(data, 'paired', 'how they are paired and read')}).",
        "",
    ]
    rows = [["setting", "test", "pairs", "mean (a)", "mean (b)", "mean diff ± sd", "t", "p", "5%", "left out"]]
    for c in found:
        better, worse = c.means
        rows.append(
            [
                data.design.setting_label(c.setting),
                f"`{c.better}` > `{c.worse}`",
                str(c.test.n),
                fmt(better),
                fmt(worse),
                f"{signed(c.test.mean_difference)} ± {fmt(c.test.sd_difference)}",
                fmt(c.test.statistic, 2),
                format_p(c.test.p_value) if c.test.p_value is not None else f"n/a: {c.test.reason}",
                "yes" if c.significant else "no",
                "; ".join(c.left_out) or "none",
            ]
        )
    lines += table(rows) + [""]
    lines += [
        "What each comparison could detect with 80% power at 5% (one-tailed): from the seed spread (exact power of the paired "
        "t-test), from the test set (binomial, two accuracies on the same N examples), and both combined; seeds for "
        f"+{stats.GAIN:g}: the fewest paired seeds detecting a {stats.GAIN * 100:g}-point gain at the observed spread "
        f"({docs(data, 'detect', 'how these are computed and read')}).",
        "",
    ]
    rows = [["setting", "test", "pairs", "sd of diffs", "from seeds", "from test set (N)", "combined", f"seeds for +{stats.GAIN:g}"]]
    for c in found:
        d = c.detect
        gain = str(d.seeds_for_gain) if d.seeds_for_gain else (f"> {stats.MAX_SEEDS}" if d.seeds else "n/a")
        rows.append(
            [
                data.design.setting_label(c.setting),
                f"`{c.better}` > `{c.worse}`",
                str(c.test.n),
                fmt(c.test.sd_difference),
                fmt(d.seeds) if d.seeds is not None else "n/a (needs 2 pairs with spread)",
                f"{fmt(d.test_set)} (N={d.test_count})" if d.test_set is not None else "n/a",
                fmt(d.combined),
                gain,
            ]
        )
    lines += table(rows) + [""]
    for setting, matrix in task.all_methods:
        lines += [
            f"p-values between all methods, {data.design.setting_label(setting)} (row > column, as Tables 4-5: "
            f"{docs(data, 'tables', 'a cell only where the row is higher on the paired seeds')}):",
            "",
            *table(p_rows(matrix, {arm: f"`{arm}`" for arm in matrix.members}, strike=False)),
            "",
        ]
    return lines


def p_cell(test: stats.PairedTest, seeds: int, strike: bool) -> str:
    """A Tables 4-5 cell: p (three significant digits), `~~p~~` above 0.05 when `strike` (Table 5),
    `(n=k)` when fewer pairs than the table's `seeds`, `n<2` below two pairs."""
    if test.n < 2:
        return "n<2"
    if test.p_value is None:
        return f"n/a: {test.reason}"
    text = format_p(test.p_value)
    text = f"~~{text}~~" if strike and test.p_value > stats.ALPHA else text
    return text if test.n == seeds else f"{text} (n={test.n})"


def p_rows(matrix: PTable, labels: dict[str, str], strike: bool) -> list[list[str]]:
    """Tables 4-5 as rows: the rule's cells (`PTable`) as p, the others as — (the row is not
    higher on the paired seeds), a pair with no seed in common as n<2 both ways."""
    rows = [["row > column", *(labels[arm] for arm in matrix.members)]]
    for row in matrix.members:
        line = [labels[row]]
        for column in matrix.members:
            cell = matrix.cell(row, column)
            if cell is None:
                line.append("—")
            elif cell.filled or cell.test.n == 0:
                line.append(p_cell(cell.test, matrix.seeds, strike))
            else:
                line.append("—")
        rows.append(line)
    return rows


def left_out_note(matrix: PTable) -> list[str]:
    notes = [f"`{cell.row}` > `{cell.column}`: {'; '.join(cell.left_out)}" for cell in matrix.filled if cell.left_out]
    return [f"Seeds left out of the pairs: {' | '.join(notes)}.", ""] if notes else []


def prompt_changes(data: ReportData, task: TaskData) -> list[str]:
    if not task.prompt_changes:
        return []
    rows = [["setting", "method", "seeds", "predictions changed, per seed", f"`{task.metric}` gained", "lost", "net"]]
    for found in task.prompt_changes:
        rows.append(
            [
                data.design.setting_label(found.setting),
                f"`{found.arm}`",
                str(len(found.changes)),
                ", ".join(f"{seed}: {c.changed} of {c.prompts}" for seed, c in found.changes),
                str(found.gained),
                str(found.lost),
                signed(found.gained - found.lost, 0),
            ]
        )
    baseline = data.design.baseline
    return [
        f"### Per-prompt changes against `{baseline}` on `{task.metric}`",
        "",
        f"Each run against the `{baseline}` run of its seed, prompt by prompt (eval/{task.task}/predictions.jsonl), summed over "
        f"the seeds: predictions that differ, prompts turned from wrong to right on `{task.metric}` (gained) or right to wrong "
        f"(lost); net = gained - lost is the difference in hits. Descriptive counts, no p-value "
        f"({docs(data, 'prompts', 'how to read them')}).",
        "",
        *table(rows),
        "",
    ]


def families(data: ReportData, task: TaskData) -> list[str]:
    """Appendix L's layout, in each setting whose runs span families: every variant against the
    baseline, Table 4 (families by their best variants), Table 5 (options within a family)."""
    if not task.families:
        return []
    lines = [
        "### Families and options (Tables 4-5)",
        "",
        "A run's family is the `method` its stp_config.yaml records (`ntp` for method ntp or lambda 0); a variant is a "
        f"configuration of that family. Tests on `{task.metric}`, paired by seed, one-tailed; in Tables 4 and 5 a cell "
        "(row, column) holds p of row > column only where the row's mean over the paired seeds is higher, else —; rows and "
        "columns by mean, highest first; a cell says its own n where fewer seeds paired up, `n<2` below two pairs "
        f"({docs(data, 'families', 'families, Tables 4-5 and how to read them')}).",
        "",
    ]
    for layout in task.families:
        lines += families_block(data, task, layout)
    return lines


def families_block(data: ReportData, task: TaskData, layout: FamilyLayout) -> list[str]:
    lines = [f"#### {data.design.setting_label(layout.setting)}", ""] if data.design.varying else []
    baseline = data.design.baseline
    against = {c.better: c for c in task.against_baseline if c.setting == layout.setting}
    rows = [
        [
            "family",
            "variant",
            "n",
            f"`{task.metric}` mean ± std",
            *([f"vs `{baseline}` (paired mean diff)", "p (one-tailed)", "pairs"] if baseline else []),
        ]
    ]
    for family, group in layout.members.items():
        for variant in group:
            mark = " (best)" if len(group) > 1 and variant is layout.best[family] else ""
            found = against.get(variant.arm)
            test = [signed(found.test.mean_difference), format_p(found.test.p_value), str(found.test.n)] if found else ["—"] * 3
            if variant.arm == baseline:
                test = ["baseline", "—", "—"]
            rows.append(
                [
                    family,
                    f"`{variant.arm}`{mark}",
                    str(variant.point.n),
                    mean_std(variant.point, n_of_row=variant.point.n),
                    *(test if baseline else []),
                ]
            )
    versus = (
        f"its paired test against `{baseline}` (the comparison above); uncorrected, with {plural(layout.seeds, 'seed')} a p-value "
        f"says little on its own, and a large one is no evidence that a variant equals `{baseline}`."
        if baseline
        else "no baseline (`ntp`) ran here, so there are no tests against one."
    )
    lines += [
        "Every variant, by family (families by their best mean):",
        "",
        *table(rows),
        "",
        f"Mean ± std over finished seeds, and {versus}",
        "",
    ]
    if layout.table4 is not None:
        chosen = [layout.best[family] for family in layout.families]
        labels = {variant.arm: f"{variant.family}: `{variant.arm}`" for variant in chosen}
        named = ", ".join(f"{variant.family}: `{variant.arm}` ({fmt(variant.point.mean)})" for variant in chosen)
        skipped = f" (`{NTP_FAMILY}`, plain fine-tuning, is left out, as in the paper)" if NTP_FAMILY in layout.best else ""
        lines += [
            f"Table 4: p-values between families, each by its best variant{skipped}. Best variants: {named}.",
            "",
            *table(p_rows(layout.table4, labels, strike=False)),
            "",
            *left_out_note(layout.table4),
            "Each family stands in by its variant with the highest mean on this same test data, so these p-values are optimistic "
            f"(the choice is not accounted for); with {plural(layout.seeds, 'seed')} they say little.",
            "",
        ]
    else:
        lines += [f"Table 4 needs two families besides `{NTP_FAMILY}`; here: {quoted(layout.families) or 'none'}.", ""]
    for family, matrix in layout.table5:
        lines += [
            f"Table 5, `{family}`: p-values between its {len(matrix.members)} variants (struck through: p > 0.05).",
            "",
            *table(p_rows(matrix, {arm: f"`{arm}`" for arm in matrix.members}, strike=True)),
            "",
            *left_out_note(matrix),
            f"A struck-through p is no evidence either way (not that the options are equal); with {plural(layout.seeds, 'seed')} "
            "only large differences can show.",
            "",
        ]
    return lines


def table_1(data: ReportData, task: TaskData) -> list[str]:
    classes = task.suffix_classes
    if not classes:
        return []
    metric = task.metric
    rows = [["configuration", "n", *(f"`{name}`: `{metric}` (examples)" for name in classes), *(f"predicted `{name}`" for name in classes)]]
    for config in data.configurations:
        if not config.n:
            continue
        rates = [
            f"{mean_std(config.summary(task_key(task.task, f'suffix[{name}]/{metric}')), n_of_row=config.n)} "
            f"({distinct([_count(run, task_key(task.task, f'suffix[{name}]/count')) for run in config.done])})"
            for name in classes
        ]
        predicted = [mean_std(config.summary(task_key(task.task, f"suffix[{name}]/predicted")), 1, n_of_row=config.n) for name in classes]
        rows.append([config.label, str(config.n), *rates, *predicted])
    return [
        f"### Table 1: `{metric}` by answer suffix",
        "",
        "Accuracy on test references ending in each suffix (each answer counted under the longest suffix it ends with), "
        "and how many predictions end in it (a model that collapsed onto one form predicts only that one).",
        "",
        *table(rows),
        "",
    ]


# ---------------------------------------------------------------------------------------------
# Training


def training(data: ReportData) -> list[str]:
    done = data.done
    keys = [key for key in TRAINING_KEYS if any(key in run.metrics for run in done)]
    keys = [key for key in keys if key != "final_stp_loss"]  # shown as the method's own loss
    with_aux = any(config.aux.n for config in data.configurations)
    if not keys and not with_aux:
        return []
    forms = [
        key for key in sorted({key for run in done for key in run.metrics}) if key.startswith("final_stp_") and key != "final_stp_loss"
    ]
    head = ["final_ntp_loss"] if "final_ntp_loss" in keys else []
    rest = [key for key in keys if key not in head]
    rows = [["configuration", "n", *head, *(["final aux loss", "its series"] if with_aux else []), *forms, *rest]]
    for config in data.configurations:
        if not config.n:
            continue
        aux = [mean_std(config.aux, 4, n_of_row=config.n), _aux_name(config)] if with_aux else []
        rows.append(
            [
                config.label,
                str(config.n),
                *(mean_std(config.summary(key), 4, n_of_row=config.n) for key in head),
                *aux,
                *(mean_std(config.summary(key), 4, n_of_row=config.n) for key in forms),
                *(mean_std(config.summary(key), 1 if key in ("train_examples", "train_runtime") else 4, n_of_row=config.n) for key in rest),
            ]
        )
    note = (
        "final_*: the last logged training value; final aux loss: each method's own loss (`aux_loss`, else its own name: "
        "for ntp the STP logged without gradient); final_stp_<form>_loss: the STP forms logged beside the trained one; "
        "eval_*: the held-out loss at the end; train_runtime in seconds."
    )
    return ["## Training", "", note, "", *table(rows), ""]


def _aux_name(config) -> str:
    if not config.aux.n or config.aux_series is None:
        return "not logged"
    return f"`{config.aux_series}`" + (" (no gradient)" if config.family == NTP_FAMILY else "")


# ---------------------------------------------------------------------------------------------
# Figures


def figure_link(figure, caption: str) -> list[str]:
    return [f"![{caption}]({figure.file})", ""]


def figure_1b(data: ReportData) -> list[str]:
    if data.figure_1b is None:
        return []
    rows = [["method", "full-data reference", "matches it down to fraction", "means by fraction (n)"]]
    for task, line in data.efficiency:
        reach = (
            "n/a (no full-data baseline)"
            if line.reference is None
            else (show(FRACTION, line.matches_down_to) if line.matches_down_to else "never")
        )
        means = ", ".join(f"{show(FRACTION, f)}: {fmt(p.mean)} (n={p.n})" for f, p in sorted(line.points.items(), reverse=True) if p.n)
        ref = f"{fmt(line.reference.mean)} ± {fmt(line.reference.std)} (n={line.reference.n})" if line.reference else "n/a"
        rows.append([f"{task}: " + fd.line_label(f"`{line.arm}`", line.rest, data.design, data.several_rests), ref, reach, means])
    return [
        "## Data efficiency (Figure 1b)",
        "",
        *figure_link(data.figure_1b, "Figure 1b: accuracy against data fraction"),
        f"*Matches*: the mean at that fraction, and at every larger one, is at least the mean of `{data.design.baseline}` on the "
        f"full data (the dashed line, ± std band); means only, the paired tests say which differences are significant "
        f"({docs(data, 'efficiency', 'Figure 1b')}).",
        "",
        *table(rows),
        "",
    ]


def figure_4a(data: ReportData) -> list[str]:
    if data.figure_4a is None:
        return []
    largest = data.largest_fraction
    where = f" at train_fraction={show(FRACTION, largest)}" if largest is not None and FRACTION in data.design.varying else ""
    unlogged, forms = data.figure_4a_notes["unlogged"], data.figure_4a_notes["trained_forms"]
    note = f" STP was not logged for {quoted(unlogged)} (lambda 0 without `stp_log_when_off`)." if unlogged else ""
    panels = [title for _, title in data.figure_4a.panels]
    if len(panels) > 2:
        note += f" One panel per logged loss ({'; '.join(panels)}): each method's own loss on its own panel."
    if len(forms) > 1:
        note += (
            f" The STP panel draws each run's logged `stp_loss`, the form its method trains ({quoted(forms)}): lines of "
            f"different configurations are different quantities ({docs(data, 'curves', 'which')})."
        )
    return [
        "## Loss curves (Figure 4a)",
        "",
        *figure_link(data.figure_4a, "Figure 4a: NTP and STP loss curves"),
        f"Training losses{where}, mean over the seeds of each configuration at the steps all of them logged.{note}",
        "",
        *plateau_table(data),
    ]


def plateau_table(data: ReportData) -> list[str]:
    """Figure 4a's plateau test (`landscape`): where NTP plateaus, and whether each auxiliary loss keeps falling after."""
    rows = [["configuration", "NTP plateaus from step", "loss", "at the plateau", "fitted change to the end (95% CI)", "keeps falling"]]
    for plateau in data.plateaus:
        if plateau.plateau_step is None:
            rows.append([plateau.label, f"not by the end (step {plateau.last_step})", "—", "—", "—", "—"])
            continue
        start = f"{plateau.plateau_step} (of {plateau.last_step})"
        for after in plateau.after:
            if after.fit is None:
                rows.append([plateau.label, start, f"`{after.series}`", "n/a", "n/a", "n/a"])
                continue
            stretch = plateau.last_step - plateau.plateau_step
            interval = (
                f" ({signed(after.fit.low * stretch, 4)} to {signed(after.fit.high * stretch, 4)})" if after.fit.low is not None else ""
            )
            falling = {True: "yes", False: "no", None: "n/a (too few points)"}[after.falling]
            rows.append(
                [plateau.label, start, f"`{after.series}`", fmt(after.at_plateau, 4), f"{signed(after.change, 4)}{interval}", falling]
            )
    if len(rows) == 1:
        return []
    stp = [(plateau.label, after) for plateau in data.plateaus for after in plateau.after if after.series.startswith("stp_")]
    keeps = [label for label, after in stp if after.falling]
    stops = [label for label, after in stp if after.falling is False]
    summary = []
    if keeps:
        summary.append(f"STP keeps falling after NTP's plateau for {quoted(dict.fromkeys(keeps))}")
    if stops:
        summary.append(f"STP does not keep falling after NTP's plateau for {quoted(dict.fromkeys(stops))}")
    return [
        f"Plateau test: NTP has plateaued from the earliest logged step after which it falls by at most "
        f"{ls.PLATEAU_FALL:.0%} of its whole fall (with {ls.PLATEAU_POINTS} or more logged points left); a loss keeps falling "
        "when its least-squares slope over the runs' points from there to the end has a 95% interval below 0 "
        f"({docs(data, 'curves', 'the plateau test')}).",
        "",
        *table(rows),
        "",
        *([f"{'; '.join(summary)} (the paper's Fig. 4a: STP keeps falling once NTP has plateaued).", ""] if summary else []),
    ]


def _full_data_note(data: ReportData) -> str:
    largest = data.largest_fraction
    return f"Runs at train_fraction={show(FRACTION, largest)} (the full data of this grid). " if FRACTION in data.design.varying else ""


def figure_4b(data: ReportData) -> list[str]:
    if data.figure_4b is None:
        return []
    return [
        "## Losses against lambda (Figure 4b)",
        "",
        *figure_link(data.figure_4b, "Figure 4b: final losses against lambda"),
        f"{_full_data_note(data)}Lambda = 0 (plain fine-tuning) cannot sit on a log axis: it is the dashed line.",
        "",
        *lambda_tables(data),
    ]


def lambda_tables(data: ReportData) -> list[str]:
    """Figure 4b's tests (`landscape`): STP's slope in log lambda where it falls, NTP against lambda 0."""
    rows = [["line", "loss", "lambdas fitted (where it falls)", "slope per decade of lambda (95% CI)", "R²", "mean by lambda"]]
    for found in data.landscape:
        for slope in found.slopes:
            means = ", ".join(f"{stp_lambda:g}: {fmt(mean, 4)}" for stp_lambda, mean in slope.means.items())
            if slope.fit is None:
                rows.append([found.line, f"`{slope.series}`", "none: STP is lowest at the smallest lambda", "n/a", "n/a", means])
                continue
            fit = slope.fit
            interval = f" ({signed(fit.low, 4)} to {signed(fit.high, 4)})" if fit.low is not None else ""
            lambdas = ", ".join(f"{stp_lambda:g}" for stp_lambda in slope.lambdas)
            rows.append([found.line, f"`{slope.series}`", lambdas, f"{signed(fit.slope, 4)}{interval}", fmt(fit.r_squared), means])
    ntp_rows = [["line", "lambda", "pairs", "final NTP - λ=0 (95% CI)", "relative", f"within ±{ls.NTP_TOLERANCE:.0%}"]]
    for found in data.landscape:
        for change in found.ntp:
            interval = change.interval
            ci = f" ({signed(interval.low, 4)} to {signed(interval.high, 4)})" if interval.low is not None else ""
            relative = f"{change.relative:+.1%}" if change.relative is not None else "n/a"
            ntp_rows.append(
                [found.line, f"{change.stp_lambda:g}", str(interval.n), f"{signed(interval.mean, 4)}{ci}", relative, change.verdict]
            )
    lines = []
    if len(rows) > 1:
        lines += [
            "STP against log10 lambda over the range where it falls (from the smallest lambda to the one with the lowest mean), "
            f"every run a point ({docs(data, 'lambda', 'the fit')}):",
            "",
            *table(rows),
            "",
        ]
    if len(ntp_rows) > 1:
        verdicts = [
            f"`{found.line}`: {'unchanged at every lambda' if found.ntp_unchanged else 'not shown unchanged at every lambda'}"
            for found in data.landscape
            if found.ntp
        ]
        lines += [
            f"Final NTP against the lambda-0 runs, paired by seed: unchanged where the 95% interval of the difference lies within "
            f"±{ls.NTP_TOLERANCE:.0%} of their mean NTP, higher or lower where it excludes 0 otherwise, else not resolved.",
            "",
            *table(ntp_rows),
            "",
            f"NTP {'; '.join(verdicts)} (the paper's Fig. 4b: NTP unchanged across lambda).",
            "",
        ]
    return lines


def figure_7(data: ReportData) -> list[str]:
    if data.figure_7 is None:
        return []
    return [
        "## Accuracy against lambda (Figure 7)",
        "",
        *figure_link(data.figure_7, "Figure 7: accuracy against lambda"),
        f"{_full_data_note(data)}Lambda = 0 (plain fine-tuning) is the dashed line.",
        "",
        *peak_table(data),
    ]


def peak_table(data: ReportData) -> list[str]:
    """Figure 7's quadratic in log10 lambda (`landscape`): concavity, the peak, what the test set resolves."""
    rows = [["task", "line", "lambdas", "c (x²)", "concave: p (c < 0)", "peak lambda (95% CI)", "means span", "test set resolves"]]
    notes = []
    for peak in data.accuracy_peaks:
        lambdas = ", ".join(f"{stp_lambda:g}" for stp_lambda in peak.lambdas)
        resolves = f"{fmt(peak.resolvable)} (N={peak.test_count})" if peak.resolvable is not None else "n/a"
        if peak.fit is None:
            rows.append([peak.task, peak.line, lambdas, "n/a (needs 3 lambdas)", "n/a", "n/a", fmt(peak.span), resolves])
            continue
        concave = (
            "n/a (no residual degree of freedom)"
            if peak.fit.concave_p is None
            else f"{'yes' if peak.concave else 'no'}, p = {format_p(peak.fit.concave_p)}"
        )
        if peak.peak_lambda is None:
            where = "none (the fit is not concave)"
        else:
            interval = peak.peak_interval
            ci = f" ({interval[0]:.3g} to {interval[1]:.3g})" if interval else " (unbounded: c not significantly below 0)"
            where = f"{peak.peak_lambda:.3g}{ci}{'' if peak.peak_inside else ', outside the lambdas tried'}"
        rows.append([peak.task, peak.line, lambdas, f"{peak.fit.c:+.4f}", concave, where, fmt(peak.span), resolves])
        if peak.resolvable is not None:
            verb = "more than" if peak.span > peak.resolvable else "less than"
            notes.append(
                f"`{peak.line}` on {peak.task}: the means span {fmt(peak.span)} across lambda, {verb} the {fmt(peak.resolvable)} a "
                f"test set of {peak.test_count} resolves between two lambdas"
                + (
                    ""
                    if peak.span > peak.resolvable
                    else " (the fit's p covers training randomness only: the curve's shape holds for these test examples "
                    "and may not carry over to the task)"
                )
            )
    if len(rows) == 1:
        return []
    return [
        "Accuracy against x = log10 lambda, every run a point, fitted by a + b x + c x²: concave where c < 0 with one-tailed "
        "p < 0.05; the peak is 10^(-b / 2c), with Fieller's 95% interval; the test set resolves (80% power, 5%) about "
        f"(z_0.95 + z_0.80) sqrt(2 p (1 - p) / N) between two lambdas near the best mean p ({docs(data, 'accuracy', 'the fit')}).",
        "",
        *table(rows),
        "",
        *([f"{'; '.join(notes)}.", ""] if notes else []),
    ]


def figure_6(data: ReportData) -> list[str]:
    lines = []
    for figure in data.figure_6:
        lines += [
            f"## SVD spectra, {figure.task} (Figure 6)",
            "",
            *figure_link(figure, f"Figure 6: SVD of Enc(Text) - Enc(Code), {figure.task}"),
            "Singular values of Enc(Text) - Enc(Code) from `eval/<task>/eval.json` (analyses.svd), averaged index by index over seeds.",
            "",
        ]
    return lines


# ---------------------------------------------------------------------------------------------
# What the numbers show


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
