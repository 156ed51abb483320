"""The audit trail: an append-only, hash-chained log in the app state database.

Who did what, when, and whose data it was: logins (success and failure), logouts, page views with
their filters, downloads and exports, board packs, uploads, publishes, rollbacks, and user and
permission changes. Any module records an event with one call::

    from csp import audit
    audit.record("jo", "publish", target="crime v000003", details={"rows": 1234}, data_owner="police")

Append-only: SQLite triggers refuse UPDATE and DELETE on the table. Tamper-evident: every entry
stores the SHA-256 of its own canonical JSON (which includes the previous entry's hash), so
editing, deleting or reordering any entry breaks the chain from that point; ``python -m csp audit
verify`` finds the first broken link. Someone with write access to the database file could still
rebuild the whole chain, so ``verify`` prints the head hash for keeping somewhere else.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import sqlite3
import sys
from dataclasses import dataclass

from . import config

GENESIS = "0" * 64

SCHEMA = """
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
CREATE INDEX IF NOT EXISTS audit_log_actor ON audit_log(actor);
CREATE INDEX IF NOT EXISTS audit_log_owner ON audit_log(data_owner);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

_ready: set[str] = set()
FIELDS = ("seq", "at", "actor", "action", "target", "details", "data_owner")


def _connect() -> sqlite3.Connection:
    path = config.app_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Autocommit mode: we issue BEGIN IMMEDIATE ourselves so reading the chain head and
    # appending to it is one atomic step, even with several app processes writing.
    con = sqlite3.connect(path, timeout=30, isolation_level=None)
    con.row_factory = sqlite3.Row
    if str(path) not in _ready:  # create the table and triggers once per database per process
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(SCHEMA)
        _ready.add(str(path))
    return con


def entry_hash(entry: dict, prev_hash: str) -> str:
    """SHA-256 over the canonical JSON (sorted keys, no spaces) of the entry and the previous hash."""
    body = {k: entry[k] for k in FIELDS}
    body["prev_hash"] = prev_hash
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _owners(data_owner) -> str:
    if not data_owner:
        return ""
    if isinstance(data_owner, str):
        return data_owner
    return ",".join(sorted({o for o in data_owner if o}))


def record(actor: str | None, action: str, target: str = "", details: dict | None = None,
           data_owner: str | list | tuple | set | None = None) -> int:
    """Append one entry; returns its sequence number.

    ``actor``: username (or "cli", "anonymous"); ``action``: a short verb such as login,
    login_failed, logout, view, download, export, board_pack, upload, publish, rollback,
    user_add, user_change, revoke_sessions, view_as; ``target``: what it was done to (page, query,
    dataset version, username); ``details``: JSON-serialisable specifics (filters, versions, rows);
    ``data_owner``: the partner(s) whose data was involved, so owners can see who used it.
    """
    details_json = json.dumps(details or {}, sort_keys=True, separators=(",", ":"), default=str)
    at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
    con = _connect()
    try:
        con.execute("BEGIN IMMEDIATE")
        last = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        prev = last["hash"] if last else GENESIS
        seq = (last["seq"] + 1) if last else 1
        entry = {"seq": seq, "at": at, "actor": actor or "anonymous", "action": action,
                 "target": str(target or ""), "details": details_json, "data_owner": _owners(data_owner)}
        con.execute(
            "INSERT INTO audit_log (seq, at, actor, action, target, details, data_owner, prev_hash, hash)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (*[entry[k] for k in FIELDS], prev, entry_hash(entry, prev)),
        )
        con.execute("COMMIT")
        return seq
    except BaseException:
        con.execute("ROLLBACK") if con.in_transaction else None
        raise
    finally:
        con.close()


@dataclass(frozen=True)
class Verification:
    intact: bool
    entries: int
    head: str
    broken_at: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.intact:
            return f"intact: {self.entries} entries, head {self.head}"
        return f"broken at entry {self.broken_at}: {self.reason}"


