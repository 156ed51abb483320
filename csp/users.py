"""User accounts in the app state database (csp.state: SQLite by default, or PostgreSQL).

Passwords are bcrypt hashes in exactly the form streamlit-authenticator's Hasher makes and its
login widget checks (bcrypt.hashpw with a fresh salt); we call bcrypt directly so the CLI need not
import Streamlit. Users live in a database table, not a YAML file rewritten on every login.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from functools import lru_cache
from pathlib import Path

import bcrypt

from . import access, state

MIN_PASSWORD = 10
BCRYPT_ROUNDS = 12  # bcrypt's default cost; tests lower it to keep the suite fast


class UserError(ValueError):
    pass


def db():
    """One transaction on the app state (csp.state: SQLite by default, PostgreSQL when
    CSP_DATABASE_URL says so)."""
    return state.connect()


def _valid_username(username: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_.-]{2,39}", username or ""):
        raise UserError("Usernames are 3-40 characters: lower-case letters, digits, '.', '_' or '-'.")


def add_user(username: str, password: str, *, name: str | None = None, role: str, partner: str,
             areas: list[str] | tuple[str, ...] = (), email: str = "", replace: bool = False) -> access.User:
    _valid_username(username)
    user = access.User(username, name or username, role, partner, tuple(areas))  # validates role etc.
    problem = password_problem(password, username)
    if problem:
        raise UserError(problem)
    hashed = hash_password(password)
    with db() as con:
        exists = con.execute("SELECT 1 FROM users WHERE username=?", (username,)).fetchone()
        if exists and not replace:
            raise UserError(f"User '{username}' already exists.")
        con.execute(
            "INSERT INTO users (username, name, email, password_hash, role, partner, areas, disabled, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT (username) DO UPDATE SET name=excluded.name,"
            " email=excluded.email, password_hash=excluded.password_hash, role=excluded.role,"
            " partner=excluded.partner, areas=excluded.areas, disabled=0",
            (username, user.name, email, hashed, role, partner, json.dumps(list(areas)),
             dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")),
        )
    return user


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(
        line.strip().lower() for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )


def password_problem(password: str, username: str = "") -> str | None:
    """Why a password is not acceptable, or None. Length first (NCSC/NIST: length beats
    complexity rules), then a check against commonly used passwords, ignoring case and
    trailing digits/symbols ('Password2024!' is still 'password')."""
    password = password or ""
    if len(password) < MIN_PASSWORD:
        return f"Passwords must be at least {MIN_PASSWORD} characters."
    if len(password.encode()) > 72:  # bcrypt's limit
        return "Passwords may be at most 72 bytes (about 70 letters)."
    low = password.lower()
    stem = re.sub(r"[\d\W_]+$", "", low)
    common = _common_passwords()
    if low in common or stem in common or (username and username.lower() in {low, stem}):
        return "That password is too common or too easy to guess; please choose another."
    return None


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()


def get_user(username: str) -> access.User | None:
    with db() as con:
        row = con.execute(
            "SELECT * FROM users WHERE username=? AND disabled=0", (username or "",)
        ).fetchone()
    return _to_user(row) if row else None


def _to_user(row) -> access.User:
    return access.User(row["username"], row["name"], row["role"], row["partner"],
                       tuple(json.loads(row["areas"])))


def list_users() -> list[access.User]:
    with db() as con:
        rows = con.execute("SELECT * FROM users WHERE disabled=0 ORDER BY username").fetchall()
    return [_to_user(r) for r in rows]


def list_all() -> list[dict]:
    """Every account, disabled ones included (for the admin page): plain dicts, no hashes."""
    with db() as con:
        rows = con.execute("SELECT * FROM users ORDER BY username").fetchall()
    return [
        {"username": r["username"], "name": r["name"], "email": r["email"], "role": r["role"],
         "partner": r["partner"], "areas": tuple(json.loads(r["areas"])),
         "disabled": bool(r["disabled"]), "created_at": r["created_at"]}
        for r in rows
    ]


def password_hash(username: str) -> str | None:
    """The stored hash of an active account (None if unknown or disabled)."""
    with db() as con:
        row = con.execute("SELECT password_hash FROM users WHERE username=? AND disabled=0",
                          (username or "",)).fetchone()
    return row["password_hash"] if row else None


def update_user(username: str, **changes) -> None:
    """Change name, email, role, partner, areas, disabled or password_hash of an existing user.
    Role, partner and areas are validated through access.User like a new account."""
    allowed = {"name", "email", "role", "partner", "areas", "disabled", "password_hash"}
    bad = set(changes) - allowed
    if bad:
        raise UserError(f"cannot change {', '.join(sorted(bad))}")
    with db() as con:
        row = con.execute("SELECT * FROM users WHERE username=?", (username,)).fetchone()
        if row is None:
            raise UserError(f"No user '{username}'.")
        current = _to_user(row)
        areas = tuple(changes.get("areas", current.areas))
        access.User(username, changes.get("name", current.name), changes.get("role", current.role),
                    changes.get("partner", current.partner), areas)  # validates
        values = dict(changes)
        if "areas" in values:
            values["areas"] = json.dumps(list(areas))
        if "disabled" in values:
            values["disabled"] = int(bool(values["disabled"]))
        sets = ", ".join(f"{k}=?" for k in values)
        con.execute(f"UPDATE users SET {sets} WHERE username=?", (*values.values(), username))


def credentials() -> dict:
    """The credentials mapping streamlit-authenticator expects, built fresh from the database."""
    with db() as con:
        rows = con.execute("SELECT * FROM users WHERE disabled=0").fetchall()
    return {
        "usernames": {
            r["username"]: {
                "name": r["name"], "email": r["email"], "password": r["password_hash"],
                "roles": [r["role"]], "failed_login_attempts": 0, "logged_in": False,
            }
            for r in rows
        }
    }


# Demo logins for the fictional Fenmouth area (make run / python -m csp demo). The password is
# published in README.md on purpose: demo data is fictional, and the app says it is in demo mode.
DEMO_PASSWORD = "fenmouth-demo"
DEMO_USERS = [
    # username, display name, role, partner, ward scope
    ("board.police", "Pat Board (Police)", "board", "police", []),
    ("board.council", "Chris Board (Council)", "board", "council", []),
    ("board.health", "Sam Board (Health)", "board", "health", []),
    ("analyst.police", "Alex Analyst (Police)", "analyst", "police", []),
    ("analyst.probation", "Jo Analyst (Probation)", "analyst", "probation", []),
    ("analyst.health", "Kim Analyst (Health)", "analyst", "health", []),
    ("officer.housing", "Lee Officer (Housing)", "practitioner", "housing", ["E05999001", "E05999002"]),
    ("officer.fire", "Ray Officer (Fire)", "practitioner", "fire", ["E05999003"]),
    ("admin", "Ada Admin (Council)", "admin", "council", []),
    # The other partners' analysts, who upload their own data (issue 15).
    ("analyst.fire", "Fran Analyst (Fire)", "analyst", "fire", []),
    ("analyst.council", "Cal Analyst (Council)", "analyst", "council", []),
    ("analyst.housing", "Hal Analyst (Housing)", "analyst", "housing", []),
    ("analyst.youth", "Yas Analyst (Youth justice)", "analyst", "youth_justice", []),
]


def ensure_demo_users() -> list[str]:
    """Create any missing demo user (idempotent; existing accounts are left alone)."""
    made = []
    for username, name, role, partner, areas in DEMO_USERS:
        with db() as con:
            if con.execute("SELECT 1 FROM users WHERE username=?", (username,)).fetchone():
                continue
        add_user(username, DEMO_PASSWORD, name=name, role=role, partner=partner, areas=areas)
        made.append(username)
    return made
