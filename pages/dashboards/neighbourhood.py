"""Neighbourhood: one ward (only wards in the user's scope), every theme for it against the
district, recent months first, and its top LSOAs where the user may see LSOA detail."""
import streamlit as st

from csp import themes
from csp.ui import common as ui
from csp.ui.auth import current_user


_col = st.column_config
COMPARISON_COLUMNS = {  # pixel widths so all ten columns fit beside the sidebar at 1280 px
    "category": _col.TextColumn("Type", width=185),
    "ward_current": _col.NumberColumn("Ward", width=55),
    "ward_change_pct": _col.NumberColumn("Change %", format="%+.1f", width=70),
    "ward_change": _col.TextColumn("Tested change", width=140),
    "ward_rate_per_1000": _col.NumberColumn("Rate", format="%.1f", width=55),
    "ward_rate_lower": _col.NumberColumn("CI low", format="%.1f", width=60),
    "ward_rate_upper": _col.NumberColumn("CI high", format="%.1f", width=60),
    "district_rate_per_1000": _col.NumberColumn("District", format="%.1f", width=65),
    "against_district": _col.TextColumn("Vs district", width=85),
}
LSOA_COLUMNS = {
    "lsoa_code": "LSOA", "lsoa_name": "Name", "population": "Residents", "crimes": "Crimes",
    "crime_rate_per_1000": _col.NumberColumn("Crimes /1,000", format="%.1f"),
    "asb_incidents": "ASB", "asb_rate_per_1000": _col.NumberColumn("ASB /1,000", format="%.1f"),
}
MONTHLY_COLUMNS = {
    "month": _col.DateColumn("Month", format="MMM YYYY"),
    "ward_crimes": "Ward crimes", "ward_asb": "Ward ASB",
    "district_crimes": "District crimes", "district_asb": "District ASB",
}


def render() -> None:
    st.title("Neighbourhood")
    user = current_user()
    ward, ward_name = ui.ward_filter("crime", key="ward")
    if ward is None:
        return

    label = None
    summary = ui.run("neighbourhood_summary", {"ward": ward})
    if summary is not None:
        if summary.frame.height == 0:
            st.info("No crime or ASB data is available for this ward.")
        else:
            compared, label = themes.neighbourhood_comparison(user, summary)
            st.markdown(ui.md_escape(themes.neighbourhood_sentence(ward_name, compared, label)))
            rows = {r["category"]: r for r in compared.frame.to_dicts()}
            last = compared.frame["last_month"][0]
            cols = st.columns(2)
            for col, (cat, noun) in zip(cols, (("All crime", "Recorded crimes"),
                                               ("Anti-social behaviour", "ASB incidents"))):
                r = rows.get(cat)
                if r is None:
                    continue
                col.metric(
                    f"{noun} in {ward_name}, 12 months to {themes.month_label(last)}",
                    ui.fmt_count(r["ward_current"]),
                    delta=None if r["ward_change_pct"] is None else f"{r['ward_change_pct']:+.1f}% ({r['ward_change']})",
                    # blue/orange, not green/red: readable with colour-vision deficiencies
                    delta_color={"significant fall": "blue", "significant rise": "orange"}.get(r["ward_change"], "gray"),
                    border=True,
                    help=None if r["ward_rate_per_1000"] is None else
                    f"{r['ward_rate_per_1000']:.1f} per 1,000 residents (95% CI {r['ward_rate_lower']:.1f}–"
                    f"{r['ward_rate_upper']:.1f}).",
                )
            st.subheader(f"{ward_name} against {label}, by type" if label else f"{ward_name} by type")
            if label is None:
                st.caption("The district comparison is not available under your area scope: you may "
                           "see only this ward, so there is nothing to compare it with.")
            elif user is not None and user.areas:
                st.caption(f"You may see only the wards in your scope, so '{label}' stands in for the "
                           "district: rows outside your scope are not visible to you.")
            shown = themes.select_columns(compared, [
                "category", "ward_current", "ward_change_pct", "ward_change",
                "ward_rate_per_1000", "ward_rate_lower", "ward_rate_upper"]
                + (["district_rate_per_1000", "against_district"] if label else []))
            ui.table(shown, height="content", column_config=COMPARISON_COLUMNS)
            ui.download(shown, "Download the comparison (CSV)", "neighbourhood_comparison.csv", key="dl_nb_cmp")
            st.caption("Ward: count in the latest 12 months. Rate: per 1,000 residents, with its "
                       "Byar 95% interval (CI low/high); District: the benchmark's rate. 'Vs district' "
                       "compares the ward's interval with it (better/similar/worse). Tested change: "
                       "exact Poisson test of the latest 12 months against the 12 before.")

    # One refusal is enough: a user who may not see ward detail may not see the views below either.
    monthly = ui.run("neighbourhood_monthly", {"ward": ward}) if summary is not None else None
    if monthly is not None and monthly.frame.height:
        st.subheader("Month by month, most recent first")
        if label is None:  # the 'district' would be this ward again
            monthly = themes.select_columns(monthly, ["month", "ward_crimes", "ward_asb"])
        ui.table(monthly, height="content", column_config=MONTHLY_COLUMNS)
        ui.download(monthly, "Download monthly figures (CSV)", "neighbourhood_monthly.csv", key="dl_nb_month")

    if summary is not None:
        st.subheader(f"LSOAs in {ward_name} with the most recorded crime")
    lsoas = ui.run("neighbourhood_top_lsoas", {"ward": ward}) if summary is not None else None
    if lsoas is not None:
        ui.table(lsoas, height="content", column_config=LSOA_COLUMNS)
        ui.download(lsoas, "Download LSOA table (CSV)", "neighbourhood_lsoas.csv", key="dl_nb_lsoa")

    st.subheader("District-level themes")
    st.caption("Reoffending and treatment data are held for the whole district only, not by ward.")
    for tile in (themes.reoffending_summary(user).tile, themes.substance_summary(user).tile):
        st.markdown(f"**{ui.md_escape(tile.title)}:** " + ui.md_escape(tile.sentence or tile.reason))

    ui.dataset_note(
        "crime",
        "Recorded crime (data.police.uk) in the ward and its district, by the month recorded; "
        "rates use the mid-year resident population.",
        "Locations are snapped to anonymous map points, so ward and LSOA counts are approximate. "
        "Town-centre wards have high rates per resident because of visitors.",
    )
    ui.dataset_note("asb", "Anti-social behaviour incidents recorded by the police (data.police.uk).",
                    "Incidents, not crimes; recording practice varies.")
