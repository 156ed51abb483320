"""Indicators computed from named-query results: monthly series with rolling 12-month totals and
control limits, rates per 1,000 with confidence intervals ranked against a benchmark, and the
change between two 12-month periods.

Everything takes a :class:`csp.queries.Result` (already scoped and suppressed by the runner) and
returns a new Result with the same query, threshold and versions, so tables and CSV downloads
show exactly what the screen shows. A suppressed (null) cell is never used to derive a number:
a window, limit or comparison that would need one is left out, and a note says why.
No Streamlit here, so the board pack uses the same code.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl

from . import access, control_charts, queries, stats
from .queries import Result

# The 'what this shows' texts, shared by the pages and the board pack.
NOTES = {
    "crime": (
        "Crimes recorded by the police, as published on data.police.uk, counted by the month they "
        "were recorded and the LSOA of their anonymised location; wards and districts come from "
        "the LSOA lookup. Anti-social behaviour is shown separately.",
        "Locations are snapped to anonymous map points, so small-area counts are approximate. "
        "Recorded crime reflects reporting and recording practice as well as crime.",
    ),
    "asb": (
        "Anti-social behaviour incidents reported to the police, as published on data.police.uk, "
        "counted by month and the LSOA of their anonymised location; wards and districts come "
        "from the LSOA lookup.",
        "police.uk publishes ASB without a category (personal, nuisance or environmental), so no "
        "breakdown by type is possible. Locations are snapped to anonymous map points. Recorded "
        "ASB reflects reporting as well as incidents; councils and housing providers hold ASB "
        "reports the police do not.",
    ),
    "outcomes": (
        "The latest outcome police.uk gives for each crime recorded in the period.",
        "Outcomes are updated as cases progress, so recent months have many crimes still 'under "
        "investigation' or awaiting court; compare like periods.",
    ),
}
CONTROL_NOTE = (
    "The dotted line is the average month and the dashed lines are control limits: exact Poisson "
    "limits (the 0.135% and 99.865% points, as ±3 sigma), widened when months vary more than "
    "chance allows, and recomputed from each documented change in recording (a new phase). A "
    "month is exceptional (a diamond) only when it is outside the limits and also significantly "
    "different from the same month last year, so a normal seasonal peak is not flagged (a hollow "
    "circle marks one outside the limits but like last year). Eight months in a row above or "
    "below the average, or above or below last year, are flagged as a possible shift. The orange "
    "line is the 12-month rolling total divided by 12. docs/statistics.md has the rules."
)
RATE_NOTE = (
    "Rates are per 1,000 residents a year (the period's count scaled to 12 months), with 95% "
    "confidence intervals (Byar's method). An area is 'better' or 'worse' than {bench} only when "
    "its interval lies wholly below or above {bench}'s rate; otherwise it is 'similar'."
)
PLACE_NOTE = (
    "'Outside the partnership' counts {noun} located in districts outside the partnership's area "
    "(police forces record some just over the boundary); 'No location given' counts those "
    "published with no location. Both are kept and counted apart; neither has a rate."
)
MIN_CONTROL_POINTS = 12  # fewer monthly points than this give unreliable c-chart limits
COMPARISON_LABEL = {
    "better": "better", "worse": "worse", "similar": "similar",
    "higher": "higher", "lower": "lower",
}


def _month_range(first: dt.date, last: dt.date) -> list[dt.date]:
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(dt.date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _parse_month(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.date):
        return value.replace(day=1)
    return dt.date(int(value[:4]), int(value[5:7]), 1)


def _derived(result: Result, frame: pl.DataFrame, mask: pl.DataFrame,
             partial: pl.DataFrame | None = None) -> Result:
    """A Result over a new frame: its withheld mask, and its partial mask (totals leaving out
    suppressed cells) or none."""
    if partial is None:
        partial = pl.DataFrame({c: [False] * frame.height for c in mask.columns},
                               schema={c: pl.Boolean for c in mask.columns})
    return dataclasses.replace(result, frame=frame, suppressed=mask, partial=partial)


# ---- things derived from one result, remembered on it ---------------------------------------

_MEMO_ATTR = "_derived_memo"
_UNHASHABLE = object()


def per_result(result: Result, key: tuple, build):
    """``build()``, remembered on ``result`` under ``key``: a page rerun over a cached query
    result reuses its ranked table, figures and CSV instead of rebuilding them.

    Safe across users because it lives on the Result object itself, which csp.queries caches per
    query, parameters, the user's whole grant and dataset versions: two scopes never share a
    Result, so they never share what is remembered on it, and it goes when the Result leaves the
    query cache. ``key`` must name the builder and every argument it uses besides the result."""
    memo = result.__dict__.get(_MEMO_ATTR)
    if memo is None:
        memo = result.__dict__.setdefault(_MEMO_ATTR, {})
    try:
        return memo[key]
    except KeyError:
        value = memo[key] = build()  # two threads may both build once; the answers are equal
        return value


def _hashable(value):
    """A hashable stand-in for a small dict of numbers (a benchmark), or _UNHASHABLE."""
    if value is None:
        return None
    try:
        key = tuple(sorted(value.items()))
        hash(key)
    except TypeError:
        return _UNHASHABLE
    return key


# ---- monthly series -------------------------------------------------------------------------

def shift_month(value: str, n: int) -> str:
    """'YYYY-MM' moved by n months."""
    d = _parse_month(value)
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return f"{y:04d}-{m + 1:02d}"


def headline_end(end: str, dataset: str) -> str:
    """The month a '12 months to' headline ends with for a period ending at ``end``: that month
    when a 12-month comparison may end there (the latest month held, or a financial year's
    March with all 12 months held), else the latest month held."""
    from .protection import periods

    first, last = periods.held([dataset])
    return end if periods.end12_allowed(_parse_month(end), first, last) else last.strftime("%Y-%m")


def documented_shifts(dataset: str, categories: list[str] | None) -> tuple:
    """The level shifts the dataset's contract documents for a series of these categories (all
    of them when None), as csp.control_charts.LevelShift, earliest first."""
    from . import catalog

    d = catalog.contract(dataset).dashboard or {}
    out = {}
    for s in d.get("shifts", ()) or ():
        cats = s.get("categories")
        if categories is None or not cats or set(categories) & set(cats):
            month = _parse_month(s["month"])
            out.setdefault(month, control_charts.LevelShift(month, s.get("reason", "")))
    return tuple(sorted(out.values()))


def history_start(start: str, first_held: str) -> str:
    """Where to start reading so the rolling 12-month total and the same month last year exist
    from ``start`` on: 12 months earlier, but never before the first month held (earlier months
    are unknown, not zero)."""
    return max(shift_month(start, -12), first_held)


def monthly_series(result: Result, count_col: str, start: str | dt.date | None = None,
                   end: str | dt.date | None = None, shifts: tuple = ()) -> tuple[Result, str]:
    """One row per month from ``start`` to ``end`` (default: the months in the result) with the
    count, the rolling 12-month total, and the control chart (csp.control_charts): per-month
    centre line and exact limits by phase (``shifts``: documented level shifts), whether a month
    is outside the limits, exceptional (also against the same month last year) or part of a
    run, and a sentence saying so. The result may start before ``start`` (see
    :func:`history_start`): those months feed the rolling total and the same-month-last-year
    comparison only. A month absent from the query output had no records, so it counts as 0; a
    withheld month stays null and no limit, total or comparison is derived from it.

    Returns (Result, note); the note says what the chart found or why parts are missing.
    Remembered on the result (see :func:`per_result`)."""
    return per_result(result, ("monthly_series", count_col, start, end, tuple(shifts)),
                      lambda: _monthly_series(result, count_col, start, end, tuple(shifts)))


def _phase_starts(chart: dict | None, n: int) -> list[str | None]:
    """The reason a new phase starts, on the first month of each phase after the first."""
    out = [None] * n
    if not chart or not chart.get("phases"):
        return out
    phases = chart["phases"]
    idx = chart["points"]["phase"]
    for i in range(1, n):
        if idx[i] != idx[i - 1]:
            reasons = [p.get("reason") for p in _rows(phases) if p.get("phase") == idx[i]]
            out[i] = (reasons[0] if reasons else None) or "a documented change"
    return out


def _rows(table) -> list[dict]:
    """Rows of a dict of lists (or a list of dicts)."""
    if isinstance(table, dict):
        keys = list(table)
        return [dict(zip(keys, vals)) for vals in zip(*table.values())]
    return list(table)


def _monthly_series(result: Result, count_col: str, start, end, shifts: tuple = ()) -> tuple[Result, str]:
    frame = result.frame
    known = dict(zip(frame["month"].to_list(), frame[count_col].to_list()))
    masked = dict(zip(frame["month"].to_list(), result.suppressed[count_col].to_list())) \
        if count_col in result.suppressed.columns else {}
    parts = dict(zip(frame["month"].to_list(), result.partial[count_col].to_list())) \
        if count_col in getattr(result, "partial", pl.DataFrame()).columns else {}
    if not known and (start is None or end is None):
        empty = pl.DataFrame(schema={"month": pl.Date, count_col: pl.Int64})
        return _derived(result, empty, pl.DataFrame(schema={count_col: pl.Boolean})), ""
    first = _parse_month(start) if start is not None else min(known)
    last = _parse_month(end) if end is not None else max(known)
    read_from = min([first, *known]) if known else first
    months = _month_range(read_from, last)
    suppressed = [bool(masked.get(m, False)) for m in months]
    counts = [None if s else known.get(m, 0) for m, s in zip(months, suppressed)]
    rolling: list[int | None] = []
    for i in range(len(counts)):
        window = counts[i - 11:i + 1] if i >= 11 else None
        rolling.append(None if window is None or any(v is None for v in window) else sum(window))
    lead = sum(1 for m in months if m < first)
    shown = counts[lead:]
    floors = [bool(parts.get(m, False)) for m in months]
    notes = []
    chart = None
    n_supp = sum(1 for v in shown if v is None)
    n_floor = sum(floors[lead:])
    if n_supp:
        notes.append(
            f"{n_supp} month{' is' if n_supp == 1 else 's are'} withheld (small numbers), so control limits are not shown "
            "and rolling 12-month totals are shown only where a full year has every month."
        )
    elif n_floor:
        # A month that leaves out suppressed counts is a floor, not a count: limits drawn round
        # floors (health's fires: every month ≥) would call ordinary months exceptional.
        notes.append(f"{n_floor} month{' leaves' if n_floor == 1 else 's leave'} out suppressed counts "
                     "(small numbers): each is a lower bound, marked ≥ in the table with the rolling "
                     "totals over it, so the line shows at least this many and control limits are "
                     "not shown.")
    else:
        # History months feed 'same month last year', but not across a withheld month.
        cut = max((i + 1 for i in range(lead) if counts[i] is None), default=0)
        chart = control_charts.control_chart(counts[cut:], months[cut:], shifts, lead_in=lead - cut,
                                             min_points=MIN_CONTROL_POINTS)
        notes.extend(chart["notes"])
    months, counts, rolling, suppressed = (xs[lead:] for xs in (months, counts, rolling, suppressed))
    n = len(months)
    pts = chart["points"] if chart is not None else {}

    def col(name, default=None):
        return pts.get(name, [default] * n) if pts else [default] * n
    out = pl.DataFrame({
        "month": months,
        count_col: counts,
        "rolling_12_months": rolling,
        "centre_line": col("centre"),
        "lower_limit": col("lower"),
        "upper_limit": col("upper"),
        "outside_limits": col("outside_limits", False),
        "exceptional": col("exceptional", False),
        "seasonal": col("seasonal", False),
        "shift_run": col("shift_run", False),
        "vs_last_year": col("vs_last_year"),
        "phase": col("phase"),
        "phase_start": _phase_starts(chart, n),
        "signal": col("signal"),
    }, schema={"month": pl.Date, count_col: pl.Int64, "rolling_12_months": pl.Int64,
               "centre_line": pl.Float64, "lower_limit": pl.Float64, "upper_limit": pl.Float64,
               "outside_limits": pl.Boolean, "exceptional": pl.Boolean, "seasonal": pl.Boolean,
               "shift_run": pl.Boolean, "vs_last_year": pl.String, "phase": pl.Int64,
               "phase_start": pl.String, "signal": pl.String},
       strict=False)
    out = out.with_columns(pl.col("centre_line", "lower_limit", "upper_limit").round(1))
    mask = pl.DataFrame({count_col: suppressed}, schema={count_col: pl.Boolean})
    # A rolling total over a floor is a floor too.
    rolled_floor = [i >= 11 and any(floors[i - 11:i + 1]) for i in range(len(floors))][lead:]
    partial = pl.DataFrame({count_col: floors[lead:], "rolling_12_months": rolled_floor},
                           schema={count_col: pl.Boolean, "rolling_12_months": pl.Boolean})
    if n_floor and n_supp:  # floors alone are said above, with why no limits are drawn
        notes.append("Months and rolling totals marked ≥ leave out suppressed counts (small "
                     "numbers), so they are lower bounds: the line shows at least this many.")
    return _derived(result, out, mask, partial), " ".join(notes)


# ---- change between periods ---------------------------------------------------------------

def comparison_gap(row: dict) -> str:
    """Why a '12 months against the 12 before' comparison is not made, or '' when it may be: both
    periods must lie wholly inside the data held (a half-empty year reads as a fall)."""
    cur, prev = row.get("current_months_held"), row.get("previous_months_held")
    if cur is None or prev is None or (cur >= 12 and prev >= 12):
        return ""
    last = row.get("last_month")
    if prev <= 0:
        return "No comparison is made: the data held does not reach back to the 12 months before."
    return (f"No comparison is made: only {prev} of the 12 months before "
            + (f"the year to {last.strftime('%b %Y')} " if last else "")
            + "lie inside the data held, so the earlier figure is not a full year.")


LOWER_BOUND_WHY = ("At least this many: some figures inside the total are withheld from you, so "
                   "the change is not tested.")


def headline_comparison(head: Result | None) -> dict | None:
    """A ``<dataset>_headline`` result as every view shows it (the theme page's headline, the
    Overview tile, the board pack): its row, whether each total is only a lower bound (cells
    withheld from this user lie inside it), why no change is tested ('' when one is) and the
    test. None when there is no row. One function, so the three never disagree."""
    if head is None or head.frame.height == 0:
        return None
    row = head.frame.row(0, named=True)
    part = head.partial.row(0, named=True) if head.partial.width else {}
    lower = {k: bool(part.get(k)) for k in ("current", "previous")}
    why = comparison_gap(row)
    if not why and (lower["current"] or lower["previous"]):
        why = LOWER_BOUND_WHY  # a floor against a floor (or a count) says nothing about change
    test = None if why else per_result(head, ("change_test",),
                                       lambda: change_test(row["current"], row["previous"]))
    if test is None and not why:
        why = "No comparison is made: a 12-month total is withheld."
    return {"row": row, "lower": lower, "why": why, "test": test}


def change_test(current, previous, alpha: float = 0.05) -> dict | None:
    """Exact Poisson test of current against previous, or None when either is suppressed."""
    if current is None or previous is None:
        return None
    return stats.poisson_change_test(current, previous, alpha=alpha)


def change_sentence(test: dict | None, noun: str) -> str:
    """One plain sentence on the change, e.g. 'Crimes rose 12.0% on the previous 12 months; the
    change is statistically significant (exact Poisson test, p = 0.003).'"""
    if test is None:
        return f"The change in {noun} cannot be tested because a figure is suppressed."
    if test["previous"] == 0:
        return f"There were no {noun} in the previous 12 months, so no change is tested."
    pct = test["pct_change"]
    verb = "rose" if pct > 0 else "fell" if pct < 0 else "did not change"
    size = f" {abs(pct):.1f}%" if pct else ""
    p = test["p_value"]
    ptxt = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    verdict = ("the change is statistically significant" if test["significant"]
               else "the change is within normal variation (not statistically significant)")
    return (f"{noun[:1].upper()}{noun[1:]} {verb}{size} on the previous 12 months; {verdict} "
            f"(exact Poisson test, {ptxt}).")


