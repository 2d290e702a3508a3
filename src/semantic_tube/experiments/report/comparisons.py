"""The comparisons of a report: paired tests with what they could detect, Tables 4-5, families, per-prompt changes.

Two methods are compared within one setting, their runs paired by seed (`pair_by_seed`): the
paper's paired one-tailed t-test (Sec. 4, Tables 4-5). Tables 4-5 follow one rule, written once
in `p_table`: the cell (row, column) holds p of the paired test row > column where the row's
mean over the paired seeds is higher than the column's (the paired mean difference is > 0),
else nothing. Where every seed finished this is the paper's "the row's mean accuracy exceeds the
column's"; where a seed failed, the pairs decide, as they decide the test itself.

A run's family is what it trained (`Run.family`, from its files); its methods are the family's
variants. Where a setting's runs span two families besides ntp, or a family has two variants of
different names (`stp`, `stp+zero`), the task gains Appendix L's layout (`FamilyLayout`): every
variant, Table 4 (p-values between the families' best variants) and Table 5 (between the
variants of each family).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass

from semantic_tube.experiments import stats
from semantic_tube.experiments.prompt_changes import PromptChanges, run_prompt_changes
from semantic_tube.experiments.report.design import (
    NTP_FAMILY,
    Design,
    Setting,
    family_of_runs,
    finished,
    finished_by_seed,
    is_finished,
    runs_by_seed,
    seed_order,
    settings_of,
)
from semantic_tube.experiments.report.keys import count_key, summary, task_key, value
from semantic_tube.experiments.runs import Run

# ---------------------------------------------------------------------------------------------
# Pairs by seed


def seed_values(runs: list[Run], key: str) -> tuple[dict, dict]:
    """{seed: value} of the usable runs, and {seed: why not} for the others."""
    values, why = {}, {}
    for seed, group in runs_by_seed(runs).items():
        if len(group) > 1:
            why[seed] = f"{len(group)} runs share this seed ({', '.join(run.point_id for run in group)})"
        elif not is_finished(group[0]):
            why[seed] = str(getattr(group[0].status, "value", group[0].status))
        elif value(group[0], key) is None:
            why[seed] = f"{key} is null"
        else:
            values[seed] = value(group[0], key)
    return values, why


def pair_by_seed(first: list[Run], second: list[Run], key: str, names: tuple[str, str]) -> tuple[list, list]:
    """(seed, first value, second value) for the seeds both sides finished, in seed order, and
    each other seed with what was missing on which side."""
    return pair_values(seed_values(first, key), seed_values(second, key), names)


def pair_values(first: tuple[dict, dict], second: tuple[dict, dict], names: tuple[str, str]) -> tuple[list, list]:
    """`pair_by_seed` on ({seed: value}, {seed: why not}) of each side, however the values were read."""
    (a, why_a), (b, why_b) = first, second
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


def higher(test: stats.PairedTest, pairs: list) -> bool:
    """Whether the first side's mean over the pairs is higher (the paired mean difference > 0),
    a difference of rounding (0.27 - 0.265 against 0.265 - 0.27) counting as none."""
    if not pairs or test.mean_difference is None:
        return False
    scale = max(abs(x) for pair in pairs for x in pair[1:]) or 1.0
    return test.mean_difference > stats.SPREAD_TOLERANCE * scale


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

    @property
    def means(self) -> tuple[float | None, float | None]:
        """The two sides' means over the paired seeds."""
        if not self.pairs:
            return None, None
        return tuple(sum(pair[side] for pair in self.pairs) / len(self.pairs) for side in (1, 2))


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
    for setting in settings_of(cells):
        arms = [arm for arm in design.arms if (arm, setting) in cells]
        for first, second in itertools.combinations(arms, 2):
            if first == design.baseline:
                found.append(compare(task, metric, setting, cells, second, first, True))
                continue
            trial = compare(task, metric, setting, cells, first, second, False)
            lower = trial.test.mean_difference is not None and trial.test.mean_difference < 0
            found.append(compare(task, metric, setting, cells, second, first, False) if lower else trial)
    return found


# ---------------------------------------------------------------------------------------------
# Tables 4-5: one rule


@dataclass(frozen=True)
class PairedP:
    """One cell of Tables 4-5: the paired one-tailed test row > column and the seeds it left out."""

    row: str
    column: str
    test: stats.PairedTest
    left_out: tuple
    filled: bool  # the rule: the row's mean over the paired seeds is higher (no pairs: undecided, shown as such)


@dataclass(frozen=True)
class PTable:
    """Tables 4-5 (and the matrix of every method): `members` in display order as rows and
    columns; `cells[(row, column)]` the paired test row > column, for every ordered pair;
    `seeds` the most finished seeds of any member (a cell on fewer pairs says its own n)."""

    members: tuple
    cells: dict
    seeds: int

    def cell(self, row: str, column: str) -> PairedP | None:
        return self.cells.get((row, column))

    @property
    def filled(self) -> list[PairedP]:
        """The cells the rule fills, row by row."""
        return [
            self.cells[(row, column)]
            for row in self.members
            for column in self.members
            if row != column and self.cells[(row, column)].filled
        ]


