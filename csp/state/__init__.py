"""App state (users, sessions, lockout, the audit chain, mappings, retention, saved views,
settings) behind one small interface with two real backends:

- SQLite, the embedded default: ``<data dir>/app.db``, nothing to install or run;
- PostgreSQL through psycopg 3 when ``CSP_DATABASE_URL=postgresql://...``, so several app
  processes on several machines share one state.

Callers write SQL once with ``?`` placeholders and the statements both databases accept
(``INSERT ... ON CONFLICT``, no ``INSERT OR REPLACE``); the few real differences are handled in
:mod:`csp.state.migrations` and by :func:`Conn.dialect`. Rows are read by name or position::

    with state.connect() as con:            # one transaction: commit on success, else roll back
        row = con.execute("SELECT name FROM users WHERE username=?", ("jo",)).fetchone()
    with state.connect(lock="audit") as con:  # serialised with every other writer of "audit"

The schema is created and upgraded by versioned migrations the first time a process connects.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from .. import config
from .base import Conn, Row, StateError

__all__ = ["Conn", "Row", "StateError", "connect", "url", "backend", "describe"]


def url() -> str:
    """Where the state lives: ``CSP_DATABASE_URL``, or the SQLite file in the data directory."""
    return config.database_url()


def backend(u: str | None = None) -> str:
    u = u or url()
    return "postgresql" if u.startswith(("postgresql://", "postgres://")) else "sqlite"


def describe(u: str | None = None) -> str:
    """The state's location without any password, for messages and the CLI."""
    u = u or url()
    if backend(u) == "sqlite":
        return u
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(u)
    host = parts.hostname or ""
    netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@contextmanager
def connect(lock: str | None = None, snapshot: bool = False) -> Iterator[Conn]:
    """One transaction on the app state. ``lock`` names a critical section: the transaction
    then holds a database-wide lock of that name until it ends, so read-modify-write steps (the
    audit chain's head) are serialised across every process sharing the database.
    ``snapshot``: every read in the transaction sees the same moment (for a long read, such as
    verifying the audit chain, while others write)."""
    u = url()
    if backend(u) == "postgresql":
        from . import pg as impl
    else:
        from . import sqlite as impl
    with impl.connect(u, lock, snapshot) as con:
        yield con


def reset() -> None:
    """Forget pools and "already migrated" marks (tests switch databases under one process)."""
    from . import pg, sqlite

    pg.reset()
    sqlite.reset()

