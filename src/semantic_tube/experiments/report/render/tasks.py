"""Each task's section: its metrics, the paired comparisons and what they could detect, per-prompt
changes, families and Tables 4-5, Table 1 (accuracy by answer suffix)."""

from __future__ import annotations

from semantic_tube.experiments import stats
from semantic_tube.experiments.report.comparisons import FamilyLayout, PTable
from semantic_tube.experiments.report.compute import ReportData, TaskData
from semantic_tube.experiments.report.design import NTP_FAMILY
from semantic_tube.experiments.report.keys import task_key
from semantic_tube.experiments.report.render.common import docs
from semantic_tube.experiments.report.text import distinct, fmt, format_p, mean_std, plural, quoted, signed, table


def _count(run, key: str) -> str:
    found = run.metrics.get(key)
    return "n/a" if found is None else str(int(found))


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
