"""Versioned Parquet store and the process's one DuckDB connection.

Layout under the data directory::

    datasets/<name>/versions/v000001/data.parquet   one immutable directory per version
    datasets/<name>/versions/v000001/meta.json      who, when, checksum, rows, coverage
    datasets/<name>/CURRENT                         the serving version id

Publishing writes a complete version in a temporary directory, fsyncs it, renames it into
``versions/`` and only then swaps ``CURRENT`` with ``os.replace`` (atomic on POSIX). A crash at
any point leaves the previous version serving; half-written temporary directories are ignored
and swept by the next publish.

Datasets of one group (``GROUPS``: crime and ASB come from the same police.uk files) are served
from one pointer, ``groups/<group>/CURRENT`` (``crime v000007`` / ``asb v000005`` lines), so
``atomic()`` can publish both, and ``rollback`` can restore both, with one ``os.replace``.
Every publish, rollback and purge is recorded in the audit trail here, whoever asks for it.
"""
from __future__ import annotations

import atexit
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

import duckdb

from . import audit, catalog, config
from .protection import cells, record_keys

_con: duckdb.DuckDBPyConnection | None = None
_con_lock = threading.Lock()


# DuckDB's memory: beyond it, sorts and joins spill to a private temporary folder instead of
# growing (unbounded, DuckDB may take 80% of RAM; a 10M-row publish sort held gigabytes).
# Dashboard queries read cubes and need a fraction of this.
DEFAULT_MEMORY_LIMIT = "1GB"


def connection() -> duckdb.DuckDBPyConnection:
    """One in-process DuckDB per process; callers take a cursor per thread (see cursor())."""
    global _con
    with _con_lock:
        if _con is None:
            spill = tempfile.mkdtemp(prefix="csp-duckdb-")  # per process: spill files never clash
            atexit.register(shutil.rmtree, spill, True)
            _con = duckdb.connect(":memory:", config={
                "threads": os.cpu_count() or 2,
                "memory_limit": os.environ.get("CSP_DUCKDB_MEMORY", DEFAULT_MEMORY_LIMIT),
                "temp_directory": spill,
            })
            cells.install(_con)  # total(), total_if(): how queries add up protected counts
        return _con


def cursor() -> duckdb.DuckDBPyConnection:
    return connection().cursor()


class StoreError(RuntimeError):
    pass


@dataclass(frozen=True)
class Version:
    dataset: str
    version: str
    path: Path
    meta: dict
    # Which version directory this was read from, as (meta.json, inode, mtime): a version id can
    # come back after a purge, so the id alone does not say the files are the same.
    stamp: tuple = ()

    @cached_property  # asked on every query; a Version never changes
    def files(self) -> list[str]:
        return [str(self.path / f) for f in self.meta["files"]]


def dataset_dir(name: str) -> Path:
    c = catalog.contract(name)  # unknown names fail here, before any path is built from them
    if c.cube_of:
        raise StoreError(f"{name} is a cube: it is written with each version of {c.cube_of}")
    return config.data_dir() / "datasets" / name


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


# ---- serving pointers: one CURRENT per dataset, or one per group of datasets ---------------

# Datasets that come from the same files are published and rolled back together.
GROUPS: dict[str, tuple[str, ...]] = {"police": ("asb", "crime")}
_GROUP_OF = {d: g for g, ds in GROUPS.items() for d in ds}
VERSION_ID = re.compile(r"v[0-9]{6}")


def group_of(name: str) -> str | None:
    return _GROUP_OF.get(name)


def _read_pointer(root: str, name: str) -> str | None:
    """The serving version id of ``name`` (plain strings: this is on every query's path). A
    grouped dataset is served from its group's CURRENT once that exists (a data directory from
    before groups still has only the datasets' own CURRENT files)."""
    g = _GROUP_OF.get(name)
    if g is not None:
        try:
            with open(f"{root}/groups/{g}/CURRENT") as fh:
                text = fh.read()
        except FileNotFoundError:
            pass
        else:
            for line in text.splitlines():
                key, _, vid = line.partition(" ")
                if key == name:
                    return vid.strip() or None
            return None
    try:
        with open(f"{root}/datasets/{name}/CURRENT") as fh:
            return fh.read().strip() or None
    except FileNotFoundError:
        return None


