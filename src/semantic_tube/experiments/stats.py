"""The statistics of a sweep report: mean and spread over seeds, the paper's paired test, what a
design of this size can detect at all, and the fits of the loss landscape and of accuracy against
lambda (a line, a quadratic with its peak).

The paper reports mean and standard deviation over five seeds and a paired, one-tailed t-test
(Sec. 4, Tables 4-5): runs that share a seed (and data subset) differ only in the method, so
testing the per-seed differences removes the seed-to-seed variation both methods share.

A p-value above 0.05 is not evidence of no effect. `detectable_difference` says how large a true
gain would have been found with 80% power, from two independent sources of error:
- training randomness: the spread of the paired differences over seeds, through the exact
  power of the one-tailed paired t-test (noncentral t);
- the test set: every seed is scored on the same n test examples, so the error of an accuracy
  estimated from n examples (binomial, sqrt(p(1-p)/n) per method) does not shrink with seeds.
Their variances add, so the combined detectable difference is the root of the sum of squares of
the two parts (each keeping its own multiplier; with the normal multiplier for both this is
exactly the normal-approximation detectable difference of the total variance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy import stats as sps

ALPHA = 0.05  # one-tailed significance level
POWER = 0.80
GAIN = 0.02  # "a 2-point gain" on an accuracy in [0, 1]
MAX_SEEDS = 1000  # seeds_to_detect gives up beyond this
SPREAD_TOLERANCE = 1e-12  # paired differences whose sd is below this (relative) are equal: t is undefined


@dataclass(frozen=True)
class Summary:
    """Mean and sample standard deviation (n - 1 in the denominator; None below 2 values)."""

    mean: float | None
    std: float | None
    n: int


def summarize(values) -> Summary:
    """Summary of the values that are not None (a null metric is an unmeasured one, not a 0)."""
    present = [float(value) for value in values if value is not None]
    if not present:
        return Summary(None, None, 0)
    mean = math.fsum(present) / len(present)
    std = math.sqrt(math.fsum((value - mean) ** 2 for value in present) / (len(present) - 1)) if len(present) > 1 else None
    return Summary(mean, std, len(present))


@dataclass(frozen=True)
class PairedTest:
    """One-tailed paired t-test of mean(a - b) > 0; `p_value` None with `reason` when undefined."""

    n: int
    mean_difference: float | None
    sd_difference: float | None
    statistic: float | None
    p_value: float | None
    reason: str | None = None


def paired_t_test(a: list[float], b: list[float]) -> PairedTest:
    """scipy.stats.ttest_rel(a, b, alternative="greater"), with the cases it cannot decide named:
    fewer than 2 pairs (no spread to estimate), and differences without spread (t undefined)."""
    if len(a) != len(b):
        raise ValueError(f"paired test needs equally long samples, got {len(a)} and {len(b)}")
    differences = summarize([x - y for x, y in zip(a, b)])
    if len(a) < 2:
        return PairedTest(len(a), differences.mean, None, None, None, f"{len(a)} matched pair{'s' * (len(a) != 1)}; a paired test needs 2")
    if differences.std <= SPREAD_TOLERANCE * max(abs(x) for x in (*a, *b)):  # equal up to rounding (0.61 - 0.60 vs 0.63 - 0.62)
        return PairedTest(len(a), differences.mean, 0.0, None, None, "every pair differs by the same amount: no spread to test against")
    result = sps.ttest_rel(a, b, alternative="greater")
    return PairedTest(len(a), differences.mean, differences.std, float(result.statistic), float(result.pvalue))


def power_of_paired_test(difference: float, sd: float, n: int, alpha: float = ALPHA) -> float:
    """Probability that the one-tailed paired t-test at level `alpha` rejects when the true mean
    difference is `difference` and the differences' standard deviation is `sd`: the t statistic
    then follows a noncentral t with n - 1 degrees of freedom and noncentrality difference * sqrt(n) / sd."""
    df = n - 1
    return float(sps.nct.sf(sps.t.ppf(1 - alpha, df), df, difference * math.sqrt(n) / sd))


def detectable_difference(sd: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest true mean difference the paired test detects with probability `power` (exact,
    noncentral t). With 2 pairs it is 8.19 sd / sqrt(2); it tends to the normal value below as n grows."""
    if n < 2:
        raise ValueError(f"a paired test needs n >= 2 pairs, got {n}")
    if sd == 0.0:
        return 0.0
    df = n - 1
    critical = sps.t.ppf(1 - alpha, df)
    noncentrality = optimize.brentq(lambda nc: sps.nct.sf(critical, df, nc) - power, 0.0, 1e3, xtol=1e-10)
    return noncentrality * sd / math.sqrt(n)


