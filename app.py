"""CSP Insight entry point: configuration check, login gate, and navigation built from the
user's permissions. Logged out, the only page that exists is the login form, so any page URL
shows it and no data."""
from __future__ import annotations

import importlib

import streamlit as st

from csp import access, config
from csp.ui import auth
from pages import PAGES

st.set_page_config(page_title="CSP Insight", page_icon=":material/shield:", layout="wide")

try:
    authenticator = auth.authenticator()
    cookie = config.cookie_settings()
except config.ConfigError as e:
    st.error(f"CSP Insight cannot start: {e}")
    st.stop()


def login_page() -> None:
    st.title("CSP Insight")
    st.caption("Community Safety Partnership evidence, shared safely.")
    authenticator.login(location="main", fields={"Form name": "Log in", "Login": "Log in"})
    if st.session_state.get("authentication_status") is False:
        # One message for unknown user and wrong password: no user enumeration.
        st.error("Username or password is incorrect.")
    if config.demo_mode():
        st.info(
            "Demo mode: fictional data for 'Fenmouth', demo logins listed in README.md, and a "
            "cookie key generated for this data directory. Not for real data."
        )


if st.session_state.get("authentication_status") is not True:
    # Render the form (it also accepts a valid re-login cookie), then, if that logged us in,
    # continue to the real navigation in the same run.
    st.navigation([st.Page(login_page, title="Log in", icon=":material/login:")]).run()
    if st.session_state.get("authentication_status") is not True:
        st.stop()
    st.rerun()

user = auth.current_user()
if user is None:  # logged in by cookie, but the account is gone or disabled
    st.session_state["authentication_status"] = None
    st.warning("Your account is not active. Please contact your partnership's administrator.")
    st.stop()

pages: dict[str, list] = {}
for spec in PAGES:
    if access.can(user, spec.action) and (
        not spec.datasets or any(access.grant(user, d) for d in spec.datasets)
    ):
        module = importlib.import_module(f"pages.{spec.module}")
        pages.setdefault(spec.section, []).append(
            st.Page(module.render, title=spec.title, icon=spec.icon, url_path=spec.url_path)
        )
if not pages:
    pages["CSP Insight"] = [st.Page(lambda: st.info("Nothing is shared with you yet."), title="Home")]

with st.sidebar:
    st.markdown(f"**{user.name}**  \n{user.role.title()} · {user.partner.replace('_', ' ').title()}")
    if user.areas:
        st.caption("Area scope: " + ", ".join(user.areas))
    if cookie.generated:
        st.caption("Demo mode: cookie key generated for this data directory.")
    authenticator.logout("Log out", location="sidebar", key="logout_button")
if st.session_state.get("authentication_status") is not True:
    st.rerun()  # just logged out: draw nothing more, start again at the login gate

st.navigation(pages).run()
