"""Login gate and session rules for the Streamlit app.

The password check, lockout, sessions and revocation rules live in csp.accounts (testable
without Streamlit); this module ties them to a browser session:

- the login form is our own and checks passwords through ``accounts.authenticate``; a good
  login starts a server-side session (``accounts.start_session``);
- the re-login cookie is a JWT we sign (``accounts.issue_cookie``: username, session id, issue
  time) and is checked BEFORE it can log anyone in (``accounts.cookie_session``: signature,
  lifetime from its own issue time, account active, session not ended or revoked, not idle);
- every run re-checks that the session was not revoked or ended (on any replica), the account is
  still active, and the session has not been idle longer than the limit;
- an administrator may "view as" another user: ``current_user`` then returns that user, so every
  query runs with their permissions, while ``real_user`` stays the administrator for the audit.

Writing and deleting the cookie needs the browser: streamlit-authenticator's cookie manager
(extra-streamlit-components) does it from a hidden component. We render that component only
while a write or delete is pending, and keep rendering it on every run until the browser reports
it done. Rendering it once is not enough: the run that drew it can be superseded (another rerun)
before the browser has loaded it, and then the cookie is never written or deleted.
"""
from __future__ import annotations

import datetime as dt
import time

import streamlit as st
from extra_streamlit_components.CookieManager import _component_func as _cookie_component

from .. import access, accounts, audit, config, users

_AUTH_KEYS = ("name", "username", "authentication_status", "email", "roles")
# Static CSS (no data in it): the cookie component's frame is 0 px high; hide its container so it
# leaves no gap. st.html with only a <style> draws nothing and takes no place in the page.
_HIDE_EMPTY_FRAMES = ('<style>[data-testid="stElementContainer"]:has(iframe[height="0"]),'
                      ' .element-container:has(iframe[height="0"]) { display: none; }</style>')


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


# ---- the re-login cookie in the browser -----------------------------------------------------


def _queue_cookie(op: str, value: str = "", expires: dt.datetime | None = None) -> None:
    """Ask the browser to set or delete the re-login cookie; a later request replaces an
    earlier one that has not been done yet (log in, then out at once: only the delete)."""
    n = st.session_state.get("csp_cookie_n", 0) + 1
    st.session_state["csp_cookie_n"] = n
    st.session_state["csp_cookie_op"] = {"op": op, "value": value, "n": n,
                                         "expires": (expires or dt.datetime.now()).isoformat()}


def cookie_pending() -> bool:
    return st.session_state.get("csp_cookie_op") is not None


def sync_cookie(cookie: config.CookieSettings) -> None:
    """Draw the cookie component while a write or delete is pending; drop the request once the
    browser has reported it done (the component returns True). Call early in every run."""
    op = st.session_state.get("csp_cookie_op")
    if op is None:
        return
    key = f"csp_cookie_{op['n']}"
    if st.session_state.get(key) is True:  # confirmed in the run this value came with: no redraw
        st.session_state["csp_cookie_op"] = None
        return
    if op["op"] == "set":
        done = _cookie_component(method="set", cookie=cookie.name, value=op["value"], key=key, default=False,
                                 options={"path": "/", "expires": op["expires"], "sameSite": "strict"})
    else:
        done = _cookie_component(method="delete", cookie=cookie.name, key=key, default=False)
    st.html(_HIDE_EMPTY_FRAMES)
    if done is True:
        st.session_state["csp_cookie_op"] = None


# ---- logging in and out ---------------------------------------------------------------------


def _start_session(user: access.User, sid: str) -> None:
    now = time.time()
    st.session_state.update({
        "authentication_status": True, "username": user.username, "name": user.name,
        "roles": [user.role], "email": "", "csp_login_at": now, "csp_sid": sid,
        "csp_last_activity": now, "csp_touched": now, "csp_notice": None,
        "csp_cookie_refused": False,
    })
    accounts.touch(user.username, now, sid=sid)


def password_login(cookie: config.CookieSettings, username: str, password: str) -> bool:
    """Check a login form submission; start the session and queue the re-login cookie if good."""
    user = accounts.authenticate(username, password)
    if user is None:
        return False
    now = time.time()
    sid = accounts.start_session(user.username, now)
    _start_session(user, sid)
    if cookie.expiry_days > 0:
        token = accounts.issue_cookie(user.username, sid, cookie.key, cookie.expiry_days, now)
        _queue_cookie("set", token, dt.datetime.now() + dt.timedelta(days=cookie.expiry_days))
    return True


def cookie_login(cookie: config.CookieSettings) -> bool:
    """Log in from the re-login cookie if accounts.cookie_session accepts it. A refused cookie is
    ignored for the rest of this browser session, so replaying it cannot get past the form."""
    if st.session_state.get("csp_cookie_refused"):
        return False
    token = st.context.cookies.get(cookie.name)
    if not token:
        return False
    found = accounts.cookie_session(token, cookie.key, cookie.expiry_days)
    user = users.get_user(found[0]) if found else None
    if user is None:
        st.session_state["csp_cookie_refused"] = True
        return False
    _start_session(user, found[1])
    audit.record(user.username, "login", details={"method": "cookie"})
    return True


def end_session(reason: str, notice: str | None = None, revoke: bool = False) -> None:
    """Log this browser session out and delete its re-login cookie; with ``revoke`` also end
    every session and cookie of the user server-side (what the Log out button does)."""
    username = st.session_state.get("username")
    if username:
        if revoke:
            accounts.end_sessions(username, reason=reason)
        audit.record(username, "logout", details={"reason": reason})
    for key in _AUTH_KEYS:
        st.session_state[key] = None
    for key in ("csp_login_at", "csp_sid", "csp_last_activity", "csp_view_as", "csp_last_view"):
        st.session_state.pop(key, None)
    st.session_state["csp_cookie_refused"] = True
    st.session_state["csp_notice"] = notice
    _queue_cookie("delete")


def check_session() -> access.User | None:
    """Called on every run while logged in: enforce revocation, disabling and the idle limit.
    Returns the real user, or None after ending the session."""
    username = st.session_state.get("username") or ""
    now = time.time()
    sid = st.session_state.get("csp_sid")
    if not accounts.session_ok(username, st.session_state.get("csp_login_at", 0), now, sid=sid):
        end_session("revoked", "Your session has ended. Please log in again.")
        return None
    if now - st.session_state.get("csp_last_activity", now) > accounts.idle_seconds():
        minutes = int(accounts.idle_seconds() // 60)
        end_session("idle", f"You were logged out after {minutes} minutes without activity.")
        return None
    # Server-side last activity is written at most once a minute to keep reruns cheap.
    if now - st.session_state.get("csp_touched", 0) > 60:
        accounts.touch(username, now, sid=sid)
        st.session_state["csp_touched"] = now
    st.session_state["csp_last_activity"] = now
    return real_user()