def normal_detectable_difference(sd: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """(z_(1-alpha) + z_power) * sd / sqrt(n): the large-sample value, 2.486 sd / sqrt(n)."""
    return (sps.norm.ppf(1 - alpha) + sps.norm.ppf(power)) * sd / math.sqrt(n)


def binomial_detectable_difference(accuracy: float, count: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The difference between two accuracies near `accuracy`, each measured on `count` test
    examples, detectable with `power` by a one-tailed test: (z_(1-alpha) + z_power) * sqrt(2 p (1 - p) / count)."""
    if count < 1:
        raise ValueError(f"test-set size must be >= 1, got {count}")
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy must lie in [0, 1], got {accuracy}")
    return (sps.norm.ppf(1 - alpha) + sps.norm.ppf(power)) * math.sqrt(2 * accuracy * (1 - accuracy) / count)


def combined_detectable_difference(seeds: float | None, test_set: float | None) -> float | None:
    """The two parts in quadrature (independent errors add variances); one part alone when the other is unknown."""
    parts = [part for part in (seeds, test_set) if part is not None]
    return math.sqrt(math.fsum(part * part for part in parts)) if parts else None


def seeds_to_detect(gain: float, sd: float, alpha: float = ALPHA, power: float = POWER, limit: int = MAX_SEEDS) -> int | None:
    """The fewest paired seeds whose test detects a true `gain` with `power`, given the observed
    spread `sd` of paired differences; None when even `limit` seeds would not. Power grows with n,
    so a bisection finds the first n that reaches it."""
    if gain <= 0:
        raise ValueError(f"gain must be > 0, got {gain}")
    if sd == 0.0:
        return 2
    if power_of_paired_test(gain, sd, limit, alpha) < power:
        return None
    low, high = 1, limit  # power(low) < power <= power(high); n = 1 has no test at all
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if power_of_paired_test(gain, sd, middle, alpha) >= power else (middle, high)
    return high


def test_examples_to_detect(gain: float, accuracy: float, alpha: float = ALPHA, power: float = POWER) -> int:
    """The test-set size at which the binomial detectable difference near `accuracy` falls to `gain`."""
    multiplier = sps.norm.ppf(1 - alpha) + sps.norm.ppf(power)
    return math.ceil(2 * accuracy * (1 - accuracy) * (multiplier / gain) ** 2)


# ---------------------------------------------------------------------------------------------
# Intervals and fits for the loss landscape (Fig. 4) and the accuracy against lambda (Fig. 7)

CONFIDENCE = 0.95  # two-sided intervals


@dataclass(frozen=True)
class Interval:
    """A mean with its two-sided t interval (None below 2 values, or without spread: no interval)."""

    mean: float | None
    low: float | None
    high: float | None
    n: int


def mean_interval(values, confidence: float = CONFIDENCE) -> Interval:
    """mean ± t_(1 - (1 - confidence) / 2, n - 1) · sd / sqrt(n) of the values that are not None."""
    point = summarize(values)
    if point.n < 2 or point.std is None:
        return Interval(point.mean, None, None, point.n)
    half = sps.t.ppf(0.5 + confidence / 2, point.n - 1) * point.std / math.sqrt(point.n)
    return Interval(point.mean, float(point.mean - half), float(point.mean + half), point.n)


@dataclass(frozen=True)
class LinearFit:
    """y = intercept + slope · x by least squares, the slope's standard error and two-sided
    interval (t with n - 2 degrees of freedom; None with fewer than 3 points), and R²."""

    slope: float
    intercept: float
    se_slope: float | None
    low: float | None
    high: float | None
    r_squared: float | None
    n: int


def linear_fit(x: list[float], y: list[float], confidence: float = CONFIDENCE) -> LinearFit:
    """scipy.stats.linregress with its slope interval; needs 2 distinct x values."""
    if len(x) != len(y):
        raise ValueError(f"a fit needs as many x as y, got {len(x)} and {len(y)}")
    if len(set(x)) < 2:
        raise ValueError(f"a line needs 2 distinct x values, got {sorted(set(x))}")
    result = sps.linregress(x, y)
    n = len(x)
    if n < 3:
        return LinearFit(float(result.slope), float(result.intercept), None, None, None, None, n)
    se = float(result.stderr)
    half = sps.t.ppf(0.5 + confidence / 2, n - 2) * se
    slope = float(result.slope)
    return LinearFit(slope, float(result.intercept), se, float(slope - half), float(slope + half), float(result.rvalue) ** 2, n)


@dataclass(frozen=True)
class QuadraticFit:
    """y = a + b x + c x² by least squares, over n points with n - 3 degrees of freedom.

    `concave_p`: the one-tailed p of the t-test of c < 0 (None without a residual degree of
    freedom); `peak`: the vertex -b / (2c) where c < 0 (a maximum), else None; `peak_low` and
    `peak_high`: its Fieller interval, the x0 where the slope b + 2 c x0 = 0 is not rejected at the
    two-sided level; None where that set is unbounded (c not significantly nonzero) or empty."""

    a: float
    b: float
    c: float
    se_c: float | None
    concave_p: float | None
    peak: float | None
    peak_low: float | None
    peak_high: float | None
    n: int

    def __call__(self, x: float) -> float:
        return self.a + self.b * x + self.c * x * x


def quadratic_fit(x: list[float], y: list[float], confidence: float = CONFIDENCE) -> QuadraticFit:
    """Least squares on [1, x, x²]; needs 3 distinct x values. The peak's interval is Fieller's
    for the ratio -b / (2c) of two normal estimates (exact under the model's normal errors, unlike
    the delta method, which fails as c nears 0): the x0 with (b + 2 c x0)² <= t² Var(b + 2 c x0)."""
    if len(x) != len(y):
        raise ValueError(f"a fit needs as many x as y, got {len(x)} and {len(y)}")
    if len(set(x)) < 3:
        raise ValueError(f"a quadratic needs 3 distinct x values, got {sorted(set(x))}")
    design = np.column_stack([np.ones(len(x)), np.asarray(x, float), np.asarray(x, float) ** 2])
    coefficients, *_ = np.linalg.lstsq(design, np.asarray(y, float), rcond=None)
    a, b, c = (float(value) for value in coefficients)
    n, df = len(x), len(x) - 3
    peak = -b / (2 * c) if c < 0 else None
    if df < 1:
        return QuadraticFit(a, b, c, None, None, peak, None, None, n)
    residuals = np.asarray(y, float) - design @ coefficients
    variance = float(residuals @ residuals) / df
    covariance = variance * np.linalg.inv(design.T @ design)
    se_c = math.sqrt(covariance[2, 2])
    if se_c == 0.0:  # the points lie on the parabola exactly: its curvature is known
        return QuadraticFit(a, b, c, 0.0, 0.0 if c < 0 else 1.0, peak, peak, peak, n)
    concave_p = float(sps.t.cdf(c / se_c, df))
    t = sps.t.ppf(0.5 + confidence / 2, df)
    vbb, vbc, vcc = covariance[1, 1], covariance[1, 2], covariance[2, 2]
    # (b + 2 c x0)² - t² (vbb + 4 x0 vbc + 4 x0² vcc) <= 0, a quadratic A x0² + B x0 + C <= 0
    qa, qb, qc = 4 * (c * c - t * t * vcc), 4 * (b * c - t * t * vbc), b * b - t * t * vbb
    low = high = None
    discriminant = qb * qb - 4 * qa * qc
    if qa > 0 and discriminant >= 0:
        roots = sorted(((-qb - math.sqrt(discriminant)) / (2 * qa), (-qb + math.sqrt(discriminant)) / (2 * qa)))
        low, high = float(roots[0]), float(roots[1])
    return QuadraticFit(a, b, c, se_c, concave_p, peak, low, high, n)