# The significance colours of the Overview (csp.themes.COLOURS: blue better, orange worse, grey
# not significant), as Streamlit's named metric colours; the words go with them, never colour alone.
METRIC_COLOURS = {"good": "blue", "bad": "orange", "neutral": "gray"}
JUDGEMENT_WORDS = {"good": "significantly better", "bad": "significantly worse",
                   "neutral": "not significant"}


def change_delta(test: dict | None, polarity: str = "lower_is_better") -> dict | None:
    """How a headline shows a tested change, in the Overview's visual language: the label
    ('+1.8% vs previous 12 months · not significant'), the colour (blue/orange/grey by
    significance and polarity, csp.stats.polarity_colour) and the arrow (the raw direction).
    None when there is no change to show."""
    if test is None or test.get("pct_change") is None:
        return None
    judged = stats.polarity_colour(test["direction"], polarity)
    raw = "up" if test["change"] > 0 else "down" if test["change"] < 0 else "off"
    return {"label": f"{test['pct_change']:+.1f}% vs previous 12 months · {JUDGEMENT_WORDS[judged]}",
            "colour": METRIC_COLOURS[judged], "arrow": raw, "judgement": judged}


# ---- rates and comparison with a benchmark ---------------------------------------------------

def benchmark_rate(result: Result | None, count_col: str) -> dict | None:
    """The comparator rows of a ``<dataset>_benchmark`` result as rates per 1,000 residents a year
    with their Byar 95% intervals: the first (the partnership, or a scoped user's wards) is the
    benchmark, the rest ride along under ``comparators``. None when the first cannot be given
    (no result, withheld count, or no population)."""
    if result is None or result.frame.height == 0:
        return None
    rows = []
    for row in result.frame.iter_rows(named=True):
        count, pop, months = row.get(count_col), row.get("population"), row.get("months") or 12
        if count is None or not pop:
            rows.append({**row, "rate": None, "lower": None, "upper": None})
            continue
        r = stats.rate_per_1000(count, float(pop))
        per_year = 12.0 / months
        rows.append({**row, "rate": r["rate"] * per_year, "lower": r["lower"] * per_year,
                     "upper": r["upper"] * per_year})
    first = rows[0]
    if first["rate"] is None:
        return None
    return {"rate": first["rate"], "lower": first["lower"], "upper": first["upper"],
            "count": first.get(count_col), "population": float(first["population"]),
            "population_year": first.get("population_year"), "months": first.get("months"),
            "wards": first.get("wards"), "districts": first.get("districts"),
            "label": first.get("label") or "the area you may see",
            "comparators": tuple((r.get("label"), r["rate"], r["lower"], r["upper"],
                                  r.get("population_year")) for r in rows)}


