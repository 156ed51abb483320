"""Dashboard sections shared by the incident dashboards: headline, trend (control limits for
monthly data, by quarter for quarterly data), breakdown, and ranked areas with maps. Each draws one section from named queries run as the
current user; the pages choose which sections and queries to show."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from .. import access, catalog, chart_text, disclosure, figures, incidents, indicators, queries, themes
from . import charts
from . import common as ui
from .auth import current_user


CONTROL_NOTE = " " + indicators.CONTROL_NOTE
RATE_NOTE = " " + indicators.RATE_NOTE
# Under cell-key perturbation or suppression each cell is protected on its own.
def protected_parts(parts: str = "parts", total: str = "the total for the same period") -> str:
    return f" Each figure is protected on its own, so the {parts} may not add up exactly to {total}."


PROTECTED_PARTS = protected_parts()

# Labels only (a column may hold numbers or the word 'suppressed'); codes are in the CSV.
AREA_COLUMNS = {
    "ward_code": None, "lsoa_code": None, "district_name": None,
    "ward_name": "Ward", "lsoa_name": "LSOA", "population": "Residents",
    "rate_per_1000": "Rate per 1,000", "lower_95": "95% CI from", "upper_95": "95% CI to",
}


# Trend tables' columns in words (the data keeps its names; CSV and Excel downloads too).
TREND_COLUMNS = {
    "quarter": "Quarter", "rolling_12_months": "Rolling 12 months", "rolling_4_quarters": "Rolling 4 quarters",
    "centre_line": "Centre line", "lower_limit": "Lower limit", "upper_limit": "Upper limit",
    "outside_limits": "Outside the limits", "exceptional": "Exceptional", "seasonal": "As a year before",
    "shift_run": "Part of a run", "vs_last_year": "Same month last year", "phase": "Phase",
    "phase_start": "Phase from", "signal": "What it shows",
}


def headline(name: str, params: dict, noun: str, polarity: str = "lower_is_better") -> None:
    """12 months to the chosen month against the 12 before, with the exact Poisson test; only
    when both periods lie wholly inside the data held (otherwise a plain sentence says why).
    The change is coloured as on the Overview: blue significantly better, orange significantly
    worse, grey not significant, and says so in words beside its arrow."""
    head = ui.run(name, params)
    shown = indicators.headline_comparison(head)
    if shown is None:
        return
    row, lower, why_not, test = shown["row"], shown["lower"], shown["why"], shown["test"]
    c1, c2 = st.columns(2)
    label = (f"{noun[:1].upper()}{noun[1:]}, 12 months to {ui.month_label(row['last_month'])}"
             if row["last_month"] else f"{noun[:1].upper()}{noun[1:]}, last 12 months")
    delta = indicators.change_delta(test, polarity)
    c1.metric(
        label, ui.fmt_count(row["current"], partial=lower["current"]),
        delta=delta["label"] if delta else None,
        delta_color=delta["colour"] if delta else "off", delta_arrow=delta["arrow"] if delta else "auto",
        help="Blue: significantly better than the 12 months before; orange: significantly worse; "
             "grey: within normal variation (exact Poisson test, 5% level).",
    )
    c2.metric("Previous 12 months", ui.fmt_count(row["previous"], partial=lower["previous"]))
    if why_not:
        st.caption(why_not)
        return
    st.caption(indicators.per_result(head, ("change_sentence", noun),
                                     lambda: indicators.change_sentence(test, noun)
                                     + themes.count_noise_words(head, row["current"], row["previous"])))


def trend_section(name: str, params: dict, first_held: str, count_col: str, label: str,
                  dataset: str, definition: str, caveats: str, key: str, shifts: tuple = (),
                  quarterly: bool = False) -> None:
    """Monthly data: a control chart with the rolling 12 months. Quarterly data (``quarterly``):
    counts by quarter with the rolling four quarters, and no control limits (the note says so)."""
    if quarterly:
        result = ui.run(name, params | {"from": None})  # every quarter held, for the rolling total
    else:
        # Read 11 months before the period too, so the rolling 12-month line spans all of it.
        result = ui.run(name, params | {"from": indicators.history_start(params["from"], first_held)})
    if result is None:
        return
    st.header("Trend by quarter" if quarterly else "Monthly trend", anchor=False)
    if result.frame.height == 0:
        st.info("Nothing matches these filters.")
        return
    if quarterly:
        # Every quarter is read (for the rolling four quarters) but only the chosen ones are shown.
        series, note = indicators.per_result(
            result, ("quarterly_series", count_col, params.get("from"), params["to"]),
            lambda: incidents.quarterly_series(result, count_col, params.get("from"), params["to"]))
        shown = indicators.per_result(series, ("table_columns",), lambda: themes.select_columns(
            series, ["quarter", count_col, "rolling_4_quarters"]))
        text = lambda: (f"{label} by quarter, with the rolling four quarters", None)  # noqa: E731
        column_config = TREND_COLUMNS | {count_col: label,
                                         "quarter": st.column_config.Column("Quarter", pinned=True)}
        what = "quarterly"
    else:
        series, note = indicators.monthly_series(result, count_col, params.get("from"), params.get("to"),
                                                 shifts)
        shown = series
        text = lambda: chart_text.monthly(series.frame, count_col, label)  # noqa: E731
        column_config = TREND_COLUMNS | {count_col: label, "month": st.column_config.DateColumn(
            "Month", format="MMM YYYY", pinned=True)}
        what = "monthly"
    (chart, table), open_tab = charts.lazy_tabs(["Chart", "Table"], key=f"{key}_trend_view")
    if open_tab == "Chart":
        with chart:
            fig = indicators.per_result(series, ("monthly_chart", count_col, label),
                                        lambda: figures.monthly_chart(series.frame, count_col, label,
                                                                          polarity=_polarity(dataset)))
            alt, summary = indicators.per_result(series, ("trend_text", count_col, label), text)
            charts.chart(fig, f"{key}_trend_chart", alt, summary)
    with table:  # the table is cheap to draw; only the hidden chart is skipped
        ui.table(shown, column_config=column_config)
    if note:
        st.caption(note)
    if result.methods():  # a month's protected figure and the 12-month headline's are separate cells
        st.caption(protected_parts("quarters" if quarterly else "months", "the 12-month total above").strip())
    near = disclosure.near_threshold_words(shown)
    if near and open_tab == "Chart":  # the table's own note says it where the table is open
        st.caption(near)
    ui.download(shown, f"Download {what} figures (Excel)", f"{key}_{what}.xlsx", key=f"dl_{key}_{what}")
    ui.dataset_note(dataset, definition + ("" if quarterly else CONTROL_NOTE), caveats)


def _polarity(dataset: str) -> str:
    try:
        return catalog.contract(dataset).dashboard.get("polarity", "lower_is_better")
    except KeyError:
        return "lower_is_better"


def period_words(params: dict, grain: int = 1) -> str:
    """'for Oct 2024 to Sep 2026 (24 months)' from a view's from/to months (YYYY-MM), or ''.
    Quarterly data (``grain`` 3, rows dated by their quarter's first month): the whole quarters
    that start in the window, 'for Oct 2024 to Sep 2026 (8 quarters)'."""
    start, end = params.get("from"), params.get("to")
    try:
        a, b = dt.date.fromisoformat(f"{start}-01"), dt.date.fromisoformat(f"{end}-01")
    except (TypeError, ValueError):
        return ""
    n = (b.year - a.year) * 12 + b.month - a.month + 1
    if n < 1:
        return ""
    if grain == 1:
        return f"for {ui.month_label(a)} to {ui.month_label(b)} ({n} month{'s' if n != 1 else ''})"
    starts = [m for m in range(n) if ((a.month - 1 + m) % 12) % grain == 0]
    if not starts:
        return ""
    first, last = _shift(a, starts[0]), _shift(a, starts[-1] + grain - 1)
    k = len(starts)
    return f"for {ui.month_label(first)} to {ui.month_label(last)} ({k} quarter{'s' if k != 1 else ''})"


def _shift(d: dt.date, months: int) -> dt.date:
    m = d.month - 1 + months
    return dt.date(d.year + m // 12, m % 12 + 1, 1)


def breakdown_section(name: str, params: dict, category_col: str, count_col: str, label: str,
                      title: str, dataset: str, definition: str, caveats: str, key: str,
                      empty: str = "Nothing matches these filters.", category_label: str | None = None,
                      order: tuple | None = None) -> None:
    result = ui.run(name, params)
    if result is None:
        return
    st.header(title, anchor=False)
    if result.frame.height == 0:
        st.info(empty)
        return
    # A bar is the whole period's count, not a month's; each bar is protected on its own, so
    # the bars need not add up to the headline (a different period) or to each other's total.
    span = period_words(params, catalog.contract(dataset).grain_months)
    if span:
        st.caption(f"Totals {span}." + (PROTECTED_PARTS if result.methods() else ""))
    (chart, table), shown = charts.lazy_tabs(["Chart", "Table"], key=f"{key}_view")
    if shown == "Chart":
        with chart:
            word = disclosure.withheld_label(result)
            fig = indicators.per_result(result, ("bar_chart", category_col, count_col, label, word, order),
                                        lambda: figures.bar_chart(result.frame, category_col, count_col,
                                                                  label, withheld=word, order=order))
            alt, summary = indicators.per_result(result, ("bar_text", category_col, count_col, label, word),
                                                 lambda: chart_text.bars(result.frame, category_col, count_col,
                                                                         label, withheld=word))
            charts.chart(fig, f"{key}_chart", alt, summary)
    with table:
        ui.table(result, column_config={count_col: label, category_col: st.column_config.Column(
            category_label or category_col.replace("_", " ").capitalize(), pinned=True)})
    ui.download(result, "Download this breakdown (Excel)", f"{key}.xlsx", key=f"dl_{key}")
    ui.dataset_note(dataset, definition, caveats)


def areas_section(level: str, name: str, bench_name: str, params: dict, bench_params: dict,
                  count_col: str, label: str, dataset: str, definition: str, caveats: str,
                  key: str, noun: str = "records") -> None:
    """Map and ranked table by ward or LSOA, with rates per 1,000 residents a year compared with
    the partnership (or the user's own wards). LSOA views the user may not see are left out
    quietly (the ward view already explains the user's geography)."""
    if level == "lsoa":
        try:
            result = queries.run(current_user(), name, params)
        except access.AccessDenied:
            return
        except queries.QueryError as e:
            st.warning(str(e))
            return
    else:
        result = ui.run(name, params)
    if result is None:
        return
    unit = "ward" if level == "ward" else "LSOA"
    st.header(f"{label} by {unit}, rate {indicators.RATE_UNIT}", anchor=False)
    if result.frame.height == 0:
        st.info("Nothing matches these filters.")
        return
    bench = indicators.benchmark_rate(ui.run(bench_name, bench_params), count_col)
    user = current_user()
    bench_words = indicators.benchmark_label(user.areas if user else (), bench)
    ranked, note = indicators.ranked_areas(result, count_col, bench)
    # The period the map covers (the Period box; the headline above is always 12 months).
    span = period_words(params, catalog.contract(dataset).grain_months)
    if span:
        st.caption(f"Counts {span}; rates are yearly averages over those months.")
    code_col = f"{level}_code"
    name_col = "ward_name" if level == "ward" else "lsoa_name"
    # The area's name stays in view when a phone scrolls the table sideways.
    columns = AREA_COLUMNS | {count_col: label, "vs_benchmark": f"vs {bench_words}", "row_kind": None,
                              "row_order": None, "months": None, "population_year": None,
                              "rate_per_1000": f"Rate {indicators.RATE_UNIT}",
                              name_col: st.column_config.TextColumn(AREA_COLUMNS[name_col], pinned=True)}
    (map_tab, table_tab), shown = charts.lazy_tabs(["Map", "Table"], key=f"{key}_view")
    if shown == "Map":
        with map_tab:
            fig = _map(ranked, level, code_col, name_col, count_col, label, bench_words)
            if fig is None:
                st.info("No boundaries are available to draw this map; see the table.")
            else:
                word = disclosure.withheld_label(ranked)
                alt, summary = indicators.per_result(
                    ranked, ("map_text", name_col, count_col, unit, label, bench_words, word),
                    lambda: chart_text.areas(ranked.frame, name_col, count_col, unit, label,
                                             bench_words if bench is not None else None, word))
                charts.chart(fig, f"{key}_map", alt, summary)
    with table_tab:
        ui.table(ranked, column_config=columns)
    if bench is not None:
        others = "; ".join(f"{lbl}: {r:.1f} (95% CI {lo:.1f} to {hi:.1f})" for lbl, r, lo, hi, _ in
                           bench["comparators"][1:] if r is not None)
        st.caption(f"Rate for {bench_words}: {bench['rate']:.1f} {indicators.RATE_UNIT} "
                   f"(95% CI {bench['lower']:.1f} to {bench['upper']:.1f})."
                   + (f" Also: {others}." if others else "") + " " + indicators.population_note(bench))
    if "row_kind" in result.frame.columns and (result.frame["row_kind"] != "ward").any():
        st.caption(indicators.PLACE_NOTE.format(noun=noun))
    if note:
        st.caption(note)
    ui.download(ranked, f"Download {unit} table (Excel)", f"{key}.xlsx", key=f"dl_{key}")
    ui.dataset_note(dataset, definition + RATE_NOTE.format(bench=bench_words), caveats)


def _map(ranked: queries.Result, level: str, code_col: str, name_col: str, count_col: str,
         label: str, comparator: str):
    """The choropleth of a ranked result, remembered on it (the same ranked Result comes back
    on every rerun over a cached query, and the browser is sent the very same figure). Keyed by
    the boundaries drawn from, which the entry keeps alive (so their id cannot be reused): new
    boundary files mean a new map."""
    boundaries = figures.load_boundaries(level)
    if boundaries is None:
        return None
    return indicators.per_result(
        ranked, ("choropleth", level, code_col, name_col, count_col, label, comparator, id(boundaries)),
        lambda: (boundaries, figures.choropleth(ranked.frame, boundaries, code_col, name_col,
                                                count_col, label,
                                                withheld=disclosure.withheld_label(ranked),
                                                comparator=comparator)))[1]
