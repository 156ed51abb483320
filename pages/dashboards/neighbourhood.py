"""Neighbourhood: one ward (only wards in the user's scope), for an officer with five minutes:
the headline against a fair comparator, what changed most, the trend against the same month a
year before, a labelled map of its LSOA hotspots, then the detail by type. Every figure comes from
named queries through csp.neighbourhood; every name from data is escaped before it is drawn."""
import streamlit as st

from csp import access, disclosure, figures_neighbourhood, indicators, queries, themes
from csp import neighbourhood as nb
from csp.ui import charts
from csp.ui import common as ui
from csp.ui.auth import current_user

_col = st.column_config
TABLE_COLUMNS = ["category", "ward_current", "ward_change_pct", "ward_change", "ward_rate_per_1000",
                 "ward_rate_ci", "comparator_rate_per_1000", "against_comparator"]
CSV_COLUMNS = ["category", "last_month", "ward_current", "ward_previous", "ward_change_pct", "ward_change",
               "ward_population", "ward_rate_per_1000", "ward_rate_lower", "ward_rate_upper",
               "comparator_current", "comparator_population", "comparator_rate_per_1000",
               "against_comparator", "population_year"]
LSOA_COLUMNS = {
    "lsoa_code": None, "population_year": None, "asb_rate_per_1000": None, "lower_95": None,
    "upper_95": None, "lsoa_name": "LSOA", "population": "Residents", "crimes": "Crimes",
    "rate_per_1000": _col.NumberColumn("Crimes per 1,000 a year", format="%.1f"),
    "crime_rate_per_1000": None, "asb_incidents": "ASB incidents", "vs_benchmark": "Vs comparator",
}
TREND_COLUMNS = {"month": _col.DateColumn("Month", format="MMM YYYY"),
                 "same_month_last_year": "Same month a year before", "vs_last_year": "Against a year before",
                 "signal": "Control chart", "rolling_12_months": "12 months to this month",
                 "centre_line": None, "lower_limit": None, "upper_limit": None, "outside_limits": None,
                 "exceptional": None, "seasonal": None, "shift_run": None, "phase": None, "phase_start": None}
DELTA = {"significant fall": "blue", "significant rise": "orange"}  # colour-blind safe, as Overview


