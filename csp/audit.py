"""The audit trail: an append-only, hash-chained log in the app state database, with its head
signed by a key kept outside the database.

Who did what, when, and whose data it was: logins (success and failure), logouts, page views with
their filters, downloads and exports, board packs, uploads, publishes, rollbacks, and user and
permission changes. Any module records an event with one call::

    from csp import audit
    audit.record("jo", "publish", target="crime v000003", details={"rows": 1234}, data_owner="police")

Append-only: triggers refuse UPDATE and DELETE (and, on PostgreSQL, TRUNCATE). Tamper-evident:
every entry stores the SHA-256 of its own canonical JSON (which includes the previous entry's
hash), so editing, deleting or reordering any entry breaks the chain from that point. One chain
however many processes append: each append holds the database's "audit" lock (SQLite's write
lock / a PostgreSQL advisory lock) while it reads the head and writes the next entry.

The head is anchored: ``audit_head`` holds the last entry's number and hash with an HMAC made
with the audit key (``config.audit_key``: CSP_AUDIT_KEY, never stored in the database), updated
in the same transaction as every append. Cutting entries off the end, or rebuilding the chain
with recomputed hashes, leaves a head that no longer matches, and without the key it cannot be
re-signed. ``python -m csp audit verify`` checks the chain and the signed head. If an append
finds the head does not match, it first writes an ``audit_checkpoint_failed`` entry saying what
it found, so the evidence stays in the chain and ``verify`` keeps reporting it.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import sys
from dataclasses import dataclass

from . import config, state

GENESIS = "0" * 64
FIELDS = ("seq", "at", "actor", "action", "target", "details", "data_owner")
CHECKPOINT_FAILED = "audit_checkpoint_failed"
LOCK = "audit"


def entry_hash(entry: dict, prev_hash: str) -> str:
    """SHA-256 over the canonical JSON (sorted keys, no spaces) of the entry and the previous hash."""
    body = {k: entry[k] for k in FIELDS}
    body["prev_hash"] = prev_hash
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def key_id(key: bytes) -> str:
    """Names a key without revealing it, so a process with the wrong key is told so."""
    return hmac.new(key, b"csp-audit-key-id", hashlib.sha256).hexdigest()[:16]


def head_mac(key: bytes, seq: int, hash_: str) -> str:
    return hmac.new(key, f"csp-audit-head\n{int(seq)}\n{hash_}".encode(), hashlib.sha256).hexdigest()


def _owners(data_owner) -> str:
    if not data_owner:
        return ""
    if isinstance(data_owner, str):
        return data_owner
    return ",".join(sorted({o for o in data_owner if o}))


def _sign_head(con, key: bytes, seq: int, hash_: str) -> None:
    con.execute(
        "INSERT INTO audit_head (id, seq, hash, key_id, mac) VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO "
        "UPDATE SET seq=excluded.seq, hash=excluded.hash, key_id=excluded.key_id, mac=excluded.mac",
        (seq, hash_, key_id(key), head_mac(key, seq, hash_)))


def anchor_existing(con) -> None:
    """Migration step: sign the head of the log as it stands (empty, or written before heads
    were signed). The audit key is made here if none is configured: this starts the anchor."""
    key = config.audit_key(create=True)
    last = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    _sign_head(con, key, last["seq"] if last else 0, last["hash"] if last else GENESIS)


def _head_problem(head, last, key: bytes) -> str | None:
    """What is wrong with the signed head given the log's last entry, or None.
    Raises ConfigError when the head was signed with another key (a configuration mistake)."""
    last_seq, last_hash = (last["seq"], last["hash"]) if last else (0, GENESIS)
    if head is None:
        return "the signed checkpoint is missing"
    if head["key_id"] != key_id(key):
        raise config.ConfigError(
            "The audit log's checkpoint was signed with a different audit key: set CSP_AUDIT_KEY to "
            "the key the app uses (nothing was written).")
    if not hmac.compare_digest(head["mac"], head_mac(key, head["seq"], head["hash"])):
        return "the checkpoint's signature does not match it (it was edited)"
    if head["seq"] > last_seq:
        return (f"entries {last_seq + 1}-{head['seq']} are missing from the end "
                f"(the signed checkpoint names entry {head['seq']})")
    if head["seq"] < last_seq:
        return (f"entries {head['seq'] + 1}-{last_seq} were added without the audit key "
                f"(the signed checkpoint names entry {head['seq']})")
    if head["hash"] != last_hash:
        return f"entry {last_seq} is not the entry the signed checkpoint names: the log was rebuilt"
    return None


def _append(con, prev: str, seq: int, at: str, actor, action, target, details_json, owners) -> str:
    entry = {"seq": seq, "at": at, "actor": actor or "anonymous", "action": action,
             "target": str(target or ""), "details": details_json, "data_owner": owners}
    h = entry_hash(entry, prev)
    con.execute(
        "INSERT INTO audit_log (seq, at, actor, action, target, details, data_owner, prev_hash, hash)"
        " VALUES (?,?,?,?,?,?,?,?,?)", (*[entry[k] for k in FIELDS], prev, h))
    return h


def _canon(details) -> str:
    return json.dumps(details or {}, sort_keys=True, separators=(",", ":"), default=str)


def record(actor: str | None, action: str, target: str = "", details: dict | None = None,
           data_owner: str | list | tuple | set | None = None, con=None) -> int:
    """Append one entry; returns its sequence number.

    ``actor``: username (or "cli", "anonymous"); ``action``: a short verb such as login,
    login_failed, logout, view, download, export, board_pack, upload, publish, rollback,
    user_add, user_change, revoke_sessions, view_as; ``target``: what it was done to (page, query,
    dataset version, username); ``details``: JSON-serialisable specifics (filters, versions, rows);
    ``data_owner``: the partner(s) whose data was involved, so owners can see who used it.
    ``con``: append inside the caller's transaction (opened with ``state.connect(lock=audit.LOCK)``),
    so a change and its audit entry are committed together or not at all.
    """
    if con is not None:
        if hasattr(con, "lock"):
            con.lock(LOCK)  # PostgreSQL: re-entrant within the transaction
        return _record(con, actor, action, target, details, data_owner)
    with state.connect(lock=LOCK) as con:
        return _record(con, actor, action, target, details, data_owner)


def _record(con, actor, action, target, details, data_owner) -> int:
    details_json = _canon(details)
    key = config.audit_key()  # after connecting: a new database's migration makes the key
    at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
    head = con.execute("SELECT seq, hash, key_id, mac FROM audit_head WHERE id=1").fetchone()
    last = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    prev, seq = (last["hash"], last["seq"] + 1) if last else (GENESIS, 1)
    problem = _head_problem(head, last, key)
    if problem:  # keep the evidence in the chain before carrying on
        found = {"seq": head["seq"], "hash": head["hash"]} if head else None
        prev = _append(con, prev, seq, at, "system", CHECKPOINT_FAILED, "audit_log",
                       _canon({"problem": problem, "checkpoint": found}), "")
        seq += 1
    h = _append(con, prev, seq, at, actor, action, target, details_json, _owners(data_owner))
    _sign_head(con, key, seq, h)
    return seq


@dataclass(frozen=True)
class Verification:
    intact: bool
    entries: int
    head: str
    broken_at: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.intact:
            return f"intact: {self.entries} entries, head {self.head} (matches the signed checkpoint)"
        return f"broken at entry {self.broken_at}: {self.reason}"


def verify(expect: str | None = None) -> Verification:
    """Walk the chain from the start; report the first entry whose link or hash does not hold,
    an earlier checkpoint failure, or a head that does not match the signed checkpoint.

    ``expect`` is a head recorded earlier as "SEQ:HASH" (e.g. with a backup): the chain must
    still hold that entry, unchanged."""
    want = None
    if expect:
        seq_s, _, want_hash = expect.partition(":")
        if not seq_s.isdigit() or len(want_hash) != 64:
            return Verification(False, 0, GENESIS, 0, "--expect takes SEQ:HASH as verify printed them")
        want = (int(seq_s), want_hash)
    with state.connect(snapshot=True) as con:  # one consistent view while others append
        try:
            key = config.audit_key()
        except config.ConfigError as e:
            return Verification(False, 0, GENESIS, 0, f"cannot check the signed checkpoint: {e}")
        prev, expected_seq, n, last = GENESIS, 1, 0, None
        for row in con.execute("SELECT * FROM audit_log ORDER BY seq"):
            entry = {k: row[k] for k in FIELDS}
            if row["seq"] != expected_seq:
                return Verification(False, n, prev, expected_seq,
                                    f"entry {expected_seq} is missing (next is {row['seq']})")
            if row["prev_hash"] != prev:
                return Verification(False, n, prev, row["seq"], "does not link to the previous entry")
            if entry_hash(entry, prev) != row["hash"]:
                return Verification(False, n, prev, row["seq"], "contents do not match its hash")
            if row["action"] == CHECKPOINT_FAILED:
                found = json.loads(row["details"]).get("problem", "")
                return Verification(False, n, prev, row["seq"],
                                    f"when this entry was written the signed checkpoint did not match: {found}")
            if want and row["seq"] == want[0] and row["hash"] != want[1]:
                return Verification(False, n, prev, row["seq"], "differs from the head recorded earlier (--expect)")
            prev, expected_seq, n, last = row["hash"], expected_seq + 1, n + 1, row
        head = con.execute("SELECT seq, hash, key_id, mac FROM audit_head WHERE id=1").fetchone()
    try:
        problem = _head_problem(head, last, key)
    except config.ConfigError as e:
        return Verification(False, n, prev, n, str(e))
    if problem:
        return Verification(False, n, prev, n + 1 if head and head["seq"] > n else n, problem)
    if want and want[0] > n:
        return Verification(False, n, prev, n + 1, f"entry {want[0]} recorded earlier (--expect) is missing")
    return Verification(True, n, prev)


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
        where.append("TEXT_MATCH")
        args += [text, text]
    if since:
        where.append("at >= ?"); args.append(since)
    if until:
        where.append("substr(at, 1, 10) <= ?"); args.append(until)
    sql = "SELECT seq, at, actor, action, target, details, data_owner FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq DESC LIMIT ?"
    with state.connect() as con:
        sql = sql.replace("TEXT_MATCH", f"({con.contains('target')} OR {con.contains('details')})")
        return [dict(r) for r in con.execute(sql, (*args, int(limit)))]


def to_csv(rows: list[dict]) -> str:
    from .export import defuse

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(FIELDS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: defuse(str(r[k])) if isinstance(r[k], str) else r[k] for k in FIELDS})
    return buf.getvalue()


def owners_of(datasets, uses: bool = False) -> list[str]:
    """The partners who own these datasets under the sharing policy (for ``data_owner``).
    ``uses``: for a view, download or export, leave out lookups and published reference figures
    (areas, population): reading them is no use of a partner's data, and counting them put every
    partner's downloads in the council's "Use of our data"."""
    from . import access, catalog

    spec = access.policy().get("datasets", {})
    names = {catalog.base(d) for d in datasets}  # a cube's owner is its parent's
    if uses:
        names = {d for d in names if d in catalog.contracts() and catalog.contract(d).kind != "reference"}
    return sorted({spec[d]["owner"] for d in names if d in spec and spec[d].get("owner")})


# ---- command line ------------------------------------------------------------------------


def _cmd(args) -> int:
    if args.audit_action == "verify":
        v = verify(expect=args.expect)
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
                   data_owner=owners_of(datasets, uses=True))
        return code
    return run


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("audit", help="verify or search the audit trail")
    sub = p.add_subparsers(dest="audit_action", required=True)
    ver = sub.add_parser("verify", help='check the hash chain and its signed head: prints "intact" or the first broken link')
    ver.add_argument("--expect", metavar="SEQ:HASH",
                     help="a head recorded earlier (e.g. with a backup) that the chain must still hold")
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
