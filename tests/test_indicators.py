"""csp.indicators against hand-computed values, csp.stats and SciPy.

References: Byar's approximation as in PHE "Technical Guide: Confidence Intervals for Public
Health Indicators" (2018), Appendix 1; the exact (Garwood) Poisson interval via chi-square
quantiles; c-chart limits c̄ ± 3√c̄ (Montgomery, Introduction to Statistical Quality Control,
§7.3); the conditional binomial test for two Poisson counts (Przyborowski & Wilenski 1940).
"""
from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest
from scipy import stats as sps

from csp import control_charts, indicators, queries, stats


def result(name: str, frame: pl.DataFrame, suppressed: dict | None = None, threshold: int = 5):
    """A query Result as the runner returns it: suppressed cells null and flagged in the mask."""
    q = queries.get(name)
    cols = {c: [False] * frame.height for c in frame.columns
            if q.columns.get(c) and q.columns[c].type in ("count", "derived")}
    for c, rows in (suppressed or {}).items():
        for i in rows:
            cols[c][i] = True
            frame = frame.with_columns(
                pl.when(pl.int_range(pl.len()) == i).then(None).otherwise(pl.col(c)).alias(c))
    mask = pl.DataFrame(cols, schema={c: pl.Boolean for c in cols})
    return queries.Result(q, frame, mask, threshold, {"crime": "v000001"})


