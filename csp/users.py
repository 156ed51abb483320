"""User accounts in the app state database (SQLite under the data directory).

Passwords are bcrypt hashes in exactly the form streamlit-authenticator's Hasher makes and its
login widget checks (bcrypt.hashpw with a fresh salt); we call bcrypt directly so the CLI need not
import Streamlit. Users live in a database table, not a YAML file rewritten on every login.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager

import bcrypt

from . import access, config

MIN_PASSWORD = 10
BCRYPT_ROUNDS = 12  # bcrypt's default cost; tests lower it to keep the suite fast

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    partner TEXT NOT NULL,
    areas TEXT NOT NULL DEFAULT '[]',
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
"""


class UserError(ValueError):
    pass


@contextmanager
def db():
    path = config.app_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=10)
    con.row_factory = sqlite3.Row
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(SCHEMA)
        yield con
        con.commit()
    except Exception:
        con.rollback()
        raise
    finally:
        con.close()


def _valid_username(username: str) -> None:
    import re

    if not re.fullmatch(r"[a-z][a-z0-9_.-]{2,39}", username or ""):
        raise UserError("Usernames are 3-40 characters: lower-case letters, digits, '.', '_' or '-'.")


def add_user(username: str, password: str, *, name: str | None = None, role: str, partner: str,
             areas: list[str] | tuple[str, ...] = (), email: str = "", replace: bool = False) -> access.User:
    _valid_username(username)
    user = access.User(username, name or username, role, partner, tuple(areas))  # validates role etc.
    if len(password or "") < MIN_PASSWORD:
        raise UserError(f"Passwords must be at least {MIN_PASSWORD} characters.")
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()
    with db() as con:
        exists = con.execute("SELECT 1 FROM users WHERE username=?", (username,)).fetchone()
        if exists and not replace:
            raise UserError(f"User '{username}' already exists.")
        con.execute(
            "INSERT OR REPLACE INTO users (username, name, email, password_hash, role, partner, areas)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (username, user.name, email, hashed, role, partner, json.dumps(list(areas))),
        )
    return user


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
