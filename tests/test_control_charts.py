"""Control charts that stay honest on real data (issue 13): level shifts, seasons, sparse counts.

Expected outcomes come from hand-computable series (the reasoning is in the comments), from
scipy.stats (Poisson quantiles, binomial and normal tests) and from an independent recomputation
written here (``ref_phase``), and, for the real Lincolnshire police.uk files, from the raw CSVs
read with Polars. Nothing asserts a number read back from the code.
"""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats as sps

from conftest import LINCS
from csp import control_charts as C
from csp import stats as S

FAST = settings(max_examples=120, deadline=None)
TAIL = sps.norm.sf(3)


def months(first: str, n: int) -> list[dt.date]:
    y, m = map(int, first.split("-"))
    out = []
    for _ in range(n):
        out.append(dt.date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def flagged(chart: dict, key: str = "outside_limits") -> list[dt.date]:
    return [m for m, f in zip(chart["points"]["month"], chart["points"][key]) if f]


# --------------------------------------------------------------------------------------------
# an independent recomputation of one phase (numpy + scipy.stats)

def ref_phase(values, method="auto", sparse_below=5.0) -> dict:
    """Centre, limits and dispersion of one phase, from the published recipes: exact Poisson
    quantiles; XmR = mean ± 2.66 × average moving range, moving ranges at or above 3.267 × their
    average left out; auto = XmR (never narrower than Poisson) when MR/1.128 > sqrt(mean)."""
    x = np.asarray(values, dtype=float)
    mean = x.mean()
    p_lo = 0.0 if mean == 0 else float(sps.poisson.ppf(TAIL, mean))
    p_hi = 0.0 if mean == 0 else float(sps.poisson.ppf(1 - TAIL, mean))
    mr = np.abs(np.diff(x))
    amr = mr[mr < 3.267 * mr.mean()].mean() if len(mr) and (mr < 3.267 * mr.mean()).any() else (
        mr.mean() if len(mr) else None)
    sigma = None if amr is None else amr / 1.128
    if method == "xmr":
        return {"centre": mean, "lower": max(0.0, mean - 2.66 * amr), "upper": mean + 2.66 * amr,
                "method": "xmr", "dispersion": max(1.0, sigma ** 2 / mean) if mean else 1.0}
    if method == "auto" and mean >= sparse_below and sigma is not None and sigma > math.sqrt(mean):
        return {"centre": mean, "lower": min(p_lo, max(0.0, mean - 2.66 * amr)),
                "upper": max(p_hi, mean + 2.66 * amr), "method": "xmr",
                "dispersion": sigma ** 2 / mean}
    return {"centre": mean, "lower": p_lo, "upper": p_hi, "method": "poisson", "dispersion": 1.0}


def ref_vs_last_year(a: int, b: int, dispersion: float, alpha=0.05) -> str:
    if a + b == 0:
        return "similar"
    if dispersion == 1:
        p = sps.binomtest(a, a + b, 0.5).pvalue
    else:
        p = 2 * sps.norm.sf(abs(a - b) / math.sqrt(dispersion * (a + b)))
    return "similar" if p >= alpha or a == b else ("higher" if a > b else "lower")


# --------------------------------------------------------------------------------------------
# 1. level shifts

# Phase A alternates 9 and 11 (mean 10), phase B 58 and 62 (mean 60). Over all 24 months the
# mean is 35, whose exact limits are 19 and 54 (scipy), so every month is outside: A below, B
# above. Moving ranges are 2 (A) and 4 (B) except the jump 11 -> 58 (47), which the screen
# leaves out (47 >= 3.267 x 4.91), so sigma = 3 / 1.128 = 2.7 < sqrt(35): Poisson limits. Within
# each phase too the moving ranges (2 / 1.128 < sqrt(10), 4 / 1.128 < sqrt(60)) are Poisson-like.
SHIFT_A, SHIFT_B = [9, 11] * 6, [58, 62] * 6
SHIFT_MONTHS = months("2020-01", 24)


def test_one_centre_across_a_level_shift_flags_every_month():
    chart = C.control_chart(SHIFT_A + SHIFT_B, SHIFT_MONTHS)
    lo, hi = sps.poisson.ppf([TAIL, 1 - TAIL], 35)
    assert chart["phases"][0]["method"] == "poisson"
    assert set(chart["points"]["centre"]) == {35.0}
    assert (chart["phases"][0]["lower"], chart["phases"][0]["upper"]) == (lo, hi)
    assert flagged(chart) == SHIFT_MONTHS
    # the textbook c chart does the same: the symptom of issue 13
    assert all(S.c_chart(SHIFT_A + SHIFT_B)["outside"])
    # the undocumented shift is reported by the run rules, and the chart is not re-baselined
    assert len(chart["phases"]) == 1
    by_rule = {(r["rule"], r["start"], r["end"]): r["shift"] for r in chart["runs"]}
    assert by_rule == {("centre_line", SHIFT_MONTHS[0], SHIFT_MONTHS[11]): True,
                       ("centre_line", SHIFT_MONTHS[12], SHIFT_MONTHS[23]): True,
                       ("year_on_year", SHIFT_MONTHS[12], SHIFT_MONTHS[23]): True}
    assert "the level may have changed" in chart["note"]


@pytest.mark.parametrize("shift", [dt.date(2021, 1, 1), "2021-01",
                                   (dt.date(2021, 1, 1), "New recording system"),
                                   C.LevelShift(dt.date(2021, 1, 1), "New recording system")])
def test_documented_shift_gives_each_phase_its_own_centre_and_limits(shift):
    chart = C.control_chart(SHIFT_A + SHIFT_B, SHIFT_MONTHS, [shift])
    a, b = chart["phases"]
    assert (a["start"], a["end"], b["start"], b["end"]) == (
        SHIFT_MONTHS[0], SHIFT_MONTHS[11], SHIFT_MONTHS[12], SHIFT_MONTHS[23])
    assert (a["centre"], b["centre"]) == (10.0, 60.0)
    assert (a["lower"], a["upper"]) == tuple(sps.poisson.ppf([TAIL, 1 - TAIL], 10))  # 2, 21
    assert (b["lower"], b["upper"]) == tuple(sps.poisson.ppf([TAIL, 1 - TAIL], 60))  # 38, 85
    assert chart["points"]["phase"] == [0] * 12 + [1] * 12
    assert chart["points"]["centre"] == [10.0] * 12 + [60.0] * 12
    assert flagged(chart) == [] and chart["runs"] == []
    # a month is never compared with one before a documented shift
    assert chart["points"]["last_year"] == [None] * 24
    reason = shift[1] if isinstance(shift, tuple) else ""
    assert b["reason"] == reason
    assert f"recalculated from Jan 2021{': ' + reason if reason else ' (a level shift)'}." in chart["note"]


def test_shift_outside_the_months_shown_changes_nothing():
    plain = C.control_chart(SHIFT_A + SHIFT_B, SHIFT_MONTHS)
    for outside in ("2019-06", "2020-01", "2022-01"):
        assert C.control_chart(SHIFT_A + SHIFT_B, SHIFT_MONTHS, [outside]) == plain


def test_undocumented_step_is_a_signal_not_a_new_baseline():
    # 12 lead-in months and 14 shown alternate 38/42; the last 10 alternate 53/57. Shown centre
    # (14 x 40 + 10 x 55) / 24 = 46.25, exact limits 27 and 68: no month is outside, so only a
    # run can show the step. The 14 months below the centre equal the months a year before (not
    # a shift); the 10 above it are each higher than a year before (both rules fire).
    counts = [38, 42] * 13 + [53, 57] * 5
    ms = months("2019-01", 36)
    chart = C.control_chart(counts, ms, lead_in=12)
    shown = ms[12:]
    assert chart["points"]["month"] == shown
    assert set(chart["points"]["centre"]) == {46.25} and len(chart["phases"]) == 1
    assert flagged(chart) == []
    runs = {(r["rule"], r["side"], r["start"], r["end"]): r["shift"] for r in chart["runs"]}
    assert runs == {("centre_line", "below", shown[0], shown[13]): False,
                    ("centre_line", "above", shown[14], shown[23]): True,
                    ("year_on_year", "higher", shown[14], shown[23]): True}
    assert flagged(chart, "shift_run") == shown[14:]
    assert "10 months in a row from Mar 2021 to Dec 2021 were above the average" in chart["note"]
    assert "enter it as a level shift" in chart["note"]
    # entering it as a level shift recomputes the limits from then and the signal goes
    rebased = C.control_chart(counts, ms, [shown[14]], lead_in=12)
    assert [p["centre"] for p in rebased["phases"]] == [40.0, 55.0]
    assert [p["has_limits"] for p in rebased["phases"]] == [True, False]  # 10 < 12 months
    assert "too few for control limits" in rebased["note"]


# --------------------------------------------------------------------------------------------
# 2. seasons

def seasonal(years: int, summer: int = 70, winter: int = 30) -> list[int]:
    """The same year every year: June, July and August at ``summer``, other months ``winter``."""
    return [summer if m in (6, 7, 8) else winter for _ in range(years) for m in range(1, 13)]


def test_a_summer_as_high_as_last_summer_is_seasonal_not_exceptional():
    # Shown: 24 months after a 12-month lead-in. Mean (9 x 30 + 3 x 70) / 12 = 40, exact limits
    # 22 and 60 (scipy): the six summer months are above. Each equals the same month a year
    # before (p = 1), so none is exceptional. The moving ranges are 0 except the four 40s at the
    # season's edges, screened out (40 >= 3.267 x 6.96): Poisson limits.
    counts, ms = seasonal(3), months("2019-01", 36)
    chart = C.control_chart(counts, ms, lead_in=12)
    ph = chart["phases"][0]
    assert (ph["centre"], ph["lower"], ph["upper"], ph["method"]) == (
        40.0, *sps.poisson.ppf([TAIL, 1 - TAIL], 40), "poisson")
    summers = [m for m in ms[12:] if m.month in (6, 7, 8)]
    assert flagged(chart) == summers == flagged(chart, "seasonal")
    assert flagged(chart, "exceptional") == []
    assert set(chart["points"]["vs_last_year"]) == {"similar"}
    # the textbook c chart calls every one of them exceptional
    old = S.c_chart(counts[12:])
    assert [m for m, o in zip(ms[12:], old["outside"]) if o] == summers
    # Sep to May sit below the average nine months running, as they did a year before
    assert [(r["rule"], r["months"], r["shift"]) for r in chart["runs"]] == [("centre_line", 9, False)]
    assert flagged(chart, "shift_run") == []
    assert "Jun 2020, Jul 2020, Aug 2020 and 3 more were outside the limits but in line" in chart["note"]


def test_a_summer_well_above_last_summer_is_exceptional():
    # July of the last year at 110: mean 41.67, limits 24 and 62. Exact test of 110 against 70
    # (n = 180): p = 0.0036 < 0.05, so July 2021 is exceptional; the other summer months still
    # equal last year's and stay seasonal.
    counts, ms = seasonal(3), months("2019-01", 36)
    counts[ms.index(dt.date(2021, 7, 1))] = 110
    assert sps.binomtest(110, 180, 0.5).pvalue < 0.05
    chart = C.control_chart(counts, ms, lead_in=12)
    assert chart["phases"][0]["upper"] == sps.poisson.ppf(1 - TAIL, sum(counts[12:]) / 24)
    assert flagged(chart, "exceptional") == [dt.date(2021, 7, 1)]
    i = chart["points"]["month"].index(dt.date(2021, 7, 1))
    assert chart["points"]["vs_last_year"][i] == "higher" and chart["points"]["last_year"][i] == 70
    assert chart["points"]["yoy_p_value"][i] == pytest.approx(sps.binomtest(110, 180, 0.5).pvalue)
    assert "Above the upper limit and higher than Jul 2020: exceptional" in chart["points"]["signal"][i]
    assert len(flagged(chart, "seasonal")) == 5
    assert chart["note"].startswith("Exceptional: Jul 2021 (high)")


def test_without_last_year_a_month_outside_the_limits_is_flagged_with_a_caveat():
    counts, ms = seasonal(2), months("2019-01", 24)
    chart = C.control_chart(counts, ms)  # no lead-in: the first summer has nothing to compare
    first, second = ([m for m in ms if m.month in (6, 7, 8) and m.year == y] for y in (2019, 2020))
    assert flagged(chart, "exceptional") == first
    assert flagged(chart, "seasonal") == second
    assert "not compared with the same month a year before" in chart["note"]


# --------------------------------------------------------------------------------------------
# 3. sparse series

def test_sparse_series_gets_exact_limits_and_the_rolling_total():
    # mean 6 / 20 = 0.3: exact limits 0 and 3 (tests/test_stats.py works them by hand); the
    # textbook upper limit 0.3 + 3 sqrt(0.3) = 1.94 would call the month of 2 exceptional.
    counts = [2, 1, 1, 1, 1] + [0] * 15
    ms = months("2023-01", 20)
    assert [i for i, o in enumerate(S.c_chart(counts)["outside"]) if o] == [0]
    chart = C.control_chart(counts, ms)
    ph = chart["phases"][0]
    assert (ph["centre"], ph["lower"], ph["upper"], ph["sparse"]) == (0.3, 0, 3, True)
    assert flagged(chart) == []
    assert chart["sparse"] and chart["recommend"] == "rolling_12"
    # fifteen months of 0 sit below the mean, which means nothing in so skewed a count
    assert chart["runs"] == []
    assert ("average 0.3 a month, fewer than 5: a month would need more than 3 to stand out and "
            "no fall can show") in chart["note"]
    roll = chart["points"]["rolling_12"]
    assert roll == [None] * 11 + [sum(counts[i - 11:i + 1]) for i in range(11, 20)]
    for total, lo, hi in zip(roll[11:], chart["points"]["rolling_12_lower"][11:],
                             chart["points"]["rolling_12_upper"][11:]):
        want_lo = 0.0 if total == 0 else sps.chi2.ppf(0.025, 2 * total) / 2
        assert lo == pytest.approx(want_lo, abs=1e-9)
        assert hi == pytest.approx(sps.chi2.ppf(0.975, 2 * total + 2) / 2, rel=1e-9)


def test_sparse_cut_off_is_a_parameter():
    counts = [6, 7, 5, 6, 4, 8, 6, 5, 7, 6, 5, 7]  # mean 6
    ms = months("2023-01", 12)
    assert not C.control_chart(counts, ms)["sparse"]
    assert C.control_chart(counts, ms, sparse_below=10)["sparse"]


def test_too_short_series_keeps_the_existing_note():
    chart = C.control_chart([5, 6, 7], months("2023-01", 3))
    assert chart["too_short"] and chart["note"] == S.c_chart([5, 6, 7])["note"]
    assert chart["points"]["upper"] == [None] * 3 and flagged(chart) == []


def test_montgomery_pcb_example_with_exact_limits():
    # Montgomery's printed-circuit-board c chart (tests/test_stats.py): samples 6 (c = 5) and
    # 20 (c = 39) are outside; the exact limits at c-bar = 19.85 are 8 and 34 and agree.
    from test_stats import MONTGOMERY_PCB

    chart = C.control_chart(MONTGOMERY_PCB, months("2000-01", 26), method="poisson")
    assert [i + 1 for i, o in enumerate(chart["points"]["outside_limits"]) if o] == [6, 20]
    assert (chart["phases"][0]["lower"], chart["phases"][0]["upper"]) == tuple(
        sps.poisson.ppf([TAIL, 1 - TAIL], sum(MONTGOMERY_PCB) / 26))


# --------------------------------------------------------------------------------------------
# 4. bad input

@pytest.mark.parametrize("call,match", [
    (lambda: C.control_chart([1, None, 3], months("2023-01", 3)), "suppressed"),
    (lambda: C.control_chart([1, 2, 3], months("2023-01", 2)), "differ in length"),
    (lambda: C.control_chart([1, 2], [dt.date(2023, 1, 1), dt.date(2023, 3, 1)]), "consecutive"),
    (lambda: C.control_chart([1, 2], None), "months"),
    (lambda: C.control_chart([1, 2], months("2023-01", 2), method="laney"), "method"),
    (lambda: C.control_chart([1, 2], months("2023-01", 2), lead_in=3), "lead_in"),
    (lambda: C.control_chart([1, 2], months("2023-01", 2), run_length=0), "run_length"),
    (lambda: C.control_chart([1, -2], months("2023-01", 2)), ">= 0"),
    (lambda: C.control_chart([1, 2], months("2023-01", 2), ["2023-13"]), "month"),
])
def test_bad_input_is_refused_clearly(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------------------------
# 5. properties

@st.composite
def series(draw):
    n = draw(st.integers(1, 48))
    mean = draw(st.sampled_from([0.2, 1, 4, 15, 60, 400, 3000]))
    counts = draw(st.lists(st.integers(0, int(mean * 3 + 5)), min_size=n, max_size=n))
    lead_in = draw(st.integers(0, min(12, n)))
    ms = months("2018-01", n)
    shifts = draw(st.lists(st.sampled_from(ms), max_size=3))
    return counts, ms, shifts, lead_in


@FAST
@given(series(), st.sampled_from(C.METHODS))
def test_chart_invariants(s, method):
    counts, ms, shifts, lead_in = s
    chart = C.control_chart(counts, ms, shifts, lead_in=lead_in, method=method)
    p = chart["points"]
    assert p["month"] == ms[lead_in:] and p["count"] == counts[lead_in:]
    for ph in chart["phases"]:
        shown = [c for c, k in zip(p["count"], p["phase"]) if k == ph["phase"]]
        assert ph["months"] == len(shown) and ph["centre"] == pytest.approx(sum(shown) / len(shown))
        if not ph["has_limits"]:
            continue
        assert 0 <= ph["lower"] <= ph["centre"] <= ph["upper"] or ph["centre"] < 0.002
        ref = ref_phase(shown, method)
        assert ph["method"] == ref["method"]
        assert (ph["lower"], ph["upper"]) == (pytest.approx(ref["lower"]), pytest.approx(ref["upper"]))
        assert ph["dispersion"] == pytest.approx(ref["dispersion"])
    for i, c in enumerate(p["count"]):
        has = p["upper"][i] is not None
        assert p["outside_limits"][i] == (has and (c > p["upper"][i] or c < p["lower"][i]))
        assert p["seasonal"][i] == (p["outside_limits"][i] and not p["exceptional"][i])
        if p["exceptional"][i]:
            assert p["outside_limits"][i]
            want = "higher" if p["side"][i] == "high" else "lower"
            assert p["vs_last_year"][i] in (None, want)
        if p["last_year"][i] is not None and p["last_year"][i] == c:
            assert not p["exceptional"][i]  # a month as it was a year ago is never exceptional
    for r in chart["runs"]:
        if r["shift"]:
            assert r["months"] >= C.RUN_LENGTH


@FAST
@given(series())
def test_auto_limits_flag_no_more_than_poisson_limits(s):
    # widened for over-dispersion, never narrowed: auto's flags are a subset of Poisson's
    counts, ms, shifts, lead_in = s
    auto = C.control_chart(counts, ms, shifts, lead_in=lead_in)
    exact = C.control_chart(counts, ms, shifts, lead_in=lead_in, method="poisson")
    assert set(flagged(auto)) <= set(flagged(exact))


def exact_false_alarm_rate(mu: float, n: int) -> float:
    """E[share of n months outside the limits] for n counts that really are Poisson(mu), with
    the centre estimated from them as the chart does. Given the total s, each count is
    Binomial(s, 1/n) and the centre is s/n, so the rate is a finite sum (exact)."""
    lam, total = n * mu, 0.0
    for s in range(0, int(lam + 12 * math.sqrt(lam) + 30)):
        w = sps.poisson.pmf(s, lam)
        if w < 1e-16:
            continue
        lo, hi = (0, 0) if s == 0 else sps.poisson.ppf([TAIL, 1 - TAIL], s / n)
        k = np.arange(s + 1)
        pk = sps.binom.pmf(k, s, 1 / n)
        total += w * pk[(k < lo) | (k > hi)].sum()
    return total


@pytest.mark.parametrize("mu", [0.3, 4, 20, 150])
def test_false_alarm_rate_of_a_constant_poisson_series(mu):
    n, reps = 24, 600
    want = exact_false_alarm_rate(mu, n)
    assert want <= 2 * TAIL  # the ±3 sigma design rate holds with the centre estimated too
    rng = np.random.default_rng(int(mu * 10))
    ms = months("2020-01", n)
    got, got_auto = [], []
    for _ in range(reps):
        x = rng.poisson(mu, n).tolist()
        got.append(sum(C.control_chart(x, ms, method="poisson")["points"]["outside_limits"]) / n)
        got_auto.append(sum(C.control_chart(x, ms)["points"]["outside_limits"]) / n)
    se = max(np.std(got), 1 / n) / math.sqrt(reps)
    assert abs(np.mean(got) - want) < 4 * se
    assert np.mean(got_auto) <= np.mean(got)


def p_run_at_least(n: int, k: int) -> float:
    """P(some run of k equal outcomes) in n fair coin tosses, by a Markov chain on the run length."""
    dist = np.zeros(k + 1)
    dist[1] = 1.0
    for _ in range(n - 1):
        new = np.zeros(k + 1)
        new[k] = dist[k]
        for r in range(1, k):
            new[r + 1] += dist[r] / 2
            new[1] += dist[r] / 2
        dist = new
    return float(dist[k])


def test_run_rules_rarely_fire_on_a_stable_series():
    # Independent symmetric points give a run of 8 in 24 with probability 6.9 %; with both run
    # rules and their year-on-year check, a stable Poisson series must do no worse.
    bound = p_run_at_least(24, 8)
    assert 0.06 < bound < 0.08
    rng = np.random.default_rng(11)
    ms = months("2019-01", 36)
    reps = 500
    alarms = sum(any(r["shift"] for r in C.control_chart(rng.poisson(60, 36).tolist(), ms,
                                                         lead_in=12)["runs"]) for _ in range(reps))
    assert alarms / reps < bound


# --------------------------------------------------------------------------------------------
# 6. real data: Lincolnshire police.uk, 2010-12 to 2015-12

@pytest.fixture(scope="module")
def lincs():
    """Rows per month, crime type and district (from the LSOA name, e.g. 'South Holland 003A')."""
    return (pl.scan_csv(str(LINCS / "*" / "*.csv"))
            .with_columns(pl.col("LSOA name").str.replace(r" \d+[A-Z]$", "").alias("district"))
            .group_by("Month", "Crime type", "district").len().collect())


def real_series(lincs, types, first, last, district=None):
    f = lincs.filter(pl.col("Crime type").is_in(types))
    if district:
        f = f.filter(pl.col("district") == district)
    got = dict(f.group_by("Month").agg(pl.col("len").sum()).iter_rows())
    ms = months(first, 1 + (int(last[:4]) - int(first[:4])) * 12 + int(last[5:]) - int(first[5:]))
    return ms, [got.get(m.strftime("%Y-%m"), 0) for m in ms]


def check_against_reference(chart, counts, lead_in):
    """Every limit and flag equals the recomputation in this file."""
    p = chart["points"]
    for ph in chart["phases"]:
        shown = [c for c, k in zip(p["count"], p["phase"]) if k == ph["phase"]]
        ref = ref_phase(shown)
        assert (ph["centre"], ph["method"]) == (pytest.approx(ref["centre"]), ref["method"])
        assert (ph["lower"], ph["upper"]) == (pytest.approx(ref["lower"]), pytest.approx(ref["upper"]))
        for i in (i for i, k in enumerate(p["phase"]) if k == ph["phase"]):
            assert p["outside_limits"][i] == (not ref["lower"] <= p["count"][i] <= ref["upper"])
            if p["last_year"][i] is not None:
                assert p["last_year"][i] == counts[lead_in + i - 12]
                assert p["vs_last_year"][i] == ref_vs_last_year(p["count"][i], p["last_year"][i],
                                                                ref["dispersion"])


def test_real_asb_summer_peak_is_not_exceptional(lincs):
    ms, counts = real_series(lincs, ["Anti-social behaviour"], "2011-01", "2013-12")
    chart = C.control_chart(counts, ms, lead_in=12)
    check_against_reference(chart, counts, 12)
    p = chart["points"]
    summer_high = [i for i, m in enumerate(p["month"]) if m.month in (6, 7, 8) and p["side"][i] == "high"]
    assert summer_high, "the real summer ASB peak is above the limits"
    for i in summer_high:
        if p["count"][i] <= p["last_year"][i]:  # no higher than last summer: not exceptional
            assert not p["exceptional"][i] and p["seasonal"][i]
    old = S.c_chart(counts[12:])
    assert sum(p["exceptional"]) < sum(old["outside"])


def test_real_violence_across_the_2013_taxonomy_change(lincs):
    # 'Violent crime' to 2013-04, 'Violence and sexual offences' from 2013-05 (harmonised
    # together by csp.ingest): the documented shift starts a new phase there.
    ms, counts = real_series(lincs, ["Violent crime", "Violence and sexual offences"],
                             "2011-05", "2015-12")
    shifts = C.police_uk_shifts("Violence and sexual offences")
    assert [s.month for s in shifts] == [dt.date(2013, 5, 1)]
    chart = C.control_chart(counts, ms, shifts, lead_in=12)
    check_against_reference(chart, counts, 12)
    a, b = chart["phases"]
    assert b["start"] == dt.date(2013, 5, 1) and "May 2013" in b["reason"]
    shown = dict(zip(ms, counts))
    assert a["centre"] == pytest.approx(np.mean([v for m, v in shown.items()
                                                 if dt.date(2012, 5, 1) <= m < dt.date(2013, 5, 1)]))
    assert b["centre"] == pytest.approx(np.mean([v for m, v in shown.items() if m >= dt.date(2013, 5, 1)]))
    one_centre = S.c_chart(counts[12:])
    assert sum(chart["points"]["outside_limits"]) < sum(one_centre["outside"])
    # Runs of 8+ months each higher or lower than a year before inside the new phase, found
    # from the raw counts here; those whose total differs significantly must be the chart's.
    later = [m for m in ms if m >= dt.date(2014, 5, 1)]  # a year after the shift: comparable
    signs = [np.sign(shown[m] - shown[dt.date(m.year - 1, m.month, 1)]) for m in later]
    want, i = [], 0
    while i < len(signs):
        j = i
        while j + 1 < len(signs) and signs[j + 1] == signs[i]:
            j += 1
        if signs[i] != 0 and j - i + 1 >= 8:
            now = sum(shown[m] for m in later[i:j + 1])
            before = sum(shown[dt.date(m.year - 1, m.month, 1)] for m in later[i:j + 1])
            if ref_vs_last_year(now, before, b["dispersion"]) == ("higher" if signs[i] > 0 else "lower"):
                want.append((later[i], later[j]))
        i = j + 1
    got = [(r["start"], r["end"]) for r in chart["runs"] if r["rule"] == "year_on_year" and r["shift"]]
    assert got == want and want, "the 2015 rise in recorded violence is a real undocumented shift"


def test_police_uk_shifts_match_the_files(lincs):
    # A documented taxonomy change is a month in which some crime type first appears.
    first_seen = dict(lincs.group_by("Crime type").agg(pl.col("Month").min()).iter_rows())
    starts = {dt.datetime.strptime(m, "%Y-%m").date() for m in first_seen.values()}
    documented = {s.month for shifts in C.POLICE_UK_SHIFTS.values() for s in shifts}
    assert documented <= starts
    assert C.police_uk_shifts("Anti-social behaviour") == [] and C.police_uk_shifts(None) == []
    # a series adding categories together has every shift any of them has, once per month
    both = C.police_uk_shifts(["Burglary", "Other crime", "Violence and sexual offences"])
    assert [s.month for s in both] == [dt.date(2011, 9, 1), dt.date(2013, 5, 1)]
    assert C.police_uk_shifts(["Burglary", "Robbery"]) == []


def test_real_sparse_robbery_is_not_flagged_by_a_rounding_of_the_spread(lincs):
    ms, counts = real_series(lincs, ["Robbery"], "2014-01", "2015-12", district="South Holland")
    mean = sum(counts) / len(counts)
    assert mean < C.SPARSE_BELOW
    chart = C.control_chart(counts, ms)
    check_against_reference(chart, counts, 0)
    assert chart["sparse"] and chart["recommend"] == "rolling_12"
    old = S.c_chart(counts)
    # months the textbook chart flags that are no 3-sigma event for Poisson(mean)
    spurious = [m for m, c, o in zip(ms, counts, old["outside"]) if o and sps.poisson.sf(c - 1, mean) > TAIL]
    assert spurious, "the real series has a month the ±3√mean limits call exceptional"
    assert not set(spurious) & set(flagged(chart))
