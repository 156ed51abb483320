"""Account safety: password checks at login, lockout, server-side sessions and revocation, and
the administrator's account operations (each one recorded in the audit trail).

State lives in the app state database (csp.state) next to the users table, so failed-login
counts, locks, sessions and revocations survive restarts and are shared by every app process,
on one machine or many:

- 5 failed logins in a row lock an account for 15 minutes. The count is kept per typed username,
  known or not, and the login form says the same thing in every case (no user enumeration).
- ``sessions``: one row per login. The re-login cookie names its session and carries its own
  issue time (signed); the server keeps the session's last activity and whether it has ended.
- ``sessions_valid_after``: a re-login cookie or an open session that started before this moment
  is refused. Logging out and an administrator's "revoke sessions" set it to now.
"""
from __future__ import annotations

import os
import secrets
import sys
import time

import bcrypt
import jwt

from . import access, audit, state, users

LOCK_AFTER = 5
LOCK_SECONDS = 15 * 60
CLOCK_SKEW = 60  # seconds a cookie's issue time may lie in the future (replicas' clocks differ)


def idle_seconds() -> float:
    """Idle sessions end after CSP_IDLE_MINUTES (default 30) without activity."""
    try:
        minutes = float(os.environ.get("CSP_IDLE_MINUTES", "30"))
    except ValueError:
        minutes = 30.0
    return max(minutes, 1.0) * 60


_dummy: dict[int, bytes] = {}


def _dummy_hash() -> bytes:
    # A real bcrypt hash at the current cost: checking against it for unknown users makes a
    # wrong username take as long as a wrong password.
    rounds = users.BCRYPT_ROUNDS
    if rounds not in _dummy:
        _dummy[rounds] = bcrypt.hashpw(b"not-a-password-anyone-has", bcrypt.gensalt(rounds))
    return _dummy[rounds]


def _state(con, username: str):
    con.execute("INSERT INTO account_state (username) VALUES (?) ON CONFLICT (username) DO NOTHING",
                (username,))
    return con.execute("SELECT * FROM account_state WHERE username=?", (username,)).fetchone()


def normalise(username: str) -> str:
    return (username or "").strip().lower()[:64]


def _locked(name: str):
    """A transaction holding this account's lock: counting failures is read-modify-write, and
    two app processes must not both read 4 and write 5."""
    return state.connect(lock=f"account:{name}")


def locked_until(username: str, now: float | None = None) -> float | None:
    """When the lock on this account ends, or None if it is not locked."""
    now = time.time() if now is None else now
    with users.db() as con:
        row = con.execute("SELECT locked_until FROM account_state WHERE username=?",
                          (normalise(username),)).fetchone()
    until = row["locked_until"] if row else 0
    return until if until > now else None


def authenticate(username: str, password: str, now: float | None = None) -> access.User | None:
    """Check a login attempt: the user if it succeeds, None otherwise (for any reason).

    Counts failures, locks after LOCK_AFTER of them, and records every attempt in the audit trail.
    A locked account is refused even with the right password until the lock ends.
    """
    now = time.time() if now is None else now
    name = normalise(username)
    stored = users.password_hash(name)
    attempt = (password or "").encode()
    ok = bcrypt.checkpw(attempt[:72], stored.encode() if stored else _dummy_hash()) and len(attempt) <= 72
    with _locked(name) as con:
        st = _state(con, name)
        if st["locked_until"] > now:
            reason = "locked"
        elif ok and stored:
            con.execute("UPDATE account_state SET failed=0, locked_until=0 WHERE username=?", (name,))
            reason = None
        else:
            failed = st["failed"] + 1
            if failed >= LOCK_AFTER:
                con.execute("UPDATE account_state SET failed=0, locked_until=? WHERE username=?",
                            (now + LOCK_SECONDS, name))
                reason = "locked_now"
            else:
                con.execute("UPDATE account_state SET failed=? WHERE username=?", (failed, name))
                reason = "unknown_user" if stored is None else "wrong_password"
    if reason is None:
        audit.record(name, "login", details={"method": "password"})
        return users.get_user(name)
    audit.record(name or "(blank)", "login_failed", details={"reason": reason})
    return None


