"""Crime dashboard: trend by type, 12-month headline, counts by ward, CSV downloads.

Pages are modules with a render() function, run only through app.py's navigation: executed
as a script on its own (Streamlit's legacy pages/ mode) this file draws nothing."""
import plotly.express as px
import streamlit as st

from csp.ui import common as ui



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

    head = ui.run("crime_headline", {"to": params["to"], "area": params["area"], "crime_type": params["crime_type"]})
    if head is not None and head.frame.height:
        row = head.frame.row(0, named=True)
        c1, c2 = st.columns(2)
        label = f"Crimes, 12 months to {ui.month_label(row['last_month'])}" if row["last_month"] else "Crimes, last 12 months"
        c1.metric(
            label, ui.fmt_count(row["current"]),
            delta=None if row["pct_change"] is None else f"{row['pct_change']:+.1f}% vs previous 12 months",
            delta_color="inverse",  # a rise in crime is bad
        )
        c2.metric("Previous 12 months", ui.fmt_count(row["previous"]))

    monthly = ui.run("crime_monthly", params)
    if monthly is not None:
        st.subheader("Monthly trend by crime type")
        if monthly.frame.height:
            fig = px.line(
                monthly.frame.to_pandas(), x="month", y="crimes", color="crime_type",
                color_discrete_sequence=ui.PALETTE, labels={"month": "Month", "crimes": "Crimes", "crime_type": "Crime type"},
            )
            fig.update_layout(height=420, legend=dict(orientation="h", y=-0.2), margin=dict(t=10))
            st.plotly_chart(fig, width="stretch")
            ui.download(monthly, "Download monthly figures (CSV)", "crime_monthly.csv", key="dl_monthly")
        else:
            st.info("No crimes match these filters.")

    wards = ui.run("crime_by_ward", params)
    if wards is not None:
        st.subheader("Crimes by ward")
        ui.table(wards)
        ui.download(wards, "Download ward table (CSV)", "crime_by_ward.csv", key="dl_wards")

    ui.dataset_note(
        "crime",
        "Crimes recorded by the police, as published on data.police.uk, counted by the month they "
        "were recorded and the LSOA of their anonymised location; wards and districts come from the "
        "LSOA lookup. Anti-social behaviour is shown separately.",
        "Locations are snapped to anonymous map points, so small-area counts are approximate. "
        "Recorded crime reflects reporting and recording practice as well as crime.",
    )
