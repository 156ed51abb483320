"""Audit trail (administrators): search, check the hash chain, export as CSV."""
import datetime as dt

import streamlit as st

from csp import access, audit, users
from csp.ui import auth, downloads, readable
from pages.admin import audit_names

ACTIONS = ["", "login", "login_failed", "logout", "view", "download", "export", "board_pack", "upload",
           "publish", "rollback", "purge", "user_add", "user_change", "user_disable", "user_enable",
           "password_reset", "revoke_sessions", "user_unlock", "view_as", "view_as_end"]


def render() -> None:
    st.title("Audit trail", anchor=False)
    with st.container(horizontal=True):
        actor = st.text_input("User", key="audit_actor")
        action = st.selectbox("Action", ACTIONS, format_func=lambda a: readable.words(a) if a else "Any",
                              key="audit_action")
        owner = st.selectbox("Whose data", ["", *access.PARTNERS], format_func=lambda p: access.partner_name(p) or "Any",
                             key="audit_owner")
        text = st.text_input("Contains", key="audit_text")
        since = st.date_input("From", value=dt.date.today() - dt.timedelta(days=30), key="audit_since", format="DD/MM/YYYY")
        until = st.date_input("To", value=dt.date.today(), key="audit_until", format="DD/MM/YYYY")
    rows = audit.search(actor=actor.strip() or None, action=action or None, data_owner=owner or None,
                        text=text.strip() or None, since=since.isoformat(), until=until.isoformat(),
                        limit=5000)
    st.caption(f"{len(rows):,} entries (newest first, at most 5,000).")
    st.dataframe(readable.audit_frame(rows, audit_names(auth.current_user()),
                                      readable.people(users.list_users(), logins=True)),
                 hide_index=True, width="stretch")
    filters = {"actor": actor, "action": action, "owner": owner, "text": text,
               "since": since.isoformat(), "until": until.isoformat()}
    downloads.offer("Download these entries (CSV)", audit.to_csv(rows).encode("utf-8"), "audit_log.csv",
                    "text/csv", "dl_audit", {"filters": filters, "rows": len(rows)})

    if st.button("Check the chain", key="verify"):
        v = audit.verify()
        (st.success if v.intact else st.error)(str(v))
        if v.intact:
            st.caption("Keep a copy of the head hash elsewhere: it lets you show later that no "
                       "entry up to this one was changed.")