# ---- sessions ------------------------------------------------------------------------------


def start_session(username: str, now: float | None = None) -> str:
    """Record a new login session; returns its id (what the re-login cookie names)."""
    now = time.time() if now is None else now
    sid = secrets.token_urlsafe(24)
    name = normalise(username)
    with users.db() as con:
        con.execute("INSERT INTO sessions (sid, username, issued_at, last_seen) VALUES (?, ?, ?, ?)",
                    (sid, name, now, now))
        _state(con, name)
        con.execute("UPDATE account_state SET last_seen=? WHERE username=?", (now, name))
    return sid


def end_sessions(username: str, now: float | None = None, reason: str = "logout") -> None:
    """Refuse every re-login cookie and open session of this user issued before now."""
    now = time.time() if now is None else now
    name = normalise(username)
    with users.db() as con:
        _state(con, name)
        con.execute("UPDATE account_state SET sessions_valid_after=? WHERE username=?", (now, name))
        con.execute("UPDATE sessions SET ended_at=?, end_reason=? WHERE username=? AND ended_at IS NULL",
                    (now, reason, name))


def touch(username: str, now: float | None = None, sid: str | None = None) -> None:
    """Note activity by this user (and session): a re-login cookie is refused once its session
    has been idle for longer than the idle limit."""
    now = time.time() if now is None else now
    name = normalise(username)
    with users.db() as con:
        _state(con, name)
        con.execute("UPDATE account_state SET last_seen=? WHERE username=?", (now, name))
        if sid:
            con.execute("UPDATE sessions SET last_seen=? WHERE sid=? AND username=? AND last_seen < ?",
                        (now, sid, name, now))


def session_ok(username: str, started_at: float, now: float | None = None, sid: str | None = None) -> bool:
    """May a session (or cookie) that began at ``started_at`` still act for this user? With
    ``sid``, that server-side session must also exist, be this user's, and not have ended."""
    now = time.time() if now is None else now
    name = normalise(username)
    if users.get_user(name) is None:  # unknown or disabled
        return False
    with users.db() as con:
        st = _state(con, name)
        live = True
        if sid is not None:
            live = con.execute("SELECT 1 FROM sessions WHERE sid=? AND username=? AND ended_at IS NULL",
                               (sid, name)).fetchone() is not None
    return live and st["locked_until"] <= now and started_at > st["sessions_valid_after"]


def issue_cookie(username: str, sid: str, key: str, expiry_days: float, now: float | None = None) -> str:
    """The re-login cookie's value for a session: a JWT signed with the cookie key carrying the
    username, the session id and its own issue time (so no setting can move that time)."""
    now = time.time() if now is None else now
    return jwt.encode({"username": normalise(username), "sid": sid, "iat": now,
                       "exp_date": now + expiry_days * 86400}, key, algorithm="HS256")


def cookie_session(token: str | None, key: str, expiry_days: float,
                   now: float | None = None) -> tuple[str, str] | None:
    """(username, session id) a re-login cookie may log in, or None.

    Refused when the signature fails; when the cookie is past its own expiry or older than the
    lifetime set now (``CSP_COOKIE_EXPIRY_DAYS``: lowering it shortens cookies, never revives
    one); when it lacks a signed issue time or session (cookies of older versions); when the
    account was disabled, locked, logged out or revoked after the cookie was issued; when its
    session has ended; or when the session has been idle longer than the idle limit (the
    last activity is kept server side, so reloading the page cannot dodge it).
    """
    now = time.time() if now is None else now
    if not token:
        return None
    try:
        # PyJWT checks "iat" is not in the future; allow the same skew as below.
        claims = jwt.decode(token, key, algorithms=["HS256"], leeway=CLOCK_SKEW)
        username, sid = normalise(str(claims["username"])), str(claims["sid"])
        issued, exp = float(claims["iat"]), float(claims["exp_date"])
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return None
    if exp <= now or issued > now + CLOCK_SKEW or issued + expiry_days * 86400 <= now:
        return None
    if not session_ok(username, issued, now, sid=sid):
        return None
    with users.db() as con:
        row = con.execute("SELECT last_seen FROM sessions WHERE sid=?", (sid,)).fetchone()
        if row is None or row["last_seen"] < now - idle_seconds():
            con.execute("UPDATE sessions SET ended_at=?, end_reason='idle' WHERE sid=? AND ended_at IS NULL",
                        (now, sid))
            return None  # idle too long: the idle limit must not be dodged by reloading the page
    return username, sid


