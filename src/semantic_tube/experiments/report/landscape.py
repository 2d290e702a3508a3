"""The loss landscape (paper Fig. 4) and accuracy against lambda (Fig. 7), as tests on the runs.

Figure 4a, the plateau test. On a configuration's mean NTP curve (y_0 ... y_k at the logged steps,
mean over its seeds), NTP has **plateaued** from the earliest logged step p after which it falls
by at most 10% of its whole fall: y_p - min(y_p ... y_k) <= 0.10 (y_0 - min y), with at least 3
logged points from p to the end (else it had not plateaued by the end). An auxiliary loss (STP,
each logged STP form, another method's own loss) **keeps falling** after the plateau when the
least-squares slope of its values against the step, over the runs' logged points from p to the
end, has a 95% interval entirely below 0.

Figure 4b. Over the range where it falls (from the smallest lambda to the one with the lowest
mean final STP), the least-squares slope of every run's final STP against log10 lambda, with its
95% interval: the paper's "increasing lambda on a log scale reduces STP linearly". NTP
**stays unchanged** at a lambda when the 95% t interval of the paired (by seed) difference of
final NTP against the lambda-0 runs lies within +-5% of their mean; it is higher or lower when
the interval excludes 0 and is not within that band, and not resolved otherwise.

Figure 7. Accuracy against x = log10 lambda, every run a point, fitted by a quadratic
a + b x + c x² (`stats.quadratic_fit`): **concavity** is supported when c < 0 with a one-tailed
p < 0.05; the fitted peak is 10^(-b / 2c), with Fieller's 95% interval (unbounded where c is not
significantly below 0), said to lie inside or outside the lambdas tried. The test set resolves
differences of about (z_0.95 + z_0.80) sqrt(2 p (1 - p) / N) between two lambdas near the peak
accuracy p: a curve whose means span less than that cannot show a peak on this test set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from semantic_tube.experiments import figures, stats
from semantic_tube.experiments.report import figure_data as fd
from semantic_tube.experiments.report.comparisons import pair_by_seed
from semantic_tube.experiments.report.design import FRACTION, Design, Setting, finished, largest_fraction
from semantic_tube.experiments.report.keys import count_key, task_key, value
from semantic_tube.experiments.runs import Run
from semantic_tube.run_folder import NTP_SERIES, final_key

PLATEAU_FALL = 0.10  # NTP has plateaued once it falls by at most this fraction of its whole fall
PLATEAU_POINTS = 3  # logged points from the plateau to the end, at least
NTP_TOLERANCE = 0.05  # NTP is unchanged within +-5% of plain fine-tuning's final NTP

# ---------------------------------------------------------------------------------------------
# Figure 4a: the plateau test


@dataclass(frozen=True)
class AfterPlateau:
    """An auxiliary loss from NTP's plateau step to the end: its fitted slope per step (runs'
    points), its mean at the plateau step and the fitted change over the stretch."""

    series: str
    fit: stats.LinearFit | None
    at_plateau: float | None
    change: float | None

    @property
    def falling(self) -> bool | None:
        """The slope's 95% interval lies below 0; None without an interval."""
        return None if self.fit is None or self.fit.high is None else self.fit.high < 0


@dataclass(frozen=True)
class Plateau:
    label: str
    plateau_step: int | None  # None: NTP had not plateaued by the end
    last_step: int
    ntp_fall: float
    after: tuple  # AfterPlateau per auxiliary series logged


def plateau_index(values: tuple) -> int | None:
    """The earliest index p with values[p] - min(values[p:]) <= PLATEAU_FALL * (values[0] - min), and
    PLATEAU_POINTS points from p on; None when there is none (or NTP never fell)."""
    fall = values[0] - min(values)
    if fall <= 0:
        return None
    for index in range(len(values) - PLATEAU_POINTS + 1):
        if values[index] - min(values[index:]) <= PLATEAU_FALL * fall:
            return index
    return None


def run_points(runs: list[Run], key: str, start: int) -> tuple[list[float], list[float]]:
    """(step, value) of every run's logged `key` from step `start` on."""
    xs, ys = [], []
    for run in runs:
        for entry in run.log_history:
            if key in entry and "step" in entry and entry["step"] >= start:
                xs.append(float(entry["step"]))
                ys.append(float(entry[key]))
    return xs, ys


def plateau_of(label: str, runs: list[Run]) -> Plateau | None:
    steps, ntp = fd.mean_curve(runs, NTP_SERIES)
    if len(steps) < PLATEAU_POINTS:
        return None
    index = plateau_index(ntp)
    after = []
    for series, key in fd.loss_series(runs):
        if index is None:
            after.append(AfterPlateau(series, None, None, None))
            continue
        xs, ys = run_points(runs, key, steps[index])
        if len(set(xs)) < 2:
            after.append(AfterPlateau(series, None, None, None))
            continue
        fit = stats.linear_fit(xs, ys)
        at = fit.intercept + fit.slope * steps[index]
        after.append(AfterPlateau(series, fit, at, fit.slope * (steps[-1] - steps[index])))
    return Plateau(label, None if index is None else steps[index], steps[-1], ntp[0] - min(ntp), tuple(after))


