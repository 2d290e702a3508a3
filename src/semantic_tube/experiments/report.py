"""`stp report`: a sweep's run folders as the paper's tables, tests and figures (Sec. 4).

    stp report runs/quick [--out DIR] [--baseline ntp] [--metric exact]

    from semantic_tube.experiments.report import write_report
    report = write_report("runs/quick")
    print(report.headline)

Reads only the run folders (`experiments.runs`), never logs, and writes report.md with its PNG
figures. The words the report uses:
- configuration: a run's coordinates except the seed; its finished runs are averaged (mean,
  sample standard deviation, n seeds);
- method: what is compared, the `method` coordinate (or `ntp`/`stp` from lambda for a plain
  `stp train` folder), with lambda appended when one method was run at several lambdas;
- setting: the rest of a configuration (data fraction, learning rate, ...). Two methods are
  compared within one setting, their runs paired by seed, as the paper's paired one-tailed
  t-tests (Tables 4-5): same seed and same data subset, only the method differs;
- family: what a run trained, from its files (`Run.family`: the config's `method` field, `ntp`
  at lambda 0); its methods are the family's variants. Where a setting's runs span two families
  besides ntp, or a family has two variants of different names (`stp`, `stp+zero`), the task
  gains Appendix L's layout: every variant, Table 4 (p-values between the families' best
  variants) and Table 5 (p-values between the variants of each family).
Nothing is averaged across unfinished runs: failed, running and interrupted points are listed
with their error, and a comparison says which seeds it left out and why.
"""

from __future__ import annotations

import itertools
import shlex
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from semantic_tube.evaluation.report import TASK_PREFIX
from semantic_tube.evaluation.tasks import TASKS
from semantic_tube.experiments import figures, stats
from semantic_tube.experiments.prompt_changes import PromptChanges, run_prompt_changes
from semantic_tube.experiments.runs import FINISHED, SWEEP_FILE, UNREADABLE, Run, read_runs, sweep_file_hash

REPORT_FILE = "report.md"
FIG_1B, FIG_4A, FIG_4B, FIG_7 = (
    "fig1b_data_efficiency.png",
    "fig4a_loss_curves.png",
    "fig4b_loss_vs_lambda.png",
    "fig7_accuracy_vs_lambda.png",
)
FIG_6 = "fig6_svd_{task}.png"
FIGURE_PATTERNS = (FIG_1B, FIG_4A, FIG_4B, FIG_7, FIG_6.format(task="*"))
DEFAULT_BASELINE = "ntp"
FRACTION = "train_fraction"
LAMBDA = "stp_lambda"
LAMBDA_SCALE = "lambda_scale"  # the sweep's 2 x lambda axis: it changes only lambda
# Not part of a setting: the method and its lambda are what is compared, the seed pairs. The
# lambda scale belongs to the method's lambda too: `stp sweep` keeps one NTP point for all
# scales (0 x 2 = 0), and that point is the baseline for STP at every scale.
_NOT_SETTING = ("method", "seed", LAMBDA, LAMBDA_SCALE)
_DERIVED = ("_hits", "_ci95_low", "_ci95_high")  # shown through their rate, not as metrics of their own
TRAINING_KEYS = ("final_ntp_loss", "final_stp_loss", "eval_ntp_loss", "eval_stp_loss", "train_examples", "train_runtime")
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


class ReportError(ValueError):
    """A report that cannot be made as asked (an unknown baseline or metric), naming what exists."""


Setting = tuple  # ((key, value), ...) sorted by key: the coordinates besides method, lambda and seed


# ---------------------------------------------------------------------------------------------
# The design: methods, settings, configurations


@dataclass(frozen=True)
class Design:
    """How the runs group: the methods run at several lambdas (their arms carry the lambda), the
    setting keys that vary (shown in tables) or not (stated once), the arms and the baseline."""

    split_lambda: frozenset
    varying: tuple
    constant: dict
    arms: tuple
    baseline: str | None

    def arm(self, run: Run) -> str:
        if run.method in self.split_lambda and run.stp_lambda is not None:
            return f"{run.method} λ={run.stp_lambda:g}"
        return run.method

    def label(self, arm: str, setting: Setting) -> str:
        """`stp, train_fraction=1/2`: the arm and the varying part of the setting."""
        return ", ".join([arm, *(f"{key}={show(key, value)}" for key, value in setting if key in self.varying)])

    def setting_label(self, setting: Setting) -> str:
        return ", ".join(f"{key}={show(key, value)}" for key, value in setting if key in self.varying) or "all runs"


def setting_of(run: Run) -> Setting:
    return tuple(sorted((key, _hashable(value)) for key, value in run.coordinates.items() if key not in _NOT_SETTING))


def _hashable(value):
    if isinstance(value, list):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _hashable(item)) for key, item in value.items()))
    return value


def design_of(runs: list[Run], baseline: str = DEFAULT_BASELINE, explicit: bool = False) -> Design:
    """The grouping of the readable runs (all statuses, so a failed point still has its place)."""
    lambdas = defaultdict(set)
    for run in runs:
        if run.stp_lambda is not None:
            lambdas[run.method].add(run.stp_lambda)
    split = frozenset(method for method, values in lambdas.items() if len(values) > 1)
    values = defaultdict(set)
    for run in runs:
        for key, value in setting_of(run):
            values[key].add(value)
    keys = {key for run in runs for key, _ in setting_of(run)}
    varying = tuple(sorted(key for key in keys if len(values[key]) > 1 or any(key not in dict(setting_of(run)) for run in runs)))
    constant = {key: next(iter(values[key])) for key in sorted(keys) if key not in varying}
    draft = Design(split, varying, constant, (), None)
    order = {draft.arm(run): (run.method, run.stp_lambda or 0.0) for run in runs}
    arms = sorted(order, key=order.get)
    chosen = _baseline(runs, draft, arms, baseline, explicit)
    arms = [chosen, *(arm for arm in arms if arm != chosen)] if chosen else arms
    return Design(split, varying, constant, tuple(arms), chosen)


def _baseline(runs: list[Run], draft: Design, arms: list[str], name: str, explicit: bool) -> str | None:
    """The arm named `name`; for the default name, else the one arm trained with lambda 0."""
    if name in arms:
        return name
    if not explicit:
        plain = {draft.arm(run) for run in runs if run.stp_lambda == 0.0}
        if len(plain) == 1:
            return plain.pop()
        return None
    raise ReportError(f"--baseline {name}: no such method; methods in these runs: {', '.join(arms)}")


def cells_of(runs: list[Run], design: Design) -> dict[tuple[str, Setting], list[Run]]:
    """Runs (any status) by (arm, setting), settings in display order, arms baseline first."""
    cells = defaultdict(list)
    for run in runs:
        cells[(design.arm(run), setting_of(run))].append(run)
    order = {arm: index for index, arm in enumerate(design.arms)}
    return dict(sorted(cells.items(), key=lambda item: (_setting_order(item[0][1]), order[item[0][0]])))


def _setting_order(setting: Setting) -> tuple:
    """Data fractions from the full set down (the paper's order), other values ascending."""
    keys = []
    for key, value in setting:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            keys.append((key, 0, -value if key == FRACTION else value, ""))
        else:
            keys.append((key, 1, 0, str(value)))
    return tuple(keys)


def seed_order(seed) -> tuple:
    """Numbers in numeric order (4 before 23), anything else after them as text."""
    return (0, seed, "") if isinstance(seed, (int, float)) and not isinstance(seed, bool) else (1, 0, str(seed))


def finished(runs: list[Run]) -> list[Run]:
    return [run for run in runs if run.status == FINISHED]


