"""The report's statistics: summaries, the paired one-tailed t-test (equal to scipy), and the
detectable differences, each against a hand-derived value."""

import math

import pytest
from scipy import stats as sps

from semantic_tube.experiments import stats

Z_SUM = 1.6448536269514722 + 0.8416212335729143  # z_0.95 + z_0.80 = 2.4864748605


def test_summary_is_mean_and_sample_std_ignoring_nulls():
    """[1, 2, 3, 4]: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, std sqrt(5 / 3)."""
    result = stats.summarize([1, None, 2, 3, 4])
    assert (result.mean, result.n) == (2.5, 4)
    assert result.std == pytest.approx(math.sqrt(5 / 3))


def test_summary_of_one_value_has_no_std_and_of_none_no_mean():
    assert stats.summarize([0.4]) == stats.Summary(0.4, None, 1)
    assert stats.summarize([None]) == stats.Summary(None, None, 0)


def test_paired_test_equals_scipy_on_known_numbers():
    a = [0.62, 0.65, 0.61, 0.66, 0.60]
    b = [0.58, 0.60, 0.61, 0.62, 0.57]
    expected = sps.ttest_rel(a, b, alternative="greater")
    result = stats.paired_t_test(a, b)
    assert result.n == 5
    assert result.statistic == pytest.approx(float(expected.statistic), rel=1e-12)
    assert result.p_value == pytest.approx(float(expected.pvalue), rel=1e-12)
    assert result.mean_difference == pytest.approx(0.032)


def test_paired_test_by_hand():
    """Differences 1, 2, 3: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 2 sqrt 3. With 2 degrees of
    freedom the t tail is closed-form: P(T > t) = (1 - t / sqrt(t^2 + 2)) / 2 = (1 - sqrt(12 / 14)) / 2."""
    result = stats.paired_t_test([11.0, 12.0, 13.0], [10.0, 10.0, 10.0])
    assert (result.mean_difference, result.sd_difference) == (2.0, 1.0)
    assert result.statistic == pytest.approx(2 * math.sqrt(3))
    assert result.p_value == pytest.approx((1 - math.sqrt(12 / 14)) / 2)  # 0.03709


def test_paired_test_is_one_tailed_greater():
    assert stats.paired_t_test([10.0, 10.0, 10.0], [11.0, 12.0, 13.0]).p_value == pytest.approx(1 - (1 - math.sqrt(12 / 14)) / 2)


def test_paired_test_undefined_cases_say_why():
    one = stats.paired_t_test([0.5], [0.4])
    assert one.p_value is None and "1 matched pair" in one.reason
    a, b = [0.61, 0.47, 0.63], [0.60, 0.46, 0.62]  # differences 0.01 up to rounding: scipy finds a "spread" of 3e-17
    assert sps.ttest_rel(a, b, alternative="greater").pvalue < 1e-10
    same = stats.paired_t_test(a, b)
    assert same.p_value is None and "same amount" in same.reason
    with pytest.raises(ValueError, match="equally long"):
        stats.paired_t_test([1.0, 2.0], [1.0])


def test_detectable_difference_tends_to_the_normal_approximation():
    """sd 0.05, n 2000: (z_0.95 + z_0.80) * 0.05 / sqrt(2000) = 2.48647 * 0.0011180 = 0.0027800."""
    assert stats.normal_detectable_difference(0.05, 2000) == pytest.approx(0.0027800, abs=1e-7)
    assert stats.detectable_difference(0.05, 2000) == pytest.approx(0.0027800, rel=2e-3)


def test_detectable_difference_is_larger_than_normal_for_few_seeds_and_has_the_power_asked():
    for n in (2, 3, 5, 10):
        exact = stats.detectable_difference(0.03, n)
        assert exact > stats.normal_detectable_difference(0.03, n)
        assert stats.power_of_paired_test(exact, 0.03, n) == pytest.approx(0.8, abs=1e-6)
    assert stats.detectable_difference(1.0, 2) * math.sqrt(2) == pytest.approx(8.1923, abs=1e-3)  # the noncentrality for df 1


