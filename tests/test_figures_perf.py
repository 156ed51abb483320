"""The page-run speed-ups keep what pages show: results derived once per cached query result
(never shared between users' scopes), the vectorised ranked table, the slim
Plotly template and the boundary cache. No timing assertions: these check correctness only."""
from __future__ import annotations

import datetime as dt
import os
import random

import numpy as np
import plotly.io as pio
import polars as pl
import pytest

from csp import export, figures, indicators, queries, stats

from conftest import W1, W2

PARAMS = {"from": "2023-01", "to": "2024-12", "area": None, "crime_type": None}


# ---- the memo is per Result, so per user scope ------------------------------------------------

def test_two_scopes_never_share_a_remembered_artefact(tiny):
    council, fire = tiny["users"]["council"], tiny["users"]["fire"]
    whole = queries.run(council, "crime_by_ward", PARAMS)
    scoped = queries.run(fire, "crime_by_ward", PARAMS)
    assert whole is not scoped
    ranked_whole, _ = indicators.ranked_areas(whole, "crimes", None)
    ranked_scoped, _ = indicators.ranked_areas(scoped, "crimes", None)
    csv_whole, csv_scoped = export.to_csv(ranked_whole).encode(), export.to_csv(ranked_scoped).encode()
    # The fire officer sees ward W2 only: nothing remembered for the council user leaks to them.
    assert W1 in csv_whole.decode() and W1 not in csv_scoped.decode()
    assert W2 in csv_scoped.decode()
    assert set(ranked_scoped.frame["ward_code"].drop_nulls()) == {W2}
    # Each Result carries its own memo; the cached Result comes back with the same memo.
    memo = whole.__dict__[indicators._MEMO_ATTR]
    assert memo is not scoped.__dict__[indicators._MEMO_ATTR]
    again = queries.run(council, "crime_by_ward", PARAMS)
    assert again is whole and indicators.ranked_areas(again, "crimes", None)[0] is ranked_whole


def test_a_new_query_result_starts_with_nothing_remembered(tiny):
    council = tiny["users"]["council"]
    first = queries.run(council, "crime_by_ward", PARAMS)
    indicators.ranked_areas(first, "crimes", None)
    queries.clear_cache()  # e.g. a new dataset version: a new Result, computed afresh
    second = queries.run(council, "crime_by_ward", PARAMS)
    assert second is not first and indicators._MEMO_ATTR not in second.__dict__
    assert indicators.ranked_areas(second, "crimes", None)[0].frame.equals(
        indicators.ranked_areas(first, "crimes", None)[0].frame)


def test_every_argument_is_part_of_the_memo_key(tiny):
    res = queries.run(tiny["users"]["council"], "crime_by_ward", PARAMS)
    low = {"rate": 0.001, "lower": 0.0005, "upper": 0.0015, "wards": 3, "districts": 2}
    high = dict(low, rate=1000.0)
    a, _ = indicators.ranked_areas(res, "crimes", low)
    b, _ = indicators.ranked_areas(res, "crimes", high)
    assert a is not b
    shown = [v for v in a.frame["vs_benchmark"].to_list() if v]
    assert shown and set(shown) == {"worse"}
    assert set(v for v in b.frame["vs_benchmark"].to_list() if v) == {"better"}
    c, _ = indicators.ranked_areas(res, "crimes", low, polarity="higher_is_better")
    assert set(v for v in c.frame["vs_benchmark"].to_list() if v) == {"better"}
    s1, _ = indicators.monthly_series(queries.run(tiny["users"]["council"], "crime_monthly_total", PARAMS),
                                      "crimes", "2024-01", "2024-02")
    s2, _ = indicators.monthly_series(queries.run(tiny["users"]["council"], "crime_monthly_total", PARAMS),
                                      "crimes", "2023-02", "2024-02")
    assert s1.frame.height == 2 and s2.frame.height == 13


def test_per_result_builds_once_per_key():
    res = _result(pl.DataFrame({"ward_code": ["A"], "crimes": [5], "population": [100]}), [False])
    calls = []
    assert indicators.per_result(res, ("x", 1), lambda: calls.append(1) or "one") == "one"
    assert indicators.per_result(res, ("x", 1), lambda: calls.append(1) or "other") == "one"
    assert indicators.per_result(res, ("x", 2), lambda: calls.append(1) or "two") == "two"
    assert len(calls) == 2


# ---- the vectorised ranked table equals the row-by-row definition -----------------------------

def _result(frame: pl.DataFrame, suppressed: list[bool]) -> queries.Result:
    return queries.Result(queries.get("crime_by_ward"), frame,
                          pl.DataFrame({"crimes": suppressed}, schema={"crimes": pl.Boolean}), 5,
                          {"crime": "v000001"})


