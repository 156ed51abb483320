"""Crime dashboard: 12-month headline with a Poisson change test, monthly control chart with a
rolling 12-month line, crimes by type, ward and LSOA maps and ranked tables (rate per 1,000
with 95% intervals against the area-wide rate), and outcomes.

The section helpers below are shared with the ASB page. Pages are modules with a render()
function, run only through app.py's navigation: executed as a script on its own (Streamlit's
legacy pages/ mode) this file draws nothing."""
from __future__ import annotations

import streamlit as st

from csp import access, figures, indicators, queries
from csp.ui import common as ui
from csp.ui.auth import current_user

CRIME_NOTE, CRIME_CAVEATS = indicators.NOTES["crime"]
CONTROL_NOTE = " " + indicators.CONTROL_NOTE
RATE_NOTE = " " + indicators.RATE_NOTE

# Labels only (a column may hold numbers or the word 'suppressed'); codes are in the CSV.
AREA_COLUMNS = {
    "ward_code": None, "lsoa_code": None, "district_name": None,
    "ward_name": "Ward", "lsoa_name": "LSOA", "population": "Residents",
    "rate_per_1000": "Rate per 1,000", "lower_95": "95% CI from", "upper_95": "95% CI to",
}


def headline(name: str, params: dict, noun: str) -> None:
    """12 months to the chosen month against the 12 before, with the exact Poisson test."""
    head = ui.run(name, params)
    if head is None or head.frame.height == 0:
        return
    row = head.frame.row(0, named=True)
    c1, c2 = st.columns(2)
    label = (f"{noun[:1].upper()}{noun[1:]}, 12 months to {ui.month_label(row['last_month'])}"
             if row["last_month"] else f"{noun[:1].upper()}{noun[1:]}, last 12 months")
    c1.metric(
        label, ui.fmt_count(row["current"]),
        delta=None if row["pct_change"] is None else f"{row['pct_change']:+.1f}% vs previous 12 months",
        delta_color="inverse",  # a rise is bad
    )
    c2.metric("Previous 12 months", ui.fmt_count(row["previous"]))
    st.caption(indicators.change_sentence(indicators.change_test(row["current"], row["previous"]), noun))


def trend_section(name: str, params: dict, first_held: str, count_col: str, label: str,
                  dataset: str, definition: str, caveats: str, key: str) -> None:
    # Read 11 months before the period too, so the rolling 12-month line spans all of it.
    history = params | {"from": indicators.history_start(params["from"], first_held)}
    result = ui.run(name, history)
    if result is None:
        return
    st.subheader("Monthly trend")
    if result.frame.height == 0:
        st.info("Nothing matches these filters.")
        return
    series, note = indicators.monthly_series(result, count_col, params.get("from"), params.get("to"))
    chart, table = st.tabs(["Chart", "Table"])
    with chart:
        st.plotly_chart(figures.monthly_chart(series.frame, count_col, label), width="stretch",
                        key=f"{key}_trend_chart")
    with table:
        ui.table(series, column_config={"month": st.column_config.DateColumn("Month", format="MMM YYYY")})
    if note:
        st.caption(note)
    ui.download(series, "Download monthly figures (CSV)", f"{key}_monthly.csv", key=f"dl_{key}_monthly")
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
        st.plotly_chart(figures.bar_chart(result.frame, category_col, count_col, label),
                        width="stretch", key=f"{key}_chart")
    with table:
        ui.table(result)
    ui.download(result, "Download this breakdown (CSV)", f"{key}.csv", key=f"dl_{key}")
    ui.dataset_note(dataset, definition, caveats)


def areas_section(level: str, name: str, bench_name: str, params: dict, bench_params: dict,
                  count_col: str, label: str, dataset: str, definition: str, caveats: str,
                  key: str) -> None:
    """Map and ranked table by ward or LSOA. LSOA views the user may not see are left out
    quietly (the ward view already explains the user's geography)."""
    if level == "lsoa":
        try:
            result = queries.run(current_user(), name, params)
        except access.AccessDenied:
            return
    else:
        result = ui.run(name, params)
    if result is None:
        return
    unit = "ward" if level == "ward" else "LSOA"
    st.subheader(f"{label} by {unit}, rate per 1,000 residents")
    if result.frame.height == 0:
        st.info("Nothing matches these filters.")
        return
    bench = indicators.benchmark_rate(ui.run(bench_name, bench_params), count_col)
    bench_words = indicators.benchmark_label(current_user().areas if current_user() else (), bench)
    ranked, note = indicators.ranked_areas(result, count_col, bench)
    code_col = f"{level}_code"
    name_col = "ward_name" if level == "ward" else "lsoa_name"
    boundaries = figures.load_boundaries(level)
    fig = None if boundaries is None else figures.choropleth(
        ranked.frame, boundaries, code_col, name_col, count_col, label)
    columns = AREA_COLUMNS | {count_col: label, "vs_benchmark": f"vs {bench_words}"}
    map_tab, table_tab = st.tabs(["Map", "Table"])
    with map_tab:
        if fig is None:
            st.info("No boundaries are available to draw this map; see the table.")
        else:
            st.plotly_chart(fig, width="stretch", key=f"{key}_map")
    with table_tab:
        ui.table(ranked, column_config=columns)
    if bench is not None:
        st.caption(f"Rate for {bench_words}: {bench['rate']:.1f} per 1,000 residents "
                   f"(95% CI {bench['lower']:.1f} to {bench['upper']:.1f}).")
    if note:
        st.caption(note)
    ui.download(ranked, f"Download {unit} table (CSV)", f"{key}.csv", key=f"dl_{key}")
    ui.dataset_note(dataset, definition + RATE_NOTE.format(bench=bench_words), caveats)


def render() -> None:
    st.title("Crime")

    facets = ui.run("crime_facets")
    areas = ui.run("areas")
    if facets is None or facets.frame.height == 0:
        st.info("No crime data is available to you yet.")
        return

    months = ui.months_held(facets.frame["first_month"], facets.frame["last_month"])
    with st.container(horizontal=True):
        start, end = ui.period_filter(months)
        area = ui.area_filter(areas)
        types = st.multiselect("Crime type", options=facets.frame["crime_type"].to_list(),
                               placeholder="All crime types", key="type", bind="query-params")

    params = {"from": start, "to": end, "area": area, "crime_type": types or None}
    headline("crime_headline", {"to": end, "area": area, "crime_type": params["crime_type"]}, "crimes")
    trend_section("crime_monthly_total", params, months[0], "crimes", "Crimes", "crime", CRIME_NOTE,
                  CRIME_CAVEATS, "crime")
    breakdown_section("crime_by_type", params, "crime_type", "crimes", "Crimes", "Crimes by type",
                      "crime", CRIME_NOTE + " Crime types are as police.uk published them.",
                      CRIME_CAVEATS, "crime_by_type")
    bench_params = {"from": start, "to": end, "crime_type": params["crime_type"]}
    for level in ("ward", "lsoa"):
        areas_section(level, f"crime_by_{level}", "crime_benchmark", params, bench_params,
                      "crimes", "Crimes", "crime", CRIME_NOTE, CRIME_CAVEATS, f"crime_by_{level}")
    breakdown_section(
        "crime_outcomes", params, "outcome", "crimes", "Crimes", "Outcomes", "crime",
        *indicators.NOTES["outcomes"], "crime_outcomes",
        empty="The crime data you may see holds no outcomes for these filters.",
    )
