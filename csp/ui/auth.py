"""Login gate and session rules for the Streamlit app.

The password check, lockout and revocation rules live in csp.accounts (testable without
Streamlit); this module ties them to a browser session:

- the login form is our own and checks passwords through ``accounts.authenticate``;
- the streamlit-authenticator re-login cookie is checked here BEFORE it can log anyone in
  (``accounts.cookie_login``: signature, expiry, account active, not revoked, not idle). We never
  call ``Authenticate.login``, which would accept any validly signed unexpired cookie; the
  library is used only to write and delete that cookie;
- every run re-checks that the session was not revoked, the account is still active, and the
  session has not been idle longer than the limit;
- an administrator may "view as" another user: ``current_user`` then returns that user, so every
  query runs with their permissions, while ``real_user`` stays the administrator for the audit.
"""
from __future__ import annotations

import time

import streamlit as st
import streamlit_authenticator as stauth

from .. import access, accounts, audit, config, users

_AUTH_KEYS = ("name", "username", "authentication_status", "email", "roles")


def authenticator() -> stauth.Authenticate:
    """Build the authenticator for this script run (used to set and delete the cookie).

    Credentials are read fresh from the database (never cached across sessions).
    ``login_sleep_time=0``: the cookie is read from the HTTP request (st.context.cookies).
    """
    cookie = config.cookie_settings()
    return stauth.Authenticate(
        users.credentials(), cookie.name, cookie.key, cookie.expiry_days,
        auto_hash=False, login_sleep_time=0,
    )


def real_user() -> access.User | None:
    """The person logged in, re-read from the database each run (None if disabled or removed)."""
    if not st.session_state.get("authentication_status"):
        return None
    return users.get_user(st.session_state.get("username") or "")


def current_user() -> access.User | None:
    """The user whose permissions apply: the logged-in user, or the user an administrator is
    viewing as. Every query on every page runs as this user."""
    real = real_user()
    target = st.session_state.get("csp_view_as")
    if real is not None and target and access.can(real, "manage_users"):
        return users.get_user(target)
    return real


def view_as(username: str | None) -> None:
    """Start (or with None, stop) previewing the app as another user; audited."""
    real = real_user()
    if real is None or not access.can(real, "manage_users"):
        return
    if username:
        target = users.get_user(username)
        if target is None:
            return
        st.session_state["csp_view_as"] = username
        audit.record(real.username, "view_as", target=username, data_owner=target.partner)
    elif st.session_state.pop("csp_view_as", None):
        audit.record(real.username, "view_as_end")


def _start_session(user: access.User) -> None:
    st.session_state.update({
        "authentication_status": True, "username": user.username, "name": user.name,
        "roles": [user.role], "email": "", "csp_login_at": time.time(),
        "csp_last_activity": time.time(), "csp_touched": time.time(), "csp_notice": None,
        "csp_cookie_refused": False,
    })
    accounts.touch(user.username)


def password_login(auth: stauth.Authenticate, username: str, password: str) -> bool:
    """Check a login form submission; start the session and set the re-login cookie if good."""
    user = accounts.authenticate(username, password)
    if user is None:
        return False
    _start_session(user)
    # The cookie is written by a browser component, which needs a run that completes: the
    # login run ends in st.rerun(), so write it on the next run (write_pending_cookie).
    st.session_state["csp_set_cookie"] = True
    return True


def write_pending_cookie(auth: stauth.Authenticate) -> None:
    """Write (after a password login) or delete (after logout) the re-login cookie."""
    if st.session_state.pop("csp_set_cookie", False) and st.session_state.get("authentication_status"):
        auth.cookie_controller.set_cookie()  # signs {username, exp_date} for the session user
    if st.session_state.pop("csp_delete_cookie", False):
        try:
            auth.cookie_controller.delete_cookie()
        except Exception:  # the browser may hold none; deleting is a courtesy, refusal is the rule
            pass


def cookie_login(cookie: config.CookieSettings) -> bool:
    """Log in from the re-login cookie if accounts.cookie_login accepts it. A refused cookie is
    ignored for the rest of this browser session, so replaying it cannot get past the form."""
    if st.session_state.get("csp_cookie_refused"):
        return False
    token = st.context.cookies.get(cookie.name)
    if not token:
        return False
    username = accounts.cookie_login(token, cookie.key, cookie.expiry_days)
    user = users.get_user(username) if username else None
    if user is None:
        st.session_state["csp_cookie_refused"] = True
        st.session_state["logout"] = True  # the library's own get_cookie() will ignore it too
        return False
    _start_session(user)
    audit.record(user.username, "login", details={"method": "cookie"})
    return True


def end_session(auth: stauth.Authenticate | None, reason: str, notice: str | None = None,
                revoke: bool = False) -> None:
    """Log this browser session out; with ``revoke`` also refuse every earlier cookie and
    session of the user server-side (what the Log out button does)."""
    username = st.session_state.get("username")
    if username:
        if revoke:
            accounts.end_sessions(username)
        audit.record(username, "logout", details={"reason": reason})
    for key in _AUTH_KEYS:
        st.session_state[key] = None
    for key in ("csp_login_at", "csp_last_activity", "csp_view_as", "csp_last_view"):
        st.session_state.pop(key, None)
    st.session_state["logout"] = True
    st.session_state["csp_cookie_refused"] = True
    st.session_state["csp_notice"] = notice
    st.session_state["csp_delete_cookie"] = auth is not None


def check_session(auth: stauth.Authenticate) -> access.User | None:
    """Called on every run while logged in: enforce revocation, disabling and the idle limit.
    Returns the real user, or None after ending the session."""
    username = st.session_state.get("username") or ""
    now = time.time()
    if not accounts.session_ok(username, st.session_state.get("csp_login_at", 0), now):
        end_session(auth, "revoked", "Your session has ended. Please log in again.")
        return None
    if now - st.session_state.get("csp_last_activity", now) > accounts.idle_seconds():
        minutes = int(accounts.idle_seconds() // 60)
        end_session(auth, "idle", f"You were logged out after {minutes} minutes without activity.")
        return None
    # Server-side last activity is written at most once a minute to keep reruns cheap.
    if now - st.session_state.get("csp_touched", 0) > 60:
        accounts.touch(username, now)
        st.session_state["csp_touched"] = now
    st.session_state["csp_last_activity"] = now
    return real_user()