def ranked_areas(result: Result, count_col: str, benchmark: dict | None,
                 polarity: str = "lower_is_better") -> tuple[Result, str]:
    """Areas ranked by rate per 1,000 residents, each with a 95% Byar interval and whether it is
    better, similar or worse than the benchmark (from the interval, Fingertips-style).

    Keeps the query's columns (so ``ward_name`` and the count stay as they were) and adds
    ``lower_95``, ``upper_95`` and ``vs_benchmark``; all three are withheld ('suppressed')
    wherever the count is. Areas with no population (unknown location) get no rate. A benchmark
    covering a single ward is not used for ward rows: a ward compared with itself says nothing.

    Remembered on the result (see :func:`per_result`), so a page rerun over a cached result
    returns the very same ranked Result, whose own table, CSV and map are then remembered too."""
    bench_key = _hashable(benchmark)
    if bench_key is _UNHASHABLE:
        return _ranked_areas(result, count_col, benchmark, polarity)
    return per_result(result, ("ranked_areas", count_col, bench_key, polarity),
                      lambda: _ranked_areas(result, count_col, benchmark, polarity))


def _ranked_areas(result: Result, count_col: str, benchmark: dict | None,
                  polarity: str) -> tuple[Result, str]:
    frame = result.frame
    n = frame.height
    counts = frame[count_col]
    pops = (frame["population"] if "population" in frame.columns
            else pl.Series("population", [None] * n, pl.Float64))
    # Rates are per 1,000 residents a year: a period of m months scales by 12 / m.
    per_year = (12.0 / frame["months"].cast(pl.Float64).fill_null(12.0).to_numpy()
                if "months" in frame.columns else np.ones(n))
    c_mask = (result.suppressed[count_col].fill_null(False) if count_col in result.suppressed.columns
              else pl.Series(count_col, [False] * n, pl.Boolean))
    use_bench = benchmark is not None and not (
        "ward_code" in frame.columns and (benchmark.get("wards") or 0) <= 1)
    # Vectorised over every area at once (a national LSOA table has ~35,000 rows); suppressed
    # cells and areas with no population are left out before any interval is derived.
    ok = (~c_mask.to_numpy()) & counts.is_not_null().to_numpy() \
        & pops.is_not_null().to_numpy() & (pops.fill_null(0) != 0).to_numpy()
    o = np.where(ok, counts.fill_null(0).cast(pl.Float64).to_numpy(), 0.0)
    p = np.where(ok, pops.cast(pl.Float64).fill_null(1.0).to_numpy(), 1.0)
    scale = np.where(ok, 1000.0 / p * per_year, 0.0)
    lo, hi = stats.byar_ci_array(o)
    rate_a, lo_a, hi_a = o * scale, lo * scale, hi * scale
    verdicts = None
    if use_bench and ok.any():
        b = benchmark["rate"]
        # One scalar call checks the polarity and the benchmark exactly as each row's call did
        # (a missing benchmark is refused, never reported as 'similar').
        stats.compare_to_benchmark(0.0, 0.0, b, polarity)
        below, above = hi_a < b, lo_a > b
        words = {"lower_is_better": ("better", "worse"), "higher_is_better": ("worse", "better"),
                 "none": ("lower", "higher")}[polarity]
        verdict = np.where(below, COMPARISON_LABEL[words[0]],
                           np.where(above, COMPARISON_LABEL[words[1]], COMPARISON_LABEL["similar"]))
        verdicts = [v if k else None for v, k in zip(verdict.tolist(), ok.tolist())]

    out = frame.with_columns(
        pl.Series("rate_per_1000", np.where(ok, round2(rate_a), np.nan), pl.Float64, nan_to_null=True),
        pl.Series("lower_95", np.where(ok, round2(lo_a), np.nan), pl.Float64, nan_to_null=True),
        pl.Series("upper_95", np.where(ok, round2(hi_a), np.nan), pl.Float64, nan_to_null=True),
        pl.Series("vs_benchmark", verdicts if verdicts is not None else [None] * n, pl.String),
        pl.Series("_sort", np.where(ok, rate_a, -1.0), pl.Float64),
        c_mask.alias("_supp"),
    )
    # Rank by rate; suppressed and unknown-area rows go last (their order reveals nothing).
    order = out.with_row_index("_i").sort(["_supp", "_sort"], descending=[False, True])["_i"]
    out = out[order].drop("_sort", "_supp")
    supp_sorted = c_mask.gather(order)
    mask = result.suppressed[order] if result.suppressed.width else result.suppressed
    mask = mask.with_columns(
        *[supp_sorted.alias(c) for c in ("rate_per_1000", "lower_95", "upper_95", "vs_benchmark")]
    )
    partial = getattr(result, "partial", None)
    partial = partial[order] if partial is not None and partial.width and partial.height == n else None
    if partial is not None and count_col in partial.columns:
        part_sorted = partial[count_col]
        partial = partial.with_columns(
            *[part_sorted.alias(c) for c in ("rate_per_1000", "lower_95", "upper_95", "vs_benchmark")])
    note = ""
    if benchmark is None:
        note = "No comparison is shown: the area-wide figure is suppressed or unavailable."
    elif not use_bench:
        note = "No comparison is shown: the area you may see is a single ward."
    return _derived(result, out, mask, partial), note


