"""Crime dashboard: 12-month headline with a Poisson change test, monthly control chart with a
rolling 12-month line, crimes by type, ward and LSOA maps and ranked tables (rate per 1,000
with 95% intervals against the area-wide rate), and outcomes.

The sections are drawn by csp.ui.sections (shared with the ASB page). Pages are modules with a render()
function, run only through app.py's navigation: executed as a script on its own (Streamlit's
legacy pages/ mode) this file draws nothing."""
from __future__ import annotations

import streamlit as st

from csp import access, indicators
from csp.ui import common as ui
from csp.ui import sections
from csp.ui.auth import current_user

CRIME_NOTE, CRIME_CAVEATS = indicators.NOTES["crime"]


def render() -> None:
    st.title("Crime")

    facets = ui.run("crime_facets")
    areas = ui.run("areas")
    if facets is None or facets.frame.height == 0:
        st.info("No crime data is available to you yet.")
        return

    months = ui.months_held(facets.frame["first_month"], facets.frame["last_month"])
    with st.container(horizontal=True):
        start, end, _ = ui.period_filter("crime")
        area = ui.area_filter(areas)
        types = st.multiselect("Crime type", options=facets.frame["crime_type"].to_list(),
                               placeholder="All crime types", key="type", bind="query-params")

    params = {"from": start, "to": end, "area": area, "crime_type": types or None}
    sections.headline("crime_headline", {"to": indicators.headline_end(end, "crime"), "area": area,
                                         "crime_type": params["crime_type"]}, "crimes")
    sections.trend_section("crime_monthly_total", params, months[0], "crimes", "Crimes", "crime", CRIME_NOTE,
                  CRIME_CAVEATS, "crime")
    sections.breakdown_section("crime_by_type", params, "crime_type", "crimes", "Crimes", "Crimes by type",
                      "crime", CRIME_NOTE + " Crime types are as police.uk published them.",
                      CRIME_CAVEATS, "crime_by_type")
    bench_params = {"from": start, "to": end, "crime_type": params["crime_type"]}
    for level in ("ward", "lsoa"):
        sections.areas_section(level, f"crime_by_{level}", "crime_benchmark", params, bench_params,
                      "crimes", "Crimes", "crime", CRIME_NOTE, CRIME_CAVEATS, f"crime_by_{level}")
    if not access.shares_field(current_user(), "crime", "outcome"):
        st.subheader("Outcomes")
        st.info("Outcomes are not shared with you: under your sharing agreement crime figures come "
                "from one protected table of counts by month, area and crime type, and outcomes "
                "would split it finer.")
        return
    sections.breakdown_section(
        "crime_outcomes", params, "outcome", "crimes", "Crimes", "Outcomes", "crime",
        *indicators.NOTES["outcomes"], "crime_outcomes",
        empty="The crime data you may see holds no outcomes for these filters.",
    )