def test_detectable_difference_needs_two_pairs():
    with pytest.raises(ValueError, match="n >= 2"):
        stats.detectable_difference(0.1, 1)


def test_binomial_detectable_difference_by_hand():
    """p 0.5 on 200 examples: 2.48647 * sqrt(2 * 0.25 / 200) = 2.48647 * 0.05 = 0.124324."""
    assert stats.binomial_detectable_difference(0.5, 200) == pytest.approx(Z_SUM * 0.05)
    assert stats.binomial_detectable_difference(0.0, 200) == 0.0
    with pytest.raises(ValueError):
        stats.binomial_detectable_difference(1.5, 200)


def test_combined_is_root_sum_of_squares():
    assert stats.combined_detectable_difference(0.03, 0.04) == pytest.approx(0.05)
    assert stats.combined_detectable_difference(None, 0.04) == pytest.approx(0.04)
    assert stats.combined_detectable_difference(None, None) is None


def test_seeds_to_detect_is_the_first_n_with_enough_power():
    """sd 0.05, gain 0.02: the normal approximation gives (2.48647 * 0.05 / 0.02)^2 = 38.6 seeds;
    the t-test needs a few more."""
    n = stats.seeds_to_detect(0.02, 0.05)
    assert 39 <= n <= 42
    assert stats.power_of_paired_test(0.02, 0.05, n) >= 0.8 > stats.power_of_paired_test(0.02, 0.05, n - 1)


def test_seeds_to_detect_grows_with_the_spread():
    counts = [stats.seeds_to_detect(0.02, sd) for sd in (0.005, 0.01, 0.02, 0.04, 0.08)]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)
    assert stats.seeds_to_detect(0.02, 0.0) == 2
    assert stats.seeds_to_detect(0.02, 10.0) is None  # beyond MAX_SEEDS


def test_test_examples_to_detect_inverts_the_binomial_bound():
    """p 0.5, gain 0.02: 2 * 0.25 * (2.48647 / 0.02)^2 = 7728.3, so 7729 examples."""
    count = stats.test_examples_to_detect(0.02, 0.5)
    assert count == 7729
    assert stats.binomial_detectable_difference(0.5, count) <= 0.02 < stats.binomial_detectable_difference(0.5, count - 1)


# ---------------------------------------------------------------------------------------------
# Intervals and fits (Figures 4 and 7)

T975 = {1: 12.706204736174698, 2: 4.302652729749464, 3: 3.182446305284263}  # t_0.975 by degrees of freedom


def test_mean_interval_by_hand():
    """[1, 2, 3]: mean 2, sd 1, half-width t_0.975,2 · 1 / sqrt 3 = 4.30265 / 1.73205 = 2.48414."""
    found = stats.mean_interval([1.0, None, 2.0, 3.0])
    assert (found.mean, found.n) == (2.0, 3)
    assert found.low == pytest.approx(2 - T975[2] / math.sqrt(3)) and found.high == pytest.approx(2 + 2.48414, abs=1e-5)
    assert stats.mean_interval([0.5]) == stats.Interval(0.5, None, None, 1)


def test_linear_fit_by_hand():
    """x 0, 1, 2 and y 1, 3, 2: Sxy = 1, Sxx = 2, slope 0.5, intercept 1.5; residuals -0.5, 1, -0.5,
    RSS 1.5 on 1 degree of freedom, se of the slope sqrt(1.5 / 2), half-width t_0.975,1 · 0.866."""
    fit = stats.linear_fit([0.0, 1.0, 2.0], [1.0, 3.0, 2.0])
    assert (fit.slope, fit.intercept, fit.n) == (pytest.approx(0.5), pytest.approx(1.5), 3)
    assert fit.se_slope == pytest.approx(math.sqrt(0.75))
    assert fit.high - fit.slope == pytest.approx(T975[1] * math.sqrt(0.75))
    assert fit.r_squared == pytest.approx(0.25)  # Sxy² / (Sxx Syy) = 1 / (2 · 2)
    two = stats.linear_fit([0.0, 1.0], [1.0, 2.0])
    assert two.slope == pytest.approx(1.0) and two.low is None  # no residual degree of freedom
    with pytest.raises(ValueError, match="2 distinct x"):
        stats.linear_fit([1.0, 1.0], [1.0, 2.0])


