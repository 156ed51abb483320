"""The Neighbourhood view, for an officer with five minutes: one ward's crime and ASB against a
fair comparator, what changed most, its trend against the same month last year, and its LSOA
hotspots. No Streamlit here: the page draws what these functions compute.

Every figure starts from a named query run as the user (``neighbourhood_summary``,
``neighbourhood_lsoas``, ``<dataset>_monthly_total``); nothing is derived from a withheld cell.

The comparator is what the ward is fairly compared with:

* a user who may see the whole partnership: the partnership's area (the ward included, as
  Fingertips compares an area with England);
* a user limited to some wards: their *other* wards (a ward against a total that includes it
  flatters "similar"), said in words as such;
* a user limited to one ward: nothing, and the page says so plainly.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from dataclasses import dataclass, field

import polars as pl

from . import access, indicators, partnership, queries, stats
from .themes import FEW, TableResult, count_change, derived_result, month_label

CRIME, ASB = "All crime", "Anti-social behaviour"
TREND_MONTHS = 24
CHANGES_SHOWN = 3


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


# ---- the comparator ------------------------------------------------------------------------


def partnership_words() -> str:
    """'the partnership area (Fenmouth)': the districts by name, or every district held."""
    codes = partnership.districts()
    if not codes:
        return "all the districts held"
    known = partnership._known_districts() or {}
    return f"the partnership area ({', '.join(known.get(c, c) for c in codes)})"


def comparator_words(user: access.User | None, row: dict, ward: str, names: dict[str, str]) -> str | None:
    """The comparator in words, or None when there is nothing fair to compare with."""
    if row.get("comparator") == "partnership":
        return partnership_words()
    wards = int(row.get("comparator_wards") or 0)
    if wards <= 0 or not row.get("comparator_population"):
        return None
    others = [names.get(c, c) for c in (user.areas if user else ()) if c != ward]
    if wards == 1 and others:
        return f"your other ward ({others[0]})"
    return f"your other {wards} wards ({', '.join(others)})" if others else f"your other {wards} wards"


def with_partnership(user: access.User | None, summary: queries.Result) -> queries.Result:
    """A ward-scoped user's summary compared with the partnership rather than their other wards,
    where the sharing policy allows it (``neighbourhood_partnership``, a ``scope: partnership``
    query: the partnership's totals as their partner's unscoped users read them). Unchanged
    where it does not."""
    try:
        whole = queries.run(user, "neighbourhood_partnership")
    except (access.AccessDenied, queries.QueryError):
        return summary
    by_cat = {r["category"]: (r, i) for i, r in enumerate(whole.frame.to_dicts())}
    hidden = whole.suppressed["comparator_current"].to_list() if "comparator_current" in whole.suppressed.columns else []
    part = whole.partial["comparator_current"].to_list() if "comparator_current" in whole.partial.columns else []
    cats = summary.frame["category"].to_list()
    pick = [by_cat.get(c, ({}, None)) for c in cats]
    frame = summary.frame.with_columns(
        pl.Series("comparator_current", [r.get("comparator_current") for r, _ in pick], pl.Int64),
        pl.Series("comparator_population", [r.get("comparator_population") for r, _ in pick], pl.Int64),
        pl.Series("comparator_wards", [r.get("comparator_wards") for r, _ in pick], pl.Int64),
        pl.Series("population_year", [max(filter(None, (r.get("population_year"), y)), default=None)
                                      for (r, _), y in zip(pick, summary.frame["population_year"].to_list())], pl.Int64),
        pl.lit("partnership").alias("comparator"))
    suppressed, partial = summary.suppressed, summary.partial
    if "comparator_current" in suppressed.columns:
        suppressed = suppressed.with_columns(pl.Series("comparator_current",
                                                       [bool(hidden[i]) if i is not None and hidden else i is None
                                                        for _, i in pick], pl.Boolean))
    if partial.width and "comparator_current" in partial.columns:
        partial = partial.with_columns(pl.Series("comparator_current",
                                                 [bool(part[i]) if i is not None and part else False
                                                  for _, i in pick], pl.Boolean))
    return dataclasses.replace(summary, frame=frame, suppressed=suppressed, partial=partial,
                               rules={**whole.rules, **summary.rules},
                               versions={**whole.versions, **summary.versions})


def no_comparator_reason(user: access.User | None) -> str:
    """Said where a comparison would be, for a user limited to a single ward."""
    return ("There is nothing fair to compare this ward with: your access covers only this ward, "
            "so the partnership's figures and other wards are outside what you may see.")


# ---- the by-type table ---------------------------------------------------------------------


def comparison(summary: queries.Result, compared_with: str | None) -> queries.Result:
    """Per category: the ward's rate per 1,000 residents a year with its Byar 95% interval, the
    comparator's rate, better/similar/worse than it (from the interval, Fingertips-style), and the
    ward's change on the 12 months before (exact Poisson test; only when both years are whole)."""
    rows = summary.frame.to_dicts()
    cols = {k: [] for k in ("ward_rate_per_1000", "ward_rate_lower", "ward_rate_upper", "ward_rate_ci",
                            "comparator_rate_per_1000", "against_comparator", "ward_change_pct",
                            "ward_change")}
    for r in rows:
        wc, wp, cc = r["ward_current"], r["ward_previous"], r["comparator_current"]
        wpop, cpop = r["ward_population"], r["comparator_population"]
        ci = None if _missing(wc) or not wpop else stats.rate_per_1000(int(wc), wpop)
        cols["ward_rate_per_1000"].append(None if ci is None else round(ci["rate"], 1))
        cols["ward_rate_lower"].append(None if ci is None else round(ci["lower"], 1))
        cols["ward_rate_upper"].append(None if ci is None else round(ci["upper"], 1))
        cols["ward_rate_ci"].append(None if ci is None else f"{ci['lower']:.1f} to {ci['upper']:.1f}")
        crate = None if compared_with is None or _missing(cc) or not cpop else 1000 * cc / cpop
        cols["comparator_rate_per_1000"].append(None if crate is None else round(crate, 1))
        cols["against_comparator"].append(
            None if crate is None or ci is None else
            stats.compare_to_benchmark(ci["lower"], ci["upper"], crate, "lower_is_better"))
        whole = (r.get("current_months_held") or 0) >= 12 and (r.get("previous_months_held") or 0) >= 12
        test = count_change(wc, wp) if whole else None
        cols["ward_change_pct"].append(None if test is None or test["pct_change"] is None
                                       else round(test["pct_change"], 1))
        cols["ward_change"].append(None if test is None else
                                   {"up": "significant rise", "down": "significant fall"}.get(
                                       test["direction"], "no significant change"))
    types = {"ward_rate_ci": pl.String, "against_comparator": pl.String, "ward_change": pl.String}
    frame = summary.frame.with_columns(
        [pl.Series(k, v, types.get(k, pl.Float64)) for k, v in cols.items()])
    return derived_result(summary, frame, {
        "ward_rate_per_1000": ["ward_current"], "ward_rate_lower": ["ward_current"],
        "ward_rate_upper": ["ward_current"], "ward_rate_ci": ["ward_current"],
        "comparator_rate_per_1000": ["comparator_current"],
        "against_comparator": ["ward_current", "comparator_current"],
        "ward_change_pct": ["ward_current", "ward_previous"], "ward_change": ["ward_current", "ward_previous"],
    })