def version_words(vid: str | None) -> str:
    """A version id as people count versions: 'v000003' -> 'version 3' ('' for none)."""
    digits = str(vid or "").lstrip("v")
    return f"version {int(digits)}" if digits.isdigit() else (vid or "")


def current_version_id(name: str) -> str | None:
    dataset_dir(name)  # unknown names and cubes fail here
    return _read_pointer(str(config.data_dir()), name)


def version(name: str, vid: str) -> Version:
    if not isinstance(vid, str) or not VERSION_ID.fullmatch(vid):
        # Never build a path from anything but a version id: "../../x" must not leave the store.
        raise StoreError(f"Not a version id of {name}: version ids look like v000003.")
    path = dataset_dir(name) / "versions" / vid
    meta_file = f"{path}/meta.json"
    try:
        stamp = _meta_stamp(meta_file)  # before reading: a change after shows as a new stamp
        with open(meta_file) as fh:
            meta = json.load(fh)
    except FileNotFoundError:
        raise StoreError(f"{name} has no version {vid}") from None
    return Version(name, vid, path, meta, stamp)


def _meta_stamp(meta_file: str) -> tuple:
    st = os.stat(meta_file)
    return (meta_file, st.st_ino, st.st_mtime_ns)


_current_memo: dict[str, Version] = {}
_cube_memo: dict[str, tuple[Version, Version]] = {}


def current(name: str) -> Version | None:
    """The dataset's (or cube's) current version. Every query asks this several times, so it
    costs one small read and one stat (plain strings, not pathlib: this is a hot path)."""
    contract = catalog.contract(name)
    if contract.cube_of:
        parent = current(contract.cube_of)
        if parent is None:
            return None
        hit = _cube_memo.get(name)
        if hit is not None and hit[0] is parent:
            return hit[1]
        v = cube_version(name, parent)
        _cube_memo[name] = (parent, v)
        return v
    # Read the CURRENT pointer each time (a stat of it could match after two quick swaps that
    # reuse an inode); re-read meta.json only when that version's directory is not the one read
    # last time (a version id can come back after a purge, so the stat is part of the key).
    root = str(config.data_dir())
    d = f"{root}/datasets/{name}"
    vid = _read_pointer(root, name)
    if not vid:
        return None
    try:
        stamp = _meta_stamp(f"{d}/versions/{vid}/meta.json")
    except FileNotFoundError:
        return version(name, vid)  # let version() say what is wrong
    hit = _current_memo.get(name)
    if hit is not None and hit.stamp == stamp:
        return hit
    v = _current_memo[name] = version(name, vid)
    return v


def cube_version(name: str, parent: Version) -> Version:
    """A cube as a Version: the file written next to the parent's data at publish time. A version
    published before cubes existed has none; it is then marked ``cube_fallback`` and the reader
    reads the parent's rows as cells of n = 1 (same answer, just slower)."""
    fname = parent.meta.get("cubes", {}).get(name)
    if fname and (parent.path / fname).exists():
        return Version(name, parent.version, parent.path, {**parent.meta, "files": [fname]}, parent.stamp)
    return Version(name, parent.version, parent.path, {**parent.meta, "cube_fallback": True}, parent.stamp)


def versions(name: str) -> list[Version]:
    root = dataset_dir(name) / "versions"
    if not root.exists():
        return []
    out = []
    for p in sorted(root.iterdir()):
        if VERSION_ID.fullmatch(p.name) and (p / "meta.json").exists():
            out.append(version(name, p.name))
    return out


_local = threading.local()  # .held: lock files this thread holds; .change: an open atomic()


