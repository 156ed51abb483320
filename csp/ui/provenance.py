"""'The data this view rests on': for the datasets a page shows, who supplies each, the last
period held, when it was published (as at) and its supply status (csp.supply), as one caption
line and a small table in an expander. Pages call ``rests_on([...datasets shown...])``.

Also the status colouring the Data supply page uses: colour-blind-safe colours, always beside
the status in words."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from .. import access, catalog, supply
from .common import md_escape


def _status_css(value) -> str:
    # supply.STATUS_COLOURS are PALETTE colours (tests/test_supply.py checks).
    colour = supply.STATUS_COLOURS.get(value)
    return f"background-color: {colour}; color: #000000; font-weight: 600" if colour else ""


def styled(rows: list[dict], labels: dict[str, str], status_col: str = "status"):
    """A table of ``rows`` (the columns in ``labels``, renamed) with its status cells coloured."""
    frame = pd.DataFrame(rows, columns=list(labels)).rename(columns=labels)
    if status_col in labels:
        return frame.style.map(_status_css, subset=[labels[status_col]])
    return frame


def legend() -> None:
    st.caption(" · ".join(f"**{s}**: {supply.MEANING[s]}" for s in supply.STATUSES))


def supply_words(s) -> str:
    """'; Oct 2026 overdue' (what is missing, not only that something is), '; supplied on time',
    '; latest supplied late': the supply status as a reader of the figures needs it."""
    if s.missing:
        more = len(s.missing) - 1
        return f"; {s.missing[0].words}" + (f" and {more} more period{'s' if more > 1 else ''}" if more else "") + " overdue"
    return {supply.NOT_TRACKED: "", supply.ON_TIME: "; supplied on time",
            supply.LATE: "; latest supplied late"}.get(s.status, f"; supply {s.status}")


def rests_on(datasets, today: dt.date | None = None, key: str = "rests_on") -> None:
    """Say which data a view rests on, with its as-at dates and supply status."""
    known = catalog.contracts()
    names = [d for d in dict.fromkeys(datasets) if d in known]
    if not names:
        return
    today = today or supply.utc_today()
    found = [supply.dataset_supply(d, today) for d in names]
    parts = []
    for s in found:
        last = s.last_period
        held = f"to {last.end_words}" if last else "nothing held"
        as_at = f"as at {s.as_at:%d %b %Y}" if s.as_at else "not published"
        word = supply_words(s)
        parts.append(f"{s.title} ({access.partner_name(s.owner)}) {held}, {as_at}{word}")
    st.caption("The data this view rests on: " + md_escape("; ".join(parts)) + ".")
    with st.expander("The data this view rests on"):
        rows = supply.table_rows(found)
        st.dataframe(styled(rows, {"dataset": "Dataset", "partner": "Partner", "last_period": "Last period held",
                                   "as_at": "As at (published)", "status": "Supply status",
                                   "next_due": "Next due"}),
                     hide_index=True, width="stretch", key=key)
        for s in found:
            st.markdown(f"**{md_escape(s.title)}**: {md_escape(s.sentence)}")
        st.caption("Supply status is judged by each dataset's supply rule; the Data supply page has the "
                   "history of every period.")