def months(first: str, n: int) -> list[dt.date]:
    y, m = int(first[:4]), int(first[5:])
    out = []
    for _ in range(n):
        out.append(dt.date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def monthly(values, first="2023-01", skip=()):
    ms = months(first, len(values))
    rows = [(m, v) for i, (m, v) in enumerate(zip(ms, values)) if i not in skip]
    return pl.DataFrame({"month": [r[0] for r in rows], "crimes": [r[1] for r in rows]},
                        schema={"month": pl.Date, "crimes": pl.Int64})


# ---- monthly series ----------------------------------------------------------------------

def test_series_fills_absent_months_with_zero_and_draws_the_control_chart():
    values = [10, 12, 9, 0, 11, 14, 8, 10, 13, 9, 11, 40, 10, 12]
    # month 4 (index 3) had no records, so the query returns no row for it
    res = result("crime_monthly_total", monthly(values, skip={3}))
    series, note = indicators.monthly_series(res, "crimes", "2023-01", "2024-02")
    assert series.frame["crimes"].to_list() == values
    # The chart is csp.control_charts' (tests/test_control_charts.py checks its rules), month by
    # month: limits, flags and the note say what it found.
    chart = control_charts.control_chart(values, months("2023-01", 14), min_points=indicators.MIN_CONTROL_POINTS)
    pts = chart["points"]
    assert series.frame["centre_line"].to_list() == [round(v, 1) for v in pts["centre"]]
    assert series.frame["upper_limit"].to_list() == [round(v, 1) for v in pts["upper"]]
    assert series.frame["outside_limits"].to_list() == pts["outside_limits"]
    assert series.frame["exceptional"].to_list() == pts["exceptional"]
    assert note == chart["note"]
    # The 0 and the 40 are outside the limits; with no year before, both stay flagged.
    assert [i for i, o in enumerate(pts["outside_limits"]) if o] == [3, 11]
    # rolling totals: none until a full year, then trailing sums
    assert series.frame["rolling_12_months"].to_list() == [None] * 11 + [
        sum(values[0:12]), sum(values[1:13]), sum(values[2:14])]


def test_series_lead_in_months_feed_the_rolling_total_only():
    values = list(range(1, 25))  # 24 months from 2023-01
    res = result("crime_monthly_total", monthly(values))
    series, _ = indicators.monthly_series(res, "crimes", "2024-01", "2024-12")
    assert series.frame["month"].to_list() == months("2024-01", 12)
    assert series.frame["crimes"].to_list() == values[12:]
    assert series.frame["rolling_12_months"].to_list() == [sum(values[i - 11:i + 1]) for i in range(12, 24)]
    # control limits use the period shown only
    assert series.frame["centre_line"][0] == pytest.approx(round(sum(values[12:]) / 12, 1))


def test_history_start_never_reaches_before_the_data():
    assert indicators.history_start("2024-06", "2020-01") == "2023-06"  # 12 back: last year's June
    assert indicators.history_start("2022-11", "2022-10") == "2022-10"
    assert indicators.shift_month("2024-01", -1) == "2023-12"
    assert indicators.shift_month("2023-12", 13) == "2025-01"


def test_suppressed_month_blocks_limits_and_the_windows_that_contain_it():
    values = [20] * 14
    res = result("crime_monthly_total", monthly(values), suppressed={"crimes": [5]})
    series, note = indicators.monthly_series(res, "crimes", "2023-01", "2024-02")
    assert series.frame["crimes"][5] is None and series.suppressed["crimes"][5]
    assert "withheld" in note
    assert series.frame["upper_limit"].null_count() == series.frame.height
    # every 12-month window up to index 16 contains month 5
    assert series.frame["rolling_12_months"].to_list() == [None] * 14
    later = result("crime_monthly_total", monthly([20] * 20), suppressed={"crimes": [0]})
    s2, _ = indicators.monthly_series(later, "crimes", "2023-01", "2024-08")
    assert s2.frame["rolling_12_months"].to_list()[12:] == [240] * 8
    assert s2.frame["rolling_12_months"][11] is None


def test_short_series_says_why_there_are_no_limits():
    res = result("crime_monthly_total", monthly([5, 6, 7]))
    series, note = indicators.monthly_series(res, "crimes", "2023-01", "2023-03")
    assert note == stats.c_chart([5, 6, 7])["note"] and "at least 12" in note
    assert series.frame["upper_limit"].null_count() == 3


# ---- change between periods --------------------------------------------------------------

def test_change_test_matches_scipy_and_refuses_suppressed():
    t = indicators.change_test(38, 25)
    assert t["p_value"] == pytest.approx(sps.binomtest(38, 63, 0.5).pvalue)
    assert t["pct_change"] == pytest.approx(52.0)
    assert not t["significant"]
    assert indicators.change_test(None, 25) is None
    big = indicators.change_test(1200, 1000)
    assert big["significant"] and big["p_value"] == pytest.approx(sps.binomtest(1200, 2200, 0.5).pvalue)


def test_change_sentence_reads_the_test():
    s = indicators.change_sentence(indicators.change_test(38, 25), "crimes")
    assert s.startswith("Crimes rose 52.0% on the previous 12 months")
    assert "not statistically significant" in s and "p = 0.1" in s
    s = indicators.change_sentence(indicators.change_test(800, 1000), "ASB incidents")
    assert s.startswith("ASB incidents fell 20.0%") and "is statistically significant" in s
    assert "p < 0.001" in s
    assert "suppressed" in indicators.change_sentence(None, "crimes")


# ---- rates and benchmark comparisons -----------------------------------------------------

def byar_by_hand(o: int, z: float = 1.959964) -> tuple[float, float]:
    lo = o * (1 - 1 / (9 * o) - z / (3 * math.sqrt(o))) ** 3
    o1 = o + 1
    hi = o1 * (1 - 1 / (9 * o1) + z / (3 * math.sqrt(o1))) ** 3
    return lo, hi


def wards(rows):
    return pl.DataFrame(rows, orient="row", schema={
        "ward_code": pl.String, "ward_name": pl.String, "district_name": pl.String,
        "crimes": pl.Int64, "population": pl.Int64, "rate_per_1000": pl.Float64})


def test_ranked_areas_rates_intervals_and_verdicts():
    frame = wards([
        ("E05000001", "Low", "D", 30, 3000, None),      # 10 per 1,000
        ("E05000002", "High", "D", 400, 10000, None),   # 40 per 1,000
        ("E05000003", "Mid", "D", 100, 5000, None),     # 20 per 1,000
        ("E05000004", "Small", "D", 3, 100, None),      # suppressed (1..4)
        (None, "Unknown area", None, 12, None, None),   # no population: no rate
    ])
    res = result("crime_by_ward", frame, suppressed={"crimes": [3], "rate_per_1000": [3]})
    bench = indicators.benchmark_rate(
        result("crime_benchmark", pl.DataFrame({"crimes": [533], "population": [18100], "wards": [4],
                                                "rate_per_1000": [None]},
                                               schema={"crimes": pl.Int64, "population": pl.Int64,
                                                       "wards": pl.Int64, "rate_per_1000": pl.Float64})),
        "crimes")
    assert bench["rate"] == pytest.approx(533 / 18100 * 1000)
    ranked, note = indicators.ranked_areas(res, "crimes", bench)
    f = ranked.frame
    assert note == ""
    assert f["ward_name"].to_list() == ["High", "Mid", "Low", "Unknown area", "Small"]
    low = f.filter(pl.col("ward_name") == "Low").row(0, named=True)
    lo, hi = byar_by_hand(30)
    assert low["rate_per_1000"] == pytest.approx(10.0)
    assert low["lower_95"] == pytest.approx(round(lo / 3, 2))
    assert low["upper_95"] == pytest.approx(round(hi / 3, 2))
    # Byar is within a few per cent of the exact interval at 30 (PHE guide)
    exact = (sps.chi2.ppf(0.025, 60) / 2 / 3, sps.chi2.ppf(0.975, 62) / 2 / 3)
    assert low["lower_95"] == pytest.approx(exact[0], rel=0.01)
    assert low["upper_95"] == pytest.approx(exact[1], rel=0.01)
    verdict = dict(zip(f["ward_name"], f["vs_benchmark"]))
    # benchmark 29.4: High's interval (36.2, 44.1) is above, Low's (6.7, 14.3) below, Mid's
    # (16.3, 24.3) below too; compare_to_benchmark decides, polarity lower-is-better
    for name, count, pop in (("High", 400, 10000), ("Mid", 100, 5000), ("Low", 30, 3000)):
        r = stats.rate_per_1000(count, pop)
        assert verdict[name] == stats.compare_to_benchmark(r["lower"], r["upper"], bench["rate"],
                                                           "lower_is_better")
    assert verdict["High"] == "worse" and verdict["Low"] == "better"
    small = f.filter(pl.col("ward_name") == "Small").row(0, named=True)
    assert all(small[c] is None for c in ("crimes", "rate_per_1000", "lower_95", "upper_95", "vs_benchmark"))
    small_mask = ranked.suppressed[f["ward_name"].to_list().index("Small")].row(0, named=True)
    assert all(small_mask[c] for c in ("crimes", "rate_per_1000", "lower_95", "upper_95", "vs_benchmark"))
    unknown = f.filter(pl.col("ward_name") == "Unknown area").row(0, named=True)
    assert unknown["crimes"] == 12 and unknown["rate_per_1000"] is None and unknown["vs_benchmark"] is None


def test_similar_when_the_interval_contains_the_benchmark():
    frame = wards([("E05000001", "A", "D", 50, 2000, None)])  # 25 per 1,000, CI about 18.6 to 33.0
    bench = {"rate": 27.0, "lower": 26.0, "upper": 28.0, "wards": 5}
    ranked, _ = indicators.ranked_areas(result("crime_by_ward", frame), "crimes", bench)
    assert ranked.frame["vs_benchmark"].to_list() == ["similar"]


def test_no_comparison_against_a_single_ward_or_a_suppressed_benchmark():
    frame = wards([("E05000001", "A", "D", 50, 2000, None)])
    ranked, note = indicators.ranked_areas(result("crime_by_ward", frame), "crimes",
                                           {"rate": 25.0, "lower": 18.0, "upper": 33.0, "wards": 1})
    assert ranked.frame["vs_benchmark"].to_list() == [None] and "single ward" in note
    assert ranked.frame["lower_95"][0] is not None  # the interval is still shown
    supp = result("crime_benchmark", pl.DataFrame(
        {"crimes": [3], "population": [500], "wards": [2], "rate_per_1000": [6.0]}),
        suppressed={"crimes": [0], "rate_per_1000": [0]})
    assert indicators.benchmark_rate(supp, "crimes") is None
    ranked, note = indicators.ranked_areas(result("crime_by_ward", frame), "crimes", None)
    assert ranked.frame["vs_benchmark"].to_list() == [None] and "suppressed or unavailable" in note