def render() -> None:
    st.title("Neighbourhood")
    user = current_user()
    ward, ward_name = ui.ward_filter("crime", key="ward")
    if ward is None:
        return
    page = nb.build(user, ward, ward_name)
    if page.refused:
        st.info(page.refused)
        return
    if page.compared is None:
        st.info("No crime or ASB data is available for this ward.")
        return
    name = ui.md_escape(ward_name)
    compared, cmp = page.compared, page.compared_with
    st.markdown(ui.md_escape(nb.sentence(ward_name, compared, cmp)))
    rows = {r["category"]: r for r in compared.frame.to_dicts()}
    last = compared.frame["last_month"][0]
    cols = st.columns(2)
    for col, (cat, noun) in zip(cols, ((nb.CRIME, "Recorded crimes"), (nb.ASB, "ASB incidents"))):
        r = rows.get(cat)
        if r is None:
            continue
        rate = "" if r["ward_rate_per_1000"] is None else (
            f"{r['ward_rate_per_1000']:.1f} per 1,000 residents a year (95% CI {r['ward_rate_ci']})")
        against = "" if r["against_comparator"] is None else (
            f"; {r['against_comparator']} than {cmp} ({r['comparator_rate_per_1000']:.1f})"
            if r["against_comparator"] != "similar" else f"; similar to {cmp} ({r['comparator_rate_per_1000']:.1f})")
        col.metric(
            f"{noun}, 12 months to {themes.month_label(last)}",
            ui.fmt_count(r["ward_current"], label=disclosure.withheld_label(compared)),
            delta=None if r["ward_change_pct"] is None else f"{r['ward_change_pct']:+.1f}% on the year before ({r['ward_change']})",
            delta_color=DELTA.get(r["ward_change"], "gray"), border=True,
            help=ui.md_escape(rate + against) or None,
        )
    own = own_metrics(user, ward)
    gap = nb.change_gap(page.summary)
    if gap:
        st.caption(gap)
    if cmp is None:
        st.caption(nb.no_comparator_reason(user))
    else:
        year = compared.frame["population_year"][0]
        st.caption(f"Compared with {ui.md_escape(cmp)}. Rates are per 1,000 residents a year"
                   + (f" (mid-{year} population)." if year else "."))

    st.header("What changed most", anchor=False)
    changes = nb.biggest_changes(compared)
    # The user's own partner's data in the ward too, where its change is significant.
    mine = [t for t in own if not t.lower_bound and t.direction in ("up", "down")]
    if changes or mine:
        # A list of lines that say 'up' or 'down' themselves (a bullet and an arrow together
        # read as two marks).
        st.markdown("\n".join([f"- {ui.md_escape(nb.change_line(c))}" for c in changes]
                              + [f"- {ui.md_escape(nb.own_change_line(t))}" for t in mine]))
        st.caption("The largest changes on the 12 months before that are statistically significant "
                   "(exact Poisson test, 5% level).")
    elif gap:
        st.markdown("No change on the year is tested: " + ui.md_escape(gap[0].lower() + gap[1:]))
    else:
        st.markdown("No crime type, and not ASB, changed significantly on the 12 months before.")

    trend_section(ward, ward_name)
    map_section(ward, ward_name, compared, cmp)

    st.header(f"{name} by type, against {ui.md_escape(cmp)}" if cmp else f"{name} by type", anchor=False)
    shown = themes.select_columns(compared, [c for c in TABLE_COLUMNS if cmp or "comparator" not in c])
    ui.table(shown, height="content", column_config={
        # Stays in view on a phone, narrow enough to leave the count and change beside it.
        "category": _col.TextColumn("Type", width=175, pinned=True),
        "ward_current": _col.NumberColumn("Count", width=58),
        "ward_change_pct": _col.NumberColumn("Change %", format="%+.1f", width=72),
        "ward_change": _col.TextColumn("Tested change", width=140),
        "ward_rate_per_1000": _col.NumberColumn("Rate", format="%.1f", width=50),
        "ward_rate_ci": _col.TextColumn("95% CI", width=95),
        "comparator_rate_per_1000": _col.NumberColumn("Comparator", format="%.1f", width=85),
        "against_comparator": _col.TextColumn("Vs comparator", width=100),
    })
    st.caption("Count: latest 12 months. Rate: per 1,000 residents a year, with its Byar 95% "
               "interval. " + ("'Vs comparator' is better or worse only when the ward's interval lies "
                               "wholly below or above the comparator's rate. " if cmp else "")
               + "Tested change: exact Poisson test of the latest 12 months against the 12 before.")
    ui.download(themes.select_columns(compared, [c for c in CSV_COLUMNS if c in compared.frame.columns]),
                "Download the comparison (Excel)", "neighbourhood_comparison.xlsx", key="dl_nb_cmp",
                context={"Ward": f"{ward_name} ({ward})", "Comparator": cmp or "none"})

    # Only what the user may see: a section of "not shared" lines is a dead end.
    tiles = [t for t in (themes.reoffending_summary(user).tile, themes.substance_summary(user).tile)
             if t.available]
    if tiles:
        st.header("Reoffending and treatment (whole area only)", anchor=False)
        st.caption("Reoffending and treatment figures are held for the whole area, not by ward.")
        for tile in tiles:
            st.markdown(f"**{ui.md_escape(tile.title)}:** " + ui.md_escape(tile.sentence or tile.reason))
    definition, caveats = indicators.NOTES["crime"]
    ui.dataset_note("crime", definition + " Rates use the mid-year resident population.", caveats,
                    about="recorded crime")
    ui.dataset_note("asb", *indicators.NOTES["asb"], about="anti-social behaviour")


def own_metrics(user, ward: str) -> list:
    """The user's own partner's data for the ward (a fire officer's fires, a housing officer's
    cases opened), beside police crime and ASB: the same figures as its dashboard for the ward."""
    tiles = [t for t in themes.own_tiles(user, area=ward) if t.available]
    if not tiles:
        return []
    cols = st.columns(2)
    for i, tile in enumerate(tiles):
        if tile.lower_bound:
            delta, colour, arrow = "not tested: figures inside it are withheld from you", "gray", "off"
        else:  # in the police tiles' words beside them
            delta = f"{tile.change_label} on the year before ({nb.change_words(tile.direction)})"
            colour, arrow = tile.metric_colour, {"up": "up", "down": "down"}.get(tile.raw_direction, "off")
        cols[i % 2].metric(f"{tile.title}, {tile.period_label}", tile.value_label, delta=delta,
                           delta_color=colour, delta_arrow=arrow, border=True,
                           help=f"The 12 months before: {tile.previous_label}. {tile.sentence}")
    return tiles


