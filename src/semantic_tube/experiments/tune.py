"""Choosing stp_lambda: a short log-spaced grid on a pilot subset, and the peak of a concave fit.

    stp tune --config configs/smollm2_nlrx.yaml [--lambdas 0.005 0.01 ...] [--train_fraction 0.25] [--seeds 82 23 37]
    stp tune --config sweeps/landscape_quick.yaml --train_file F --eval_task_file F

--config is a `stp train` config, or a sweep file: then its `config:` block (and its launcher) is
the setting tuned, so a sweep preset's lambda can be chosen on the same setting. Any other
`--FIELD VALUE` sets that `stp train` field in every pilot run and in tuned_config.yaml.

The paper (Sec. 4.5, App. K) finds accuracy against lambda concave, peaking between 0.01 and 0.08,
with a precipitous drop (and a jump in spread) past the optimum. So:

- The grid runs through the sweep machinery (one folder per point, resumable: run the same
  command again), lambdas in increasing order, every seed of one lambda before the next.
- Collapse: a lambda whose mean score falls below half the best mean so far. The larger lambdas
  are skipped, and the collapsed point is left out of the fit (a cliff is not a parabola).
- Fit: least squares of score = a x^2 + b x + c with x = ln(lambda), on every seed's score.
  Chosen lambda: the vertex exp(-b / 2a) when a < 0 and the vertex lies inside the measured
  lambdas; otherwise (fewer than 3 lambdas, no interior maximum) the best measured lambda, and
  the output says which.
- Interval: bootstrap over seeds (seeds drawn with replacement, the same draw at every lambda, as
  each seed's runs share everything but lambda), the choice repeated on each draw; the 2.5 and
  97.5 percentiles of ln(lambda). One seed gives no interval.
- Plain fine-tuning (the baseline, on by default): lambda 0 on every seed, with STP logged
  without gradient (`stp_log_when_off`), run before the grid. It is the reference of the
  treatment fall and of the choice's gain, and its mean is the first "best so far" of the
  collapse rule. `--baseline false` skips it (one run fewer per seed).
- Treatment: each pilot run measures its STP after training on the same examples with the same
  draws (`treatment_batches`). With the baseline, the fall is the report's: 1 - trained / plain
  fine-tuning's, paired by seed, mean over seeds. Without it, 1 - after / before, the fall from
  the run's own start (close for tube STP, which stays about flat under plain fine-tuning; the
  span form rises under plain fine-tuning, so its fall from the start understates it). Where the
  fall is under 10% (the report's weak-treatment rule) STP barely changed the model, so the
  accuracy there cannot be credited to it; when no lambda of the grid reaches 10% the output says
  that the choice rests on noise and to extend --lambdas upward or lengthen the pilot.
- Gain: the measured lambda nearest the choice (in ln lambda) against plain fine-tuning, paired
  by seed, one-tailed paired t-test. The lambda was picked after seeing the scores, so the p is
  optimistic: a gain found here is a lead to confirm at full length, and no gain means the pilot
  cannot tell the chosen lambda from plain fine-tuning.
- The pilot: train_fraction = --train_fraction of the training file, with the config's epochs (its
  max_steps, if it counts steps, scaled by the fraction), so a pilot run costs that fraction of a
  full one. The paper's data rule is not applied here: a pilot is meant to be cheap.

Writes into --output_dir: tune.json (every score, the fit, the choice), tune.png (the curve) and
tuned_config.yaml (the input config with the chosen stp_lambda, ready for `stp train --config`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TextIO

import numpy as np
import yaml

from semantic_tube.experiments import stats
from semantic_tube.experiments.grid import (
    DATA_RULE,
    FRACTION,
    SEED,
    SWEEP_KEYS,
    expand,
    parse_sweep,
)
from semantic_tube.experiments.report.strength import WEAK_REDUCTION
from semantic_tube.experiments.sweep import SweepRunner, check_sweep, read_score
from semantic_tube.run_folder import (
    AUX_SERIES,
    METRICS_FILE,
    TREATMENT_INITIAL,
    TREATMENT_TRAINED,
    Status,
    UnreadableRecord,
    main_metric,
    read_record,
    treatment_key,
    write_text_atomic,
)

DEFAULT_LAMBDAS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.16)
DEFAULT_SEEDS = (82, 23, 37)
DEFAULT_FRACTION = 0.25
COLLAPSE_RATIO = 0.5
BOOTSTRAP_DRAWS = 2000
# Dropped from the input config: the tune grid sets them per point (the sweep refuses a seed in config).
SET_BY_TUNE = ("seed", "output_dir", "resume_from_checkpoint", "stp_lambda", "train_fraction")


class TuneError(ValueError):
    """A tune that cannot run: names the option or the config field."""


class NothingToFit(TuneError):
    """No run finished (all failed, or all locked by other processes)."""


@dataclass(frozen=True)
class TuneSettings:
    config: Path
    lambdas: tuple[float, ...] = DEFAULT_LAMBDAS
    fraction: float = DEFAULT_FRACTION
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    out: Path | None = None  # default: runs/tune-<config name>
    metric: str | None = None  # default: the task's main metric
    overrides: dict = field(default_factory=dict)  # `--FIELD VALUE`: stp train fields set in every pilot run
    baseline: bool = True  # also run plain fine-tuning (lambda 0) on every seed

    @property
    def folder(self) -> Path:
        return self.out or Path("runs") / f"tune-{self.config.stem}"


@dataclass(frozen=True)
class LambdaScores:
    """The scores at one lambda, one per seed that finished (a bootstrap draw may repeat seeds)."""

    stp_lambda: float
    seeds: tuple[int, ...]
    scores: tuple[float, ...]
    collapsed: bool = False
    falls: tuple[float, ...] = ()  # per seed with a measurement: `treatment_fall`, below plain fine-tuning's or from the start
    stp_trained: tuple[float | None, ...] = ()  # per seed of `seeds`: STP after training on the fixed examples (`trained_stp`)

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores)) if self.scores else math.nan

    @property
    def fall(self) -> float | None:
        """Mean over seeds of how far STP fell (below plain fine-tuning's, or from its start);
        None when no run measured it."""
        return float(np.mean(self.falls)) if self.falls else None

    @property
    def weak(self) -> bool | None:
        """STP fell less than WEAK_REDUCTION: the treatment barely happened."""
        return None if self.fall is None else self.fall < WEAK_REDUCTION

    @property
    def std(self) -> float:
        return float(np.std(self.scores, ddof=1)) if len(self.scores) > 1 else math.nan


@dataclass(frozen=True)
class Choice:
    stp_lambda: float
    how: str  # "vertex" or "best measured", with the reason
    coefficients: tuple[float, float, float] | None = None  # a, b, c of a x^2 + b x + c, x = ln(lambda)
    low: float | None = None
    high: float | None = None
    draws: int = 0  # bootstrap draws behind the interval

    @property
    def interval(self) -> str:
        return f"95% bootstrap interval over seeds {self.low:.3g} to {self.high:.3g}" if self.low is not None else "no interval (one seed)"


# -------------------------------------------------------------------------------------------
# The pure part: collapse, fit and choice


def is_collapse(mean: float, best_so_far: float, ratio: float = COLLAPSE_RATIO) -> bool:
    """Below `ratio` of the best mean so far: the precipitous drop past the optimum (App. K)."""
    return best_so_far > 0 and mean < ratio * best_so_far


def fit_quadratic(results: list[LambdaScores]) -> tuple[float, float, float]:
    """Least squares a x^2 + b x + c through every (ln lambda, score) pair."""
    x = np.array([math.log(r.stp_lambda) for r in results for _ in r.scores])
    y = np.array([score for r in results for score in r.scores])
    a, b, c = np.polyfit(x, y, 2)
    return float(a), float(b), float(c)


def choose(results: list[LambdaScores]) -> Choice:
    """The vertex of the concave fit when it lies inside the measured lambdas, else the best mean."""
    usable = [r for r in results if r.scores and not r.collapsed]
    if not usable:
        raise NothingToFit("no finished run to choose a lambda from")
    best = max(usable, key=lambda r: r.mean)
    if len(usable) < 3:
        return Choice(best.stp_lambda, f"best measured (a quadratic needs 3 lambdas, {len(usable)} finished)")
    a, b, c = fit_quadratic(usable)
    xs = [math.log(r.stp_lambda) for r in usable]
    if a < 0 and min(xs) <= -b / (2 * a) <= max(xs):
        return Choice(math.exp(-b / (2 * a)), "vertex of the quadratic in ln(lambda)", (a, b, c))
    reason = "the fit is not concave" if a >= 0 else "the fit peaks outside the measured lambdas: extend --lambdas"
    return Choice(best.stp_lambda, f"best measured ({reason})", (a, b, c))


def choose_with_interval(results: list[LambdaScores], draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> Choice:
    """`choose`, with the percentile interval of the choice over seeds drawn with replacement."""
    choice = choose(results)
    seeds = sorted({s for r in results for s in r.seeds})
    if len(seeds) < 2:
        return choice
    rng = np.random.default_rng(seed)
    chosen = []
    for _ in range(draws):
        drawn = rng.choice(seeds, size=len(seeds), replace=True)
        try:
            chosen.append(math.log(choose([_redraw(r, drawn) for r in results]).stp_lambda))
        except NothingToFit:  # a draw of seeds none of whose runs finished
            continue
    low, high = np.percentile(chosen, [2.5, 97.5])
    return Choice(choice.stp_lambda, choice.how, choice.coefficients, math.exp(low), math.exp(high), len(chosen))


def _redraw(result: LambdaScores, drawn) -> LambdaScores:
    by_seed = dict(zip(result.seeds, result.scores))
    kept = [int(s) for s in drawn if int(s) in by_seed]
    return LambdaScores(result.stp_lambda, tuple(kept), tuple(by_seed[s] for s in kept), result.collapsed, result.falls)


def trained_stp(metrics: dict) -> float | None:
    """STP after training on the fixed examples and draws (metrics.json's treatment key of the
    auxiliary loss); None when the run did not measure it (treatment_batches 0)."""
    after = metrics.get(treatment_key(TREATMENT_TRAINED, AUX_SERIES))
    return float(after) if isinstance(after, (int, float)) else None


def treatment_fall(metrics: dict, reference: float | None = None) -> float | None:
    """1 - STP after training / `reference` (plain fine-tuning's trained STP on the same seed), or,
    with no reference, 1 - after / before (the run's own start, metrics.json's treatment keys);
    None when something was not measured."""
    before = metrics.get(treatment_key(TREATMENT_INITIAL, AUX_SERIES)) if reference is None else reference
    after = trained_stp(metrics)
    if not isinstance(before, (int, float)) or after is None or not before > 0:
        return None
    return 1.0 - after / before


def fall_rule(against_plain: bool) -> str:
    """The weak-treatment rule in words, against plain fine-tuning or from the run's start."""
    return f"STP fell less than {WEAK_REDUCTION:.0%} " + ("below plain fine-tuning's" if against_plain else "from its start")


@dataclass(frozen=True)
class Gain:
    """The measured lambda nearest the choice against plain fine-tuning, paired by seed."""

    stp_lambda: float
    test: stats.PairedTest


def gain_over_plain(results: list[LambdaScores], baseline: LambdaScores | None, chosen: float) -> Gain | None:
    """The finished, uncollapsed lambda nearest `chosen` in ln(lambda) against `baseline`, by a
    one-tailed paired t-test over the seeds both finished; None without a baseline score."""
    usable = [r for r in results if r.scores and not r.collapsed]
    if baseline is None or not baseline.scores or not usable:
        return None
    nearest = min(usable, key=lambda r: abs(math.log(r.stp_lambda) - math.log(chosen)))
    plain = dict(zip(baseline.seeds, baseline.scores))
    pairs = [(score, plain[seed]) for seed, score in zip(nearest.seeds, nearest.scores) if seed in plain]
    return Gain(nearest.stp_lambda, stats.paired_t_test([a for a, _ in pairs], [b for _, b in pairs]))


def gain_line(gain: Gain) -> str:
    """What the gain over plain fine-tuning says, as printed."""
    test = gain.test
    head = f"against plain fine-tuning (lambda 0, the same seeds): lambda {gain.stp_lambda:g}, the measured lambda nearest the choice,"
    if test.mean_difference is None:
        return f"{head} shares no seed with it: no comparison"
    if test.p_value is None:
        return f"{head} scores {test.mean_difference:+.3f} ({test.reason})"
    verdict = (
        "a gain on the pilot, found after choosing the lambda (an optimistic p): confirm it at full length"
        if test.p_value < stats.ALPHA
        else "no gain over plain fine-tuning resolved on the pilot"
    )
    return f"{head} scores {test.mean_difference:+.3f} (paired one-tailed p {test.p_value:.2g}, {test.n} seeds): {verdict}"


def treatment_warning(results: list[LambdaScores], against_plain: bool = False) -> str | None:
    """What the falls say about the choice: nothing when every measured lambda moved STP, a line
    naming the weak lambdas, or a warning that no lambda of the grid moved it."""
    measured = [r for r in results if r.weak is not None]
    weak = [r.stp_lambda for r in measured if r.weak]
    if not weak:
        return None
    rule = fall_rule(against_plain)
    if len(weak) == len(measured):
        return (
            f"warning: at every lambda of the grid {rule}: STP barely changed the model, so the accuracy differences are "
            "not its doing and the choice rests on noise; extend --lambdas upward or lengthen the pilot (max_steps)"
        )
    return f"weak treatment at lambda {', '.join(f'{lam:g}' for lam in weak)} ({rule}): the accuracy there cannot be credited to STP"


# -------------------------------------------------------------------------------------------
# Running it


@dataclass
class TuneResult:
    settings: TuneSettings
    task: str
    metric: str
    results: list[LambdaScores] = field(default_factory=list)
    skipped: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    choice: Choice | None = None
    baseline: LambdaScores | None = None  # plain fine-tuning (lambda 0), when the tune ran it
    gain: Gain | None = None

    @property
    def against_plain(self) -> bool:
        """The falls were measured below plain fine-tuning's STP (else from each run's start)."""
        return self.baseline is not None and any(value is not None for value in self.baseline.stp_trained)


@dataclass(frozen=True)
class TuneInput:
    """The setting tuned: the config's text (kept, comments and all, for tuned_config.yaml), its
    fields, and a sweep file's launcher."""

    text: str
    config: dict
    launcher: str | None = None


def read_config(path: Path, overrides: dict | None = None) -> TuneInput:
    """A `stp train` config, or a sweep file's `config:` block and launcher, with `overrides` set."""
    if not path.is_file():
        raise TuneError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    values = yaml.safe_load(text) or {}
    if not isinstance(values, dict):
        raise TuneError(f"{path}: expected a mapping of field: value, as `stp train --config` reads")
    launcher = None
    if is_sweep_document(values):
        values, launcher = values.get("config") or {}, values.get("launcher")
        if not isinstance(values, dict):
            raise TuneError(f"{path}: config: expected a mapping of field: value (the sweep's `stp train` fields)")
        text = f"# the config block of the sweep file {path}\n" + yaml.safe_dump(values, sort_keys=False)
    for key, value in (overrides or {}).items():
        text = with_field(text, key, value)
    return TuneInput(text, values | (overrides or {}), launcher)


def is_sweep_document(values: dict) -> bool:
    """A sweep file (name, config, methods, grid), not a `stp train` config: `stp train` has no
    `grid` field."""
    return "grid" in values and set(values) <= set(SWEEP_KEYS)


def task_and_metric(config: dict, path: Path, metric: str | None) -> tuple[str, str]:
    from semantic_tube.evaluation.tasks import TASKS

    task = config.get("eval_task")
    if task not in TASKS:
        raise TuneError(f"{path}: eval_task: stp tune scores a task; set eval_task to one of {', '.join(TASKS)} (got {task!r})")
    metrics = TASKS[task].metrics
    if metric is not None and metric not in metrics:
        raise TuneError(f"--metric {metric!r}: task {task} reports {', '.join(metrics)}")
    return task, metric or main_metric(task)


def tune_document(settings: TuneSettings, config: dict, launcher: str | None = None) -> dict:
    """The sweep `stp tune` runs: the config on the pilot subset, stp_lambda x seed."""
    if not settings.lambdas or any(not lam > 0 for lam in settings.lambdas):
        raise TuneError(f"--lambdas: expected positive values, got {list(settings.lambdas)}")
    if not settings.seeds:
        raise TuneError("--seeds: give at least one seed")
    if not 0 < settings.fraction <= 1:
        raise TuneError(f"--train_fraction: a data fraction must be in (0, 1], got {settings.fraction}")
    pilot = {key: value for key, value in config.items() if key not in SET_BY_TUNE}
    pilot[FRACTION] = settings.fraction
    if settings.baseline:
        pilot["stp_log_when_off"] = True  # the lambda-0 runs log the STP they do not train
    if float(pilot.get("max_steps", -1)) > 0:
        pilot["max_steps"] = max(1, math.ceil(float(pilot["max_steps"]) * settings.fraction))
    document = {
        "name": f"tune-{settings.config.stem}",
        "config": pilot,
        "grid": {DATA_RULE: ["none"], "stp_lambda": [0.0] * settings.baseline + sorted(settings.lambdas), SEED: list(settings.seeds)},
    }
    return document | ({"launcher": launcher} if launcher else {})


def run_tune(settings: TuneSettings, stream: TextIO | None = None) -> TuneResult:
    """Run the lambdas in increasing order until one collapses, then fit and write the outputs."""
    setting = read_config(settings.config, settings.overrides)
    task, metric = task_and_metric(setting.config, settings.config, settings.metric)
    document = tune_document(settings, setting.config, setting.launcher)
    header = f"# written by `stp tune --config {settings.config}`: the pilot grid it runs\n"
    sweep = parse_sweep(
        document,
        text=header + yaml.safe_dump(document, sort_keys=False),
        source=f"stp tune ({settings.config})",
        default_name=document["name"],
    )
    points = expand(sweep)
    out = settings.folder
    checked = check_sweep(sweep, points, out, dry_run=False)
    runner = SweepRunner(sweep, points, out, stream, checked.forward_passes)
    runner.prepare()
    result = TuneResult(settings, task, metric)

    def measure(lam: float) -> LambdaScores:
        group = [p for p in points if p.coordinates["stp_lambda"] == lam]
        outcomes = runner.run(group)
        result.failed.extend(o.point.point_id for o in outcomes if o.status is Status.FAILED)
        return lambda_scores(runner, group, metric, lam, result.baseline)

    if settings.baseline:
        result.baseline = measure(0.0)
    start = result.baseline.mean if result.baseline is not None and result.baseline.scores else 0.0
    result.results, result.skipped = scan(settings.lambdas, measure, start)
    result.choice = choose_with_interval(result.results)
    result.gain = gain_over_plain(result.results, result.baseline, result.choice.stp_lambda)
    write_outputs(result, setting.text, out)
    return result


def scan(lambdas, measure: Callable[[float], LambdaScores], best: float = 0.0) -> tuple[list[LambdaScores], list[float]]:
    """Measure lambdas in increasing order until one collapses (below half the best mean so far,
    starting from `best`: plain fine-tuning's mean); returns (measured, skipped)."""
    results, ordered = [], sorted(lambdas)
    for number, lam in enumerate(ordered):
        scores = measure(lam)
        if scores.scores and is_collapse(scores.mean, best):
            results.append(replace(scores, collapsed=True))
            return results, ordered[number + 1 :]
        results.append(scores)
        if scores.scores:
            best = max(best, scores.mean)
    return results, []


def lambda_scores(runner: SweepRunner, group: list, metric: str, lam: float, baseline: LambdaScores | None = None) -> LambdaScores:
    """The scores and treatment of one lambda's runs; their falls below `baseline`'s STP, seed by
    seed, when the baseline measured it, else from each run's start."""
    found = [(p.coordinates[SEED], read_score(runner.folder(p), p.config, metric)) for p in group]
    found = [(seed, score.value) for seed, score in found if score is not None]
    metrics = {p.coordinates[SEED]: _metrics(runner.folder(p)) for p in group}
    plain = {} if baseline is None else {s: v for s, v in zip(baseline.seeds, baseline.stp_trained) if v is not None}
    if plain:
        falls = [treatment_fall(metrics[seed], plain[seed]) for seed in metrics if seed in plain]
    else:
        falls = [treatment_fall(values) for values in metrics.values()]
    return LambdaScores(
        lam,
        tuple(seed for seed, _ in found),
        tuple(value for _, value in found),
        falls=tuple(fall for fall in falls if fall is not None),
        stp_trained=tuple(trained_stp(metrics[seed]) for seed, _ in found),
    )


def _metrics(folder: Path) -> dict:
    try:
        return read_record(folder / METRICS_FILE) or {}
    except UnreadableRecord:
        return {}


# -------------------------------------------------------------------------------------------
# Outputs


def write_outputs(result: TuneResult, config_text: str, out: Path) -> None:
    choice = result.choice
    record = {
        "config": str(result.settings.config),
        "task": result.task,
        "metric": result.metric,
        "fraction": result.settings.fraction,
        "collapse_ratio": COLLAPSE_RATIO,
        "baseline": None if result.baseline is None else _scores_record(result.baseline),
        "lambdas": [_scores_record(r) | {"fall": r.fall, "weak": r.weak} for r in result.results],
        "weak_reduction": WEAK_REDUCTION,
        "fall_rule": fall_rule(result.against_plain),
        "treatment": treatment_warning(result.results, result.against_plain),
        "skipped": result.skipped,
        "failed": result.failed,
        "choice": asdict(choice),
        "chosen_lambda": rounded(choice.stp_lambda),
        "gain_over_plain": None if result.gain is None else asdict(result.gain) | {"verdict": gain_line(result.gain)},
    }
    write_text_atomic(out / "tune.json", json.dumps(record, indent=2, allow_nan=False) + "\n")
    plot_curve(result, out / "tune.png")
    comment = f"# stp_lambda chosen by stp tune ({out / 'tune.json'}): {choice.how}, {choice.interval}\n"
    write_text_atomic(out / "tuned_config.yaml", with_lambda(config_text, rounded(choice.stp_lambda), comment))


def _scores_record(scores: LambdaScores) -> dict:
    return {**asdict(scores), "mean": _finite(scores.mean), "std": _finite(scores.std)}


def _finite(value: float) -> float | None:
    """JSON has no NaN: a mean without scores, or the std of one seed, is null."""
    return None if math.isnan(value) else value


def rounded(stp_lambda: float) -> float:
    """Three significant digits: the interval is far wider than that."""
    return float(f"{stp_lambda:.3g}")


def with_lambda(text: str, stp_lambda: float, comment: str) -> str:
    """The config's own text (comments kept) with its stp_lambda line replaced, or added."""
    return comment + with_field(text, "stp_lambda", stp_lambda)


def with_field(text: str, key: str, value) -> str:
    """A config's text with its top-level `key:` line replaced by `key: value`, or one added."""
    line = yaml.safe_dump({key: value}, default_flow_style=True, width=1 << 16).strip()[1:-1]
    pattern = re.compile(rf"^{re.escape(key)}\s*:.*$", re.MULTILINE)
    if pattern.search(text):
        return pattern.sub(lambda _: line, text, count=1)
    return text.rstrip("\n") + f"\n{line}\n"


def plot_curve(result: TuneResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    choice = result.choice
    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for r in result.results:
        color = "tab:red" if r.collapsed else "0.6"
        axes.scatter([r.stp_lambda] * len(r.scores), r.scores, s=14, color=color, zorder=2)
    kept = [r for r in result.results if r.scores and not r.collapsed]
    axes.errorbar(
        [r.stp_lambda for r in kept], [r.mean for r in kept], yerr=[0 if math.isnan(r.std) else r.std for r in kept],
        fmt="o-", color="black", capsize=3, label="mean +- std over seeds", zorder=3,
    )  # fmt: skip
    if result.baseline is not None and result.baseline.scores:
        plain = result.baseline
        spread = 0 if math.isnan(plain.std) else plain.std
        axes.axhline(plain.mean, color="tab:orange", linestyle="--", label="plain fine-tuning (lambda 0), mean +- std")
        axes.axhspan(plain.mean - spread, plain.mean + spread, color="tab:orange", alpha=0.12)
    if choice.coefficients is not None:
        x = np.linspace(math.log(kept[0].stp_lambda), math.log(kept[-1].stp_lambda), 100)
        axes.plot(np.exp(x), np.polyval(choice.coefficients, x), color="tab:blue", label="quadratic fit in ln(lambda)")
    axes.axvline(choice.stp_lambda, color="tab:green", label=f"chosen {rounded(choice.stp_lambda):g}")
    if choice.low is not None:
        axes.axvspan(choice.low, choice.high, color="tab:green", alpha=0.15, label="95% bootstrap interval")
    if any(r.collapsed for r in result.results):
        axes.scatter([], [], color="tab:red", s=14, label=f"collapsed (< {COLLAPSE_RATIO:g} x best mean)")
    axes.set_xscale("log")
    ticks = sorted({r.stp_lambda for r in result.results} | set(result.skipped))
    axes.set_xticks(ticks, [f"{lam:g}" for lam in ticks])  # the grid's own values, not 2 x 10^-2
    axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes.set_xlabel(
        "stp_lambda (log scale)"
        + (f"; skipped after the collapse: {', '.join(f'{lam:g}' for lam in result.skipped)}" if result.skipped else "")
    )
    axes.set_ylabel(f"{result.task} {result.metric}")
    axes.set_title(f"stp tune: {result.settings.config.name}, {result.settings.fraction:g} of the data")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def report(result: TuneResult) -> str:
    """The table and the choice, as printed at the end."""
    lines = [
        f"stp tune: {result.task} {result.metric} on {result.settings.fraction:g} of the training data",
        f"{'lambda':>8}  {'mean':>6}  {'std':>6}  seeds  STP fell" + (" below plain's" if result.against_plain else " from its start"),
    ]
    if result.baseline is not None:
        lines.append(_table_row(result.baseline, "(plain fine-tuning: the reference)"))
    for r in result.results:
        note = f"  collapsed (below {COLLAPSE_RATIO:g} x the best mean): larger lambdas skipped" if r.collapsed else ""
        fall = "-" if r.fall is None else f"{r.fall:.0%}" + (" (weak)" if r.weak else "")
        lines.append(_table_row(r, fall + note))
    lines += [f"{lam:>8g}  skipped" for lam in result.skipped]
    choice = result.choice
    lines.append(f"chosen stp_lambda {rounded(choice.stp_lambda):g} ({choice.how}; {choice.interval})")
    if result.gain is not None:
        lines.append(gain_line(result.gain))
    if warning := treatment_warning(result.results, result.against_plain):
        lines.append(warning)
    if result.failed:
        lines.append(f"failed runs (left out): {', '.join(result.failed)}")
    out = result.settings.folder
    lines.append(f"wrote {out / 'tune.json'}, {out / 'tune.png'}, {out / 'tuned_config.yaml'}")
    lines.append(f"  stp train --config {out / 'tuned_config.yaml'}")
    return "\n".join(lines)


def _table_row(scores: LambdaScores, last: str) -> str:
    """One lambda's row of the printed table: lambda, mean, std, seeds, then `last`."""
    std = "-" if math.isnan(scores.std) else f"{scores.std:.3f}"
    mean = "-" if not scores.scores else f"{scores.mean:.3f}"
    return f"{scores.stp_lambda:>8g}  {mean:>6}  {std:>6}  {len(scores.scores):>5}  {last}"