def plateaus_of(design: Design, cells: dict) -> list[Plateau]:
    """The plateau test of every configuration in Figure 4a (the largest data fraction)."""
    largest = largest_fraction(cells)
    found = []
    for (arm, setting), runs in cells.items():
        done = finished(runs)
        if done and (largest is None or dict(setting).get(FRACTION) == largest):
            plateau = plateau_of(design.label(arm, setting), done)
            if plateau is not None:
                found.append(plateau)
    return found


# ---------------------------------------------------------------------------------------------
# Figure 4b: STP's slope in log lambda, NTP against lambda 0


@dataclass(frozen=True)
class NtpChange:
    """Final NTP at one lambda against the lambda-0 runs, paired by seed."""

    stp_lambda: float
    interval: stats.Interval  # of the paired differences (lambda - 0)
    reference: float | None  # the lambda-0 runs' mean final NTP
    verdict: str  # "unchanged", "higher", "lower" or "not resolved"

    @property
    def relative(self) -> float | None:
        return None if self.interval.mean is None or not self.reference else self.interval.mean / self.reference


def ntp_verdict(interval: stats.Interval, reference: float | None) -> str:
    if interval.low is None or not reference:
        return "not resolved"
    band = NTP_TOLERANCE * abs(reference)
    if -band <= interval.low and interval.high <= band:
        return "unchanged"
    if interval.low > 0:
        return "higher"
    if interval.high < 0:
        return "lower"
    return "not resolved"


@dataclass(frozen=True)
class LambdaLine:
    """One method in one setting across lambdas, with the lambda-0 runs of its setting."""

    label: str
    method: str
    setting: Setting
    runs: dict  # lambda -> finished runs
    reference: tuple  # the lambda-0 runs
    reference_arm: str | None


@dataclass(frozen=True)
class StpSlope:
    """Final STP (one series: stp_loss or a form) against log10 lambda over the range where it falls."""

    line: str
    series: str
    lambdas: tuple  # the falling range
    fit: stats.LinearFit | None  # x = log10 lambda; None when STP does not fall (range of one lambda)
    means: dict  # lambda -> mean final STP, every lambda of the line


@dataclass(frozen=True)
class LambdaLandscape:
    """Figure 4b's tests for one line: STP's slope in each logged form, NTP at each lambda."""

    line: str
    slopes: tuple  # StpSlope
    ntp: tuple  # NtpChange, by lambda

    @property
    def ntp_unchanged(self) -> bool:
        return bool(self.ntp) and all(change.verdict == "unchanged" for change in self.ntp)


def lambda_lines(design: Design, cells: dict) -> list[LambdaLine]:
    """The lines of Figures 4b and 7: (method, setting) at >= 2 nonzero lambdas, at the largest
    data fraction, each with the lambda-0 runs of its setting (the baseline's where several)."""
    _, _, behind = fd.lambda_panel(design, cells, lambda run: 0.0)
    found = []
    for label, (method, setting, by_lambda) in behind.items():
        zero = [
            (arm, finished(runs)) for (arm, where), runs in cells.items() if where == setting and {run.stp_lambda for run in runs} == {0.0}
        ]
        zero = [item for item in zero if item[1]]
        chosen = next((item for item in zero if item[0] == design.baseline), zero[0] if zero else (None, []))
        found.append(LambdaLine(label, method, setting, by_lambda, tuple(chosen[1]), chosen[0]))
    return found


def stp_slope(line: LambdaLine, series: str) -> StpSlope | None:
    read = fd.final_series_reader(series)
    points = {stp_lambda: [read(run) for run in runs if read(run) is not None] for stp_lambda, runs in sorted(line.runs.items())}
    means = {stp_lambda: sum(values) / len(values) for stp_lambda, values in points.items() if values}
    if len(means) < 2:
        return None
    lowest = min(means, key=means.get)
    falling = tuple(stp_lambda for stp_lambda in sorted(means) if stp_lambda <= lowest)
    if len(falling) < 2:
        return StpSlope(line.label, series, falling, None, means)
    xs = [math.log10(stp_lambda) for stp_lambda in falling for _ in points[stp_lambda]]
    ys = [y for stp_lambda in falling for y in points[stp_lambda]]
    return StpSlope(line.label, series, falling, stats.linear_fit(xs, ys), means)


