"""The app state schema, as ordered migrations applied once per database, for both backends.

Each migration is (version, name, steps). A step is SQL both databases accept, a dict with the
``sqlite`` and ``postgresql`` spelling where they differ (auto-increment keys, triggers, date
defaults), or a ``Call("module:function")`` made with the open connection for work SQL cannot do (signing
the audit chain's head). ``schema_migrations`` records what has been applied; everything runs in
the caller's transaction under a lock, so a half-applied migration is rolled back whole and two
processes starting together apply each step once.

Version 1 is the schema the app had before migrations existed, written with IF NOT EXISTS so an
existing ``app.db`` is adopted as it is. Never edit a released migration: add a new one.
"""
from __future__ import annotations

import datetime as dt
import importlib

from .base import Conn

SQLITE, PG = "sqlite", "postgresql"


class Call(str):
    """A step done in Python: "module:function", called with the open connection."""

MIGRATIONS: list[tuple[int, str, list]] = [
    (1, "users, account state, audit log, upload mappings and retention", [
        {SQLITE: """
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
);""", PG: """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    partner TEXT NOT NULL,
    areas TEXT NOT NULL DEFAULT '[]',
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
);"""},
        # DOUBLE PRECISION, not REAL: PostgreSQL's REAL is 4 bytes, about 2 minutes of
        # resolution on a Unix time. (SQLite stores both as 8-byte floats.)
        """
CREATE TABLE IF NOT EXISTS account_state (
    username TEXT PRIMARY KEY,
    failed INTEGER NOT NULL DEFAULT 0,
    locked_until DOUBLE PRECISION NOT NULL DEFAULT 0,
    sessions_valid_after DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_seen DOUBLE PRECISION NOT NULL DEFAULT 0
);""",
        {SQLITE: """
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}',
    data_owner TEXT NOT NULL DEFAULT '',
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;""", PG: """
CREATE TABLE IF NOT EXISTS audit_log (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}',
    data_owner TEXT NOT NULL DEFAULT '',
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
DROP TRIGGER IF EXISTS audit_log_no_update ON audit_log;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log;
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();"""},
        "CREATE INDEX IF NOT EXISTS audit_log_actor ON audit_log(actor);",
        "CREATE INDEX IF NOT EXISTS audit_log_owner ON audit_log(data_owner);",
        """
CREATE TABLE IF NOT EXISTS upload_mappings (
    partner TEXT NOT NULL, dataset TEXT NOT NULL, source_column TEXT NOT NULL,
    target_column TEXT NOT NULL, updated_by TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (partner, dataset, source_column)
);""",
        """
CREATE TABLE IF NOT EXISTS upload_retention (
    dataset TEXT PRIMARY KEY, days INTEGER NOT NULL, set_by TEXT NOT NULL, set_at TEXT NOT NULL
);""",
    ]),
    (2, "login sessions, the audit chain's signed head, saved views, settings", [
        # One row per login (password or re-login cookie chain): the cookie names its session,
        # so logout, revocation and the idle limit are decided here, not by the cookie.
        """
CREATE TABLE sessions (
    sid TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    issued_at DOUBLE PRECISION NOT NULL,
    last_seen DOUBLE PRECISION NOT NULL,
    ended_at DOUBLE PRECISION,
    end_reason TEXT NOT NULL DEFAULT ''
);""",
        "CREATE INDEX sessions_user ON sessions(username);",
        # The chain's head, updated in the same transaction as every append (the row lock /
        # write lock serialises appenders) and signed with a key that is not in the database.
        """
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    key_id TEXT NOT NULL,
    mac TEXT NOT NULL
);""",
        Call("csp.audit:anchor_existing"),
        {SQLITE: """
CREATE TABLE saved_views (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    dataset TEXT NOT NULL,
    spec TEXT NOT NULL DEFAULT '{}',
    sharing TEXT NOT NULL DEFAULT 'private' CHECK (sharing IN ('private', 'partner', 'partnership')),
    pinned INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);""", PG: """
CREATE TABLE saved_views (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    dataset TEXT NOT NULL,
    spec TEXT NOT NULL DEFAULT '{}',
    sharing TEXT NOT NULL DEFAULT 'private' CHECK (sharing IN ('private', 'partner', 'partnership')),
    pinned INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);"""},
        "CREATE INDEX saved_views_owner ON saved_views(owner);",
        """
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);""",
    ]),
    (3, "saved views keep the owner's partner (for sharing); pins and dashboard layouts", [
        "ALTER TABLE saved_views ADD COLUMN partner TEXT NOT NULL DEFAULT '';",
        """
CREATE TABLE saved_view_pins (
    username TEXT NOT NULL,
    view_id BIGINT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (username, view_id)
);""",
        """
CREATE TABLE dashboard_layouts (
    username TEXT PRIMARY KEY,
    layout TEXT NOT NULL,
    updated_at TEXT NOT NULL
);""",
    ]),
]

LATEST = MIGRATIONS[-1][0]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def applied(con: Conn) -> dict[int, str]:
    rows = con.execute("SELECT version, applied_at FROM schema_migrations ORDER BY version").fetchall()
    return {r["version"]: r["applied_at"] for r in rows}


def apply(con: Conn) -> list[int]:
    """Apply every migration this database has not had, in order; returns the versions applied.
    The caller holds the transaction and the migration lock."""
    con.script("""
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
);""")
    done = applied(con)
    newer = [v for v in done if v > LATEST]
    if newer:
        from .base import StateError

        raise StateError(f"the app state database is at schema version {max(newer)}, newer than this "
                         f"app ({LATEST}): upgrade the app, or point it at the right database")
    ran = []
    for version, name, steps in MIGRATIONS:
        if version in done:
            continue
        for step in steps:
            if isinstance(step, dict):
                con.script(step[con.dialect])
            elif isinstance(step, Call):
                module, fn = step.split(":")
                getattr(importlib.import_module(module), fn)(con)
            else:
                con.script(step)
        con.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, _now()))
        ran.append(version)
    return ran