def paired_p(task: str, metric: str, setting: Setting, cells: dict, row: str, column: str) -> PairedP:
    """row > column on the seeds both finished (`pair_by_seed`), one-tailed (`stats.paired_t_test`)."""
    pairs, left_out = pair_by_seed(cells.get((row, setting), []), cells.get((column, setting), []), task_key(task, metric), (row, column))
    test = stats.paired_t_test([pair[1] for pair in pairs], [pair[2] for pair in pairs])
    return PairedP(row, column, test, tuple(left_out), higher(test, pairs))


def p_table(task: str, metric: str, setting: Setting, cells: dict, members: list[str]) -> PTable:
    """The one rule of Tables 4-5 (module docstring): every ordered pair tested, a cell filled where
    the paired mean difference row - column is > 0."""
    seeds = max((summary(cells.get((arm, setting), []), task_key(task, metric)).n for arm in members), default=0)
    found = {(row, column): paired_p(task, metric, setting, cells, row, column) for row in members for column in members if row != column}
    return PTable(tuple(members), found, seeds)


def all_methods_tables(task: str, metric: str, design: Design, cells: dict) -> list[tuple[Setting, PTable]]:
    """The matrix of every method, in each setting with 3 methods or more (the arms' order)."""
    found = []
    for setting in settings_of(cells):
        arms = [arm for arm in design.arms if (arm, setting) in cells]
        if len(arms) >= 3:
            found.append((setting, p_table(task, metric, setting, cells, arms)))
    return found


# ---------------------------------------------------------------------------------------------
# Families and options (Appendix L)


@dataclass(frozen=True)
class Variant:
    """One arm in one setting as a member of its family (`Run.family`, read from the run's files):
    `method` is the arm's `method` coordinate (the sweep's bundle name), `point` its finished seeds."""

    family: str
    arm: str
    method: str
    point: stats.Summary


@dataclass(frozen=True)
class FamilyLayout:
    """Appendix L's layout in one setting: the variants by family (families by their best mean,
    variants by mean within one), each family's best variant, Table 4 between the best variants
    of the families besides ntp (None below two of them), Table 5 within each family of 2+ variants."""

    setting: Setting
    members: dict  # family -> [Variant], in display order
    best: dict  # family -> Variant
    seeds: int
    table4: PTable | None
    table5: tuple  # (family, PTable)

    @property
    def families(self) -> list[str]:
        """The families besides ntp, best first."""
        return [family for family in self.best if family != NTP_FAMILY]


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


def by_mean(members: list[Variant]) -> list[str]:
    """The arms by mean, highest first: the rows and columns of Tables 4 and 5."""
    return [variant.arm for variant in sorted(members, key=lambda variant: -variant.point.mean)]


def family_layout(task: str, metric: str, setting: Setting, cells: dict, variants: list[Variant]) -> FamilyLayout:
    best = best_variants(variants)
    order = {family: index for index, family in enumerate(best)}
    members = defaultdict(list)
    for variant in sorted(variants, key=lambda variant: order[variant.family]):  # stable: by mean within a family
        members[variant.family].append(variant)
    families = [family for family in best if family != NTP_FAMILY]
    table4 = p_table(task, metric, setting, cells, by_mean([best[family] for family in families])) if len(families) >= 2 else None
    table5 = tuple((family, p_table(task, metric, setting, cells, by_mean(group))) for family, group in members.items() if len(group) >= 2)
    return FamilyLayout(setting, dict(members), best, max(variant.point.n for variant in variants), table4, table5)


def families_of(task: str, metric: str, cells: dict) -> list[FamilyLayout]:
    """The layout of every setting whose runs span families (`has_families`)."""
    found = []
    for setting in settings_of(cells):
        variants = family_variants(task, metric, setting, cells)
        if has_families(variants):
            found.append(family_layout(task, metric, setting, cells, variants))
    return found


# ---------------------------------------------------------------------------------------------
# Per-prompt changes against the baseline


@dataclass(frozen=True)
class PromptChangeRow:
    """One method in one setting against the baseline: (seed, PromptChanges) for each seed both
    kept predictions of the same prompts."""

    arm: str
    setting: Setting
    changes: tuple

    @property
    def gained(self) -> int:
        return sum(change.gained for _, change in self.changes)

    @property
    def lost(self) -> int:
        return sum(change.lost for _, change in self.changes)


def prompt_changes_of(task: str, metric: str, design: Design, cells: dict) -> list[PromptChangeRow]:
    """Each method other than the baseline, its runs paired by seed with the baseline's (one
    finished run on each side), where both kept predictions of the same prompts; methods without
    such a pair are left out."""
    found = []
    for (arm, setting), runs in cells.items():
        if arm == design.baseline or (design.baseline, setting) not in cells:
            continue
        baseline = finished_by_seed(cells[(design.baseline, setting)])
        changes: list[tuple[object, PromptChanges]] = []
        for seed, run in sorted(finished_by_seed(runs).items(), key=lambda item: seed_order(item[0])):
            if seed in baseline:
                change = run_prompt_changes(run.folder, baseline[seed].folder, task, metric)
                if change is not None:
                    changes.append((seed, change))
        if changes:
            found.append(PromptChangeRow(arm, setting, tuple(changes)))
    return found
