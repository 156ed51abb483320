"""The embedded backend: one SQLite file (WAL mode) under the data directory.

A connection per transaction (opening a SQLite file costs microseconds). Writers are serialised
by SQLite itself: a transaction that takes a named lock starts with BEGIN IMMEDIATE, which holds
the database's single write lock from the start, so a read-then-append (the audit head) cannot
interleave with another process's."""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .base import Conn, Result, Row, StateError

_migrated: set[str] = set()
_mlock = threading.Lock()


def path_of(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///").removeprefix("sqlite://"))


class SqliteConn(Conn):
    dialect = "sqlite"

    def __init__(self, con: sqlite3.Connection):
        self.con = con

    def execute(self, sql, params=()):
        cur = self.con.execute(sql, tuple(params))
        if cur.description is None:
            return Result([], cur.rowcount)
        index = {d[0]: i for i, d in enumerate(cur.description)}
        return Result([Row(index, r) for r in cur.fetchall()], cur.rowcount)

    def script(self, sql: str) -> None:
        """Run several statements inside the current transaction (executescript would commit
        first): split where SQLite says a statement is complete (triggers contain ';')."""
        buf = ""
        for line in sql.splitlines(keepends=True):
            buf += line
            if sqlite3.complete_statement(buf):
                self.con.execute(buf)
                buf = ""
        if buf.strip():
            raise StateError(f"incomplete SQL statement in a migration: {buf.strip()[:60]}")


def _open(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # The sqlite3 module's own transaction handling: reads before the first write run outside a
    # transaction, and a write begins one that waits (busy timeout) for the write lock. So a
    # read-then-write can never fail on a stale read snapshot. A named lock begins IMMEDIATE.
    return sqlite3.connect(path, timeout=30)


def _migrate(url: str, path: Path) -> None:
    from . import migrations

    with _mlock:
        if url in _migrated:
            return
        con = _open(path)
        try:
            con.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            con.execute("BEGIN IMMEDIATE")
            try:
                migrations.apply(SqliteConn(con))
                con.commit()
            except BaseException:
                con.rollback()
                raise
        finally:
            con.close()
        _migrated.add(url)


@contextmanager
def connect(url: str, lock: str | None, snapshot: bool = False) -> Iterator[SqliteConn]:
    path = path_of(url)
    if url not in _migrated:
        _migrate(url, path)
    con = _open(path)
    try:
        if lock:
            con.execute("BEGIN IMMEDIATE")
        elif snapshot:
            con.execute("BEGIN")  # WAL: the first read fixes the snapshot for the transaction
        try:
            yield SqliteConn(con)
            con.commit()
        except BaseException:
            con.rollback()
            raise
    finally:
        con.close()


def reset() -> None:
    with _mlock:
        _migrated.clear()