@contextmanager
def _file_lock(path: Path):
    """An exclusive flock on ``path``, re-entrant within a thread (atomic() holds the datasets'
    locks while publish() takes them again; a second flock on a new descriptor would wait)."""
    held = _local.__dict__.setdefault("held", {})
    key = str(path)
    if held.get(key):
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        held[key] = 1
        try:
            yield
        finally:
            del held[key]
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def _dataset_lock(name: str):
    d = dataset_dir(name)
    d.mkdir(parents=True, exist_ok=True)
    with _file_lock(d / ".lock"):
        yield d


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def contract_select(name: str, source: str = "src") -> str:
    """SELECT list that casts a source relation to the dataset's contract, in contract order."""
    cols = ", ".join(
        f'CAST("{f.name}" AS {f.type}) AS "{f.name}"' for f in catalog.contract(name).fields
    )
    return f"SELECT {cols} FROM {with_optional(name, source)}"


def with_optional(name: str, source: str) -> str:
    """``source`` with the contract's optional fields it lacks added, blank: a field added to a
    contract later (the crime extract's flags) is absent from police.uk files and from versions
    published before it. UNION BY NAME with no rows adds exactly the missing columns."""
    optional = [f for f in catalog.contract(name).fields if f.optional]
    if not optional:
        return source
    blanks = ", ".join(f'CAST(NULL AS {f.type}) AS "{f.name}"' for f in optional)
    return f"(SELECT * FROM {source} UNION ALL BY NAME SELECT {blanks} WHERE false)"


def _order_by(name: str) -> str:
    # Area then period: a scoped user's rows are contiguous, so row-group min/max statistics let
    # the scope filter skip all but a row group or two (bench/profile.py: ~10x for a ward user
    # at 10M rows); unscoped queries read everything either way.
    c = catalog.contract(name)
    keys = [f for f in (c.geo_field("district"), c.geo_field("ward"), c.geo_field("lsoa")) if f]
    keys += [c.period_field] if c.period_field else []
    return (" ORDER BY " + ", ".join(f'"{k}" NULLS LAST' for k in keys)) if keys else ""


