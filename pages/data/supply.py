"""Data supply: per partner and dataset, the cadence and due rule, the last period supplied and
when, each period's status (on time, late, missing, not yet due) and its history. Supply is
metadata (no record is read), so everyone sees every declared dataset; analysts see first what
is due from their own partner."""
import streamlit as st

from csp import access, supply
from csp.ui import common as ui
from csp.ui import provenance
from csp.ui.auth import current_user

# The dataset and its status first: on a phone only the first columns fit.
# What is missing right after the status: a phone shows the first columns only.
TABLE = {"dataset": "Dataset", "status": "Status", "missing": "Missing", "partner": "Partner",
         "last_period": "Last period supplied", "supplied_on": "Supplied on", "late": "Periods late",
         "next_due": "Next due", "cadence": "Cadence", "due": "Due by"}
HISTORY = {"period": "Period", "due_by": "Due by", "status": "Status", "supplied_on": "Supplied on",
           "version": "Version", "days_late": "Days late", "history": "What happened"}


def _own_first(user) -> bool:
    # Analysts (who upload their partner's data) see what they owe first; board members and
    # admins see the whole partnership.
    return access.can(user, "upload") and user.role != "admin"


def render() -> None:
    st.title("Data supply", anchor=False)
    today = supply.utc_today()
    st.caption(
        "The Crime and Disorder (Prescribed Information) Regulations 2007 require prescribed information "
        "to be shared quarterly, by the end of the following quarter. Each dataset's contract says when "
        f"its periods are due; this page judges what arrived against it, as at {today:%d %B %Y}.")
    user = current_user()
    everything = supply.all_supply(today)
    tracked = [s for s in everything if s.tracked]

    if _own_first(user):
        mine = [s for s in tracked if s.owner == user.partner]
        st.header(f"What is due from you ({ui.md_escape(access.partner_name(user.partner))})", anchor=False)
        if not mine:
            st.info("Your partner supplies no tracked dataset.")
        for s in mine:
            _owed(s)

    st.header("Every partner" if _own_first(user) else "Supply by partner and dataset", anchor=False)
    if tracked:
        st.dataframe(provenance.styled(supply.table_rows(tracked), TABLE), hide_index=True, width="stretch",
                     key="supply_table", column_config={"Dataset": st.column_config.Column(pinned=True)})
    else:
        st.info("No dataset is declared with periods to supply.")
    provenance.legend()

    st.header("History", anchor=False)
    for s in tracked:
        with st.expander(f"{s.title} ({access.partner_name(s.owner)}): {s.status}"):
            st.markdown(f"**Rule:** {ui.md_escape(s.rule.text)}.  \n{ui.md_escape(s.sentence)}")
            for note in s.notes:
                st.caption(ui.md_escape(note))
            rows = supply.history_rows(s)
            if rows:
                st.dataframe(provenance.styled(rows, HISTORY), hide_index=True, width="stretch",
                             key=f"supply_history_{s.dataset}")

    reference = [s for s in everything if not s.tracked]
    if reference:
        st.header("Not tracked", anchor=False)
        st.caption("Lookups and derived tables with no periods to supply (or no rule): when each was last published.")
        st.dataframe(provenance.styled(
            [{"dataset": s.title, "partner": access.partner_name(s.owner), "why": s.rule.why_not,
              "as_at": f"{s.as_at:%d %b %Y}" if s.as_at else "not published"} for s in reference],
            {"dataset": "Dataset", "partner": "Partner", "why": "Why not tracked", "as_at": "Last published"}),
            hide_index=True, width="stretch", key="supply_reference")


def _owed(s: supply.Supply) -> None:
    with st.container(border=True):
        st.markdown(f"**{ui.md_escape(s.title)}** · status: **{ui.md_escape(s.status)}**  \n"
                    f"{ui.md_escape(s.rule.text)}.")
        if s.status in (supply.MISSING, supply.LATE):
            st.warning(ui.md_escape(s.sentence))
        else:
            st.markdown(ui.md_escape(s.sentence))