def cookie_login(token: str | None, key: str, expiry_days: float, now: float | None = None) -> str | None:
    """The username a re-login cookie may log in, or None (see cookie_session)."""
    found = cookie_session(token, key, expiry_days, now)
    return found[0] if found else None


# ---- administration (every change is audited) --------------------------------------------


def _owner_note(user: access.User | None) -> str:
    return user.partner if user else ""


def add_user(actor: str, username: str, password: str, *, name: str, role: str, partner: str,
             areas=(), email: str = "") -> access.User:
    u = users.add_user(username, password, name=name, role=role, partner=partner, areas=areas, email=email)
    audit.record(actor, "user_add", target=username,
                 details={"role": role, "partner": partner, "areas": list(areas)}, data_owner=partner)
    return u


def set_access(actor: str, username: str, *, role: str, partner: str, areas=()) -> None:
    before = next((u for u in users.list_all() if u["username"] == username), None)
    users.update_user(username, role=role, partner=partner, areas=tuple(areas))
    audit.record(actor, "user_change", target=username, details={
        "before": {k: list(v) if k == "areas" else v for k, v in (before or {}).items()
                   if k in ("role", "partner", "areas")},
        "after": {"role": role, "partner": partner, "areas": list(areas)}}, data_owner=partner)


def set_disabled(actor: str, username: str, disabled: bool) -> None:
    users.update_user(username, disabled=disabled)
    if disabled:
        end_sessions(username, reason="disabled")
    audit.record(actor, "user_disable" if disabled else "user_enable", target=username)


def reset_password(actor: str, username: str, password: str) -> None:
    problem = users.password_problem(password, username)
    if problem:
        raise users.UserError(problem)
    users.update_user(username, password_hash=users.hash_password(password))
    end_sessions(username, reason="password_reset")  # a reset also throws out whoever may have been using the old one
    unlock(actor, username, audited=False)
    audit.record(actor, "password_reset", target=username)


def revoke_sessions(actor: str, username: str) -> None:
    end_sessions(username, reason="revoked")
    audit.record(actor, "revoke_sessions", target=username)


def unlock(actor: str, username: str, audited: bool = True) -> None:
    with _locked(normalise(username)) as con:
        _state(con, normalise(username))
        con.execute("UPDATE account_state SET failed=0, locked_until=0 WHERE username=?",
                    (normalise(username),))
    if audited:
        audit.record(actor, "user_unlock", target=username)


# ---- command line ------------------------------------------------------------------------


def _cmd(args) -> int:
    actor = "cli"
    if users.get_user(args.username) is None and args.account_action != "enable":
        if not any(u["username"] == args.username for u in users.list_all()):
            print(f"error: no user '{args.username}'", file=sys.stderr)
            return 2
    if args.account_action == "disable":
        set_disabled(actor, args.username, True)
    elif args.account_action == "enable":
        set_disabled(actor, args.username, False)
    elif args.account_action == "unlock":
        unlock(actor, args.username)
    elif args.account_action == "revoke":
        revoke_sessions(actor, args.username)
    elif args.account_action == "reset-password":
        reset_password(actor, args.username, sys.stdin.readline().rstrip("\n"))
    print(f"{args.account_action}: {args.username} done")
    return 0


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("account", help="disable, enable, unlock, revoke sessions, reset password")
    p.add_argument("account_action", choices=["disable", "enable", "unlock", "revoke", "reset-password"])
    p.add_argument("username")
    p.set_defaults(fn=_cmd)