def publish(
    name: str,
    write: Callable[[duckdb.DuckDBPyConnection, Path], None] | None = None,
    *,
    relation_sql: str | None = None,
    params: dict | None = None,
    published_by: str,
    source: str,
    source_checksum: str | None = None,
    validation: dict | None = None,
    note: str = "",
    now: dt.datetime | None = None,
) -> Version:
    """Publish a new version of a dataset atomically and make it current.

    Give either ``relation_sql`` (+ ``params``): a query whose result is cast to the contract
    and written as the new version, or ``write``: a callable that writes data.parquet itself.
    ``now``: the publication time to record (default: the clock); the supply tracker judges
    lateness from it, so tests give it to be deterministic.
    """
    contract = catalog.contract(name)
    with _dataset_lock(name) as d:
        vroot = d / "versions"
        vroot.mkdir(exist_ok=True)
        for stale in d.glob(".tmp-*"):  # leftovers of a crashed publish
            shutil.rmtree(stale, ignore_errors=True)
        tmp = d / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        out = tmp / "data.parquet"
        cur = cursor()
        try:
            if relation_sql is not None:
                write_relation(cur, name, relation_sql, params, out)
            elif write is not None:
                write(cur, out)
                _ensure_record_keys(cur, name, out)
            else:
                raise ValueError("publish needs relation_sql or write")
            stats = _stats(cur, name, out)
            cube_files = {c: _write_cube(cur, c, out, tmp) for c in catalog.cubes(name)}
        finally:
            cur.close()
        existing = [p.name for p in vroot.iterdir() if p.name.startswith("v")]
        vid = f"v{(max((int(v[1:]) for v in existing), default=0) + 1):06d}"
        meta = {
            "dataset": name,
            "version": vid,
            "owner": contract.owner,
            "published_at": _utc(now).isoformat(timespec="seconds"),
            "published_by": published_by,
            "source": source,
            "source_checksum": source_checksum,
            "files": ["data.parquet"],
            "parquet_sha256": _sha256(out),
            "cubes": {c: p.name for c, p in cube_files.items()},
            "record_keys": bool(record_keys.key_columns(name)),
            "validation": validation or {},
            "note": note,
            **stats,
        }
        with (tmp / "meta.json").open("w") as fh:
            json.dump(meta, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        for f in (out, *cube_files.values()):
            with f.open("rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(tmp)
        return _install(name, d, tmp, vid, meta)


def _utc(at: dt.datetime | None) -> dt.datetime:
    if at is None:
        return dt.datetime.now(dt.timezone.utc)
    return (at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)


MAX_PERIODS_LISTED = 5000  # more distinct periods than this: only the coverage is recorded


def _write_cube(cur: duckdb.DuckDBPyConnection, cube: str, data: Path, tmp: Path) -> Path:
    """Count the new version's rows by the cube's dimensions, sorted as the parent is (area then
    period), so a scoped user's cells are contiguous too."""
    c = catalog.contract(cube)
    dims = ", ".join(f'"{d}"' for d in c.dims)
    order = _order_by(cube)
    out = tmp / f"{cube}.parquet"
    # rk: the sum of the cell's record keys, from which its cell key is taken (csp.protection).
    rel = cur.sql(
        f"SELECT {dims}, CAST(count(*) AS BIGINT) AS n, CAST(sum(rkey) AS BIGINT) AS rk "
        f"FROM read_parquet($p) GROUP BY {dims}{order}",
        params={"p": str(data)},
    )
    rel.write_parquet(str(out), compression="zstd", row_group_size=122_880)
    return out


def _stats(cur: duckdb.DuckDBPyConnection, name: str, path: Path) -> dict:
    contract = catalog.contract(name)
    pf = contract.period_field
    sel = "count(*)"
    if pf:
        sel += f', CAST(min("{pf}") AS VARCHAR), CAST(max("{pf}") AS VARCHAR)'
    row = cur.execute(f"SELECT {sel} FROM read_parquet($p)", {"p": str(path)}).fetchall()[0]
    stats = {"rows": int(row[0])}
    if pf:
        first, last = row[1], row[2]
        if contract.field(pf).type == "DATE" and first:
            first, last = first[:7], last[:7]
        stats["coverage"] = {"first": first, "last": last}
        # Every period held, not just the range: the supply tracker must see gaps (csp.supply).
        label = f'strftime("{pf}", \'%Y-%m\')' if contract.field(pf).type == "DATE" else f'CAST("{pf}" AS VARCHAR)'
        held = cur.execute(f'SELECT DISTINCT {label} FROM read_parquet($p) WHERE "{pf}" IS NOT NULL ORDER BY 1 '
                           f"LIMIT {MAX_PERIODS_LISTED + 1}", {"p": str(path)}).fetchall()
        if len(held) <= MAX_PERIODS_LISTED:
            stats["periods"] = [r[0] for r in held]
    return stats


# ---- installing versions, atomic changes and rollback -----------------------------------------


def _install(name: str, d: Path, tmp: Path, vid: str, meta: dict) -> Version:
    """Move a complete, fsynced version into place and serve it, auditing first, so data is never
    served without an audit entry. Inside atomic() the version waits for the others instead."""
    change = getattr(_local, "change", None)
    if change is not None:
        if name not in change.names:
            shutil.rmtree(tmp, ignore_errors=True)
            raise StoreError(f"{name} is not part of this change ({', '.join(change.names)})")
        if name in change.staged:
            shutil.rmtree(tmp, ignore_errors=True)
            raise StoreError(f"{name} is published once per change")
        change.staged[name] = (d, tmp, vid, meta)
        return Version(name, vid, d / "versions" / vid, meta)
    os.rename(tmp, d / "versions" / vid)
    _fsync_dir(d / "versions")
    _audit("publish", meta["published_by"], {name: vid}, {name: meta})
    _set_pointers({name: vid}, "publish", meta["published_by"])
    return version(name, vid)


def _audit(action: str, by: str, versions: dict[str, str], metas: dict[str, dict] | None = None,
           before: dict[str, str | None] | None = None) -> None:
    together = sorted(versions) if len(versions) > 1 else None
    for name, vid in versions.items():
        details: dict = {}
        m = (metas or {}).get(name)
        if m is not None:
            details |= {"source": m.get("source"), "checksum": m.get("source_checksum"), "rows": m.get("rows")}
        if before is not None:
            details["from"] = before.get(name)
        if together:
            details["together_with"] = {k: v for k, v in versions.items() if k != name}
        audit.record(by, action, target=f"{name} {vid}", details=details, data_owner=audit.owners_of([name]))


class Change:
    """An atomic change to several datasets of one group (see atomic())."""

    def __init__(self, names: tuple[str, ...]):
        self.names = names
        self.staged: dict[str, tuple] = {}
        self.versions: dict[str, Version] = {}


@contextmanager
def atomic(names, *, by: str):
    """Publish several datasets of one group as one change: each ``publish`` inside the block
    writes its version completely, and all of them start being served together, with one
    os.replace of the group's pointer, when the block ends. If the block fails (or the process
    dies) none of them is served. ``change.versions`` holds the new versions afterwards."""
    names = tuple(sorted(set(names)))
    groups = {_GROUP_OF.get(n) for n in names}
    if len(groups) != 1 or None in groups:
        raise StoreError(f"{', '.join(names)} are not datasets of one group")
    if getattr(_local, "change", None) is not None:
        raise StoreError("atomic changes cannot be nested")
    change = Change(names)
    with ExitStack() as locks:
        for n in names:  # always in name order, so two changes never wait for each other
            locks.enter_context(_dataset_lock(n))
        _local.change = change
        try:
            yield change
        except BaseException:
            for _, tmp, _, _ in change.staged.values():
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            _local.change = None
        if not change.staged:
            return
        for name, (d, tmp, vid, _) in change.staged.items():
            os.rename(tmp, d / "versions" / vid)
            _fsync_dir(d / "versions")
        ids = {n: st[2] for n, st in change.staged.items()}
        _audit("publish", by, ids, {n: st[3] for n, st in change.staged.items()})
        _set_pointers(ids, "publish", by)
        change.versions = {n: version(n, vid) for n, vid in ids.items()}


def _group_dir(g: str) -> Path:
    return config.data_dir() / "groups" / g


def _group_state(g: str) -> dict[str, str]:
    root = str(config.data_dir())
    return {n: v for n in GROUPS[g] if (v := _read_pointer(root, n))}


def _set_pointers(ids: dict[str, str], action: str, by: str) -> None:
    """Serve these versions: one dataset's CURRENT, or its group's CURRENT (one os.replace for
    every dataset of the group). Grouped changes are logged (groups/<g>/changes/), so a rollback
    can tell what was published together. Callers hold the datasets' locks; the group's lock
    orders its writers."""
    g = _GROUP_OF.get(next(iter(ids)))
    if g is None:
        (name, vid), = ids.items()
        _atomic_write_text(dataset_dir(name) / "CURRENT", vid + "\n")
        return
    gdir = _group_dir(g)
    (gdir / "changes").mkdir(parents=True, exist_ok=True)
    with _file_lock(gdir / ".lock"):
        before = _group_state(g)
        n = len(list((gdir / "changes").glob("c*.json")))
        if n == 0 and before:  # a data directory from before groups: log what it served
            n = _log_change(gdir, 1, "adopt", by, {}, {}, before)
        after = {**before, **ids}
        # The record first: a version that exists can always be found with its partners.
        _log_change(gdir, n + 1, action, by, ids, {k: before.get(k) for k in ids}, after)
        _atomic_write_text(gdir / "CURRENT", "".join(f"{k} {v}\n" for k, v in sorted(after.items())))
        for k in GROUPS[g]:  # the datasets' own pointers are not read any more
            (config.data_dir() / "datasets" / k / "CURRENT").unlink(missing_ok=True)


def _log_change(gdir: Path, n: int, action: str, by: str, ids: dict, before: dict, serving: dict) -> int:
    record = {"change": f"c{n:06d}", "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "by": by, "action": action, "versions": ids, "before": before, "serving": serving}
    _atomic_write_text(gdir / "changes" / f"c{n:06d}.json", json.dumps(record, indent=1))
    return n


def _changes(g: str) -> list[dict]:
    out = []
    for f in sorted((_group_dir(g) / "changes").glob("c*.json")):
        try:
            out.append(json.loads(f.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return out


def check_version(name: str, vid: str) -> None:
    """Refuse anything but an existing version id of this dataset (``v`` + 6 digits)."""
    version(name, vid)  # checks the form, then that its meta.json exists


def rollback_plan(name: str, vid: str) -> dict[str, tuple[str | None, str | None]]:
    """What rolling ``name`` back to ``vid`` does: dataset -> (serving now, serving after), for
    every dataset of its group. Datasets published together with the version being replaced (a
    police.uk file's crime and ASB) go back together, to what they served when ``name`` last
    served ``vid``, so the two never describe different files."""
    check_version(name, vid)
    g = _GROUP_OF.get(name)
    if g is None:
        return {name: (current_version_id(name), vid)}
    state, log = _group_state(g), _changes(g)
    target = {name: vid}

    def published_with(d: str, v: str | None) -> dict[str, str]:
        recs = [r for r in log if r.get("action") == "publish" and r.get("versions", {}).get(d) == v]
        return recs[-1]["versions"] if recs and v else {}

    tied = [p for p, pv in published_with(name, state.get(name)).items() if p != name and state.get(p) == pv]
    then = next((r["serving"] for r in reversed(log) if r.get("serving", {}).get(name) == vid), {})
    partners = published_with(name, vid)
    for p in tied:
        to = then.get(p) or partners.get(p)
        if to is None:
            raise StoreError(f"{name} {state.get(name)} was published together with {p} {state.get(p)}, and "
                             f"it is not known which {p} version was served with {name} {vid}: roll back "
                             f"{p} first.")
        target[p] = to
    for p, pv in target.items():
        if p != name and not (dataset_dir(p) / "versions" / pv / "meta.json").exists():
            raise StoreError(f"{p} {pv}, which was served with {name} {vid}, has been purged, so the two "
                             "cannot be served together again.")
    order = [name] + [d for d in GROUPS[g] if d != name]
    return {d: (state.get(d), target.get(d, state.get(d))) for d in order}


def rollback(name: str, vid: str, *, by: str | None = None,
             expect: dict[str, tuple[str | None, str]] | None = None) -> dict[str, Version]:
    """Serve an earlier version again (versions are never modified: a pointer swap), together
    with the versions published with it (rollback_plan). ``expect``: the plan the person
    confirmed; refused if the store changed since. Audited. Returns the versions now served."""
    by = by or _os_actor()
    names = [name] + [n for n in GROUPS.get(_GROUP_OF.get(name), ()) if n != name]
    with ExitStack() as locks:
        for n in sorted(names):
            locks.enter_context(_dataset_lock(n))
        plan = rollback_plan(name, vid)
        if expect is not None and plan != expect:
            raise StoreError("The published data changed since this rollback was shown; review it again.")
        ids = {d: to for d, (now, to) in plan.items() if now != to and to}
        if not ids:
            return {d: version(d, v) for d, (_, v) in plan.items() if v}
        _audit("rollback", by, ids, before={d: fr for d, (fr, _) in plan.items()})
        _set_pointers(ids, "rollback", by)
        return {d: version(d, v) for d, (_, v) in plan.items() if v}


def _os_actor() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


def file_checksum(path: Path) -> str:
    return _sha256(path)


# ---- helpers for uploads: relation writing, history log, retention purge --------------------


def write_relation(cur: duckdb.DuckDBPyConnection, name: str, relation_sql: str, params: dict | None,
                   out: Path) -> None:
    """Write a query's result cast to the contract and sorted as publish(relation_sql=...) does;
    for ``write=`` callables that must check something inside the dataset lock first."""
    keyed = record_keys.select_with_keys(name, f"({contract_select(name, f'({relation_sql})')})")
    rel = cur.sql(f"{keyed}{_order_by(name)}", params={**(params or {}), **_key_params(name)})
    rel.write_parquet(str(out), compression="zstd", row_group_size=122_880)


def _key_params(name: str) -> dict:
    return {"__rk_secret": record_keys.secret()} if record_keys.key_columns(name) else {}


def _ensure_record_keys(cur: duckdb.DuckDBPyConnection, name: str, out: Path) -> None:
    """A file written by a ``write=`` callable as it came (a frame, a merge) gets the record
    keys every protected version carries, derived the same way as write_relation's."""
    cols = record_keys.key_columns(name)
    if not cols:
        return
    have = {r[0] for r in cur.execute("DESCRIBE SELECT * FROM read_parquet($p)", {"p": str(out)}).fetchall()}
    if set(cols) <= have and {f.name for f in catalog.contract(name).fields if f.optional} <= have:
        return
    raw = out.with_name("raw-" + out.name)
    os.rename(out, raw)
    _rewrite_with_keys(cur, name, raw, out, drop=[c for c in cols if c in have])
    raw.unlink()


def _rewrite_with_keys(cur: duckdb.DuckDBPyConnection, name: str, raw: Path, out: Path,
                       drop: list[str] = ()) -> None:
    src = "read_parquet($raw)"
    if drop:  # keys derived before an optional field was added: derived again, with it
        src = f"(SELECT * EXCLUDE ({', '.join(chr(34) + c + chr(34) for c in drop)}) FROM {src})"
    keyed = record_keys.select_with_keys(name, with_optional(name, src))
    rel = cur.sql(f"{keyed}{_order_by(name)}", params={"raw": str(raw), **_key_params(name)})
    rel.write_parquet(str(out), compression="zstd", row_group_size=122_880)


def record_event(name: str, event: dict, at: dt.datetime | None = None) -> None:
    """Append one event (publish, rollback, purge ...) to the dataset's history log, at ``at``
    (default: the clock)."""
    d = dataset_dir(name)
    d.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"at": _utc(at).isoformat(timespec="seconds"), **event})
    with (d / "history.jsonl").open("a") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def history(name: str) -> list[dict]:
    """The dataset's events, oldest first. A line torn by a crash mid-append is skipped."""
    try:
        lines = (dataset_dir(name) / "history.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def purge(name: str, older_than: dt.datetime, *, by: str) -> list[str]:
    """Delete versions published before ``older_than``; never the serving one, never the newest
    (its number must not be reused). Each is renamed aside first, so a crash mid-delete leaves
    either a whole version or a hidden leftover that the next purge sweeps."""
    removed: list[str] = []
    with _dataset_lock(name) as d:
        vroot = d / "versions"
        for stale in d.glob(".purge-*"):
            shutil.rmtree(stale, ignore_errors=True)
        vs = versions(name)
        if not vs:
            return removed
        keep = {current_version_id(name), vs[-1].version}
        for v in vs:
            if v.version in keep:
                continue
            published = dt.datetime.fromisoformat(v.meta["published_at"])
            if published < older_than:
                aside = d / f".purge-{v.version}-{uuid.uuid4().hex}"
                os.rename(v.path, aside)
                _fsync_dir(vroot)
                shutil.rmtree(aside, ignore_errors=True)
                removed.append(v.version)
    if removed:
        record_event(name, {"event": "purge", "by": by, "versions": removed,
                            "older_than": older_than.isoformat(timespec="seconds")})
        audit.record(by, "purge", target=name, details={"versions": removed},
                     data_owner=audit.owners_of([name]))
    return removed