def test_quadratic_fit_peak_concavity_and_fieller_interval_by_hand():
    """y = 1 - x² at x = -1, 0, 1, each twice with +-e (e = 0.1): the fit is a = 1, b = 0, c = -1
    (the noise cancels at each x), peak 0. RSS 6 e² on 3 degrees of freedom: s² = 2 e². (X'X)^-1
    has Vbb = 1/4, Vcc = 3/4, Vbc = 0 (times s²), so se(c) = e sqrt(1.5) and t = -1 / (0.1 sqrt 1.5)
    = -8.165. Fieller: 4 (c² - t² Vcc) x0² - t² Vbb <= 0 gives x0 = +- sqrt(t² s²/4 / (4 (1 - t² s² 3/4))),
    with t = t_0.975,3: +-0.1222."""
    e = 0.1
    x = [-1.0, -1.0, 0.0, 0.0, 1.0, 1.0]
    y = [-e, e, 1 + e, 1 - e, -e, e]
    fit = stats.quadratic_fit(x, y)
    assert (fit.a, fit.b, fit.c) == (pytest.approx(1.0), pytest.approx(0.0, abs=1e-12), pytest.approx(-1.0))
    assert fit.peak == pytest.approx(0.0, abs=1e-12) and fit(0.5) == pytest.approx(0.75)
    assert fit.se_c == pytest.approx(e * math.sqrt(1.5))
    assert fit.concave_p == pytest.approx(float(sps.t.cdf(-1 / (e * math.sqrt(1.5)), 3)))
    s2, t2 = 2 * e * e, T975[3] ** 2
    half = math.sqrt(t2 * s2 / 4 / (4 * (1 - t2 * s2 * 0.75)))
    assert half == pytest.approx(0.1222, abs=1e-4)
    assert (fit.peak_low, fit.peak_high) == (pytest.approx(-half), pytest.approx(half))


def test_quadratic_fit_says_when_the_peak_is_not_bounded():
    """A convex fit has no peak; a flat noisy one has a peak whose interval is unbounded."""
    convex = stats.quadratic_fit([-1.0, 0.0, 1.0, 2.0], [1.0, 0.1, 1.1, 4.0])
    assert convex.c > 0 and convex.peak is None and convex.concave_p > 0.5
    flat = stats.quadratic_fit([-1.0, -1.0, 0.0, 0.0, 1.0, 1.0], [0.5, 0.6, 0.56, 0.54, 0.52, 0.6])
    assert flat.concave_p > 0.05 and (flat.peak_low, flat.peak_high) == (None, None)
    exact = stats.quadratic_fit([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])  # 3 points, no residual degree of freedom
    assert exact.peak == pytest.approx(0.0, abs=1e-12) and exact.concave_p is None
    with pytest.raises(ValueError, match="3 distinct x"):
        stats.quadratic_fit([0.0, 1.0, 1.0], [1.0, 2.0, 3.0])


def test_a_fit_can_be_concave_one_tailed_while_its_peak_interval_is_unbounded():
    """Concavity is tested one-tailed (t below -t_0.95), Fieller's 95% interval is bounded only
    past t_0.975, so between the two a concave curve has no bounded peak: here landscape-quick's
    seed 82 (exact at log10 lambda of 0.005 ... 1.28, 2 residual degrees of freedom)."""
    x = [math.log10(stp_lambda) for stp_lambda in (0.005, 0.02, 0.08, 0.32, 1.28)]
    fit = stats.quadratic_fit(x, [0.614, 0.622, 0.616, 0.592, 0.412])
    t = fit.c / fit.se_c
    assert -sps.t.ppf(0.975, 2) < t < -sps.t.ppf(0.95, 2)
    assert fit.concave_p < 0.05 and (fit.peak_low, fit.peak_high) == (None, None)