def _by_hand(counts, pops, supp, bench, polarity):
    """ranked_areas' definition one row at a time with csp.stats' scalar functions."""
    rows = []
    for i, (c, p, s) in enumerate(zip(counts, pops, supp)):
        ok = not s and c is not None and bool(p)
        if ok:
            lo, hi = stats.byar_ci(c)
            scale = 1000.0 / float(p)
            rate, lo, hi = c * scale, lo * scale, hi * scale
            verdict = stats.compare_to_benchmark(lo, hi, bench["rate"], polarity) if bench else None
            rows.append((f"W{i}", round(rate, 2), round(lo, 2), round(hi, 2), verdict))
        else:
            rows.append((f"W{i}", None, None, None, None))
    return rows


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("polarity", ["lower_is_better", "higher_is_better", "none"])
def test_ranked_areas_matches_the_row_by_row_definition(seed, polarity):
    r = random.Random(seed)
    n = r.randint(1, 300)
    counts = [r.choice([None, 0, 2, 7, 51, r.randint(0, 4000)]) for _ in range(n)]
    pops = [r.choice([None, 0, 1500, r.randint(1, 9000)]) for _ in range(n)]
    supp = [c is not None and 0 < c < 5 for c in counts]
    counts = [None if s else c for c, s in zip(counts, supp)]
    frame = pl.DataFrame({"ward_code": [f"W{i}" for i in range(n)], "crimes": counts, "population": pops},
                         schema={"ward_code": pl.String, "crimes": pl.Int64, "population": pl.Int64})
    bench = {"rate": r.uniform(5, 200), "lower": 1.0, "upper": 300.0, "wards": 10, "districts": 1}
    ranked, _ = indicators.ranked_areas(_result(frame, supp), "crimes", bench, polarity)
    got = {row[0]: row[1:] for row in ranked.frame.select(
        "ward_code", "rate_per_1000", "lower_95", "upper_95", "vs_benchmark").rows()}
    assert got == {row[0]: row[1:] for row in _by_hand(counts, pops, supp, bench, polarity)}
    # Ranked by rate, highest first; suppressed rows last, and withheld in every derived column.
    rates = [v for v in ranked.frame["rate_per_1000"].to_list()]
    flags = ranked.suppressed["crimes"].to_list()
    assert flags == sorted(flags)
    shown = [v for v, f in zip(rates, flags) if not f and v is not None]
    assert shown == sorted(shown, reverse=True)
    for col in ("rate_per_1000", "lower_95", "upper_95", "vs_benchmark"):
        assert ranked.suppressed[col].to_list() == flags


def test_round2_is_pythons_round():
    r = random.Random(7)
    values = ([r.uniform(0, 1e5) for _ in range(20000)] + [k / 1000 for k in range(0, 20000)]
              + [k / 200 for k in range(0, 20000)] + [2.675, 1.005, 0.125, 0.0, 123456.785])
    assert indicators.round2(np.array(values)).tolist() == [round(v, 2) for v in values]


# ---- figures ---------------------------------------------------------------------------------

def test_slim_template_is_plotly_white_for_bar_and_scatter():
    fig = figures.bar_chart(pl.DataFrame({"t": ["a", "b"], "n": [3, 9]}), "t", "n", "Crimes")
    tpl = fig.layout.template.to_plotly_json()
    white = pio.templates["plotly_white"].to_plotly_json()
    assert set(tpl["data"]) == {"bar", "scatter"}
    assert tpl["data"]["bar"] == white["data"]["bar"]
    assert tpl["data"]["scatter"] == white["data"]["scatter"]
    kept = {k: v for k, v in white["layout"].items() if k in tpl["layout"]}
    assert tpl["layout"] == kept
    assert {"xaxis", "yaxis", "colorway", "font", "plot_bgcolor", "hoverlabel"} <= set(tpl["layout"])
    # What was left out styles only things these figures never draw.
    for f in (fig, figures.monthly_chart(pl.DataFrame({
            "month": [dt.date(2024, m, 1) for m in range(1, 13)], "crimes": list(range(12)),
            "rolling_12_months": [None] * 12, "centre_line": [5.5] * 12, "lower_limit": [0.0] * 12,
            "upper_limit": [12.0] * 12, "outside_limits": [False] * 11 + [True]}), "crimes", "Crimes")):
        spec = f.to_plotly_json()
        assert {t["type"] for t in spec["data"]} <= {"bar", "scatter"}
        assert not {"annotations", "shapes", "coloraxis", "geo", "polar", "scene", "ternary"} & set(spec["layout"])


def test_boundaries_are_parsed_once_per_file_version(data_dir):
    path = data_dir / "boundaries" / "ward.geojson"
    path.parent.mkdir()
    path.write_text('{"type": "FeatureCollection", "features": []}')
    first = figures.load_boundaries("ward")
    assert figures.load_boundaries("ward") is first
    path.write_text('{"type": "FeatureCollection", "features": [], "name": "new"}')
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    second = figures.load_boundaries("ward")
    assert second is not first and second["name"] == "new"
    path.unlink()
    assert figures.load_boundaries("ward") is None


def test_bar_chart_names_withheld_categories_and_draws_no_bar():
    import polars as pl

    from csp import figures
    frame = pl.DataFrame({"outcome": ["Charged", "Cautioned", "Fined"], "crimes": [40, None, 12]})
    fig = figures.bar_chart(frame, "outcome", "crimes", "Crimes", withheld="low")
    bar = fig.data[0]
    assert list(bar.y) == ["Cautioned (low)", "Fined", "Charged"]
    assert list(bar.x) == [None, 12, 40]  # no bar, never a zero