def change_gap(summary: queries.Result) -> str:
    """Why no change on the year is tested, or '' when it is (both 12 months whole)."""
    if summary.frame.height == 0:
        return ""
    return indicators.comparison_gap(summary.frame.row(0, named=True))


def biggest_changes(compared: queries.Result, n: int = CHANGES_SHOWN) -> list[dict]:
    """The crime types (and ASB) whose change on the year is significant, largest first (by the
    size of the change in count), at most ``n``. Never from a withheld figure."""
    out = []
    for r in compared.frame.to_dicts():
        if r["category"] == CRIME or r["ward_change"] not in ("significant rise", "significant fall"):
            continue
        if _missing(r["ward_current"]) or _missing(r["ward_previous"]):
            continue
        out.append({"category": r["category"], "current": r["ward_current"], "previous": r["ward_previous"],
                    "change": r["ward_current"] - r["ward_previous"], "pct": r["ward_change_pct"],
                    "direction": "rise" if r["ward_current"] > r["ward_previous"] else "fall"})
    out.sort(key=lambda x: (-abs(x["change"]), x["category"]))
    return out[:n]


def change_words(direction: str) -> str:
    """A tested change's direction as the by-type table says it."""
    return {"up": "significant rise", "down": "significant fall"}.get(direction, "no significant change")


def change_line(c: dict) -> str:
    """'Vehicle crime: down 78 (153 to 75, -51%)'; from a handful no percentage ('up 13 (6 to
    19)', not '+217%'), as the theme pages say it (csp.themes.few)."""
    word = "up" if c["direction"] == "rise" else "down"
    few = c["previous"] is not None and c["previous"] < FEW
    pct = "" if c["pct"] is None or few else f", {c['pct']:+.0f}%"
    return f"{c['category']}: {word} {abs(c['change']):,} ({c['previous']:,} to {c['current']:,}{pct})"