def show(key: str, value) -> str:
    """A coordinate as the report writes it: fractions as 1/2, 1/4 ..."""
    if key == FRACTION and isinstance(value, (int, float)):
        return figures.fraction_label(float(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------------------------------------
# Tasks and metrics (metrics.json keys `task_<task>/<metric>`)


def tasks_of(runs: list[Run]) -> list[str]:
    """Tasks scored in any finished run: those with a `task_<task>/count`."""
    return sorted(
        {
            key[len(TASK_PREFIX) : -len("/count")]
            for run in runs
            for key in run.metrics
            if key.startswith(TASK_PREFIX) and key.endswith("/count") and key.count("/") == 1
        }
    )


def task_key(task: str, metric: str) -> str:
    return f"{TASK_PREFIX}{task}/{metric}"


def count_key(task: str, metric: str) -> str:
    """The test-set size behind a rate: `count` of the whole set, or of the rate's subset."""
    subset = metric.rpartition("/")[0]
    return task_key(task, f"{subset}/count" if subset else "count")


def rates_of(runs: list[Run], task: str) -> list[str]:
    """The task's rates (metrics with hits and an interval): whole-set ones first, then subsets."""
    prefix = task_key(task, "")
    names = {key[len(prefix) : -len("_hits")] for run in runs for key in run.metrics if key.startswith(prefix) and key.endswith("_hits")}
    return sorted(names, key=lambda name: ("/" in name, name != default_metric(task), name))


def other_metrics_of(runs: list[Run], task: str) -> list[str]:
    """The task's counts and other numbers that are not rates (`count`, `unparsable`, `suffix[.*]/predicted` ...)."""
    prefix = task_key(task, "")
    rates = set(rates_of(runs, task))
    names = {key[len(prefix) :] for run in runs for key in run.metrics if key.startswith(prefix)}
    return sorted(name for name in names if name not in rates and not name.endswith(_DERIVED))


def headline_metric(runs: list[Run], task: str, requested: str | None) -> str:
    """The metric tests and figures use: --metric (with or without `task_<task>/`), else the
    task's own primary metric (`exact` for NL-RX, the paper's), else its first rate."""
    rates = rates_of(runs, task)
    if requested:
        name = requested.removeprefix(task_key(task, ""))
        if name not in rates:
            raise ReportError(f"--metric {requested}: not a rate of task {task}; its rates: {', '.join(rates)}")
        return name
    default = default_metric(task)
    return default if default in rates else rates[0]


def default_metric(task: str) -> str | None:
    """The task's own first metric (the paper's for NL-RX and HellaSwag; robust elsewhere, its
    `paper_` twin beside it), as `stp train` and `stp sweep` print it."""
    return TASKS[task].metrics[0] if task in TASKS else None


def value(run: Run, key: str) -> float | None:
    found = run.metrics.get(key)
    return None if found is None else float(found)


def summary(runs: list[Run], key: str) -> stats.Summary:
    return stats.summarize(value(run, key) for run in finished(runs))


# ---------------------------------------------------------------------------------------------
# Paired comparisons and what they could detect


@dataclass(frozen=True)
class Detectability:
    """The smallest true difference detectable with 80% power at 5% (one-tailed), from the seed
    spread (noncentral t), from the test-set size (binomial) and combined; and the seeds needed
    to detect a 2-point gain at the observed spread. None where a part cannot be estimated."""

    seeds: float | None
    test_set: float | None
    combined: float | None
    test_count: int | None
    accuracy: float | None
    seeds_for_gain: int | None


@dataclass(frozen=True)
class Comparison:
    """`better` > `worse` on one metric within one setting, runs paired by seed."""

    task: str
    metric: str
    setting: Setting
    better: str
    worse: str
    against_baseline: bool
    pairs: tuple  # (seed, better value, worse value)
    left_out: tuple  # "seed 84 (ntp: failed)", ...
    test: stats.PairedTest
    detect: Detectability

    @property
    def significant(self) -> bool:
        return self.test.p_value is not None and self.test.p_value < stats.ALPHA


def runs_by_seed(runs: list[Run]) -> dict:
    """{seed: [runs of that seed]}, in the order found."""
    by_seed = defaultdict(list)
    for run in runs:
        by_seed[run.seed].append(run)
    return by_seed


def seed_values(runs: list[Run], key: str) -> tuple[dict, dict]:
    """{seed: value} of the usable runs, and {seed: why not} for the others."""
    values, why = {}, {}
    for seed, group in runs_by_seed(runs).items():
        if len(group) > 1:
            why[seed] = f"{len(group)} runs share this seed ({', '.join(run.point_id for run in group)})"
        elif group[0].status != FINISHED:
            why[seed] = group[0].status
        elif value(group[0], key) is None:
            why[seed] = f"{key} is null"
        else:
            values[seed] = value(group[0], key)
    return values, why


def pair_by_seed(first: list[Run], second: list[Run], key: str, names: tuple[str, str]) -> tuple[list, list]:
    """(seed, first value, second value) for the seeds both sides finished, in seed order, and
    each other seed with what was missing on which side."""
    (a, why_a), (b, why_b) = seed_values(first, key), seed_values(second, key)
    pairs, left_out = [], []
    for seed in sorted({*a, *b, *why_a, *why_b}, key=seed_order):
        if seed in a and seed in b:
            pairs.append((seed, a[seed], b[seed]))
            continue
        reasons = [
            f"{name}: {why.get(seed, 'no run')}" for name, got, why in ((names[0], a, why_a), (names[1], b, why_b)) if seed not in got
        ]
        left_out.append(f"seed {seed} ({'; '.join(reasons)})")
    return pairs, left_out


def compare(task: str, metric: str, setting: Setting, cells: dict, better: str, worse: str, against_baseline: bool) -> Comparison:
    key = task_key(task, metric)
    first, second = cells.get((better, setting), []), cells.get((worse, setting), [])
    pairs, left_out = pair_by_seed(first, second, key, (better, worse))
    test = stats.paired_t_test([pair[1] for pair in pairs], [pair[2] for pair in pairs])
    paired_runs = [run for run in first + second if run.seed in {pair[0] for pair in pairs}]
    detect = detectability(test, [v for pair in pairs for v in pair[1:]], [value(run, count_key(task, metric)) for run in paired_runs])
    return Comparison(task, metric, setting, better, worse, against_baseline, tuple(pairs), tuple(left_out), test, detect)


def detectability(test: stats.PairedTest, values: list[float], counts: list[float | None]) -> Detectability:
    """What the comparison could have detected. The seed part needs 2 pairs and some spread; the
    test-set part uses the smallest test set among the paired runs and the pairs' mean accuracy."""
    spread = test.sd_difference if test.sd_difference else None  # None and 0: nothing to scale by
    seeds = stats.detectable_difference(spread, test.n) if spread else None
    sizes = [int(count) for count in counts if count]
    accuracy = sum(values) / len(values) if values else None
    test_set = stats.binomial_detectable_difference(accuracy, min(sizes)) if sizes and accuracy is not None else None
    gain = stats.seeds_to_detect(stats.GAIN, spread) if spread else None
    return Detectability(
        seeds, test_set, stats.combined_detectable_difference(seeds, test_set), min(sizes) if sizes else None, accuracy, gain
    )


def comparisons_of(task: str, metric: str, design: Design, cells: dict) -> list[Comparison]:
    """Every pair of methods within every setting: a method against the baseline in the direction
    method > baseline (fixed in advance); two other methods in the direction of the higher paired
    mean, as the paper's Tables 4-5 (a direction chosen after seeing the data)."""
    found = []
    for setting in dict.fromkeys(setting for _, setting in cells):
        arms = [arm for arm in design.arms if (arm, setting) in cells]
        for first, second in itertools.combinations(arms, 2):
            if first == design.baseline:
                found.append(compare(task, metric, setting, cells, second, first, True))
                continue
            trial = compare(task, metric, setting, cells, first, second, False)
            lower = trial.test.mean_difference is not None and trial.test.mean_difference < 0
            found.append(compare(task, metric, setting, cells, second, first, False) if lower else trial)
    return found


def prompt_changes_of(task: str, metric: str, design: Design, cells: dict) -> list[tuple[str, Setting, list[tuple]]]:
    """(method, setting, [(seed, PromptChanges)]) for each method other than the baseline, its runs
    paired by seed with the baseline's (one finished run on each side), where both kept predictions
    of the same prompts; methods without such a pair are left out."""
    found = []
    for arm, setting in cells:
        if arm == design.baseline or (design.baseline, setting) not in cells:
            continue
        baseline = _finished_by_seed(cells[(design.baseline, setting)])
        changes: list[tuple[object, PromptChanges]] = []
        for seed, run in sorted(_finished_by_seed(cells[(arm, setting)]).items(), key=lambda item: seed_order(item[0])):
            if seed in baseline:
                change = run_prompt_changes(run.folder, baseline[seed].folder, task, metric)
                if change is not None:
                    changes.append((seed, change))
        if changes:
            found.append((arm, setting, changes))
    return found


def _finished_by_seed(runs: list[Run]) -> dict:
    """{seed: run} for the seeds with exactly one run, finished (as the paired tests use them)."""
    return {seed: group[0] for seed, group in runs_by_seed(runs).items() if len(group) == 1 and group[0].status == FINISHED}


def p_matrix(task: str, metric: str, setting: Setting, design: Design, cells: dict) -> list[list[str]]:
    """Tables 4-5: the cell (row, column) holds p of row > column, only where the row's paired mean is higher."""
    arms = [arm for arm in design.arms if (arm, setting) in cells]
    rows = []
    for row in arms:
        line = [f"`{row}`"]
        for column in arms:
            result = compare(task, metric, setting, cells, row, column, False).test if row != column else None
            higher = result is not None and result.mean_difference is not None and result.mean_difference > 0
            line.append(f"{format_p(result.p_value)} (n={result.n})" if higher else "")
        rows.append(line)
    return [["row > column", *(f"`{arm}`" for arm in arms)], *rows]


# ---------------------------------------------------------------------------------------------
# Families and options (Appendix L, Tables 4-5)


NTP_FAMILY = "ntp"


@dataclass(frozen=True)
class Variant:
    """One arm in one setting as a member of its family (`Run.family`, read from the run's files):
    `method` is the arm's `method` coordinate (the sweep's bundle name), `point` its finished seeds."""

    family: str
    arm: str
    method: str
    point: stats.Summary


@dataclass(frozen=True)
class PairedP:
    """One cell of Tables 4-5: the paired one-tailed test row > column and the seeds it left out."""

    row: str
    column: str
    test: stats.PairedTest
    left_out: tuple


def family_of_runs(runs: list[Run]) -> str:
    """The family a configuration's runs record; `a / b` when they disagree (shown, not hidden)."""
    found = sorted({run.family for run in runs if run.family is not None})
    return " / ".join(found) if found else "?"


def family_variants(task: str, metric: str, setting: Setting, cells: dict) -> list[Variant]:
    """The arms of `setting` with a finished value of the metric, by mean descending (ties keep the arms' order)."""
    key = task_key(task, metric)
    found = []
    for (arm, where), runs in cells.items():
        point = summary(runs, key) if where == setting else None
        if point is not None and point.n:
            done = finished(runs)
            found.append(Variant(family_of_runs(done), arm, done[0].method, point))
    return sorted(found, key=lambda variant: -variant.point.mean)


def has_families(variants: list[Variant]) -> bool:
    """Whether the Tables 4-5 layout says more than the baseline comparisons: two families besides
    ntp, or a family with two variants of different names (several lambdas of one method alone are
    Figure 7's business, not an option of the family)."""
    methods = defaultdict(set)
    for variant in variants:
        methods[variant.family].add(variant.method)
    return len(set(methods) - {NTP_FAMILY}) >= 2 or any(len(names) >= 2 for names in methods.values())


def best_variants(variants: list[Variant]) -> dict[str, Variant]:
    """Each family's variant with the highest mean (the first in the arms' order on a tie), families
    by that mean descending. The choice uses the very test data the tests then run on."""
    best = {}
    for variant in sorted(variants, key=lambda variant: -variant.point.mean):
        best.setdefault(variant.family, variant)
    return best


def paired_p(task: str, metric: str, setting: Setting, cells: dict, row: str, column: str) -> PairedP:
    """row > column on the seeds both finished (`pair_by_seed`), one-tailed (`stats.paired_t_test`)."""
    key = task_key(task, metric)
    pairs, left_out = pair_by_seed(cells.get((row, setting), []), cells.get((column, setting), []), key, (row, column))
    test = stats.paired_t_test([pair[1] for pair in pairs], [pair[2] for pair in pairs])
    return PairedP(row, column, test, tuple(left_out))


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


def family_matrix(
    task: str, metric: str, setting: Setting, cells: dict, members: list[Variant], labels: dict[str, str], strike: bool
) -> tuple[list[list[str]], list[PairedP]]:
    """Tables 4-5 as the paper prints them: rows and columns by mean descending, the cell (row,
    column) holding p of the paired one-tailed t-test row > column only where the row's mean is
    higher than the column's (else —). Returns the table's rows and the tests behind its cells."""
    members = sorted(members, key=lambda variant: -variant.point.mean)
    seeds = max((variant.point.n for variant in members), default=0)
    rows, tests = [["row > column", *(labels[variant.arm] for variant in members)]], []
    for row in members:
        line = [labels[row.arm]]
        for column in members:
            if row.point.mean > column.point.mean:
                found = paired_p(task, metric, setting, cells, row.arm, column.arm)
                tests.append(found)
                line.append(p_cell(found.test, seeds, strike))
            else:
                line.append("—")
        rows.append(line)
    return rows, tests


# ---------------------------------------------------------------------------------------------
# Figure data


def mean_curve(runs: list[Run], key: str) -> tuple[tuple, tuple]:
    """Steps logged by every run, and the mean of `key` at each (training entries of log_history)."""
    logged = [{entry["step"]: entry[key] for entry in run.log_history if key in entry and "step" in entry} for run in runs]
    if not logged or not all(logged):
        return (), ()
    steps = sorted(set.intersection(*(set(series) for series in logged)))
    return tuple(steps), tuple(sum(series[step] for series in logged) / len(logged) for step in steps)


def _series(label: str, points: dict[float, stats.Summary], index: int) -> figures.Series:
    xs = sorted(x for x, point in points.items() if point.n)
    return figures.Series(
        label,
        tuple(xs),
        tuple(points[x].mean for x in xs),
        tuple(points[x].std for x in xs),
        tuple(points[x].n for x in xs),
        _colour(index),
    )


def _reference(label: str, point: stats.Summary, colour: str | None) -> figures.Reference:
    return figures.Reference(label, point.mean, point.std, point.n, colour)


def _colour(index: int) -> str:
    """Matplotlib's cycle by position, so a reference line can take the colour of the line it serves."""
    return f"C{index % 10}"


@dataclass(frozen=True)
class EfficiencyLine:
    """One method in one setting across data fractions, against full-data baseline (`reference`)."""

    arm: str
    rest: Setting
    points: dict  # fraction -> Summary
    reference: stats.Summary | None
    matches_down_to: float | None


def rest_of(setting: Setting) -> Setting:
    """A setting without its data fraction: what a Figure 1b line keeps fixed."""
    return tuple(item for item in setting if item[0] != FRACTION)


def efficiency_lines(key: str, design: Design, cells: dict) -> list[EfficiencyLine]:
    """Figure 1b's lines. The reference is the baseline at the largest fraction of the sweep (the
    full data) in the same rest of the setting; `matches_down_to` is the smallest fraction f such
    that at f and at every larger fraction the mean reaches the reference mean (mean >= it)."""
    grouped = defaultdict(dict)
    for (arm, setting), runs in cells.items():
        parts = dict(setting)
        if FRACTION in parts:
            grouped[(arm, rest_of(setting))][float(parts[FRACTION])] = summary(runs, key)
    full = max((fraction for points in grouped.values() for fraction in points), default=None)
    lines = []
    for (arm, rest), points in grouped.items():
        reference = grouped.get((design.baseline, rest), {}).get(full)
        reference = reference if reference is not None and reference.n else None
        lines.append(EfficiencyLine(arm, rest, points, reference, _matches_down_to(points, reference)))
    return lines


def _matches_down_to(points: dict, reference: stats.Summary | None) -> float | None:
    reached = None
    for fraction in sorted(points, reverse=True):
        if reference is None or points[fraction].mean is None or points[fraction].mean < reference.mean:
            break
        reached = fraction
    return reached


def lambda_panel(design: Design, cells: dict, key: str) -> tuple[list, list]:
    """Series of `key` against lambda, one per (method, setting) run at >= 2 nonzero lambdas, and
    each setting's lambda = 0 runs as references; at the largest data fraction only, as the
    paper's Figures 4b and 7 (full data), so a data-efficiency grid does not draw a line per fraction."""
    by_line, zero = defaultdict(dict), {}
    largest = largest_fraction(cells)
    for (arm, setting), runs in cells.items():
        if dict(setting).get(FRACTION, largest) != largest:
            continue
        lambdas = {run.stp_lambda for run in runs}
        if len(lambdas) != 1 or None in lambdas:
            continue
        (stp_lambda,) = lambdas
        point = summary(runs, key)
        if not point.n:
            continue
        if stp_lambda == 0.0:
            zero[(arm, setting)] = point
        else:
            by_line[(runs[0].method, setting)][stp_lambda] = point
    lines = {line: points for line, points in by_line.items() if len(points) >= 2}
    settings = {setting for _, setting in lines}
    several = len(settings) > 1  # one fraction here: lines differ in the rest of their setting
    series = [
        _series(_line_label(method, rest_of(setting), design, several), points, index)
        for index, ((method, setting), points) in enumerate(lines.items())
    ]
    # with several settings, each lambda = 0 line takes the colour of the first series of its setting
    colours = {setting: _colour(index) for index, (_, setting) in reversed(list(enumerate(lines)))} if several else {}
    references = [
        _reference(_line_label(f"{arm}, λ=0", rest_of(setting), design, several), point, colours.get(setting))
        for (arm, setting), point in zero.items()
        if setting in settings
    ]
    return series, references


def largest_fraction(cells: dict) -> float | None:
    """The full data of the grid: its largest train_fraction (None when no run records one)."""
    return max((dict(setting)[FRACTION] for _, setting in cells if FRACTION in dict(setting)), default=None)


def _line_label(name: str, setting: Setting, design: Design, with_setting: bool) -> str:
    return f"{name}, {design.setting_label(setting)}" if with_setting else name


def suffix_classes(runs: list[Run], task: str) -> list[str]:
    """Answer-suffix classes of Table 1 with examples in some run (`.*`, `.*.*`, `other`)."""
    prefix = task_key(task, "suffix[")
    found = {}
    for run in runs:
        for key, count in run.metrics.items():
            if key.startswith(prefix) and key.endswith("]/count") and count:
                found[key[len(prefix) : -len("]/count")]] = True
    return sorted(found, key=lambda name: (name == "other", len(name)))


def spectra_of(runs: list[Run], task: str) -> tuple[tuple, tuple, int] | None:
    """(raw, normalized, n): mean singular values over the n finished runs with an SVD analysis,
    index by index, cut to the shortest spectrum."""
    found = [run.evals[task]["analyses"]["svd"] for run in finished(runs) if "svd" in run.evals.get(task, {}).get("analyses", {})]
    if not found:
        return None
    means = []
    for name in ("raw", "normalized"):
        length = min(len(svd[name]) for svd in found)
        means.append(tuple(sum(svd[name][i] for svd in found) / len(found) for i in range(length)))
    return means[0], means[1], len(found)


# ---------------------------------------------------------------------------------------------
# Formatting


def fmt(number: float | None, digits: int = 3) -> str:
    return "n/a" if number is None else f"{number:.{digits}f}"


def signed(number: float | None, digits: int = 3) -> str:
    return "n/a" if number is None else f"{number:+.{digits}f}"


def format_p(p: float | None) -> str:
    """Three significant digits, as the paper prints them (0.0534, 1.14e-03)."""
    if p is None:
        return "n/a"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3g}"


def mean_std(point: stats.Summary, digits: int = 3, n_of_row: int | None = None) -> str:
    """`0.412 ± 0.031`, with `(n=2)` when this number rests on fewer runs than its row's n."""
    if not point.n:
        return "n/a"
    text = f"{point.mean:.{digits}f} ± {fmt(point.std, digits)}"
    return text if point.n == n_of_row else f"{text} (n={point.n})"


def table(rows: list[list[str]]) -> list[str]:
    """A Markdown table from a header row and body rows; cells have `|` escaped."""
    cells = [[str(cell).replace("|", "\\|").replace("\n", " ") for cell in row] for row in rows]
    return ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(cells[0]), *("| " + " | ".join(row) + " |" for row in cells[1:])]