def ntp_changes(line: LambdaLine) -> list[NtpChange]:
    if not line.reference:
        return []
    key = final_key(NTP_SERIES)
    reference = stats.summarize(value(run, key) for run in line.reference).mean
    found = []
    for stp_lambda, runs in sorted(line.runs.items()):
        pairs, _ = pair_by_seed(runs, list(line.reference), key, (line.label, "λ=0"))
        interval = stats.mean_interval(a - b for _, a, b in pairs)
        found.append(NtpChange(stp_lambda, interval, reference, ntp_verdict(interval, reference)))
    return found


def landscape_of(lines: list[LambdaLine], stp_series: list[str]) -> list[LambdaLandscape]:
    found = []
    for line in lines:
        slopes = tuple(slope for series in stp_series if (slope := stp_slope(line, series)) is not None)
        found.append(LambdaLandscape(line.label, slopes, tuple(ntp_changes(line))))
    return found


def slope_fit_curve(slope: StpSlope, colour: str | None) -> figures.Fit | None:
    if slope.fit is None:
        return None
    xs = tuple(slope.lambdas[0] * (slope.lambdas[-1] / slope.lambdas[0]) ** (i / 20) for i in range(21))
    ys = tuple(slope.fit.intercept + slope.fit.slope * math.log10(x) for x in xs)
    return figures.Fit(f"{slope.line}, {fd.series_title(slope.series)}: fit, {slope.fit.slope:+.3f} per decade", xs, ys, colour)


# ---------------------------------------------------------------------------------------------
# Figure 7: a quadratic in log lambda


@dataclass(frozen=True)
class AccuracyPeak:
    """One line's accuracy against log10 lambda: the fit, its peak and what the test set resolves."""

    task: str
    metric: str
    line: str
    lambdas: tuple
    means: dict  # lambda -> mean accuracy
    fit: stats.QuadraticFit | None  # None below 3 lambdas
    reference: float | None  # the lambda-0 mean
    test_count: int | None
    resolvable: float | None  # the binomial detectable difference near the peak accuracy

    @property
    def concave(self) -> bool:
        return self.fit is not None and self.fit.concave_p is not None and self.fit.c < 0 and self.fit.concave_p < stats.ALPHA

    @property
    def peak_lambda(self) -> float | None:
        return None if self.fit is None or self.fit.peak is None else 10**self.fit.peak

    @property
    def peak_interval(self) -> tuple[float, float] | None:
        if self.fit is None or self.fit.peak_low is None:
            return None
        return 10**self.fit.peak_low, 10**self.fit.peak_high

    @property
    def peak_inside(self) -> bool | None:
        peak = self.peak_lambda
        return None if peak is None else min(self.lambdas) <= peak <= max(self.lambdas)

    @property
    def span(self) -> float:
        return max(self.means.values()) - min(self.means.values())


def accuracy_peak(task: str, metric: str, line: LambdaLine) -> AccuracyPeak:
    key = task_key(task, metric)
    points = {
        stp_lambda: [value(run, key) for run in runs if value(run, key) is not None] for stp_lambda, runs in sorted(line.runs.items())
    }
    points = {stp_lambda: found for stp_lambda, found in points.items() if found}
    means = {stp_lambda: sum(found) / len(found) for stp_lambda, found in points.items()}
    xs = [math.log10(stp_lambda) for stp_lambda, found in points.items() for _ in found]
    ys = [y for found in points.values() for y in found]
    fit = stats.quadratic_fit(xs, ys) if len(points) >= 3 else None
    reference = stats.summarize(value(run, key) for run in line.reference).mean if line.reference else None
    counts = [int(c) for runs in line.runs.values() for run in runs if (c := value(run, count_key(task, metric)))]
    best = max(means.values()) if means else None
    resolvable = stats.binomial_detectable_difference(best, min(counts)) if counts and best is not None else None
    return AccuracyPeak(task, metric, line.label, tuple(points), means, fit, reference, min(counts) if counts else None, resolvable)


def peak_fit_curve(peak: AccuracyPeak, colour: str | None) -> figures.Fit | None:
    if peak.fit is None:
        return None
    low, high = math.log10(min(peak.lambdas)), math.log10(max(peak.lambdas))
    xs = tuple(low + (high - low) * i / 40 for i in range(41))
    mark = (peak.peak_lambda, peak.fit(peak.fit.peak)) if peak.peak_inside else None
    interval = peak.peak_interval if peak.peak_inside and peak.peak_interval else None
    if interval is not None:
        interval = (max(interval[0], min(peak.lambdas)), min(interval[1], max(peak.lambdas)))  # drawn within the axis
    label = f"{peak.line}: quadratic fit" + (f", peak λ={peak.peak_lambda:.3g}" if mark else "")
    return figures.Fit(label, tuple(10**x for x in xs), tuple(peak.fit(x) for x in xs), colour, mark, interval)