def own_change_line(tile) -> str:
    """A tile's significant change as change_line says a crime type's: 'Fires: up 12 (31 to 43, +38.7%)'."""
    word = "up" if tile.direction == "up" else "down"
    pct = f", {tile.change_label}"
    try:
        before = int(tile.previous_label.replace(',', ''))
        by = f" {abs(int(tile.value_label.replace(',', '')) - before):,}"
        pct = "" if before < FEW else pct  # from a handful, the count says it (change_line)
    except ValueError:  # a floor or a withheld figure: no difference to give
        by = ""
    return f"{tile.title}: {word}{by} ({tile.previous_label} to {tile.value_label}{pct})"


def sentence(ward_name: str, compared: queries.Result, compared_with: str | None) -> str:
    """One sentence on the ward's crime: its rate against the comparator and its change."""
    rows = {r["category"]: r for r in compared.frame.to_dicts()}
    r = rows.get(CRIME)
    if r is None or r["ward_rate_per_1000"] is None:
        return f"Recorded crime figures for {ward_name} are not available to you."
    text = (f"{ward_name} had {r['ward_rate_per_1000']:.1f} recorded crimes per 1,000 residents in "
            f"the 12 months to {month_label(r['last_month'])}")
    if compared_with is not None and r["against_comparator"] is not None:
        word = {"better": "lower than", "worse": "higher than", "similar": "similar to"}[r["against_comparator"]]
        text += f", {word} {compared_with} ({r['comparator_rate_per_1000']:.1f})"
    if r["ward_change"] is not None:
        article = "" if r["ward_change"].startswith("no ") else "a "
        text += f"; {article}{r['ward_change']} on the 12 months before"
        if r["ward_change_pct"] is not None:
            text += f" ({r['ward_change_pct']:+.1f}%)"  # as the tile beside it
    return text + "."


# ---- the trend -----------------------------------------------------------------------------


@dataclass
class Trend:
    series: queries.Result | None  # month, count, same month last year, vs last year, signal
    note: str = ""
    latest: dict | None = None  # the latest month's row
    refused: str = ""  # why there is no trend (an access message)


def trend(user: access.User | None, ward: str, dataset: str, count_col: str,
          months: int = TREND_MONTHS, params: dict | None = None) -> Trend:
    """The ward's monthly counts over the latest ``months`` held, each with the same month a year
    before and whether it was significantly higher or lower (csp.control_charts, through
    indicators.monthly_series), from ``<dataset>_monthly_total`` for the ward."""
    from .protection import periods

    span = periods.held([dataset])
    if span is None:
        return Trend(None)
    first, last = span
    start = max(first, _add(last, -(months - 1)))
    history = max(first, _add(start, -12))
    try:
        raw = queries.run(user, f"{dataset}_monthly_total", (params or {}) | {
            "area": ward, "from": history.strftime("%Y-%m"), "to": last.strftime("%Y-%m")})
    except access.AccessDenied as e:
        return Trend(None, refused=str(e))
    except queries.QueryError as e:
        return Trend(None, refused=str(e))
    series, note = indicators.monthly_series(raw, count_col, start.strftime("%Y-%m"), last.strftime("%Y-%m"))
    series = with_last_year(raw, series, count_col)
    rows = series.frame.to_dicts()
    return Trend(series, note, rows[-1] if rows else None)


