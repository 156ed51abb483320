"""Overview: one tile per theme for board members (latest 12 months, change, significance,
polarity-coloured arrow, sparkline, one plain-English sentence). Figures come from
csp.themes, which runs the named queries as the logged-in user."""
import streamlit as st

from csp import indicators, sparkline, themes
from csp.ui import common as ui
from csp.ui.provenance import rests_on
from csp.ui.auth import current_user

NOTES = {
    "crime": ("Recorded crime: every crime recorded by the police (data.police.uk), all types, "
              "counted by the month recorded.",
              "Locations are snapped to anonymous map points. Recorded crime reflects reporting and "
              "recording practice as well as crime."),
    "asb": ("Anti-social behaviour incidents recorded by the police (data.police.uk).",
            "Incidents, not crimes; recording practice varies between forces and over time."),
    "reoffending": ("Proven reoffending (Ministry of Justice definition): the share of offenders in "
                    "a year of quarterly cohorts who commit an offence within 12 months that is "
                    "proven by a court or caution within a further 6 months.",
                    "The latest cohort is at least 18 months old by definition (see the Reoffending page). "
                    "Change tested with a two-proportion z-test; intervals are Wilson 95%."),
    "substance_misuse": ("Successful completions of structured drug and alcohol treatment in the "
                         "12 months to the latest quarter, as a share of adults in treatment in those 12 months.",
                         "The same person can be in treatment in both years compared, so the "
                         "significance test (two-proportion z-test) is approximate."),
}


_col = st.column_config
TABLE_COLUMNS = {  # pixel widths so every column fits beside the sidebar at 1280 px
    "theme": _col.TextColumn("Theme", width=198, pinned=True),  # the judgement still fits on a phone
    "period": _col.TextColumn("Period", width=155),
    "latest_12_months": _col.TextColumn("Latest", width=58),
    "previous_12_months": _col.TextColumn("Before", width=58),
    # An interval is never cut ("15,058–15,54…"): the words around it may be.
    "latest_95pc_ci": _col.TextColumn("95% CI", width=105), "change": _col.TextColumn("Change", width=78),
    "p_value": _col.TextColumn("p", width=48),
    "judgement": _col.TextColumn("Judgement", width=100),
}


def _tile(tile: themes.Tile) -> None:
    with st.container(border=True):
        if not tile.available:
            st.markdown(f"**{ui.md_escape(tile.title)}**")
            st.caption(ui.md_escape(tile.reason))
            return
        if tile.lower_bound:
            delta, colour, arrow = "not tested: figures inside it are withheld from you", "gray", "off"
            why = "It is at least this: some figures inside the total are withheld from you."
        else:
            delta = f"{tile.change_label} · {indicators.JUDGEMENT_WORDS[tile.colour]}"
            colour, arrow = tile.metric_colour, {"up": "up", "down": "down"}.get(tile.raw_direction, "off")
            why = (f"Colour: blue = significantly better, orange = significantly worse, grey = no "
                   f"significant change (p = {tile.p_value:.3f}).")
        st.metric(
            f"{tile.title}, {tile.period_label}" if tile.period_label.startswith("12 months") else tile.title,
            tile.value_label, delta=delta, delta_color=colour, delta_arrow=arrow,
            help=f"The 12 months before: {tile.previous_label}"
                 + (f"; 95% interval now {tile.ci_label}. " if tile.ci_label else ". ") + why,
        )
        # Our own sparkline: an SVG image with a sentence as its text alternative, in the tile's
        # significance colour (Streamlit's metric chart draws unlabelled marks). Markdown, as
        # st.html drops SVG; every text in it is escaped by csp.sparkline and none is from data.
        st.markdown(sparkline.svg(tile.spark_x, tile.spark_y, tile.hex_colour, tile.spark_label,
                                  unit="%" if "%" in tile.spark_label else ""), unsafe_allow_html=True)
        st.markdown(ui.md_escape(tile.sentence))
        definition, caveats = NOTES.get(tile.source) or _contract_notes(tile.source)
        ui.dataset_note(tile.source, definition, caveats)


def _contract_notes(dataset: str) -> tuple[str, str]:
    from csp import catalog

    c = catalog.contract(dataset)
    return c.dashboard.get("definition", c.description), c.dashboard.get("caveats", "")


def render() -> None:
    st.title("Overview", anchor=False)
    user = current_user()
    where = (f"in your ward{'s' if len(user.areas) > 1 else ''}, {ui.md_escape(indicators.scope_label(user, codes=False))}"
             if user.areas else "across the partnership")
    st.caption(f"What is changing {where}: the latest 12 months against the 12 before, "
               "and whether each change is more than routine variation.")
    # The partnership's themes, then the user's own partner's other datasets (a fire officer's
    # fires). A theme not shared with the user gets one line, not an empty tile.
    everything = themes.overview_tiles(user) + themes.own_tiles(user)
    tiles = [t for t in everything if t.available or not t.reason.startswith("Not shared")]
    for i in range(0, len(tiles), 2):
        cols = st.columns(2)
        for col, tile in zip(cols, tiles[i:i + 2]):
            with col:
                _tile(tile)
    hidden = [t.title for t in everything if t not in tiles]
    if hidden:
        st.caption("Not shared with you under the sharing agreement: " + ui.md_escape(", ".join(hidden)) + ".")

    st.header("The figures behind the tiles", anchor=False)
    table = themes.tiles_table(tiles)
    ui.table(table, column_config=TABLE_COLUMNS)
    ui.download(table, "Download the overview figures (Excel)", "overview.xlsx", key="dl_overview")
    st.caption("Significance: exact Poisson test for counts, two-proportion z-test for rates "
               "(5% level). A grey arrow means the change is within normal variation.")
    protected = themes.protection_words(user, [t.source for t in tiles if t.available])
    if protected:
        st.caption(protected)
    rests_on([t.source for t in tiles if t.available])
