"""App settings that administrators change at run time (the partnership's area, its name), kept
in the app state database with every change audited. Values are JSON."""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager

from . import config

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
"""


@contextmanager
def _db():
    path = config.app_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=10)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(SCHEMA)
        yield con
        con.commit()
    finally:
        con.close()


def get(key: str, default=None):
    with _db() as con:
        row = con.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return default if row is None else json.loads(row[0])


def set(key: str, value, *, by: str) -> None:  # noqa: A001 (the module's verb)
    from . import audit

    text = json.dumps(value)
    with _db() as con:
        con.execute("INSERT INTO settings (key, value, updated_by, updated_at) VALUES (?, ?, ?, datetime('now')) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, "
                    "updated_at = excluded.updated_at", (key, text, by))
    audit.record(by, "setting", target=key, details={"value": value})


def all() -> dict:  # noqa: A001
    with _db() as con:
        return {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM settings ORDER BY key")}