def trend_section(ward: str, ward_name: str) -> None:
    user = current_user()
    st.header("Month by month, against a year before", anchor=False)
    parts = [("Crime", "crime", "crimes", "crimes"), ("Anti-social behaviour", "asb", "incidents", "ASB incidents")]
    # The user's own partner's monthly data for the ward too (fires, housing ASB cases).
    own = themes.own_datasets(user)
    parts += [(d["short"], d["name"], d["count"], d["noun"]) for d in own]  # short: tabs fit a phone
    params = {d["name"]: d["defaults"] for d in own}
    trends = {key: nb.trend(user, ward, key, count, params=params.get(key)) for _, key, count, _ in parts}
    tabs = st.tabs([title for title, *_ in parts] + ["Table"])
    for tab, (title, key, count, noun) in zip(tabs, parts):
        t = trends[key]
        with tab:
            if t.series is None:
                st.info(t.refused or "No data is held.")
                continue
            label = f"{noun[:1].upper()}{noun[1:]} a month"
            fig = indicators.per_result(t.series, ("nb_trend", count, label), lambda t=t, count=count, label=label:
                                        figures_neighbourhood.year_on_year_chart(t.series.frame, count, label))
            charts.chart(fig, f"nb_trend_{key}", f"{label} in {ward_name}, this year against the year before")
            st.caption(ui.md_escape(nb.latest_month_sentence(t, noun)))
    with tabs[-1]:
        for title, key, count, _ in parts:
            t = trends[key]
            if t.series is None:
                continue
            st.markdown(f"**{title}**")
            ui.table(t.series, note=False, column_config=TREND_COLUMNS | {count: title})
            ui.download(t.series, f"Download monthly {title.lower()} (Excel)", f"neighbourhood_{key}_monthly.xlsx",
                        key=f"dl_nb_{key}_monthly", context={"Ward": f"{ward_name} ({ward})"})
        shown = [trends[key].series for _, key, _, _ in parts if trends[key].series is not None]
        for text in dict.fromkeys(disclosure.protection_note(r) for r in shown):
            if text:
                st.caption(text)


def map_section(ward: str, ward_name: str, compared, cmp: str | None) -> None:
    user = current_user()
    name = ui.md_escape(ward_name)
    try:
        lsoas, refused = queries.run(user, "neighbourhood_lsoas", {"ward": ward}), ""
    except (access.AccessDenied, queries.QueryError) as e:  # said plainly under the map
        lsoas, refused = None, str(e)
    by_lsoa = lsoas is not None and lsoas.frame.height > 0
    # The heading says what the map shows: LSOAs only where the user may see them.
    st.header(f"Where in {name}: crime by LSOA" if by_lsoa else f"{name} on the map", anchor=False)
    rows = {r["category"]: r for r in compared.frame.to_dicts()}
    ward_rate = (rows.get(nb.CRIME) or {}).get("ward_rate_per_1000")
    if not by_lsoa:
        fig = figures_neighbourhood.ward_map(ward, ward_name, None, "crimes", "Crimes", ward_rate=ward_rate)
        if fig is not None:
            charts.chart(fig, "nb_map", f"Map of {ward_name}, labelled with its recorded crime per 1,000 residents")
        # The map shows the ward, so the caption says why, not "this view shows LSOA detail".
        st.caption("Figures by LSOA are not shared with you under the sharing agreement, so the map "
                   "shows the ward as a whole." if refused else "No LSOA figures are held for this ward.")
        return
    bench = nb.comparator_benchmark(compared, nb.CRIME, cmp, None)
    ranked, _ = indicators.ranked_areas(lsoas, "crimes", bench)
    hot = nb.hotspots(ranked, "crimes", ward_rate)
    fig = indicators.per_result(ranked, ("nb_map", ward, tuple(h["lsoa_code"] for h in hot)),
                                lambda: figures_neighbourhood.ward_map(
                                    ward, ward_name, ranked.frame, "crimes", "Crimes",
                                    hot=[h["lsoa_code"] for h in hot], withheld=disclosure.withheld_label(ranked)))
    map_tab, table_tab = st.tabs(["Map", "Table"])
    with map_tab:
        if fig is None:
            st.info("No boundaries are held to draw this map; see the table.")
        else:
            charts.chart(fig, "nb_map", f"Map of {ward_name} and its LSOAs, shaded by recorded crime per 1,000 residents")
    with table_tab:
        ui.table(ranked, column_config=LSOA_COLUMNS)
    if hot:
        st.markdown(f"**Hotspots**: the LSOAs with more recorded crime per resident than {name} as a whole, "
                    "highest first:\n"
                    + "\n".join(f"{i}. {ui.md_escape(nb.hotspot_line(h, 'crimes', cmp if bench else None))}" for i, h in enumerate(hot, 1)))
    st.caption("Darker areas have higher rates of recorded crime per 1,000 residents a year; the "
               "numbered, outlined areas are the hotspots. LSOAs are small areas of about 1,500 "
               "residents; town-centre LSOAs have high rates per resident because of visitors."
               + (f" Compared with {ui.md_escape(cmp)}." if bench else ""))
    ui.download(ranked, "Download LSOA table (Excel)", "neighbourhood_lsoas.xlsx", key="dl_nb_lsoa",
                context={"Ward": f"{ward_name} ({ward})"})