def round2(values: np.ndarray) -> np.ndarray:
    """Python's round(x, 2) over an array: the same answer, bit for bit, at numpy speed.

    Away from a tie, rounding x * 100 to the nearest whole number and dividing by 100 gives the
    double nearest the rounded decimal, as round() does. Only when x * 100 is within a few units
    in the last place of a half (where its own rounding error could tip it) is round() asked."""
    values = np.asarray(values, dtype=float)
    y = values * 100.0
    out = np.round(y) / 100.0
    with np.errstate(invalid="ignore"):
        near = np.abs(y - np.floor(y) - 0.5) <= 4 * np.spacing(np.abs(y))
    for i in np.flatnonzero(near | ~np.isfinite(y)):
        out[i] = round(float(values[i]), 2)
    return out


def benchmark_query(user: access.User | None, dataset: str) -> str:
    """The comparator query of a dataset's ward and LSOA views. A user limited to some wards
    compares with the partnership where the sharing policy sets ``partnership_comparator`` for the
    dataset (``<dataset>_partnership_benchmark``, a ``scope: partnership`` query): otherwise their
    own wards, which for one ward is the ward itself and compares nothing."""
    name = f"{dataset}_partnership_benchmark"
    if user is not None and user.areas and access.partnership_comparator(dataset):
        try:
            queries.get(name)
            return name
        except queries.QueryError:
            pass  # a dataset held without wards has no area views, so no comparator either
    return f"{dataset}_benchmark"


def benchmark_label(areas: tuple[str, ...], benchmark: dict | None = None) -> str:
    """What the benchmark is, in words: the partnership (or the wards a user may see)."""
    if benchmark is not None and benchmark.get("label"):
        return str(benchmark["label"])
    return ("your ward" if len(areas) == 1 else "your wards") if areas else "the partnership"


RATE_UNIT = "per 1,000 residents a year"


def population_note(benchmark: dict | None) -> str:
    """'Population: ONS mid-2024 estimates.' for captions beside every rate."""
    year = benchmark.get("population_year") if benchmark else None
    return f"Rates are {RATE_UNIT}" + (f", using mid-{year} population estimates." if year else ".")


def scope_label(user: access.User, codes: bool = True) -> str:
    """The user's wards as people know them: "Abbey (E05010775), Castle (E05010776)", or with
    ``codes`` False "Abbey and Castle". Names come through the access layer like any data
    (csp.neighbourhood.ward_names); a code the lookup does not name stays a bare code."""
    from .neighbourhood import ward_names

    names = ward_names(user)
    if codes:
        return ", ".join(f"{names[c]} ({c})" if names.get(c) else c for c in user.areas)
    shown = [names.get(c) or c for c in user.areas]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1] if shown else ""
