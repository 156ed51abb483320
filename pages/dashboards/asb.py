"""Anti-social behaviour dashboard: 12-month headline with a Poisson change test, monthly
control chart with a rolling 12-month line, ward and LSOA maps and ranked tables (rate per
1,000 with 95% intervals against the area-wide rate). Draws with the Crime page's sections."""
from __future__ import annotations

import streamlit as st

from csp import indicators
from csp.ui import common as ui
from csp.ui import sections

ASB_NOTE, ASB_CAVEATS = indicators.NOTES["asb"]


def render() -> None:
    st.title("Anti-social behaviour")

    facets = ui.run("asb_facets")
    areas = ui.run("areas")
    if facets is None or facets.frame.height == 0:
        st.info("No anti-social behaviour data is available to you yet.")
        return

    months = ui.months_held(facets.frame["first_month"], facets.frame["last_month"])
    with st.container(horizontal=True):
        start, end, _ = ui.period_filter("asb")
        area = ui.area_filter(areas)

    params = {"from": start, "to": end, "area": area}
    sections.headline("asb_headline", {"to": indicators.headline_end(end, "asb"), "area": area}, "ASB incidents")
    sections.trend_section("asb_monthly", params, months[0], "incidents", "Incidents", "asb", ASB_NOTE,
                           ASB_CAVEATS, "asb")
    st.caption("No breakdown by category: police.uk publishes anti-social behaviour without one.")
    bench_params = {"from": start, "to": end}
    for level in ("ward", "lsoa"):
        sections.areas_section(level, f"asb_by_{level}", "asb_benchmark", params, bench_params,
                               "incidents", "Incidents", "asb", ASB_NOTE, ASB_CAVEATS,
                               f"asb_by_{level}")
