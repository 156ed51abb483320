"""Login gate: streamlit-authenticator over the users table, with the cookie key from config."""
from __future__ import annotations

import streamlit as st
import streamlit_authenticator as stauth

from .. import access, config, users


def authenticator() -> stauth.Authenticate:
    """Build the authenticator for this script run.

    Credentials are read fresh from the database (never cached across sessions) so a disabled
    account or a new user takes effect on the next rerun. ``login_sleep_time=0``: the library
    reads the re-login cookie from the HTTP request (st.context.cookies), so it needs no wait.
    """
    cookie = config.cookie_settings()
    return stauth.Authenticate(
        users.credentials(), cookie.name, cookie.key, cookie.expiry_days,
        auto_hash=False, login_sleep_time=0,
    )


def current_user() -> access.User | None:
    """The logged-in user as the access layer sees them, re-read from the database each run."""
    if not st.session_state.get("authentication_status"):
        return None
    return users.get_user(st.session_state.get("username") or "")
