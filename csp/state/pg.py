"""The shared backend: PostgreSQL through psycopg 3, with a small connection pool per process.

Statements arrive with ``?`` placeholders and are rewritten to psycopg's ``%s`` (a literal ``%``
doubled). A named lock is a transaction-scoped advisory lock (``pg_advisory_xact_lock``), held
until commit or rollback, so every process and machine appending to the audit chain takes turns.
Migrations run on a connection of their own under an advisory lock, so replicas starting at the
same moment do not race to create tables."""
from __future__ import annotations

import functools
import hashlib
import os
import threading
from contextlib import contextmanager
from typing import Iterator

from .base import Conn, Result, Row, StateError

_pools: dict[tuple[str, int], object] = {}
_migrated: set[str] = set()
_lock = threading.Lock()
MIGRATE_LOCK = "csp-state-migrate"


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for an advisory lock name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@functools.lru_cache(maxsize=512)
def _sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PgConn(Conn):
    dialect = "postgresql"

    def __init__(self, con):
        self.con = con

    def execute(self, sql, params=()):
        params = tuple(params)
        cur = self.con.execute(_sql(sql), params) if params else self.con.execute(sql)
        if cur.description is None:
            return Result([], cur.rowcount)
        index = {d.name: i for i, d in enumerate(cur.description)}
        return Result([Row(index, r) for r in cur.fetchall()], cur.rowcount)

    def script(self, sql: str) -> None:
        self.con.execute(sql)  # no parameters: psycopg sends it as one simple query

    def lock(self, name: str) -> None:
        self.con.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(name),))


def _fail(url: str, e: Exception) -> StateError:
    from . import describe

    # psycopg's message names host and port, never the password; keep only its first line.
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return StateError(f"cannot use the app state database {describe(url)}: {first}")


def _migrate(url: str) -> None:
    import psycopg

    from . import migrations

    with _lock:
        if url in _migrated:
            return
        try:
            with psycopg.connect(url, connect_timeout=10) as con:  # commits on leaving the block
                c = PgConn(con)
                c.lock(MIGRATE_LOCK)
                migrations.apply(c)
        except psycopg.OperationalError as e:
            raise _fail(url, e) from None
        _migrated.add(url)


def _pool(url: str):
    from psycopg_pool import ConnectionPool

    key = (url, os.getpid())  # a forked child must not share its parent's sockets
    pool = _pools.get(key)
    if pool is None:
        with _lock:
            pool = _pools.get(key)
            if pool is None:
                size = int(os.environ.get("CSP_DB_POOL", "8"))
                pool = ConnectionPool(url, min_size=1, max_size=max(1, size), open=True,
                                      name="csp-state", timeout=30, kwargs={"connect_timeout": 10})
                _pools[key] = pool
    return pool


@contextmanager
def connect(url: str, lock: str | None, snapshot: bool = False) -> Iterator[PgConn]:
    import psycopg
    from psycopg_pool import PoolTimeout

    if url not in _migrated:
        _migrate(url)
    try:
        with _pool(url).connection() as con:  # commits on success, rolls back on an exception
            c = PgConn(con)
            if snapshot:
                con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            if lock:
                c.lock(lock)
            yield c
    except (psycopg.OperationalError, PoolTimeout) as e:
        raise _fail(url, e) from None


def reset() -> None:
    with _lock:
        for (url, pid), pool in list(_pools.items()):
            if pid == os.getpid():
                pool.close()
        _pools.clear()
        _migrated.clear()