def _add(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return dt.date(y, m + 1, 1)


def with_last_year(raw: queries.Result, series: queries.Result, count_col: str) -> queries.Result:
    """The series with ``same_month_last_year``: the count 12 months earlier as published (a
    month absent from the query had none: 0 when it lies inside what was read), withheld where
    that month's count is."""
    months = raw.frame["month"].to_list()
    counts = dict(zip(months, raw.frame[count_col].to_list()))
    hidden = dict(zip(months, raw.suppressed[count_col].to_list())) if count_col in raw.suppressed.columns else {}
    read_from = min(months) if months else None
    last_year, masked = [], []
    for m in series.frame["month"].to_list():
        before = _add(m, -12)
        if read_from is None or before < read_from:
            last_year.append(None)
            masked.append(False)
        elif hidden.get(before):
            last_year.append(None)
            masked.append(True)
        else:
            last_year.append(counts.get(before, 0))
            masked.append(False)
    frame = series.frame.with_columns(pl.Series("same_month_last_year", last_year, pl.Int64))
    mask = series.suppressed.with_columns(pl.Series("same_month_last_year", masked, pl.Boolean))
    partial = series.partial
    if partial.width and partial.height == frame.height:
        partial = partial.with_columns(pl.Series("same_month_last_year", [False] * frame.height, pl.Boolean))
    return dataclasses.replace(series, frame=frame, suppressed=mask, partial=partial)


def latest_month_sentence(t: Trend, noun: str) -> str:
    """'In Sep 2026 there were 46 crimes, against 40 in Sep 2025: similar to a year before.'"""
    r = t.latest
    if r is None:
        return ""
    count_col = next(c for c in t.series.frame.columns if c not in _SERIES_COLUMNS)
    now, before = r[count_col], r["same_month_last_year"]
    if now is None:
        return f"The count for {month_label(r['month'])} is withheld (a small number)."
    text = (f"In {month_label(r['month'])} there was 1 {_singular(noun)}" if now == 1 else
            f"In {month_label(r['month'])} there were {now:,} {noun}")
    if before is None:
        return text + "; the same month a year before is not available."
    verdict = {"higher": "significantly higher than", "lower": "significantly lower than",
               "similar": "similar to"}.get(r.get("vs_last_year"), "not tested against")
    return f"{text}, against {before:,} in {month_label(_add(r['month'], -12))}: {verdict} a year before."


def _singular(noun: str) -> str:
    """'ASB cases (opened)' -> 'ASB case (opened)'; 'crimes' -> 'crime'."""
    return re.sub(r"s\b", "", noun, count=1)


_SERIES_COLUMNS = {"month", "rolling_12_months", "centre_line", "lower_limit", "upper_limit",
                   "outside_limits", "exceptional", "seasonal", "shift_run", "vs_last_year", "phase",
                   "phase_start", "signal", "same_month_last_year"}


# ---- LSOA hotspots -------------------------------------------------------------------------


def comparator_benchmark(compared: queries.Result, category: str, compared_with: str | None,
                         wards: int | None) -> dict | None:
    """The comparator's rate for one category as a benchmark for indicators.ranked_areas."""
    if compared_with is None:
        return None
    r = next((x for x in compared.frame.to_dicts() if x["category"] == category), None)
    if r is None or _missing(r["comparator_current"]) or not r["comparator_population"]:
        return None
    ci = stats.rate_per_1000(int(r["comparator_current"]), r["comparator_population"])
    return {"rate": ci["rate"], "lower": ci["lower"], "upper": ci["upper"], "label": compared_with,
            "wards": wards or 2, "population_year": r.get("population_year")}


def hotspots(ranked: queries.Result, count_col: str, ward_rate: float | None, n: int = 3) -> list[dict]:
    """The LSOAs whose rate is above the ward's own (never a withheld one), highest first, at
    most ``n``: in a ward of four LSOAs, "the top three" would call most of the ward a hotspot."""
    out = [r for r in ranked.frame.to_dicts() if r.get("rate_per_1000") is not None
           and not _missing(r.get(count_col)) and r.get(count_col)
           and (ward_rate is None or r["rate_per_1000"] > ward_rate)]
    return out[:n]


def hotspot_line(r: dict, count_col: str, comparator: str | None = None) -> str:
    """One hotspot in words. A hotspot is above its own ward's rate, yet can be significantly
    lower than the comparator (a busy ward's quieter corner), so the comparator is named."""
    verdict = {"worse": "significantly higher than", "better": "significantly lower than",
               "similar": "similar to"}.get(r.get("vs_benchmark") or "", "")
    text = f"{r['lsoa_name']}: {r[count_col]:,} crimes, {r['rate_per_1000']:.1f} per 1,000 residents"
    return text + (f"; {verdict} {comparator or 'the comparator'}" if verdict else "")


@dataclass
class Page:
    """Everything the Neighbourhood page shows for one ward (each part None when not shared)."""
    ward: str
    ward_name: str
    summary: queries.Result | None = None
    compared: queries.Result | None = None
    compared_with: str | None = None
    refused: str = ""
    extra: dict = field(default_factory=dict)


def ward_names(user: access.User | None) -> dict[str, str]:
    """Ward code -> label (names told apart) from the areas the user may choose."""
    try:
        frame = queries.run(user, "areas").frame.filter(pl.col("area_level") == "ward")
    except (access.AccessDenied, queries.QueryError):
        return {}
    return dict(zip(frame["ward_code"].to_list(), frame["ward_name"].to_list()))


def build(user: access.User | None, ward: str, ward_name: str) -> Page:
    """The by-type comparison for the ward (run as the user)."""
    page = Page(ward, ward_name)
    try:
        page.summary = queries.run(user, "neighbourhood_summary", {"ward": ward})
    except (access.AccessDenied, queries.QueryError) as e:
        page.refused = str(e)
        return page
    if page.summary.frame.height == 0:
        return page
    if user is not None and user.areas:
        page.summary = with_partnership(user, page.summary)
    row = page.summary.frame.row(0, named=True)
    page.compared_with = comparator_words(user, row, ward, ward_names(user))
    page.compared = comparison(page.summary, page.compared_with)
    return page


__all__ = ["TableResult", "build", "comparison", "biggest_changes", "trend", "hotspots"]