def verify() -> Verification:
    """Walk the chain from the start; report the first entry whose link or hash does not hold."""
    con = _connect()
    try:
        prev, expected_seq, n = GENESIS, 1, 0
        for row in con.execute("SELECT * FROM audit_log ORDER BY seq"):
            entry = {k: row[k] for k in FIELDS}
            if row["seq"] != expected_seq:
                return Verification(False, n, prev, expected_seq,
                                    f"entry {expected_seq} is missing (next is {row['seq']})")
            if row["prev_hash"] != prev:
                return Verification(False, n, prev, row["seq"], "does not link to the previous entry")
            if entry_hash(entry, prev) != row["hash"]:
                return Verification(False, n, prev, row["seq"], "contents do not match its hash")
            prev, expected_seq, n = row["hash"], expected_seq + 1, n + 1
        return Verification(True, n, prev)
    finally:
        con.close()


def search(actor: str | None = None, action: str | None = None, data_owner: str | None = None,
           text: str | None = None, since: str | None = None, until: str | None = None,
           limit: int = 1000) -> list[dict]:
    """Entries newest first. ``data_owner`` matches one partner within a multi-owner entry;
    ``since``/``until`` are ISO dates (inclusive); ``text`` matches target or details."""
    where, args = [], []
    if actor:
        where.append("actor = ?"); args.append(actor)
    if action:
        where.append("action = ?"); args.append(action)
    if data_owner:
        where.append("(',' || data_owner || ',') LIKE ?"); args.append(f"%,{data_owner},%")
    if text:
        where.append("(instr(lower(target), lower(?)) > 0 OR instr(lower(details), lower(?)) > 0)")
        args += [text, text]
    if since:
        where.append("at >= ?"); args.append(since)
    if until:
        where.append("substr(at, 1, 10) <= ?"); args.append(until)
    sql = "SELECT seq, at, actor, action, target, details, data_owner FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq DESC LIMIT ?"
    con = _connect()
    try:
        return [dict(r) for r in con.execute(sql, (*args, int(limit)))]
    finally:
        con.close()


def to_csv(rows: list[dict]) -> str:
    from .export import defuse

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(FIELDS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: defuse(str(r[k])) if isinstance(r[k], str) else r[k] for k in FIELDS})
    return buf.getvalue()


def owners_of(datasets) -> list[str]:
    """The partners who own these datasets under the sharing policy (for ``data_owner``)."""
    from . import access, catalog

    spec = access.policy().get("datasets", {})
    names = {catalog.base(d) for d in datasets}  # a cube's owner is its parent's
    return sorted({spec[d]["owner"] for d in names if d in spec and spec[d].get("owner")})


# ---- command line ------------------------------------------------------------------------


def _cmd(args) -> int:
    if args.audit_action == "verify":
        v = verify()
        print(v)
        return 0 if v.intact else 1
    rows = search(actor=args.actor, action=args.action, data_owner=args.owner, text=args.text,
                  since=args.since, until=args.until, limit=args.limit)
    if args.format == "csv":
        sys.stdout.write(to_csv(rows))
    else:
        for r in rows:
            print(f"{r['seq']}\t{r['at']}\t{r['actor']}\t{r['action']}\t{r['target']}\t"
                  f"{r['data_owner']}\t{r['details']}")
    return 0


def _audited_export(fn):
    """Wrap the CLI `export` command so every export is recorded (who, query, params, owners)."""
    def run(args) -> int:
        code = fn(args)
        if code == 0:
            from . import queries

            try:
                datasets = queries.get(args.query).datasets
            except queries.QueryError:
                datasets = ()
            record(args.as_user, "export", target=args.query,
                   details={"channel": "cli", "params": args.param or [], "format": args.format},
                   data_owner=owners_of(datasets))
        return code
    return run


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("audit", help="verify or search the audit trail")
    sub = p.add_subparsers(dest="audit_action", required=True)
    sub.add_parser("verify", help='check the hash chain: prints "intact" or the first broken link')
    ls = sub.add_parser("list", help="search the log (newest first)")
    ls.add_argument("--actor")
    ls.add_argument("--action")
    ls.add_argument("--owner", help="partner whose data was involved")
    ls.add_argument("--text", help="text in the target or details")
    ls.add_argument("--since", help="YYYY-MM-DD")
    ls.add_argument("--until", help="YYYY-MM-DD")
    ls.add_argument("--limit", type=int, default=1000)
    ls.add_argument("--format", choices=["tsv", "csv"], default="tsv")
    p.set_defaults(fn=_cmd)
    export = subparsers.choices.get("export")
    if export is not None:
        export.set_defaults(fn=_audited_export(export.get_default("fn")))
