"""Tests for csp.stats.

Expected values come from (a) published worked examples / tables, cited
inline, or (b) independent implementations written here (pure-Python
binomial sums, scipy chi-square exact intervals, Wilson's formula re-derived
as a quadratic). Nothing asserts a constant that was read back from the code.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats as sps

from csp import stats as S

FAST = settings(max_examples=150, deadline=None)


# --------------------------------------------------------------------------
# Independent reference implementations
# --------------------------------------------------------------------------

def ref_binom_two_sided(k: int, n: int, p: float) -> float:
    """Exact two-sided binomial p-value by the "minimum likelihood" rule
    (sum of all outcomes no more likely than the observed one), computed
    with math.comb so it shares no code with scipy.binomtest."""
    if n == 0:
        return 1.0
    pmf = [math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    obs = pmf[k]
    return min(1.0, sum(q for q in pmf if q <= obs * (1 + 1e-7)))


def ref_garwood(o: int, conf: float) -> tuple[float, float]:
    """Exact Poisson limits by root-finding on the Poisson CDF itself
    (the definition), rather than the chi-square shortcut used in the code."""
    from scipy.optimize import brentq

    a = (1 - conf) / 2
    lower = 0.0 if o == 0 else brentq(lambda m: sps.poisson.sf(o - 1, m) - a, 1e-12, o + 50 * math.sqrt(o) + 50)
    upper = brentq(lambda m: sps.poisson.cdf(o, m) - a, 1e-12, o + 50 * math.sqrt(o + 1) + 50)
    return lower, upper


def ref_wilson(x: int, n: int, z: float) -> tuple[float, float]:
    """Wilson (1927) interval as the roots of the quadratic in pi:
    (p - pi)^2 = z^2 pi (1 - pi) / n, solved with numpy.roots."""
    p = x / n
    k = z * z / n
    # (1 + k) pi^2 - (2p + k) pi + p^2 = 0
    r = np.sort(np.real(np.roots([1 + k, -(2 * p + k), p * p])))
    return float(r[0]), float(r[1])


# --------------------------------------------------------------------------
# 1. Poisson change test / Wheeler
# --------------------------------------------------------------------------

class TestPoissonChange:
    def test_keys(self):
        r = S.poisson_change_test(30, 20)
        assert set(r) == {"current", "previous", "change", "pct_change",
                          "p_value", "significant", "direction", "wheeler"}

    @pytest.mark.parametrize("a,b", [(0, 0), (0, 5), (5, 0), (12, 5), (30, 20),
                                     (45, 20), (100, 130), (7, 7), (1, 9)])
    def test_p_value_matches_independent_binomial(self, a, b):
        r = S.poisson_change_test(a, b)
        assert r["p_value"] == pytest.approx(ref_binom_two_sided(a, a + b, 0.5), rel=1e-9)

    def test_hand_computed_small_case(self):
        # a=5, b=0: P(X=5 | n=5, p=.5) = 1/32; two-sided doubles it -> 1/16.
        r = S.poisson_change_test(5, 0)
        assert r["p_value"] == pytest.approx(1 / 16)
        assert r["pct_change"] is None
        assert r["change"] == 5
        assert r["significant"] is False  # 0.0625 >= 0.05
        assert r["direction"] == "none"

    def test_significant_rise_and_fall(self):
        up = S.poisson_change_test(45, 20)
        down = S.poisson_change_test(20, 45)
        assert up["significant"] and up["direction"] == "up"
        assert down["significant"] and down["direction"] == "down"
        assert up["pct_change"] == pytest.approx(125.0)  # (45-20)/20
        assert down["pct_change"] == pytest.approx(-55.555555, rel=1e-6)  # -25/45

    def test_non_significant_change_has_no_direction(self):
        r = S.poisson_change_test(22, 20)  # +10 %, well within noise
        assert not r["significant"]
        assert r["direction"] == "none"
        assert r["change"] == 2

    def test_alpha_controls_significance(self):
        p = S.poisson_change_test(30, 18)["p_value"]
        assert S.poisson_change_test(30, 18, alpha=p + 1e-9)["significant"]
        assert not S.poisson_change_test(30, 18, alpha=p)["significant"]

    def test_wheeler_hand_values(self):
        assert S.wheeler_statistic(100, 64) == pytest.approx(4.0)   # 2*(10-8)
        assert S.wheeler_statistic(49, 81) == pytest.approx(-4.0)   # 2*(7-9)
        assert S.wheeler_statistic(0, 0) == 0.0
        assert S.poisson_change_test(100, 64)["wheeler"] == pytest.approx(4.0)

    def test_wheeler_threshold_false_alarm_rate(self):
        # Docstring claim: with no real change, |W| > 3 happens ~3-4 % of the
        # time. Check by exact summation over the joint Poisson pmf (lam=100).
        lam = 100
        k = np.arange(0, 400)
        pmf = sps.poisson.pmf(k, lam)
        w = 2 * (np.sqrt(k)[:, None] - np.sqrt(k)[None, :])
        rate = float((pmf[:, None] * pmf[None, :])[np.abs(w) > 3].sum())
        assert 0.02 < rate < 0.05

    @FAST
    @given(st.integers(0, 400), st.integers(0, 400))
    def test_properties(self, a, b):
        r = S.poisson_change_test(a, b)
        r2 = S.poisson_change_test(b, a)
        assert 0.0 <= r["p_value"] <= 1.0
        assert r["p_value"] == pytest.approx(r2["p_value"], rel=1e-9)  # symmetric
        assert r["change"] == a - b
        if r["direction"] == "up":
            assert a > b and r["significant"]
        elif r["direction"] == "down":
            assert a < b and r["significant"]
        else:
            assert not r["significant"] or a == b
        assert r["wheeler"] == pytest.approx(-r2["wheeler"])


class TestRateRatio:
    @pytest.mark.parametrize("a,ea,b,eb", [(30, 1.0, 20, 1.0), (30, 2.0, 20, 1.0),
                                           (12, 31, 5, 28), (0, 3, 9, 1), (50, 120_000, 40, 80_000)])
    def test_matches_independent_binomial(self, a, ea, b, eb):
        r = S.poisson_rate_ratio_test(a, ea, b, eb)
        assert r["p_value"] == pytest.approx(ref_binom_two_sided(a, a + b, ea / (ea + eb)), rel=1e-6)

    def test_equal_exposure_reduces_to_change_test(self):
        assert S.poisson_rate_ratio_test(37, 5, 21, 5)["p_value"] == pytest.approx(
            S.poisson_change_test(37, 21)["p_value"])

    def test_doubling_exposure_explains_doubling_count(self):
        # 40 events in 2 years vs 20 in 1 year: identical rates -> p = 1.
        r = S.poisson_rate_ratio_test(40, 2, 20, 1)
        assert r["rate_ratio"] == pytest.approx(1.0)
        assert r["p_value"] == pytest.approx(1.0)
        assert r["direction"] == "none"

    def test_rates_and_keys(self):
        r = S.poisson_rate_ratio_test(60, 2, 20, 1)
        assert r["rate_current"] == 30 and r["rate_previous"] == 20
        assert r["rate_ratio"] == pytest.approx(1.5)
        assert S.poisson_rate_ratio_test(5, 1, 0, 1)["rate_ratio"] is None

    def test_rejects_bad_exposure(self):
        with pytest.raises(ValueError):
            S.poisson_rate_ratio_test(5, 0, 3, 1)
        with pytest.raises(ValueError, match="suppressed"):
            S.poisson_rate_ratio_test(5, None, 3, 1)


# --------------------------------------------------------------------------
# 2. Poisson CIs and rates
# --------------------------------------------------------------------------

class TestPoissonCI:
    # Exact 95 % Poisson limits as tabulated in standard references (e.g.
    # Documenta Geigy Scientific Tables; Sahai & Khurshid 1993; the values
    # reproduced by Daly (1992) Table 2 for 0, 1, 10, 50, 100 events).
    PUBLISHED_EXACT_95 = {
        0: (0.0, 3.689), 1: (0.0253, 5.572), 2: (0.242, 7.225), 3: (0.619, 8.767),
        5: (1.623, 11.668), 10: (4.795, 18.390), 50: (37.11, 65.92), 100: (81.36, 121.63),
    }

    @pytest.mark.parametrize("o", sorted(PUBLISHED_EXACT_95))
    def test_exact_matches_published_table(self, o):
        lo, hi = S.exact_poisson_ci(o, 0.95)
        plo, phi = self.PUBLISHED_EXACT_95[o]
        assert lo == pytest.approx(plo, abs=6e-4, rel=5e-4)
        assert hi == pytest.approx(phi, abs=6e-4, rel=5e-4)

    @pytest.mark.parametrize("o", [0, 1, 4, 17, 250])
    @pytest.mark.parametrize("conf", [0.95, 0.998])
    def test_exact_matches_poisson_cdf_definition(self, o, conf):
        lo, hi = S.exact_poisson_ci(o, conf)
        rlo, rhi = ref_garwood(o, conf)
        assert lo == pytest.approx(rlo, rel=1e-7, abs=1e-10)
        assert hi == pytest.approx(rhi, rel=1e-7)

    def test_byar_within_phe_stated_accuracy(self):
        # PHE "Technical Guide: Confidence Intervals" (2018), Appendix 1:
        # at 95 %, Byar's method is within 0.2 % of the exact value for
        # numerators of 10 or more. Check 10..3000 against scipy chi2 limits.
        o = np.arange(10, 3001)
        elo = sps.chi2.ppf(0.025, 2 * o) / 2
        ehi = sps.chi2.ppf(0.975, 2 * o + 2) / 2
        byar = np.array([S.byar_ci(int(k), 0.95) for k in o])
        assert np.all(np.abs(byar[:, 0] - elo) / elo < 0.002)
        assert np.all(np.abs(byar[:, 1] - ehi) / ehi < 0.002)

    def test_byar_998_close_to_exact(self):
        # 99.8 % limits (Fingertips funnel outer limits): looser, but still
        # within a couple of percent of exact for counts >= 10.
        for o in range(10, 500):
            blo, bhi = S.byar_ci(o, 0.998)
            elo, ehi = S.exact_poisson_ci(o, 0.998)
            assert abs(blo - elo) / elo < 0.02
            assert abs(bhi - ehi) / ehi < 0.02

    def test_byar_formula_by_hand_for_o_10(self):
        # Formula from PHE Technical Guide (2018) Appendix 1, evaluated by
        # hand with z = 1.959964: lower = 10*(1 - 1/90 - z/(3*sqrt 10))^3.
        z = 1.959964
        lower = 10 * (1 - 1 / 90 - z / (3 * math.sqrt(10))) ** 3
        upper = 11 * (1 - 1 / 99 + z / (3 * math.sqrt(11))) ** 3
        assert S.byar_ci(10) == pytest.approx((lower, upper), rel=1e-6)
        # ... and both agree with the exact table to 3 d.p.-ish.
        assert lower == pytest.approx(4.795, abs=0.01)
        assert upper == pytest.approx(18.390, abs=0.01)

    def test_byar_zero_count(self):
        lo, hi = S.byar_ci(0)
        assert lo == 0.0
        # Exact upper for 0 events is -ln(0.025) = 3.689 (Poisson P(0)=e^-m).
        assert hi == pytest.approx(-math.log(0.025), rel=0.01)

    def test_byar_small_count_high_confidence_is_clamped(self):
        lo, hi = S.byar_ci(1, 0.998)
        assert lo >= 0.0 and hi > 1

    @FAST
    @given(st.integers(0, 100_000), st.sampled_from([0.8, 0.9, 0.95, 0.99, 0.998]))
    def test_byar_properties(self, o, conf):
        lo, hi = S.byar_ci(o, conf)
        lo1, hi1 = S.byar_ci(o + 1, conf)
        assert 0 <= lo <= o <= hi
        assert lo1 >= lo and hi1 > hi          # monotone in the count
        wlo, whi = S.byar_ci(o, min(0.999, conf + 0.001))
        assert wlo <= lo and whi >= hi          # wider at higher confidence

    @FAST
    @given(st.integers(0, 100_000))
    def test_exact_properties(self, o):
        lo, hi = S.exact_poisson_ci(o)
        lo1, hi1 = S.exact_poisson_ci(o + 1)
        assert 0 <= lo <= o <= hi
        assert lo1 > lo or o == 0
        assert hi1 > hi

    def test_rate_per_1000(self):
        # 150 offences in a population of 60,000 -> 2.5 per 1,000.
        r = S.rate_per_1000(150, 60_000)
        assert set(r) == {"rate", "lower", "upper"}
        assert r["rate"] == pytest.approx(2.5)
        elo, ehi = (sps.chi2.ppf(0.025, 300) / 2, sps.chi2.ppf(0.975, 302) / 2)
        assert r["lower"] == pytest.approx(elo / 60, rel=0.002)
        assert r["upper"] == pytest.approx(ehi / 60, rel=0.002)

    def test_rate_per_1000_rejects_bad_population(self):
        for pop in (0, -5, None, float("nan")):
            with pytest.raises(ValueError):
                S.rate_per_1000(10, pop)

    @FAST
    @given(st.integers(0, 5000), st.integers(1, 10_000_000))
    def test_rate_properties(self, c, pop):
        r = S.rate_per_1000(c, pop)
        assert r["lower"] <= r["rate"] <= r["upper"]
        assert r["rate"] == pytest.approx(1000 * c / pop)


# --------------------------------------------------------------------------
# 3. Wilson
# --------------------------------------------------------------------------

class TestWilson:
    # Newcombe RG (1998) "Two-sided confidence intervals for the single
    # proportion: comparison of seven methods", Stat Med 17:857-872, Table I,
    # method 3 (Wilson score, no continuity correction).
    @pytest.mark.parametrize("x,n,lo,hi", [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ])
    def test_newcombe_1998_table_1(self, x, n, lo, hi):
        l, u = S.wilson_ci(x, n)
        assert l == pytest.approx(lo, abs=5e-5)
        assert u == pytest.approx(hi, abs=5e-5)

    def test_n_zero(self):
        assert S.wilson_ci(0, 0) == (None, None)

    def test_all_successes(self):
        l, u = S.wilson_ci(20, 20)
        assert u == 1.0
        # Mirror of Newcombe's 0/20 example.
        assert l == pytest.approx(1 - 0.1611, abs=5e-5)

    def test_invalid(self):
        with pytest.raises(ValueError):
            S.wilson_ci(5, 4)
        with pytest.raises(ValueError):
            S.wilson_ci(-1, 4)
        with pytest.raises(ValueError):
            S.wilson_ci(1.5, 4)

    @FAST
    @given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
           st.sampled_from([0.9, 0.95, 0.99, 0.998]))
    def test_matches_quadratic_and_properties(self, xn, conf):
        x, n = xn
        lo, hi = S.wilson_ci(x, n, conf)
        rlo, rhi = ref_wilson(x, n, sps.norm.ppf(1 - (1 - conf) / 2))
        assert lo == pytest.approx(max(0.0, rlo), abs=1e-9)
        assert hi == pytest.approx(min(1.0, rhi), abs=1e-9)
        assert 0.0 <= lo <= x / n <= hi <= 1.0
        # Symmetry: swapping successes and failures mirrors the interval.
        mlo, mhi = S.wilson_ci(n - x, n, conf)
        assert lo == pytest.approx(1 - mhi, abs=1e-12)
        assert hi == pytest.approx(1 - mlo, abs=1e-12)
        if x < n:  # monotone in the number of successes
            nlo, nhi = S.wilson_ci(x + 1, n, conf)
            assert nlo >= lo and nhi >= hi


# --------------------------------------------------------------------------
# 4. Benchmarks and colours
# --------------------------------------------------------------------------

class TestBenchmark:
    @pytest.mark.parametrize("lo,hi,bench,pol,expected", [
        (1.0, 2.0, 3.0, "lower_is_better", "better"),
        (1.0, 2.0, 3.0, "higher_is_better", "worse"),
        (1.0, 2.0, 3.0, "none", "lower"),
        (4.0, 5.0, 3.0, "lower_is_better", "worse"),
        (4.0, 5.0, 3.0, "higher_is_better", "better"),
        (4.0, 5.0, 3.0, "none", "higher"),
        (2.0, 4.0, 3.0, "lower_is_better", "similar"),
        (2.0, 4.0, 3.0, "none", "similar"),
        (1.0, 3.0, 3.0, "lower_is_better", "similar"),  # touching = overlap
        (3.0, 4.0, 3.0, "higher_is_better", "similar"),
    ])
    def test_cases(self, lo, hi, bench, pol, expected):
        assert S.compare_to_benchmark(lo, hi, bench, pol) == expected

    def test_invalid(self):
        with pytest.raises(ValueError):
            S.compare_to_benchmark(1, 2, 3, "up_is_good")
        with pytest.raises(ValueError):
            S.compare_to_benchmark(3, 2, 1, "none")
        with pytest.raises(ValueError, match="suppressed"):
            S.compare_to_benchmark(None, 2, 1, "none")

    def test_end_to_end_with_wilson(self):
        # 81/263 (Newcombe) vs a 40 % benchmark: CI (0.255, 0.366) is below.
        lo, hi = S.wilson_ci(81, 263)
        assert S.compare_to_benchmark(lo, hi, 0.40, "lower_is_better") == "better"
        assert S.compare_to_benchmark(lo, hi, 0.30, "lower_is_better") == "similar"

    @pytest.mark.parametrize("direction,polarity,expected", [
        ("up", "lower_is_better", "bad"),
        ("up", "higher_is_better", "good"),
        ("down", "lower_is_better", "good"),
        ("down", "higher_is_better", "bad"),
        ("none", "lower_is_better", "neutral"),
        ("up", "none", "neutral"),
        ("higher", "lower_is_better", "bad"),
        ("lower", "lower_is_better", "good"),
        ("similar", "higher_is_better", "neutral"),
        ("better", "lower_is_better", "good"),
        ("worse", "higher_is_better", "bad"),
    ])
    def test_polarity_colour(self, direction, polarity, expected):
        assert S.polarity_colour(direction, polarity) == expected

    def test_polarity_colour_invalid(self):
        with pytest.raises(ValueError):
            S.polarity_colour("sideways", "lower_is_better")
        with pytest.raises(ValueError):
            S.polarity_colour("up", "bigger")


# --------------------------------------------------------------------------
# 5. Control charts
# --------------------------------------------------------------------------

# Montgomery DC, "Introduction to Statistical Quality Control" (e.g. 6th ed.,
# Example 7.3): nonconformities in 26 samples of 100 printed circuit boards.
# Published: c-bar = 516/26 = 19.85, UCL = 33.22, LCL = 6.48; sample 6 (c=5)
# and sample 20 (c=39) plot outside the limits.
# (Wheeler's "Making Sense of Data" uses the same c-chart limits,
# c-bar ± 3 sqrt(c-bar); this dataset is used because its numbers are widely
# reproduced.)
MONTGOMERY_PCB = [21, 24, 16, 12, 15, 5, 28, 20, 31, 25, 20, 24, 16,
                  19, 10, 17, 13, 22, 18, 39, 30, 24, 16, 19, 17, 15]

# Montgomery, same chapter, u-chart example: total nonconformities in 20 samples of
# n = 5 personal computers; published u-bar = 1.93, UCL = 3.79, LCL = 0.07,
# process in control.
MONTGOMERY_PC = [10, 12, 8, 14, 10, 16, 11, 7, 10, 15, 9, 5, 7, 11, 12, 6, 8, 10, 7, 5]


class TestControlCharts:
    def test_c_chart_montgomery(self):
        r = S.c_chart(MONTGOMERY_PCB)
        assert set(r) == {"centre", "lcl", "ucl", "outside", "too_short", "note"}
        assert r["centre"] == pytest.approx(19.85, abs=0.005)
        # Montgomery rounds c-bar to 19.85 before computing the limits
        # (19.85 + 3*sqrt(19.85) = 33.216), hence the slightly wider tolerance.
        assert r["ucl"] == pytest.approx(33.22, abs=0.015)
        assert r["lcl"] == pytest.approx(6.48, abs=0.015)
        flagged = [i + 1 for i, o in enumerate(r["outside"]) if o]
        assert flagged == [6, 20]
        assert r["too_short"] is False

    def test_c_chart_lcl_clamped(self):
        r = S.c_chart([0, 1, 2, 1, 0, 3, 1, 2, 0, 1, 2, 9])  # mean 1.83
        assert r["lcl"] == 0.0
        assert r["ucl"] == pytest.approx(22 / 12 + 3 * math.sqrt(22 / 12))
        assert r["outside"] == [False] * 11 + [True]

    def test_c_chart_too_short(self):
        r = S.c_chart([5, 6, 7])
        assert r["too_short"] is True
        assert r["lcl"] is None and r["ucl"] is None
        assert r["outside"] == [False, False, False]
        assert "12" in r["note"]
        assert S.c_chart([1] * 4, min_points=4)["too_short"] is False
        assert S.c_chart([])["centre"] is None

    def test_u_chart_montgomery(self):
        r = S.u_chart(MONTGOMERY_PC, [5] * 20)
        assert set(r) == {"centre", "u", "lcl", "ucl", "outside", "too_short", "note"}
        assert r["centre"] == pytest.approx(1.93)
        assert all(u == pytest.approx(3.79, abs=0.005) for u in r["ucl"])
        assert all(l == pytest.approx(0.07, abs=0.005) for l in r["lcl"])
        assert not any(r["outside"])

    def test_u_chart_variable_exposure(self):
        counts = [10, 12, 9, 11, 30, 10, 8, 13, 12, 9, 11, 10]
        expo = [10, 12, 9, 11, 10, 10, 8, 13, 12, 9, 11, 40]
        r = S.u_chart(counts, expo)
        ubar = sum(counts) / sum(expo)
        for i, e in enumerate(expo):
            assert r["ucl"][i] == pytest.approx(ubar + 3 * math.sqrt(ubar / e))
            assert r["lcl"][i] == pytest.approx(max(0.0, ubar - 3 * math.sqrt(ubar / e)))
        # Point 5 (30 events in 10 units) is far above; point 12 (10 in 40)
        # is below its tighter limits despite an unremarkable count.
        assert r["outside"][4] and r["outside"][11]
        assert sum(r["outside"]) == 2
        # Narrower limits for larger exposure.
        assert r["ucl"][11] < r["ucl"][0]

    def test_u_chart_validation(self):
        with pytest.raises(ValueError):
            S.u_chart([1, 2], [1])
        with pytest.raises(ValueError):
            S.u_chart([1, 2], [1, 0])
        with pytest.raises(ValueError, match="suppressed"):
            S.u_chart([1, 2], [1, None])
        assert S.u_chart([1, 2], [1, 1])["too_short"] is True

    @FAST
    @given(st.lists(st.integers(0, 500), min_size=12, max_size=60))
    def test_c_chart_properties(self, counts):
        r = S.c_chart(counts)
        assert r["centre"] == pytest.approx(np.mean(counts))
        assert 0 <= r["lcl"] <= r["centre"] <= r["ucl"]
        assert len(r["outside"]) == len(counts)
        for c, o in zip(counts, r["outside"]):
            assert o == (c > r["ucl"] or c < r["lcl"])


# --------------------------------------------------------------------------
# 6. Rolling sums
# --------------------------------------------------------------------------

class TestRolling:
    def test_rolling_sum_small(self):
        assert S.rolling_sum([1, 2, 3, 4, 5], window=3) == [None, None, 6, 9, 12]
        assert S.rolling_sum([1, 2], window=3) == [None, None]
        assert S.rolling_sum([], window=12) == []
        assert S.rolling_sum([4, 5], window=1) == [4, 5]

    def test_rolling_sum_rejects_bad_window(self):
        with pytest.raises(ValueError):
            S.rolling_sum([1, 2, 3], window=0)

    @FAST
    @given(st.lists(st.integers(0, 10_000), max_size=60), st.integers(1, 15))
    def test_rolling_sum_matches_numpy_convolve(self, values, window):
        out = S.rolling_sum(values, window)
        assert len(out) == len(values)
        assert out[: window - 1] == [None] * min(window - 1, len(values))
        if len(values) >= window:
            ref = np.convolve(values, np.ones(window, dtype=np.int64), mode="valid")
            assert out[window - 1:] == ref.tolist()

    def test_rolling_12_vs_previous(self):
        prev = [10] * 12          # 120
        curr = [15] * 12          # 180
        r = S.rolling_12_vs_previous([999] * 6 + prev + curr)
        assert r["current"] == 180 and r["previous"] == 120
        assert r["p_value"] == pytest.approx(ref_binom_two_sided(180, 300, 0.5), rel=1e-9)
        assert r["direction"] == "up"

    def test_rolling_12_vs_previous_short(self):
        assert S.rolling_12_vs_previous([1] * 23) is None
        assert S.rolling_12_vs_previous([]) is None

    def test_rolling_12_suppression_only_in_window_matters(self):
        old_suppressed = [None] + [5] * 24
        assert S.rolling_12_vs_previous(old_suppressed)["p_value"] == pytest.approx(1.0)
        with pytest.raises(ValueError, match="suppressed"):
            S.rolling_12_vs_previous([5] * 20 + [None] + [5] * 3)


# --------------------------------------------------------------------------
# 7. Suppression: None / NaN never silently used
# --------------------------------------------------------------------------

NAN = float("nan")


@pytest.mark.parametrize("call", [
    lambda: S.poisson_change_test(None, 5),
    lambda: S.poisson_change_test(5, None),
    lambda: S.poisson_change_test(NAN, 5),
    lambda: S.poisson_change_test(np.float64("nan"), 5),
    lambda: S.wheeler_statistic(None, 5),
    lambda: S.poisson_rate_ratio_test(None, 1, 5, 1),
    lambda: S.poisson_rate_ratio_test(5, 1, None, 1),
    lambda: S.byar_ci(None),
    lambda: S.exact_poisson_ci(None),
    lambda: S.rate_per_1000(None, 1000),
    lambda: S.wilson_ci(None, 10),
    lambda: S.wilson_ci(3, None),
    lambda: S.c_chart([1, 2, None] + [3] * 12),
    lambda: S.c_chart([1, 2, NAN] + [3] * 12),
    lambda: S.c_chart(None),
    lambda: S.u_chart([1, None] + [3] * 12, [1] * 14),
    lambda: S.rolling_sum([1, 2, None, 4]),
    lambda: S.rolling_12_vs_previous([1] * 23 + [None]),
])
def test_suppressed_values_rejected(call):
    with pytest.raises(ValueError, match="suppressed value"):
        call()


def test_other_invalid_counts_rejected():
    with pytest.raises(ValueError):
        S.poisson_change_test(-1, 5)
    with pytest.raises(ValueError):
        S.poisson_change_test(2.5, 5)
    with pytest.raises(TypeError):
        S.byar_ci("12")
    with pytest.raises(ValueError):
        S.byar_ci(5, conf=1.5)


def test_numpy_and_integral_float_counts_accepted():
    a = S.poisson_change_test(np.int64(30), 20.0)
    b = S.poisson_change_test(30, 20)
    assert a == b
    assert S.byar_ci(np.int32(10)) == S.byar_ci(10)


def test_byar_ci_array_equals_the_scalar_formula():
    counts = list(range(0, 300)) + [1234, 98765]
    lo, hi = S.byar_ci_array(counts)
    for c, l, h in zip(counts, lo, hi):
        sl, sh = S.byar_ci(c)
        assert l == pytest.approx(sl, rel=1e-12, abs=1e-12) and h == pytest.approx(sh, rel=1e-12)
    with pytest.raises(ValueError, match="suppressed"):
        S.byar_ci_array([3.0, float("nan")])


def test_binomial_p_matches_scipy_binomtest():
    """The app computes the exact two-sided binomial p-value with scipy.special (scipy.stats
    costs ~47 MB per process); it must equal scipy.stats.binomtest, ties and tails included."""
    import random

    rng = random.Random(3)
    cases = [(0, 1, 0.5), (1, 1, 0.5), (5, 10, 0.5), (3, 10, 0.5), (7, 10, 0.5), (0, 40, 0.3),
             (40, 40, 0.3), (12, 40, 0.3), (1500, 2800, 0.5), (2, 1000, 0.01)]
    cases += [(k, n, p) for n, p in ((rng.randint(1, 3000), rng.choice([0.5, 0.5, rng.random()]))
                                     for _ in range(400)) for k in [rng.randint(0, n)]]
    for k, n, p in cases:
        want = sps.binomtest(k, n, p).pvalue
        assert S.binom_two_sided_p(k, n, p) == pytest.approx(want, rel=1e-6, abs=1e-15), (k, n, p)


def test_normal_and_chi2_quantiles_match_scipy_stats():
    for conf in (0.8, 0.9, 0.95, 0.99, 0.998):
        assert S._z(conf) == pytest.approx(sps.norm.ppf(1 - (1 - conf) / 2), rel=1e-12)
    for o in (1, 2, 5, 17, 120, 5000):
        lo, hi = S.exact_poisson_ci(o, 0.95)
        assert lo == pytest.approx(sps.chi2.ppf(0.025, 2 * o) / 2, rel=1e-10)
        assert hi == pytest.approx(sps.chi2.ppf(0.975, 2 * o + 2) / 2, rel=1e-10)


# --------------------------------------------------------------------------
# Exact Poisson limits, count ratios and which periods may be compared (issue 13)
# --------------------------------------------------------------------------

class TestPoissonLimits:
    @pytest.mark.parametrize("mean", [0.0, 0.01, 0.3, 0.75, 1, 2.5, 4.99, 5, 7, 19.85, 50, 123.4,
                                      999.5, 2000, 54321])
    @pytest.mark.parametrize("q", [S.THREE_SIGMA_TAIL, 0.025, 0.5, 0.975, 1 - S.THREE_SIGMA_TAIL])
    def test_ppf_matches_scipy(self, mean, q):
        # scipy gives nan for a mean of 0; the only value Poisson(0) takes is 0
        want = int(sps.poisson.ppf(q, mean)) if mean else 0
        assert S.poisson_ppf(q, mean) == want

    def test_three_sigma_tail_is_the_normal_tail(self):
        assert S.THREE_SIGMA_TAIL == pytest.approx(sps.norm.sf(3), rel=1e-12)

    def test_mean_of_0_3_hand_computed(self):
        # P(X <= 2) = e^-0.3 (1 + 0.3 + 0.045) = 0.99640 < 0.99865 <= P(X <= 3) = 0.99973, and
        # P(X = 0) = 0.741 > 0.00135: limits 0 and 3, where c-bar ± 3 sqrt(c-bar) gives 1.94.
        e = math.exp(-0.3)
        assert e * (1 + 0.3 + 0.045) < 1 - S.THREE_SIGMA_TAIL <= e * (1 + 0.3 + 0.045 + 0.0045)
        assert S.poisson_limits(0.3) == (0, 3)
        assert S.c_chart([1] * 6 + [0] * 14)["ucl"] == pytest.approx(1.943, abs=5e-4)

    @FAST
    @given(st.floats(0, 5000, allow_nan=False))
    def test_limits_have_the_three_sigma_tail_areas(self, mean):
        lo, hi = S.poisson_limits(mean)
        assert 0 <= lo <= mean
        # the upper limit is below the mean only when even one event is rarer than the tail
        # (mean < 0.00135: a phase of over 740 months holding a single event)
        assert mean <= hi or (hi == 0 and -math.expm1(-mean) <= S.THREE_SIGMA_TAIL)
        # beyond the limits: at most the tail; one step in: more than the tail (limits are tight)
        assert sps.poisson.sf(hi, mean) <= S.THREE_SIGMA_TAIL * (1 + 1e-9)
        assert sps.poisson.sf(hi - 1, mean) > S.THREE_SIGMA_TAIL * (1 - 1e-9)
        if lo > 0:
            assert sps.poisson.cdf(lo - 1, mean) < S.THREE_SIGMA_TAIL * (1 + 1e-9)
            assert sps.poisson.cdf(lo, mean) >= S.THREE_SIGMA_TAIL * (1 - 1e-9)

    def test_bad_input(self):
        with pytest.raises(ValueError):
            S.poisson_limits(-1)
        with pytest.raises(ValueError):
            S.poisson_limits(3, tail=0.6)
        with pytest.raises(ValueError, match="suppressed"):
            S.poisson_limits(None)


class TestCountRatio:
    @pytest.mark.parametrize("a,b", [(30, 20), (20, 30), (5, 0), (0, 5), (0, 0), (1, 1), (3101, 2799),
                                     (12, 4), (60, 60)])
    def test_exact_test_and_interval_match_scipy(self, a, b):
        r = S.count_ratio_test(a, b)
        n = a + b
        assert r["method"] == "exact"
        assert r["p_value"] == pytest.approx(1.0 if n == 0 else sps.binomtest(a, n, 0.5).pvalue,
                                             rel=1e-6)
        if a > 0 and b > 0:
            ci = sps.binomtest(a, n, 0.5).proportion_ci(0.95, method="exact")
            assert r["lower"] == pytest.approx(ci.low / (1 - ci.low), rel=1e-6)
            assert r["upper"] == pytest.approx(ci.high / (1 - ci.high), rel=1e-6)
            assert r["lower"] <= r["ratio"] <= r["upper"]
        assert r["ratio"] == (None if b == 0 else a / b)

    def test_quasi_poisson_hand_computed(self):
        # z = (2300 - 2100) / sqrt(4 x 4400) = 1.5076; two-sided p = 0.1317
        r = S.count_ratio_test(2300, 2100, dispersion=4)
        z = 200 / math.sqrt(4 * 4400)
        assert r["method"] == "quasi-poisson"
        assert r["p_value"] == pytest.approx(2 * sps.norm.sf(z), rel=1e-9)
        assert r["direction"] == "similar"
        # the same counts are "higher" when they are taken to be Poisson
        assert S.count_ratio_test(2300, 2100)["direction"] == "higher"
        half = 1.959964 * math.sqrt(4 * (1 / 2300 + 1 / 2100))
        assert r["lower"] == pytest.approx(2300 / 2100 * math.exp(-half), rel=1e-6)

    def test_direction_needs_significance(self):
        assert S.count_ratio_test(45, 20)["direction"] == "higher"
        assert S.count_ratio_test(20, 45)["direction"] == "lower"
        assert S.count_ratio_test(22, 20)["direction"] == "similar"

    def test_bad_dispersion(self):
        with pytest.raises(ValueError):
            S.count_ratio_test(3, 4, dispersion=0.5)
        with pytest.raises(ValueError, match="suppressed"):
            S.count_ratio_test(None, 4)


def _months(first: str, last: str) -> list[str]:
    y, m = map(int, first.split("-"))
    out = []
    while f"{y}-{m:02d}" <= last:
        out.append(f"{y}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


class TestComparisonWindow:
    def test_half_outside_the_data(self):
        # issue 13: +87.8% was shown where the earlier window was half outside the data
        r = S.comparison_window(_months("2024-04", "2025-09"))
        assert not r["allowed"]
        assert r["reason"] == ("The 12 months before Oct 2024 are only half inside the data held "
                               "(from Apr 2024), so no comparison is made.")
        assert r["current"] == (dt.date(2024, 10, 1), dt.date(2025, 9, 1))
        assert r["previous"] == (dt.date(2023, 10, 1), dt.date(2024, 9, 1))

    def test_whole_periods_are_allowed(self):
        r = S.comparison_window(_months("2023-10", "2025-09"))
        assert r["allowed"] and r["reason"] == ""
        # one month fewer at the start and it is refused, saying how much is inside
        r = S.comparison_window(_months("2023-11", "2025-09"))
        assert not r["allowed"] and "only 11 of 12 months inside" in r["reason"]

    def test_missing_months_are_named(self):
        held = [m for m in _months("2022-01", "2025-09") if m not in ("2024-02", "2024-07")]
        r = S.comparison_window(held)
        assert not r["allowed"]
        assert r["reason"].startswith("Feb 2024 and Jul 2024 are missing from the data held")
        # a gap outside the two windows does not matter
        assert S.comparison_window(held, end="2023-12")["allowed"]

    def test_too_little_data_and_end_past_the_data(self):
        r = S.comparison_window(_months("2025-01", "2025-09"))
        assert not r["allowed"] and r["reason"].startswith("Only 9 months of data are held")
        r = S.comparison_window(_months("2020-01", "2025-09"), end="2025-12")
        assert not r["allowed"] and "run past the latest month held (Sep 2025)" in r["reason"]
        assert S.comparison_window([])["reason"] == "No months of data are held, so no comparison is made."

    def test_real_lincolnshire_months(self):
        from conftest import LINCS

        held = sorted(p.name for p in LINCS.iterdir() if p.is_dir())
        assert held[0] == "2010-12" and held[-1] == "2015-12"
        # 12 months to Nov 2012 against Dec 2010 to Nov 2011: both wholly held
        assert S.comparison_window(held, end="2012-11")["allowed"]
        r = S.comparison_window(held, end="2012-10")
        assert r["reason"] == ("The 12 months before Nov 2011 are only 11 of 12 months inside the "
                               "data held (from Dec 2010), so no comparison is made.")
        assert S.comparison_window(held)["allowed"]

    def test_bad_input(self):
        with pytest.raises(ValueError):
            S.comparison_window(["2024-13"])
        with pytest.raises(ValueError):
            S.comparison_window(["2024-01"], length=0)
