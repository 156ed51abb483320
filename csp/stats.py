"""Small, pure statistical helpers for the CSP Insight dashboards.

Everything here is deterministic and side-effect free (no Streamlit, no I/O),
so the same numbers can be shown in the app, exported, and unit-tested.

Conventions
-----------
* Counts (crimes, ASB incidents, reoffenders, people in treatment...) are
  non-negative integers. ``None`` or NaN means *suppressed* (small-number
  disclosure control), and every function that takes counts raises
  ``ValueError("suppressed value ...")`` rather than guessing a number: a
  suppressed cell must never leak into a derived figure that is displayed.
* Confidence levels are given as a fraction, e.g. ``conf=0.95``.
* Polarity strings: ``"lower_is_better"``, ``"higher_is_better"``, ``"none"``.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from functools import lru_cache
from collections.abc import Sequence
from numbers import Real

# scipy.special, not scipy.stats: the same functions for our few distributions, and ~47 MB less
# resident in every app process (issue 6: app RSS). Tests check them against scipy.stats.
from scipy import special as _sp

__all__ = [
    "poisson_change_test",
    "poisson_rate_ratio_test",
    "wheeler_statistic",
    "byar_ci",
    "exact_poisson_ci",
    "rate_per_1000",
    "rate_with_ci",
    "wilson_ci",
    "compare_to_benchmark",
    "c_chart",
    "u_chart",
    "poisson_ppf",
    "poisson_limits",
    "count_ratio_test",
    "comparison_window",
    "rolling_sum",
    "rolling_12_vs_previous",
    "polarity_colour",
    "POLARITIES",
]

POLARITIES = ("lower_is_better", "higher_is_better", "none")


# --------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------

def _is_missing(x) -> bool:
    # NaN as well as None: pandas/numpy represent suppressed cells as NaN.
    return x is None or (isinstance(x, float) and math.isnan(x)) or (
        isinstance(x, Real) and not isinstance(x, bool) and math.isnan(float(x))
    )


def _check_count(x, name: str, *, integer: bool = True):
    """Return ``x`` as an int (or float if ``integer=False``), or raise.

    Integral floats (12.0, as produced by float columns) are accepted because
    they are still exact counts; 12.5 is not, since the exact tests below are
    only defined for whole numbers.
    """
    if _is_missing(x):
        raise ValueError(f"suppressed value in {name!r}: a suppressed (None/NaN) "
                         "count cannot be used to derive a displayed figure")
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"{name!r} must be a number, got {type(x).__name__}")
    xf = float(x)
    if math.isinf(xf):
        raise ValueError(f"{name!r} must be finite, got {x!r}")
    if xf < 0:
        raise ValueError(f"{name!r} must be >= 0, got {x!r}")
    if integer:
        if xf != math.floor(xf):
            raise ValueError(f"{name!r} must be a whole number, got {x!r}")
        return int(xf)
    return xf


def _check_positive(x, name: str) -> float:
    if _is_missing(x):
        raise ValueError(f"suppressed value in {name!r}: cannot use a missing "
                         "denominator/exposure")
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"{name!r} must be a number, got {type(x).__name__}")
    xf = float(x)
    if not (xf > 0) or math.isinf(xf):
        raise ValueError(f"{name!r} must be a positive finite number, got {x!r}")
    return xf


def _check_counts(values, name: str, *, integer: bool = False) -> list:
    if values is None:
        raise ValueError(f"suppressed value: {name!r} is None")
    return [_check_count(v, f"{name}[{i}]", integer=integer)
            for i, v in enumerate(values)]


def _check_prob(p: float, name: str) -> float:
    if _is_missing(p) or not (0 < float(p) < 1):
        raise ValueError(f"{name!r} must be strictly between 0 and 1, got {p!r}")
    return float(p)


def _binom_pmf(k: int, n: int, p: float) -> float:
    if k < 0 or k > n:
        return 0.0
    if p == 0.0 or p == 1.0:
        return float(k == (n if p == 1.0 else 0))
    return math.exp(_sp.gammaln(n + 1) - _sp.gammaln(k + 1) - _sp.gammaln(n - k + 1)
                    + k * math.log(p) + (n - k) * math.log1p(-p))


def _binom_cdf(k: float, n: int, p: float) -> float:
    """P(X <= k)."""
    return 0.0 if k < 0 else (1.0 if k >= n else float(_sp.bdtr(int(k), n, p)))


def _binom_sf(k: float, n: int, p: float) -> float:
    """P(X > k)."""
    return 1.0 if k < 0 else (0.0 if k >= n else float(_sp.bdtrc(int(k), n, p)))


def binom_two_sided_p(k: int, n: int, p: float) -> float:
    """Exact two-sided binomial test p-value: the probability of every outcome no more likely
    than ``k`` (with a relative tolerance of 1e-7), as ``scipy.stats.binomtest`` computes it."""
    if n == 0:
        return 1.0
    d = _binom_pmf(k, n, p)
    rerr = 1 + 1e-7
    if k == p * n:
        return 1.0
    if k < p * n:
        # the first outcome above the mean that is no more likely than k
        ix = _binary_search(lambda x: -_binom_pmf(x, n, p), -d * rerr, math.ceil(p * n), n)
        y = n - ix + int(d * rerr == _binom_pmf(ix, n, p))
        pval = _binom_cdf(k, n, p) + _binom_sf(n - y, n, p)
    else:
        ix = _binary_search(lambda x: _binom_pmf(x, n, p), d * rerr, 0, math.floor(p * n))
        y = ix + 1
        pval = _binom_cdf(y - 1, n, p) + _binom_sf(k - 1, n, p)
    return min(1.0, pval)


def _binary_search(f, d: float, lo: int, hi: int) -> int:
    """The largest x in [lo, hi] with f(x) <= d, for f non-decreasing there (scipy's search)."""
    while lo < hi:
        mid = lo + (hi - lo) // 2
        v = f(mid)
        if v < d:
            lo = mid + 1
        elif v > d:
            hi = mid - 1
        else:
            return mid
    return lo if f(lo) <= d else lo - 1


@lru_cache(maxsize=32)
def _z(conf: float) -> float:
    """Two-sided standard normal quantile, e.g. 1.959964 for conf=0.95.

    Cached: dashboards call this thousands of times with the same two or
    three confidence levels, and scipy's ppf is comparatively slow.
    """
    conf = _check_prob(conf, "conf")
    return float(_sp.ndtri(1 - (1 - conf) / 2))


# --------------------------------------------------------------------------
# 1. Comparing two counts
# --------------------------------------------------------------------------

def wheeler_statistic(a, b) -> float:
    """Quick screen for a change between two counts: ``2 * (sqrt(a) - sqrt(b))``.

    Rule of thumb (attributed to Donald J. Wheeler): treat ``|W| > 3`` as a
    signal of real change and ``|W| <= 3`` as routine variation.

    Why it works: for a Poisson count X, ``sqrt(X)`` has variance ~1/4
    whatever the mean, so under "no change" W has variance ~2 and the ±3
    threshold sits at about ±2.1 standard deviations (roughly a 3-4 % false
    alarm rate). Use :func:`poisson_change_test` for an exact p-value; W is
    kept because analysts recognise it.
    """
    a = _check_count(a, "a", integer=False)
    b = _check_count(b, "b", integer=False)
    return 2.0 * (math.sqrt(a) - math.sqrt(b))


def _direction(change: float, significant: bool) -> str:
    # Only a statistically significant change earns a direction, so dashboards
    # never colour routine noise as "up" or "down".
    if not significant or change == 0:
        return "none"
    return "up" if change > 0 else "down"


def poisson_change_test(a, b, alpha: float = 0.05) -> dict:
    """Exact test of whether count ``a`` (current) differs from ``b`` (previous).

    Both periods must have the same exposure (same length, same area). Under
    H0 (equal Poisson rates), conditional on ``n = a + b``,
    ``a ~ Binomial(n, 0.5)``; the two-sided p-value is
    ``scipy.stats.binomtest(a, n, 0.5)``. Conditioning removes the unknown
    rate, which makes the test exact even for small counts.

    Returns a dict with keys:

    ``current`` (a), ``previous`` (b), ``change`` (a - b),
    ``pct_change`` (percentage, e.g. 25.0 for +25 %; None when b == 0),
    ``p_value``, ``significant`` (p_value < alpha),
    ``direction`` ("up"/"down" only when significant, else "none"),
    ``wheeler`` (:func:`wheeler_statistic`).
    """
    a = _check_count(a, "a")
    b = _check_count(b, "b")
    alpha = _check_prob(alpha, "alpha")
    n = a + b
    # binomtest needs n >= 1; two zero counts are trivially "no change".
    p_value = 1.0 if n == 0 else binom_two_sided_p(a, n, 0.5)
    significant = p_value < alpha
    change = a - b
    return {
        "current": a,
        "previous": b,
        "change": change,
        "pct_change": None if b == 0 else 100.0 * change / b,
        "p_value": p_value,
        "significant": significant,
        "direction": _direction(change, significant),
        "wheeler": wheeler_statistic(a, b),
    }


def poisson_rate_ratio_test(a, exposure_a, b, exposure_b,
                            alpha: float = 0.05) -> dict:
    """Exact conditional test of two Poisson rates with unequal exposures.

    E.g. crimes per resident in two years with different populations, or
    two periods of different length. Under H0 (equal rates), given
    ``n = a + b``, ``a ~ Binomial(n, p)`` with ``p = ea / (ea + eb)``.

    Returns a dict with keys: ``current``, ``previous``, ``exposure_current``,
    ``exposure_previous``, ``rate_current``, ``rate_previous`` (count per unit
    exposure), ``rate_ratio`` (None when the previous rate is 0), ``p_value``,
    ``significant`` and ``direction`` (as in :func:`poisson_change_test`,
    based on the rates).
    """
    a = _check_count(a, "a")
    b = _check_count(b, "b")
    ea = _check_positive(exposure_a, "exposure_a")
    eb = _check_positive(exposure_b, "exposure_b")
    alpha = _check_prob(alpha, "alpha")
    n = a + b
    p0 = ea / (ea + eb)
    p_value = 1.0 if n == 0 else binom_two_sided_p(a, n, p0)
    significant = p_value < alpha
    rate_a, rate_b = a / ea, b / eb
    return {
        "current": a,
        "previous": b,
        "exposure_current": ea,
        "exposure_previous": eb,
        "rate_current": rate_a,
        "rate_previous": rate_b,
        "rate_ratio": None if b == 0 else rate_a / rate_b,
        "p_value": p_value,
        "significant": significant,
        "direction": _direction(rate_a - rate_b, significant),
    }


# --------------------------------------------------------------------------
# 2. Confidence intervals for counts and rates
# --------------------------------------------------------------------------

def byar_ci(count, conf: float = 0.95) -> tuple[float, float]:
    """Byar's approximation to the exact Poisson CI for a count ``O``.

    As used by PHE/OHID Fingertips (PHE "Technical Guide: Confidence
    Intervals", 2018, Appendix 1)::

        lower = O * (1 - 1/(9 O) - z / (3 sqrt(O)))**3          (0 if O == 0)
        upper = (O + 1) * (1 - 1/(9 (O+1)) + z / (3 sqrt(O+1)))**3

    PHE state it is within 0.2 % of the exact interval for counts >= 10 at
    95 %. For very small counts at high confidence (e.g. O = 1 at 99.8 %) the
    lower formula goes negative; it is clamped to 0 because a count cannot
    be negative. Prefer :func:`exact_poisson_ci` for counts below 10.
    """
    o = _check_count(count, "count", integer=False)
    z = _z(conf)
    if o == 0:
        lower = 0.0
    else:
        lower = max(0.0, o * (1 - 1 / (9 * o) - z / (3 * math.sqrt(o))) ** 3)
    o1 = o + 1
    upper = o1 * (1 - 1 / (9 * o1) + z / (3 * math.sqrt(o1))) ** 3
    return lower, upper


def byar_ci_array(counts, conf: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """:func:`byar_ci` over an array of counts at once (ranked tables of thousands of areas).

    Same formula and clamping; the caller must already have removed suppressed cells, so a
    NaN or negative count is refused rather than turned into an interval."""
    o = np.asarray(counts, dtype=float)
    if np.isnan(o).any() or (o < 0).any():
        raise ValueError("suppressed or negative value in counts: cannot derive intervals")
    z = _z(conf)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(o == 0, 0.0, o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3)
    o1 = o + 1
    upper = o1 * (1 - 1 / (9 * o1) + z / (3 * np.sqrt(o1))) ** 3
    return np.maximum(lower, 0.0), upper


def exact_poisson_ci(count, conf: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood 1936) Poisson CI for a count via chi-square quantiles.

    ``lower = chi2.ppf(alpha/2, 2 O) / 2`` (0 when O == 0),
    ``upper = chi2.ppf(1 - alpha/2, 2 O + 2) / 2``.
    Used to cross-check :func:`byar_ci` and for small counts.
    """
    o = _check_count(count, "count", integer=False)
    alpha = 1 - _check_prob(conf, "conf")
    # chi2.ppf(q, 2k) / 2 is the inverse regularised incomplete gamma function at (k, q).
    lower = 0.0 if o == 0 else float(_sp.gammaincinv(o, alpha / 2))
    upper = float(_sp.gammaincinv(o + 1, 1 - alpha / 2))
    return lower, upper


def rate_with_ci(count, population, per: float = 1000,
                 conf: float = 0.95) -> dict:
    """Crude rate per ``per`` population with a Byar CI.

    The CI is computed on the count and then scaled by ``per / population``,
    because the uncertainty is in the count, not in the (census-based)
    denominator. Returns ``{"rate", "lower", "upper"}``.
    """
    pop = _check_positive(population, "population")
    per = _check_positive(per, "per")
    lo, hi = byar_ci(count, conf)  # validates count (None -> ValueError)
    scale = per / pop
    return {"rate": float(count) * scale, "lower": lo * scale, "upper": hi * scale}


def rate_per_1000(count, population, conf: float = 0.95) -> dict:
    """Rate per 1,000 population with Byar CI: ``{"rate", "lower", "upper"}``."""
    return rate_with_ci(count, population, per=1000, conf=conf)


# --------------------------------------------------------------------------
# 3. Proportions
# --------------------------------------------------------------------------

def wilson_ci(successes, n, conf: float = 0.95):
    """Wilson (1927) score interval for a proportion ``successes / n``.

    Recommended by PHE for proportions (e.g. proven reoffending rate,
    successful treatment completions) because, unlike the Wald interval, it
    stays inside [0, 1] and behaves well near 0 % and 100 %.

    Returns ``(lower, upper)`` as fractions; ``(None, None)`` when ``n == 0``
    (no denominator, so no proportion to show).
    """
    x = _check_count(successes, "successes")
    n = _check_count(n, "n")
    z = _z(conf)
    if x > n:
        raise ValueError(f"successes ({x}) cannot exceed n ({n})")
    if n == 0:
        return None, None
    p = x / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    denom = 1 + z2 / n
    # Exact 0 / 1 at the extremes: rounding could otherwise give -1e-17.
    lower = 0.0 if x == 0 else max(0.0, (centre - half) / denom)
    upper = 1.0 if x == n else min(1.0, (centre + half) / denom)
    return lower, upper


def proportion_noise(x, n, var_x: float = 0.0, var_n: float = 0.0) -> float:
    """Variance added to a proportion x/n when x and n are published with independent noise of
    variances var_x and var_n (cell-key perturbation): the delta method for a ratio,
    (var_x + p² var_n) / n²."""
    if not n:
        return 0.0
    p = x / n
    return (var_x + p * p * var_n) / (n * n)


def widened_wilson(successes, n, noise: float = 0.0, conf: float = 0.95):
    """The Wilson interval with its half-width scaled by sqrt(1 + noise / sampling variance)
    about its own centre: sampling error and the published figures' added noise (variance
    ``noise`` on the proportion) together. With no noise it is the Wilson interval exactly."""
    lower, upper = wilson_ci(successes, n, conf)
    if lower is None or noise <= 0:
        return lower, upper
    z = _z(conf)
    p = successes / n
    sampling = p * (1 - p) / n + z * z / (4 * n * n)
    scale = math.sqrt(1 + noise / sampling)
    mid = (lower + upper) / 2
    return max(0.0, mid - (mid - lower) * scale), min(1.0, mid + (upper - mid) * scale)


# --------------------------------------------------------------------------
# 4. Benchmarking and RAG colouring
# --------------------------------------------------------------------------

def _check_polarity(polarity: str) -> str:
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {POLARITIES}, got {polarity!r}")
    return polarity


def compare_to_benchmark(lower, upper, benchmark_value, polarity: str) -> str:
    """Fingertips-style comparison of a CI with a benchmark (e.g. England).

    * interval entirely below the benchmark -> "better" if lower is better,
      "worse" if higher is better, "lower" with polarity "none";
    * entirely above -> the mirror image ("worse"/"better"/"higher");
    * touching or overlapping the benchmark -> "similar".

    None bounds or benchmark raise ValueError: a missing (e.g. suppressed)
    value must not be silently reported as "similar".
    """
    polarity = _check_polarity(polarity)
    for val, name in ((lower, "lower"), (upper, "upper"),
                      (benchmark_value, "benchmark_value")):
        if _is_missing(val):
            raise ValueError(f"suppressed value in {name!r}: cannot compare "
                             "a missing value with a benchmark")
    if lower > upper:
        raise ValueError(f"lower ({lower}) must not exceed upper ({upper})")
    if upper < benchmark_value:
        side = "lower"
    elif lower > benchmark_value:
        side = "higher"
    else:
        return "similar"
    if polarity == "none":
        return side
    good_side = "lower" if polarity == "lower_is_better" else "higher"
    return "better" if side == good_side else "worse"


_UP = {"up", "higher"}
_DOWN = {"down", "lower"}
_FLAT = {"none", "similar"}


def polarity_colour(direction: str, polarity: str) -> str:
    """Map a direction and an indicator's polarity to "good"/"bad"/"neutral".

    ``direction`` may be a trend direction ("up"/"down"/"none", as returned
    by :func:`poisson_change_test`), a benchmark side ("higher"/"lower"/
    "similar"), or an already-judged "better"/"worse". Polarity "none"
    (e.g. number of people in treatment) is always "neutral" for
    direction-only inputs, since neither way is good or bad.
    """
    polarity = _check_polarity(polarity)
    if direction == "better":
        return "good"
    if direction == "worse":
        return "bad"
    if direction in _FLAT or polarity == "none":
        if direction not in _UP | _DOWN | _FLAT:
            raise ValueError(f"unknown direction {direction!r}")
        return "neutral"
    if direction in _UP:
        return "good" if polarity == "higher_is_better" else "bad"
    if direction in _DOWN:
        return "good" if polarity == "lower_is_better" else "bad"
    raise ValueError(f"unknown direction {direction!r}")


# --------------------------------------------------------------------------
# 5. Statistical process control charts
# --------------------------------------------------------------------------

def _short_note(n: int, min_points: int) -> str:
    return (f"Only {n} data point(s); at least {min_points} are needed for "
            "meaningful control limits, so none are shown.")


# The tail area of a 3-sigma limit on each side for a normal distribution, 1 - Phi(3): the
# 0.135 % and 99.865 % quantiles give the false-alarm rate a Shewhart chart is designed for.
THREE_SIGMA_TAIL = 0.0013498980316301


def poisson_ppf(q: float, mean: float) -> int:
    """The smallest whole ``k`` with ``P(X <= k) >= q`` for ``X ~ Poisson(mean)``, as
    ``scipy.stats.poisson.ppf(q, mean)`` gives it (the tests check the two agree)."""
    q = _check_prob(q, "q")
    mean = _check_count(mean, "mean", integer=False)
    if mean == 0:
        return 0
    # Start near the normal approximation, then step: a handful of CDF calls even for 10^6.
    k = max(0, int(math.floor(mean + float(_sp.ndtri(q)) * math.sqrt(mean))))
    while k > 0 and _sp.pdtr(k - 1, mean) >= q:
        k -= 1
    while _sp.pdtr(k, mean) < q:
        k += 1
    return k


def poisson_limits(mean, tail: float = THREE_SIGMA_TAIL) -> tuple[int, int]:
    """Exact Poisson probability limits ``(lower, upper)`` for a count whose mean is ``mean``.

    ``lower`` is the ``tail`` quantile and ``upper`` the ``1 - tail`` quantile of
    Poisson(mean), so a count is *outside* when ``count < lower`` or ``count > upper``, and for a
    count that really is Poisson(mean) ``P(outside) <= 2 * tail`` (0.27 %, the ±3 sigma rate),
    exactly, at any mean. These are the "probability limits" Montgomery gives for the c chart
    when the mean is small (Introduction to Statistical Quality Control, ch. 7, the c chart):
    ``c̄ ± 3 sqrt(c̄)`` is symmetric while small counts are skewed, so at a mean of 0.3 it gives
    an upper limit of 1.9 (two events in a month would be "exceptional", though they happen
    3.6 % of the time), where the exact upper limit is 3.
    """
    tail = _check_prob(tail, "tail")
    if tail >= 0.5:
        raise ValueError(f"'tail' must be below 0.5, got {tail!r}")
    return poisson_ppf(tail, mean), poisson_ppf(1 - tail, mean)


def c_chart(counts: Sequence, min_points: int = 12) -> dict:
    """c-chart (Poisson counts per equal-sized period), e.g. monthly burglaries.

    centre ``c̄ = mean(counts)``; ``lcl = max(0, c̄ - 3 sqrt(c̄))``;
    ``ucl = c̄ + 3 sqrt(c̄)`` (the Poisson variance equals its mean, so the
    limits follow from the centre line alone).

    The textbook chart, kept for callers that want it. For dashboards use
    :func:`csp.control_charts.control_chart`: phases at level shifts, exact Poisson limits,
    a same-month-last-year check for seasonal series and a run rule.

    Returns ``{"centre", "lcl", "ucl", "outside", "too_short", "note"}``.
    ``outside`` is one bool per point (strictly beyond a limit). With fewer
    than ``min_points`` values, limits are None, ``outside`` is all False and
    ``note`` explains why; ``centre`` is still the mean (None if empty).
    """
    cs = _check_counts(counts, "counts")
    n = len(cs)
    centre = sum(cs) / n if n else None
    if n < min_points:
        return {"centre": centre, "lcl": None, "ucl": None,
                "outside": [False] * n, "too_short": True,
                "note": _short_note(n, min_points)}
    sd = math.sqrt(centre)
    lcl = max(0.0, centre - 3 * sd)
    ucl = centre + 3 * sd
    return {"centre": centre, "lcl": lcl, "ucl": ucl,
            "outside": [c > ucl or c < lcl for c in cs],
            "too_short": False, "note": ""}


def u_chart(counts: Sequence, exposures: Sequence, min_points: int = 12) -> dict:
    """u-chart: Poisson counts with varying exposure (e.g. crimes per 1,000
    population, or per day for months of different length).

    ``u_i = c_i / n_i``; centre ``ū = sum(c) / sum(n)`` (pooled, not the mean
    of the rates, so large periods weigh more); per-point limits
    ``ū ± 3 sqrt(ū / n_i)``, lower clamped at 0.

    Returns ``{"centre", "u", "lcl", "ucl", "outside", "too_short", "note"}``
    where ``u``, ``lcl``, ``ucl`` and ``outside`` are per-point lists. With
    fewer than ``min_points`` values ``lcl``/``ucl`` are None.
    """
    cs = _check_counts(counts, "counts")
    if exposures is None:
        raise ValueError("suppressed value: 'exposures' is None")
    ns = [_check_positive(e, f"exposures[{i}]") for i, e in enumerate(exposures)]
    if len(cs) != len(ns):
        raise ValueError(f"counts ({len(cs)}) and exposures ({len(ns)}) differ in length")
    k = len(cs)
    us = [c / e for c, e in zip(cs, ns)]
    centre = sum(cs) / sum(ns) if k else None
    if k < min_points:
        return {"centre": centre, "u": us, "lcl": None, "ucl": None,
                "outside": [False] * k, "too_short": True,
                "note": _short_note(k, min_points)}
    lcl = [max(0.0, centre - 3 * math.sqrt(centre / e)) for e in ns]
    ucl = [centre + 3 * math.sqrt(centre / e) for e in ns]
    return {"centre": centre, "u": us, "lcl": lcl, "ucl": ucl,
            "outside": [u > hi or u < lo for u, lo, hi in zip(us, lcl, ucl)],
            "too_short": False, "note": ""}


# --------------------------------------------------------------------------
# 6. Rolling totals
# --------------------------------------------------------------------------

def rolling_sum(values: Sequence, window: int = 12) -> list:
    """Trailing sum over ``window`` periods (e.g. rolling 12-month total).

    Returns a list the same length as ``values`` with None in the first
    ``window - 1`` positions, where a full window is not yet available
    (showing a partial sum would understate the total).
    """
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    vs = _check_counts(values, "values")
    # Preserve ints: exact totals matter when the figure is quoted.
    vs = [int(v) if float(v).is_integer() else v for v in vs]
    out: list = [None] * min(window - 1, len(vs))
    for i in range(window - 1, len(vs)):
        # Re-summing each window avoids float drift from a running total.
        out.append(sum(vs[i - window + 1:i + 1]))
    return out


def rolling_12_vs_previous(values: Sequence, alpha: float = 0.05):
    """Compare the latest 12 periods' total with the 12 before it.

    Returns the :func:`poisson_change_test` dict for
    ``(sum(values[-12:]), sum(values[-24:-12]))``, or None when fewer than
    24 values are available (no full comparison year).

    Only the 24 values actually used are checked for suppression: a
    suppressed month years ago does not affect this comparison, but one
    inside the window raises ValueError.
    """
    if values is None:
        raise ValueError("suppressed value: 'values' is None")
    vals = list(values)
    if len(vals) < 24:
        return None
    recent = _check_counts(vals[-24:], "values (last 24)", integer=True)
    return poisson_change_test(sum(recent[12:]), sum(recent[:12]), alpha=alpha)


# --------------------------------------------------------------------------
# 7. Honest comparisons: one count against another, and which periods may be compared
# --------------------------------------------------------------------------

def count_ratio_test(current, previous, dispersion: float = 1.0, alpha: float = 0.05,
                     conf: float = 0.95) -> dict:
    """Is ``current`` different from ``previous`` (two counts over equal exposure, e.g. a month
    and the same month a year earlier)? The ratio ``current / previous`` with an interval.

    * ``dispersion == 1`` (Poisson): the exact conditional test of :func:`poisson_change_test`
      (given ``n = a + b``, ``a ~ Binomial(n, 1/2)``) and the exact interval for the rate ratio
      ``R = p / (1 - p)`` from the Clopper–Pearson interval for ``p`` (Breslow & Day,
      Statistical Methods in Cancer Research vol. II, 1987, s. 2.3).
    * ``dispersion = phi > 1``: counts that vary ``phi`` times more than Poisson (quasi-Poisson,
      McCullagh & Nelder, Generalized Linear Models, 1989, s. 6.2): ``z = (a - b) / sqrt(phi (a + b))``
      with a normal p-value, and a Wald interval on ``log(a / b)`` with variance
      ``phi (1/a + 1/b)``. Without it a month of 2,000 incidents would differ "significantly"
      from last year's 1,900 though such counts routinely move by more.

    Returns ``current``, ``previous``, ``ratio`` (None when previous is 0), ``lower``/``upper``
    (the ratio's interval; None where undefined: a zero count, or no upper bound), ``p_value``,
    ``significant`` (p < alpha), ``direction`` ("higher"/"lower" when significant, else
    "similar") and ``method`` ("exact" or "quasi-poisson").
    """
    a = _check_count(current, "current")
    b = _check_count(previous, "previous")
    phi = _check_positive(dispersion, "dispersion")
    if phi < 1:
        raise ValueError(f"'dispersion' must be at least 1, got {dispersion!r}")
    alpha = _check_prob(alpha, "alpha")
    z = _z(conf)
    n = a + b
    lower = upper = None
    if phi == 1:
        method = "exact"
        p_value = 1.0 if n == 0 else binom_two_sided_p(a, n, 0.5)
        q = (1 - _check_prob(conf, "conf")) / 2
        if a > 0 and b > 0:
            pl = float(_sp.betaincinv(a, n - a + 1, q))
            pu = float(_sp.betaincinv(a + 1, n - a, 1 - q))
            lower, upper = pl / (1 - pl), pu / (1 - pu)
        elif a == 0 and b > 0:
            pu = float(_sp.betaincinv(1, n, 1 - q))
            lower, upper = 0.0, pu / (1 - pu)
    else:
        method = "quasi-poisson"
        p_value = 1.0 if n == 0 else float(math.erfc(abs(a - b) / math.sqrt(2 * phi * n)))
        if a > 0 and b > 0:
            half = z * math.sqrt(phi * (1 / a + 1 / b))
            lower, upper = a / b * math.exp(-half), a / b * math.exp(half)
    significant = p_value < alpha
    direction = "similar" if not significant or a == b else ("higher" if a > b else "lower")
    return {"current": a, "previous": b, "ratio": None if b == 0 else a / b,
            "lower": lower, "upper": upper, "p_value": p_value, "significant": significant,
            "direction": direction, "method": method}


def _month(d) -> dt.date:
    if isinstance(d, str):
        try:
            d = dt.datetime.strptime(d[:7], "%Y-%m")
        except ValueError:
            raise ValueError(f"not a month (YYYY-MM): {d!r}") from None
    if not isinstance(d, dt.date):
        raise TypeError(f"a month must be a date or 'YYYY-MM', got {type(d).__name__}")
    return dt.date(d.year, d.month, 1)


def _add_months(d: dt.date, n: int) -> dt.date:
    k = d.year * 12 + d.month - 1 + n
    return dt.date(k // 12, k % 12 + 1, 1)


def _month_list(months: list) -> str:
    # Four months are named rather than "3 months and 1 more"; beyond that, a count.
    shown = months if len(months) <= 4 else months[:3]
    words = [m.strftime("%b %Y") for m in shown]
    if len(months) > len(shown):
        words.append(f"{len(months) - 3} more")
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def comparison_window(held, end=None, length: int = 12) -> dict:
    """May "the ``length`` months to ``end`` against the ``length`` before" be shown?

    Only when both periods lie wholly inside the data held with no month missing: a period
    that is partly before the first month held reads as a fall or rise that is only the edge of
    the data (issue 13: +87.8% shown where the earlier window was half outside the data).

    ``held`` is every month the dataset holds (dates or 'YYYY-MM'; a month with records
    anywhere, not a month with a non-zero count for the area shown, since a month held with no
    records for an area is a true 0). ``end`` defaults to the latest month held.

    Returns ``allowed``, ``reason`` (one plain sentence when not allowed, else ""),
    ``current`` and ``previous`` (each ``(first month, last month)``).
    """
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive int, got {length!r}")
    months = sorted({_month(m) for m in held}) if held is not None else []
    out = {"allowed": False, "reason": "", "current": None, "previous": None}
    if not months and end is None:
        out["reason"] = "No months of data are held, so no comparison is made."
        return out
    end = _month(end) if end is not None else months[-1]
    cur = (_add_months(end, 1 - length), end)
    prev = (_add_months(end, 1 - 2 * length), _add_months(end, -length))
    out["current"], out["previous"] = cur, prev
    span = f"the {length} months to {end:%b %Y}"
    if not months:
        out["reason"] = "No months of data are held, so no comparison is made."
        return out
    first, last = months[0], months[-1]
    if end > last:
        out["reason"] = (f"{span[:1].upper()}{span[1:]} run past the latest month held "
                         f"({last:%b %Y}), so no comparison is made.")
        return out
    if cur[0] < first:
        k = sum(1 for m in months if m <= end)
        out["reason"] = (f"Only {k} month{'s' if k != 1 else ''} of data are held up to "
                         f"{end:%b %Y} (from {first:%b %Y}); comparing {span} with the "
                         f"{length} before needs {2 * length}, so no comparison is made.")
        return out
    if prev[0] < first:
        inside = sum(1 for i in range(length) if _add_months(prev[0], i) >= first)
        share = "half" if 2 * inside == length else f"{inside} of {length} months"
        out["reason"] = (f"The {length} months before {cur[0]:%b %Y} are only {share} inside the "
                         f"data held (from {first:%b %Y}), so no comparison is made.")
        return out
    have = set(months)
    missing = [m for m in (_add_months(prev[0], i) for i in range(2 * length)) if m not in have]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        out["reason"] = (f"{_month_list(missing)} {verb} missing from the data held, so {span} "
                         f"are not compared with the {length} before.")
        return out
    out["allowed"] = True
    return out