def distinct(values, unit: str = "run") -> str:
    """`x` when all agree, else each value with how many carry it: disagreements stay visible."""
    counts = defaultdict(int)
    for item in values:
        counts[item] += 1
    if len(counts) == 1:
        return str(next(iter(counts)))
    return "; ".join(f"{item} ({count} {unit}{'s' * (count != 1)})" for item, count in counts.items())


def _model_name(name) -> str:
    return EMBEDDED_MODEL if name in (None, "") else str(name)


# ---------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class Report:
    """What `write_report` wrote, and the headline table `stp report` prints."""

    path: Path  # report.md
    figures: tuple  # PNG paths
    headline: str  # the headline table, as printed by `stp report`
    markdown: str


def write_report(root: str | Path, out: str | Path | None = None, baseline: str | None = None, metric: str | None = None) -> Report:
    """Read the runs under `root` and write report.md and its figures into `out` (default: `root`)."""
    root = Path(root)
    out = Path(out) if out is not None else root
    runs = read_runs(root)
    readable = [run for run in runs if run.status != UNREADABLE]
    design = design_of(readable, baseline or DEFAULT_BASELINE, explicit=baseline is not None)
    cells = cells_of(readable, design)
    done = finished(readable)
    tasks = tasks_of(done)
    metrics = {task: headline_metric(done, task, metric) for task in tasks}
    if metric and not tasks:
        raise ReportError(f"--metric {metric}: no finished run scored a task")
    out.mkdir(parents=True, exist_ok=True)
    options = [f"--{name} {shlex.quote(value)}" for name, value in (("baseline", baseline), ("metric", metric)) if value]
    command = " ".join(["stp report", shlex.quote(str(root)), *([f"--out {shlex.quote(str(out))}"] if out != root else []), *options])
    builder = _Builder(root, out, runs, design, cells, metrics, command)
    markdown = builder.build()
    path = out / REPORT_FILE
    path.write_text(markdown, encoding="utf-8")
    remove_stale_figures(out, builder.figures)
    return Report(path, tuple(builder.figures), "\n".join(builder.headline), markdown)


