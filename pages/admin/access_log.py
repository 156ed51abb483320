"""Use of our data: for a data-owning partner, who viewed, downloaded or exported its datasets
(from the audit trail)."""
import datetime as dt

import streamlit as st

from csp import access, audit, users
from csp.ui import auth, readable
from pages.admin import audit_names

USES = ("view", "download", "export", "board_pack")


def render() -> None:
    me = auth.current_user()
    partner = access.partner_name(me.partner)
    st.title(f"Use of {partner} data", anchor=False)
    st.caption(f"Everyone who viewed a page built on {partner} data, downloaded it or exported it, "
               "from the audit trail.")
    since = st.date_input("Since", value=dt.date.today() - dt.timedelta(days=30), key="uses_since", format="DD/MM/YYYY")
    rows = [r for r in audit.search(data_owner=me.partner, since=since.isoformat(), limit=5000)
            if r["action"] in USES]
    if not rows:
        st.info("No use of your data is recorded in this period.")
        return
    # People by name and partner, not login ids: an owner knows Pat Board, not board.police.
    frame = readable.audit_frame(rows, audit_names(me), readable.people(users.list_users())).select(
        "When", "Who", "Action", "What", "Details")
    summary = frame.group_by("Who", "Action").len("Times").sort(["Times", "Who"], descending=[True, False])
    st.header("By user", anchor=False)
    st.dataframe(summary, hide_index=True, width="stretch")
    st.header("Every entry", anchor=False)
    st.dataframe(frame, hide_index=True, width="stretch")
