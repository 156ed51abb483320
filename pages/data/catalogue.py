"""Catalogue: every dataset with its owner, description, fields and privacy tiers, update
frequency, as-at date, coverage and latest version, and what the sharing agreement lets you see."""
import streamlit as st

from csp import catalog, quality, supply
from csp.ui import common as ui
from csp.ui import readable
from csp.ui.auth import current_user


def render() -> None:
    st.title("Data catalogue", anchor=False)
    st.caption("What each partner shares, how often it is updated and how current it is. "
               "Privacy tiers: *public* fields are shared at the permitted geography; *restricted* "
               "fields (identifiers, street descriptions) are seen only by the owning partner.")
    entries = quality.catalogue(current_user())
    for e in entries:  # as people read them: months, dates, version numbers
        first, _, last = (e["coverage"] or "").partition(" to ")
        if last:
            e["coverage"] = supply.held_words(first, last, catalog.contract(e["dataset"]).grain_months)
        e["as_at"] = readable.when(e["as_at"]) if e["as_at"] else None
        e["latest_version"] = readable.version(e["latest_version"]).capitalize() or None
    # What you may see comes right after the dataset: on a phone only the first columns fit. How
    # often it is updated and its version are in each dataset's box below: with them the table
    # ran past the page at 1280 px and cut what you may see.
    summary = [{k: e[k] for k in ("title", "access", "owner", "as_at", "coverage")} for e in entries]
    col = st.column_config
    st.dataframe(summary, hide_index=True, width="stretch", column_config={
        "title": col.TextColumn("Dataset", pinned=True, width=215), "owner": col.TextColumn("Owner", width=100),
        "as_at": col.TextColumn("As at", width=90), "coverage": col.TextColumn("Coverage", width=180),
        "access": col.TextColumn("You may see", width=220)})
    for e in entries:
        with st.expander(e["title"]):
            st.markdown(f"{ui.md_escape(e['description'])}\n\n**Owner:** {ui.md_escape(e['owner'])} · "
                        f"**Updated:** {ui.md_escape(e['update_frequency'])} · "
                        f"**As at:** {ui.md_escape(e['as_at'] or 'not published yet')} · "
                        f"**Coverage:** {ui.md_escape(e['coverage'] or '-')} · "
                        f"**Latest version:** {ui.md_escape(e['latest_version'] or '-')}"
                        + (f"\n\n**Counted by:** {ui.md_escape(e['period_grain'])}" if e["period_grain"] else "")
                        + (f"\n\n**Legal basis for sharing:** {ui.md_escape(e['legal_basis'])}" if e["legal_basis"] else "")
                        + (f" · **Agreement review date:** {ui.md_escape(e['review_date'])}" if e["review_date"] else ""))
            st.dataframe(e["fields"], hide_index=True, width="stretch")

