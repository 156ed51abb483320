"""Dashboard sections shared by the Crime and ASB pages: headline, trend with control limits,
breakdown, and ranked areas with maps. Each draws one section from named queries run as the
current user; the pages choose which sections and queries to show."""
from __future__ import annotations

import streamlit as st

from .. import access, disclosure, figures, indicators, queries
from . import common as ui
from .auth import current_user


CONTROL_NOTE = " " + indicators.CONTROL_NOTE
RATE_NOTE = " " + indicators.RATE_NOTE

# Labels only (a column may hold numbers or the word 'suppressed'); codes are in the CSV.
AREA_COLUMNS = {
    "ward_code": None, "lsoa_code": None, "district_name": None,
    "ward_name": "Ward", "lsoa_name": "LSOA", "population": "Residents",
    "rate_per_1000": "Rate per 1,000", "lower_95": "95% CI from", "upper_95": "95% CI to",
}


def headline(name: str, params: dict, noun: str) -> None:
    """12 months to the chosen month against the 12 before, with the exact Poisson test; only
    when both periods lie wholly inside the data held (otherwise a plain sentence says why)."""
    head = ui.run(name, params)
    if head is None or head.frame.height == 0:
        return
    row = head.frame.row(0, named=True)
    c1, c2 = st.columns(2)
    label = (f"{noun[:1].upper()}{noun[1:]}, 12 months to {ui.month_label(row['last_month'])}"
             if row["last_month"] else f"{noun[:1].upper()}{noun[1:]}, last 12 months")
    why_not = indicators.comparison_gap(row)
    c1.metric(
        label, ui.fmt_count(row["current"], partial=head.partial["current"][0] if head.partial.width else False),
        delta=None if why_not or row["pct_change"] is None else f"{row['pct_change']:+.1f}% vs previous 12 months",
        delta_color="inverse",  # a rise is bad
    )
    c2.metric("Previous 12 months", ui.fmt_count(row["previous"], partial=head.partial["previous"][0]
                                                  if head.partial.width else False))
    if why_not:
        st.caption(why_not)
        return
    st.caption(indicators.per_result(head, ("change_sentence", noun), lambda: indicators.change_sentence(
        indicators.change_test(row["current"], row["previous"]), noun)))


def trend_section(name: str, params: dict, first_held: str, count_col: str, label: str,
                  dataset: str, definition: str, caveats: str, key: str, shifts: tuple = ()) -> None:
    # Read 11 months before the period too, so the rolling 12-month line spans all of it.
    history = params | {"from": indicators.history_start(params["from"], first_held)}
    result = ui.run(name, history)
    if result is None:
        return
    st.subheader("Monthly trend")
    if result.frame.height == 0:
        st.info("Nothing matches these filters.")
        return
    series, note = indicators.monthly_series(result, count_col, params.get("from"), params.get("to"), shifts)
    chart, table = st.tabs(["Chart", "Table"])
    with chart:
        fig = indicators.per_result(series, ("monthly_chart", count_col, label),
                                    lambda: figures.monthly_chart(series.frame, count_col, label))
        st.plotly_chart(fig, width="stretch", key=f"{key}_trend_chart")
    with table:
        ui.table(series, column_config={"month": st.column_config.DateColumn("Month", format="MMM YYYY")})
    if note:
        st.caption(note)
    ui.download(series, "Download monthly figures (Excel)", f"{key}_monthly.xlsx", key=f"dl_{key}_monthly")
    ui.dataset_note(dataset, definition + CONTROL_NOTE, caveats)


def breakdown_section(name: str, params: dict, category_col: str, count_col: str, label: str,
                      title: str, dataset: str, definition: str, caveats: str, key: str,
                      empty: str = "Nothing matches these filters.") -> None:
    result = ui.run(name, params)
    if result is None:
        return
    st.subheader(title)
    if result.frame.height == 0:
        st.info(empty)
        return
    chart, table = st.tabs(["Chart", "Table"])
    with chart:
        word = disclosure.withheld_label(result)
        fig = indicators.per_result(result, ("bar_chart", category_col, count_col, label, word),
                                    lambda: figures.bar_chart(result.frame, category_col, count_col,
                                                              label, withheld=word))
        st.plotly_chart(fig, width="stretch", key=f"{key}_chart")
    with table:
        ui.table(result)
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
    st.subheader(f"{label} by {unit}, rate {indicators.RATE_UNIT}")
    if result.frame.height == 0:
        st.info("Nothing matches these filters.")
        return
    bench = indicators.benchmark_rate(ui.run(bench_name, bench_params), count_col)
    user = current_user()
    bench_words = indicators.benchmark_label(user.areas if user else (), bench)
    ranked, note = indicators.ranked_areas(result, count_col, bench)
    code_col = f"{level}_code"
    name_col = "ward_name" if level == "ward" else "lsoa_name"
    fig = _map(ranked, level, code_col, name_col, count_col, label)
    columns = AREA_COLUMNS | {count_col: label, "vs_benchmark": f"vs {bench_words}", "row_kind": None,
                              "row_order": None, "months": None, "population_year": None,
                              "rate_per_1000": f"Rate {indicators.RATE_UNIT}"}
    map_tab, table_tab = st.tabs(["Map", "Table"])
    with map_tab:
        if fig is None:
            st.info("No boundaries are available to draw this map; see the table.")
        else:
            st.plotly_chart(fig, width="stretch", key=f"{key}_map")
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
         label: str):
    """The choropleth of a ranked result, remembered on it (the same ranked Result comes back
    on every rerun over a cached query). Keyed by the boundaries drawn from, which the entry
    keeps alive (so their id cannot be reused): new boundary files mean a new map."""
    boundaries = figures.load_boundaries(level)
    if boundaries is None:
        return None
    return indicators.per_result(
        ranked, ("choropleth", level, code_col, name_col, count_col, label, id(boundaries)),
        lambda: (boundaries, figures.choropleth(ranked.frame, boundaries, code_col, name_col,
                                                count_col, label,
                                                withheld=disclosure.withheld_label(ranked))))[1]