def remove_stale_figures(out: Path, written: list[Path]) -> list[Path]:
    """Figures an earlier report left in `out` that this one did not draw (a sweep that no longer
    varies lambda, say): left there, they would sit beside a report.md that no longer shows them."""
    stale = [path for pattern in FIGURE_PATTERNS for path in out.glob(pattern) if path not in written]
    for path in stale:
        path.unlink()
    return stale


class _Builder:
    """Assembles report.md section by section; figures are written as their sections are made."""

    def __init__(self, root: Path, out: Path, runs: list[Run], design: Design, cells: dict, metrics: dict[str, str], command: str):
        self.root, self.out, self.runs, self.design, self.cells, self.metrics = root, out, runs, design, cells, metrics
        self.command = command
        self.done = finished(runs)
        self.figures: list[Path] = []
        self.headline: list[str] = []
        self.comparisons = {task: comparisons_of(task, metric, design, cells) for task, metric in metrics.items()}

    def build(self) -> str:
        name = next((run.point["sweep"] for run in self.runs if run.point.get("sweep")), self.root.resolve().name)
        lines = [
            f"# Sweep report: {name}",
            "",
            *self.overview(),
            *self.headline_section(),
            *self.provenance(),
            *self.coverage(),
            *self.not_counted(),
        ]
        for task, metric in self.metrics.items():
            lines += self.task_section(task, metric)
        lines += self.training_section()
        lines += self.figure_sections()
        lines += self.limits()
        return "\n".join(lines).rstrip() + "\n"

    # -- overview, provenance, coverage -----------------------------------------------------

    def overview(self) -> list[str]:
        counts = defaultdict(int)
        for run in self.runs:
            counts[run.status] += 1
        states = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
        return [
            f"`{self.command}` read {_plural(len(self.runs), 'run folder')} ({states}) from their files "
            f"(metrics.json, stp_config.yaml, trainer_state.json, sweep_point.json, eval/*/eval.json and predictions.jsonl; never logs). "
            "Every mean is over the finished runs of one configuration (its coordinates except the seed), with the "
            "sample standard deviation (n - 1) and the number of seeds n; runs that did not finish are listed under "
            "*Runs not counted*, never averaged in.",
            "",
        ]

    def headline_section(self) -> list[str]:
        if not self.metrics:
            return ["No finished run scored a task (set `eval_task`), so there are no accuracies to compare.", ""]
        lines = ["## Headline", ""]
        for task, metric in self.metrics.items():
            tested = self.design.baseline is not None
            rows = [["configuration", "n", f"{task} `{metric}` mean ± std"]]
            rows[0] += [f"vs `{self.design.baseline}` (paired mean diff)", "p (one-tailed)", "pairs"] if tested else []
            against = {(c.better, c.setting): c for c in self.comparisons[task] if c.against_baseline}
            for (arm, setting), runs in self.cells.items():
                point = summary(runs, task_key(task, metric))
                if not point.n:
                    continue
                found = against.get((arm, setting))
                test = [signed(found.test.mean_difference), format_p(found.test.p_value), str(found.test.n)] if found else ["—"] * 3
                rows.append([self.design.label(arm, setting), str(point.n), mean_std(point, n_of_row=point.n), *(test if tested else [])])
            block = [
                f"Task `{task}`, metric `{metric}` (a rate in [0, 1]); p: paired one-tailed t-test of the method > "
                f"`{self.design.baseline}` over seeds.",
                "",
                *table(rows),
            ]
            if self.design.baseline is None:
                block[0] = f"Task `{task}`, metric `{metric}`; no baseline method in these runs, so no tests against it."
            self.headline += block + [""]
            lines += block + [""]
        return lines

    def provenance(self) -> list[str]:
        points = [run.point for run in self.runs if run.point]
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
        copy = sweep_file_hash(self.root)
        if copy:
            recorded = {point.get("sweep_sha256") for point in points}
            verdict = "matches" if recorded == {copy} else "does NOT match"
            lines.append(f"- `{SWEEP_FILE}` in the sweep folder: sha256 `{copy}`, {verdict} the hash the points recorded")
        example = next((point["command"] for point in points if point.get("command")), None)
        if example:
            shown = " ".join(map(str, example)) if isinstance(example, list) else str(example)
            lines.append(f"- command of one point: `{shown}`")
        return lines + [""]

    def coverage(self) -> list[str]:
        seeds = sorted({run.seed for run in self.done}, key=seed_order)
        lines = ["## What was run", "", f"- seeds (finished runs): {', '.join(map(str, seeds)) or 'none'}"]
        lines.append(
            f"- configurations: {len(self.cells)} ({', '.join(f'`{self.design.label(arm, setting)}`' for arm, setting in self.cells)})"
        )
        lines.append(f"- methods: {', '.join(f'`{arm}`' for arm in self.design.arms)}; baseline: `{self.design.baseline or 'none'}`")
        constant = {key: item for key, item in self.design.constant.items() if key not in RUN_FACTS}  # those are listed below
        if constant:
            lines.append(f"- the same in every run: {', '.join(f'{key}={show(key, item)}' for key, item in constant.items())}")
        for key in RUN_FACTS:
            found = [run.config.get(key) for run in self.done if key in run.config]
            if found:
                shown = [_model_name(item) if key == "model_name_or_path" else item for item in found]
                lines.append(f"- {key}: {distinct(shown)}")
        steps = [run.global_step for run in self.done if run.global_step is not None]
        if steps:
            lines.append(f"- optimizer steps trained: {distinct(steps)}")
        examples = [int(run.metrics["train_examples"]) for run in self.done if "train_examples" in run.metrics]
        if examples:
            lines.append(f"- training examples: {distinct(examples)}")
        return lines + [""]

    def not_counted(self) -> list[str]:
        lines = ["## Runs not counted", ""]
        others = [run for run in self.runs if run.status != FINISHED]
        if not others:
            lines.append("None: every run folder found has finished.")
        else:
            rows = [["point", "status", "method", "seed", "detail"]]
            rows += [
                [run.point_id, run.status, run.coordinates.get("method", "?"), str(run.seed), (run.problem or "").strip()] for run in others
            ]
            lines += table(rows)
        lines.append("")
        lines.append(
            "Grid points that were never started have no folder and do not appear here; `stp sweep --dry-run` lists the whole grid."
        )
        return lines + [""]

    # -- per task ---------------------------------------------------------------------------

    def task_section(self, task: str, metric: str) -> list[str]:
        lines = [f"## Task `{task}`", ""]
        rates, others = rates_of(self.done, task), other_metrics_of(self.done, task)
        whole = [rate for rate in rates if "/" not in rate]
        rows = [["configuration", "n", *(f"`{rate}`" for rate in whole), "test examples"]]
        for (arm, setting), runs in self.cells.items():
            n = len(finished(runs))
            if n and any(task_key(task, "count") in run.metrics for run in finished(runs)):
                rows.append(
                    [
                        self.design.label(arm, setting),
                        str(n),
                        *(mean_std(summary(runs, task_key(task, rate)), n_of_row=n) for rate in whole),
                        distinct([_count(run, task_key(task, "count")) for run in finished(runs)], "run"),
                    ]
                )
        lines += [
            "Mean ± std over seeds (n = finished seeds of the configuration; a cell on fewer runs says its own n).",
            "",
            *table(rows),
            "",
        ]
        lines += self.every_metric(task, [rate for rate in rates if "/" in rate] + others, set(rates))
        lines += self.comparison_tables(task, metric)
        lines += self.prompt_changes_section(task, metric)
        lines += self.families_section(task, metric)
        lines += self.table1(task, metric)
        return lines

    def every_metric(self, task: str, names: list[str], rates: set[str]) -> list[str]:
        configurations = [(arm, setting, runs) for (arm, setting), runs in self.cells.items() if finished(runs)]
        if not names or not configurations:
            return []
        rows = [["metric", *(f"{self.design.label(arm, setting)} (n={len(finished(runs))})" for arm, setting, runs in configurations)]]
        for name in names:
            digits = 3 if name in rates else 1  # rates in [0, 1]; counts of examples
            rows.append(
                [
                    f"`{name}`",
                    *(mean_std(summary(runs, task_key(task, name)), digits, n_of_row=len(finished(runs))) for _, _, runs in configurations),
                ]
            )
        return [
            f"<details><summary>Every other metric of {task} (subsets and counts), mean ± std</summary>",
            "",
            *table(rows),
            "",
            "</details>",
            "",
        ]

    def comparison_tables(self, task: str, metric: str) -> list[str]:
        found = self.comparisons[task]
        lines = [f"### Paired comparisons on `{metric}`", ""]
        if not found:
            return lines + ["Only one method in every setting: nothing to compare.", ""]
        lines += [
            f'One-tailed paired t-tests (`scipy.stats.ttest_rel(a, b, alternative="greater")`), runs paired by seed within a setting '
            f"(same data fraction and every other coordinate). A method is tested against `{self.design.baseline}` as method > "
            f"`{self.design.baseline}`; two other methods in the direction of the higher mean, as in the paper's Tables 4-5 "
            "(chosen after seeing the data: double those p-values for a two-sided reading). p is n/a when fewer than 2 seeds pair up.",
            "",
        ]
        rows = [["setting", "test", "pairs", "mean (a)", "mean (b)", "mean diff ± sd", "t", "p", "5%", "left out"]]
        for c in found:
            rows.append(
                [
                    self.design.setting_label(c.setting),
                    f"`{c.better}` > `{c.worse}`",
                    str(c.test.n),
                    fmt(_mean([pair[1] for pair in c.pairs])),
                    fmt(_mean([pair[2] for pair in c.pairs])),
                    f"{signed(c.test.mean_difference)} ± {fmt(c.test.sd_difference)}",
                    fmt(c.test.statistic, 2),
                    format_p(c.test.p_value) if c.test.p_value is not None else f"n/a: {c.test.reason}",
                    "yes" if c.significant else "no",
                    "; ".join(c.left_out) or "none",
                ]
            )
        lines += table(rows) + [""]
        lines += [
            "What each comparison could detect (80% power, 5% one-tailed): from the seed spread, the exact power of the paired "
            "t-test (noncentral t, `scipy.stats.nct`) at the observed sd of the paired differences; from the test set, "
            "(z_0.95 + z_0.80) · sqrt(2 p (1 - p) / N) for two accuracies near the pairs' mean p on N test examples (every seed "
            "is scored on the same examples, so this part does not shrink with seeds); combined: the root of the sum of squares "
            f"(independent errors). Seeds for +{stats.GAIN:g}: the fewest paired seeds detecting a {stats.GAIN * 100:g}-point gain at "
            "the observed spread.",
            "",
            "How to read them: the t-test holds the test set fixed, so its p-value is about training randomness on *these* test "
            "examples; the test-set part is how far an accuracy on N examples may sit from the task's accuracy on all its inputs "
            "(conservative: two methods scored on the same examples err together, which this bound ignores). A significant "
            "difference below the test-set part is real for this test set but may not carry over to the task; a non-significant "
            "one below the combined value is no evidence either way.",
            "",
        ]
        rows = [["setting", "test", "pairs", "sd of diffs", "from seeds", "from test set (N)", "combined", f"seeds for +{stats.GAIN:g}"]]
        for c in found:
            d = c.detect
            gain = str(d.seeds_for_gain) if d.seeds_for_gain else (f"> {stats.MAX_SEEDS}" if d.seeds else "n/a")
            rows.append(
                [
                    self.design.setting_label(c.setting),
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
        for setting in dict.fromkeys(c.setting for c in found):
            if sum((arm, setting) in self.cells for arm in self.design.arms) >= 3:
                lines += [
                    f"p-values between all methods, {self.design.setting_label(setting)} (Tables 4-5: a cell only where the row's "
                    "paired mean is higher; n = pairs):",
                    "",
                ]
                lines += table(p_matrix(task, metric, setting, self.design, self.cells)) + [""]
        return lines

    def prompt_changes_section(self, task: str, metric: str) -> list[str]:
        rows = [["setting", "method", "seeds", "predictions changed, per seed", f"`{metric}` gained", "lost", "net"]]
        for arm, setting, changes in prompt_changes_of(task, metric, self.design, self.cells):
            rows.append(
                [
                    self.design.setting_label(setting),
                    f"`{arm}`",
                    str(len(changes)),
                    ", ".join(f"{seed}: {c.changed} of {c.prompts}" for seed, c in changes),
                    str(sum(c.gained for _, c in changes)),
                    str(sum(c.lost for _, c in changes)),
                    signed(sum(c.gained - c.lost for _, c in changes), 0),
                ]
            )
        if len(rows) == 1:
            return []
        return [
            f"### Per-prompt changes against `{self.design.baseline}` on `{metric}`",
            "",
            f"Each run against the `{self.design.baseline}` run of its seed, prompt by prompt (eval/{task}/predictions.jsonl): "
            f"how many predictions differ, and how many prompts turned from wrong to right on `{metric}` (gained) or from right "
            "to wrong (lost), summed over the seeds; net = gained - lost is the difference in hits. A method that changes few "
            "predictions cannot move the score much, and gains with losses show whether a small difference is a few gains or "
            "many changes that cancel. Descriptive counts: the seeds share the prompts, so they get no p-value here.",
            "",
            *table(rows),
            "",
        ]

    def families_section(self, task: str, metric: str) -> list[str]:
        """Appendix L's layout, in each setting whose runs span families (`has_families`): every
        variant against the baseline, Table 4 (families by their best variants), Table 5 (options within a family)."""
        blocks = []
        for setting in dict.fromkeys(setting for _, setting in self.cells):
            variants = family_variants(task, metric, setting, self.cells)
            if has_families(variants):
                blocks += self.families_block(task, metric, setting, variants)
        if not blocks:
            return []
        return [
            "### Families and options (Tables 4-5)",
            "",
            "A run's family is the `method` its stp_config.yaml records (`ntp` for method ntp or lambda 0; for runs older than that "
            "field, lambda 0 is `ntp` and any other lambda `stp`); a variant is a configuration of that family, named as above. "
            f'All tests on `{metric}`: paired by seed, one-tailed t-tests (`scipy.stats.ttest_rel`, `alternative="greater"`); '
            "in Tables 4 and 5, as in the paper's, a cell (row, column) holds p of row > column only where the row's mean is higher, "
            "else —; rows and columns by mean, highest first; a cell says its own n where fewer seeds paired up, `n<2` below two pairs.",
            "",
            *blocks,
        ]

    def families_block(self, task: str, metric: str, setting: Setting, variants: list[Variant]) -> list[str]:
        lines = [f"#### {self.design.setting_label(setting)}", ""] if self.design.varying else []
        best = best_variants(variants)
        order = {family: index for index, family in enumerate(best)}
        members = defaultdict(list)
        for variant in sorted(variants, key=lambda variant: order[variant.family]):  # stable: by mean within a family
            members[variant.family].append(variant)
        seeds = max(variant.point.n for variant in variants)
        baseline = self.design.baseline
        against = {c.better: c for c in self.comparisons[task] if c.against_baseline and c.setting == setting}
        rows = [
            [
                "family",
                "variant",
                "n",
                f"`{metric}` mean ± std",
                *([f"vs `{baseline}` (paired mean diff)", "p (one-tailed)", "pairs"] if baseline else []),
            ]
        ]
        for family, group in members.items():
            for variant in group:
                mark = " (best)" if len(group) > 1 and variant is best[family] else ""
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
            f"its paired test against `{baseline}` (the comparison above); uncorrected, with {_plural(seeds, 'seed')} a p-value says "
            f"little on its own, and a large one is no evidence that a variant equals `{baseline}`."
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
        families = [family for family in best if family != NTP_FAMILY]
        if len(families) >= 2:
            chosen = [best[family] for family in families]
            labels = {variant.arm: f"{variant.family}: `{variant.arm}`" for variant in chosen}
            matrix, tests = family_matrix(task, metric, setting, self.cells, chosen, labels, strike=False)
            named = ", ".join(f"{variant.family}: `{variant.arm}` ({fmt(variant.point.mean)})" for variant in chosen)
            skipped = f" (`{NTP_FAMILY}`, plain fine-tuning, is left out, as in the paper)" if NTP_FAMILY in best else ""
            lines += [
                f"Table 4: p-values between families, each by its best variant{skipped}. Best variants: {named}.",
                "",
                *table(matrix),
                "",
                *self.left_out_note(tests),
                "Each family stands in by the variant with the highest mean on this same test data, so these p-values are optimistic "
                f"(the choice is not accounted for), and with {_plural(seeds, 'seed')} they say little; — means the row's mean is not "
                "higher, not that the two are equal.",
                "",
            ]
        else:
            lines += [
                f"Table 4 needs two families besides `{NTP_FAMILY}`; here: {', '.join(f'`{family}`' for family in families) or 'none'}.",
                "",
            ]
        for family, group in members.items():
            if len(group) < 2:
                continue
            labels = {variant.arm: f"`{variant.arm}`" for variant in group}
            matrix, tests = family_matrix(task, metric, setting, self.cells, group, labels, strike=True)
            lines += [
                f"Table 5, `{family}`: p-values between its {len(group)} variants (struck through: p > 0.05).",
                "",
                *table(matrix),
                "",
                *self.left_out_note(tests),
                f"Options of one family, paired by seed; a struck-through p is no evidence either way (not evidence the options are "
                f"equal), and with {_plural(seeds, 'seed')} only large differences can show.",
                "",
            ]
        return lines

    @staticmethod
    def left_out_note(tests: list[PairedP]) -> list[str]:
        notes = [f"`{found.row}` > `{found.column}`: {'; '.join(found.left_out)}" for found in tests if found.left_out]
        return [f"Seeds left out of the pairs: {' | '.join(notes)}.", ""] if notes else []

    def table1(self, task: str, metric: str) -> list[str]:
        classes = suffix_classes(self.done, task)
        if not classes:
            return []
        rows = [
            ["configuration", "n", *(f"`{name}`: `{metric}` (examples)" for name in classes), *(f"predicted `{name}`" for name in classes)]
        ]
        for (arm, setting), runs in self.cells.items():
            done = finished(runs)
            if not done:
                continue
            rates = [
                f"{mean_std(summary(runs, task_key(task, f'suffix[{name}]/{metric}')), n_of_row=len(done))} "
                f"({distinct([_count(run, task_key(task, f'suffix[{name}]/count')) for run in done])})"
                for name in classes
            ]
            predicted = [mean_std(summary(runs, task_key(task, f"suffix[{name}]/predicted")), 1, n_of_row=len(done)) for name in classes]
            rows.append([self.design.label(arm, setting), str(len(done)), *rates, *predicted])
        return [
            f"### Table 1: `{metric}` by answer suffix",
            "",
            "Accuracy on test references ending in each suffix (each answer counted under the longest suffix it ends with), "
            "and how many predictions end in it (a model that collapsed onto one form predicts only that one).",
            "",
            *table(rows),
            "",
        ]

    def training_section(self) -> list[str]:
        keys = [key for key in TRAINING_KEYS if any(key in run.metrics for run in self.done)]
        if not keys:
            return []
        rows = [["configuration", "n", *keys]]
        for (arm, setting), runs in self.cells.items():
            n = len(finished(runs))
            if n:
                rows.append(
                    [
                        self.design.label(arm, setting),
                        str(n),
                        *(mean_std(summary(runs, key), 1 if key in ("train_examples", "train_runtime") else 4, n_of_row=n) for key in keys),
                    ]
                )
        note = "final_*: the last logged training value; eval_*: the held-out loss at the end; train_runtime in seconds."
        return ["## Training", "", note, "", *table(rows), ""]

    # -- figures ----------------------------------------------------------------------------

    def figure_sections(self) -> list[str]:
        return [*self.figure_1b(), *self.figure_4a(), *self.figure_lambda(), *self.figure_6()]

    def _figure(self, path: Path, caption: str) -> list[str]:
        self.figures.append(path)
        return [f"![{caption}]({path.relative_to(self.out).as_posix()})", ""]

    def figure_1b(self) -> list[str]:
        if FRACTION not in self.design.varying or not self.metrics:
            return []
        panels, rows = {}, [["method", "full-data reference", "matches it down to fraction", "means by fraction (n)"]]
        several = len({rest_of(setting) for _, setting in self.cells}) > 1
        for task, metric in self.metrics.items():
            lines = efficiency_lines(task_key(task, metric), self.design, self.cells)
            series = [
                _series(_line_label(line.arm, line.rest, self.design, several), line.points, index) for index, line in enumerate(lines)
            ]
            references = [  # the baseline's own colour when several settings each have one
                _reference(
                    _line_label(f"full-data {line.arm}", line.rest, self.design, several),
                    line.reference,
                    _colour(index) if several else None,
                )
                for index, line in enumerate(lines)
                if line.arm == self.design.baseline and line.reference
            ]
            panels[f"{task}: {metric}"] = (series, references)
            for line in lines:
                reach = (
                    "n/a (no full-data baseline)"
                    if line.reference is None
                    else (show(FRACTION, line.matches_down_to) if line.matches_down_to else "never")
                )
                means = ", ".join(
                    f"{show(FRACTION, f)}: {fmt(p.mean)} (n={p.n})" for f, p in sorted(line.points.items(), reverse=True) if p.n
                )
                ref = f"{fmt(line.reference.mean)} ± {fmt(line.reference.std)} (n={line.reference.n})" if line.reference else "n/a"
                rows.append([f"{task}: " + _line_label(f"`{line.arm}`", line.rest, self.design, several), ref, reach, means])
        path = figures.plot_data_efficiency(panels, self.out / FIG_1B, "accuracy (mean ± std over seeds)")
        return [
            "## Data efficiency (Figure 1b)",
            "",
            *self._figure(path, "Figure 1b: accuracy against data fraction"),
            "*Matches* means: the mean at that fraction, and at every larger fraction, is at least the mean of "
            f"`{self.design.baseline}` on the full "
            "data (the dashed line, with its ± std band). It compares means only; the paired tests above say which differences are "
            "significant.",
            "",
            *table(rows),
            "",
        ]

    def figure_4a(self) -> list[str]:
        largest = largest_fraction(self.cells)
        curves, unlogged, other_loss, trained_forms = [], [], [], []
        for (arm, setting), runs in self.cells.items():
            done = finished(runs)
            if not done or (largest is not None and dict(setting).get(FRACTION) != largest):
                continue
            steps, ntp = mean_curve(done, "ntp_loss")
            stp_steps, stp = mean_curve(done, "stp_loss")
            if not steps:
                continue
            label, family = self.design.label(arm, setting), family_of_runs(done)
            if not stp:
                (unlogged if family == "ntp" else other_loss).append(label)
            elif family != "ntp":
                trained_forms.append(label)
            curves.append(figures.Curve(label, steps, ntp, stp if stp_steps == steps else (), len(done)))
        if not curves:
            return []
        path = figures.plot_loss_curves(curves, self.out / FIG_4A)
        where = f" at train_fraction={show(FRACTION, largest)}" if largest is not None and FRACTION in self.design.varying else ""
        note = f" STP was not logged for {_quoted(unlogged)} (lambda 0 without `stp_log_when_off`)." if unlogged else ""
        if other_loss:
            note += f" For {_quoted(other_loss)} the method's own loss is logged under another name (mask_loss, curvature_loss or jepa_loss), not `stp_loss`."
        if len(trained_forms) > 1:
            note += (
                f" The STP panel draws each run's logged `stp_loss`, which is the form its method trains ({_quoted(trained_forms)}:"
                " `zero` fixes s at the start, `inst` adds the system prompt, `pred` applies the predictor, two-view draws s = 0"
                " and r at the query's end): lines of different configurations are different quantities, and only plain"
                " `stp` compares directly with `ntp` (the plain form, logged without gradient)."
            )
        return [
            "## Loss curves (Figure 4a)",
            "",
            *self._figure(path, "Figure 4a: NTP and STP loss curves"),
            f"Training losses{where}, mean over the seeds of each configuration at the steps all of them logged.{note}",
            "",
        ]

    def figure_lambda(self) -> list[str]:
        panels = {
            name: lambda_panel(self.design, self.cells, key)
            for name, key in (("final NTP loss", "final_ntp_loss"), ("final STP loss", "final_stp_loss"))
        }
        lines = []
        largest = largest_fraction(self.cells)
        where = (
            f"Runs at train_fraction={show(FRACTION, largest)} (the full data of this grid). " if FRACTION in self.design.varying else ""
        )
        if any(series for series, _ in panels.values()):
            path = figures.plot_versus_lambda(
                panels, self.out / FIG_4B, "final training loss (mean ± std)", "Losses against lambda (Figure 4b)"
            )
            lines += [
                "## Losses against lambda (Figure 4b)",
                "",
                *self._figure(path, "Figure 4b: final losses against lambda"),
                f"{where}Lambda = 0 (plain fine-tuning) cannot sit on a log axis: it is the dashed line.",
                "",
            ]
        accuracy = {
            f"{task}: {metric}": lambda_panel(self.design, self.cells, task_key(task, metric)) for task, metric in self.metrics.items()
        }
        if any(series for series, _ in accuracy.values()):
            path = figures.plot_versus_lambda(
                accuracy, self.out / FIG_7, "accuracy (mean ± std over seeds)", "Accuracy against lambda (Figure 7)"
            )
            lines += [
                "## Accuracy against lambda (Figure 7)",
                "",
                *self._figure(path, "Figure 7: accuracy against lambda"),
                f"{where}Lambda = 0 (plain fine-tuning) is the dashed line.",
                "",
            ]
        return lines

    def figure_6(self) -> list[str]:
        lines = []
        for task in sorted({task for run in self.done for task in run.evals}):
            spectra = []
            for (arm, setting), runs in self.cells.items():
                found = spectra_of(runs, task)
                if found:
                    spectra.append(figures.Spectrum(self.design.label(arm, setting), found[0], found[1], found[2]))
            if spectra:
                path = figures.plot_spectra(spectra, self.out / FIG_6.format(task=task))
                lines += [
                    f"## SVD spectra, {task} (Figure 6)",
                    "",
                    *self._figure(path, f"Figure 6: SVD of Enc(Text) - Enc(Code), {task}"),
                    "Singular values of Enc(Text) - Enc(Code) from `eval/<task>/eval.json` (analyses.svd), averaged index by index "
                    "over seeds.",
                    "",
                ]
        return lines

    # -- what the numbers show --------------------------------------------------------------

    def limits(self) -> list[str]:
        lines = ["## What these numbers show, and what they cannot", ""]
        seeds = sorted({run.seed for run in self.done}, key=seed_order)
        models = (
            distinct([_model_name(run.config.get("model_name_or_path")) for run in self.done if run.config])
            if any(run.config for run in self.done)
            else "not recorded"
        )
        steps = (
            distinct([run.global_step for run in self.done if run.global_step is not None])
            if any(run.global_step is not None for run in self.done)
            else "not recorded"
        )
        if not self.done:
            lines.append("- No run has finished: nothing in this report is measured yet.")
        else:
            lines.append(
                f"- Scope: {_plural(len(self.done), 'finished run')} of {models}, {steps} optimizer steps each, "
                f"{_plural(len(seeds), 'seed')} ({', '.join(map(str, seeds))})."
            )
        unfinished = [run for run in self.runs if run.status != FINISHED]
        if unfinished:
            lines.append(
                f"- {_plural(len(unfinished), 'run folder')} did not finish (listed above): those seeds are missing from the means of "
                "their configuration and from the pairs of the comparisons that needed them."
            )
        gaps = self.paper_gaps()
        if gaps:
            lines.append(f"- Not the paper's setting: {'; '.join(gaps)}. Whether STP helps here says little about whether it helps there.")
        total = sum(len(found) for found in self.comparisons.values())
        for task, found in self.comparisons.items():
            counts = sorted({c.detect.test_count for c in found if c.detect.test_count})
            if counts:
                lines.append(
                    f"- `{task}` is scored on {distinct(counts)} test examples, the same for every seed and method: test-set sampling "
                    "error does not average out over seeds, and the p-values below cover training randomness only."
                )
            lines += self.tally(task, found)
            for c in found:
                if c.against_baseline or len(found) <= 6:
                    lines.append(f"- {self.verdict(c)}")
        if total:
            lines.append(
                f"- {_plural(total, 'comparison')} at 5% each, uncorrected: if no method differed, about {0.05 * total:.1f} of them "
                f"would still come out significant by chance (Bonferroni threshold: p < {0.05 / total:.2g})."
            )
        return lines + [""]

    def tally(self, task: str, found: list[Comparison]) -> list[str]:
        """One line per task: how the comparisons against the baseline came out, by kind."""
        against = [c for c in found if c.against_baseline]
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
            f"- Overall on `{task}` `{self.metrics[task]}`, {_plural(len(against), 'comparison')} with `{self.design.baseline}` (5%, "
            f"one-tailed): {counts}."
        ]

    def verdict(self, c: Comparison) -> str:
        where = f" ({self.design.setting_label(c.setting)})" if self.design.varying else ""
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
            return (
                f"{head}: {numbers}: no evidence of a gain; the reverse test (`{c.worse}` > `{c.better}`) gives p = "
                f"{format_p(1 - c.test.p_value)}."
            )
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

    def paper_gaps(self) -> list[str]:
        """How these runs differ from the paper's setting, from their configs."""
        configs = [run.config for run in self.done if run.config]
        if not configs:
            return []
        gaps = []
        models = {_model_name(config.get("model_name_or_path")) for config in configs}
        if models != {PAPER["model"]}:
            gaps.append(f"model {', '.join(sorted(models))} (paper: {PAPER['model']})")
        seeds = len({run.seed for run in self.done})
        if seeds < PAPER["seeds"]:
            gaps.append(f"{_plural(seeds, 'seed')} (paper: {PAPER['seeds']})")
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


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _quoted(labels: list[str]) -> str:
    return ", ".join(f"`{label}`" for label in labels)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def _count(run: Run, key: str) -> str:
    found = run.metrics.get(key)
    return "n/a" if found is None else str(int(found))
