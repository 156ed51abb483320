"""Named, parameterised queries (queries/*.sql) and the one runner every page, download and CLI uses.

A query file starts with a YAML header in ``--`` comments (title, description, datasets,
parameters, columns), then SQL that reads the datasets by name. The runner, for every call:

1. validates each parameter against its declared type (unknown or malformed → QueryError),
2. asks the access layer for a grant on every dataset the query declares (none → AccessDenied),
3. puts in front of the SQL one CTE per dataset that applies the grant: the user's area scope as a
   row filter, geography finer than permitted and fields outside the user's tiers blanked,
4. binds every value as a DuckDB parameter (nothing user-supplied is formatted into SQL),
5. suppresses small counts in the declared ``count`` columns, and blanks every column declared as
   derived from a suppressed cell.

Hostile-input and disclosure hooks (SECURITY.md): a parameter may declare its allowed values,
``choices: [a, b]`` or ``choices_from: <query>.<column>`` (run as the same user, so the allowed
values are what that user may see); a header may declare ``totals:`` groupings for secondary
suppression (csp.disclosure); and for users whose grant suppresses small numbers a multi-value
filter takes one value or none, so "all but one" complements cannot be formed.

Pages never hold a DuckDB connection; this module is the only reader of published data.
"""
from __future__ import annotations

import datetime as dt
import functools
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

from . import access, catalog, config, disclosure, store

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
AREA = re.compile(r"^[EW](0[1-9]|[1-9]\d)\d{6}$")
_FORBIDDEN = re.compile(
    r"\b(read_\w+|parquet_\w+|glob|attach|detach|copy|install|load|pragma|set|export|import|"
    r"create|insert|update|delete|drop|alter|call)\b|'[^']*[/\\][^']*'",
    re.IGNORECASE,
)
PARAM_TYPES = ("month", "area", "text", "text_list", "int")


class QueryError(ValueError):
    """Bad query name or parameter. The message is safe to show a user."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    required: bool
    description: str
    default: str | None = None
    max_length: int = 200
    choices: tuple[str, ...] | None = None  # allowed values, if the domain is fixed
    choices_from: str | None = None  # "<query>.<column>": allowed values the user may see


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # count | derived | dimension | number | date | text
    description: str
    derived_from: tuple[str, ...] = ()


@dataclass(frozen=True)
class NamedQuery:
    name: str
    title: str
    description: str
    datasets: tuple[str, ...]
    params: dict[str, Param]
    columns: dict[str, Column]
    grain: str | None  # finest geography in the output rows, if any
    sql: str
    path: Path
    totals: tuple[tuple[str, ...], ...] = ()  # groupings for secondary suppression

    @property
    def count_columns(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.type == "count"]


def _parse(path: Path) -> NamedQuery:
    text = path.read_text()
    header_lines, body_lines, in_header = [], [], True
    for line in text.splitlines():
        if in_header and line.startswith("--"):
            header_lines.append(line[3:] if line.startswith("-- ") else line[2:])
        else:
            in_header = False
            body_lines.append(line)
    try:
        head = yaml.safe_load("\n".join(header_lines)) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"{path.name}: header is not valid YAML: {e}") from None
    sql = "\n".join(body_lines).strip().rstrip(";")
    if _FORBIDDEN.search(_strip_comments(sql)):
        raise ValueError(f"{path.name}: named queries may only read datasets by name")
    params = {}
    for pname, spec in (head.get("parameters") or {}).items():
        spec = spec or {}
        ptype = spec.get("type", "text")
        if ptype not in PARAM_TYPES:
            raise ValueError(f"{path.name}: parameter {pname} has unknown type {ptype}")
        if f"${pname}" not in sql:
            raise ValueError(f"{path.name}: parameter {pname} is declared but not used")
        choices = spec.get("choices")
        choices_from = spec.get("choices_from")
        if choices_from is not None and not re.fullmatch(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*", choices_from):
            raise ValueError(f"{path.name}: parameter {pname}: choices_from must be <query>.<column>")
        params[pname] = Param(
            pname, ptype, bool(spec.get("required", False)), spec.get("description", ""),
            spec.get("default"), int(spec.get("max_length", 200)),
            tuple(str(c) for c in choices) if choices is not None else None, choices_from,
        )
    columns = {}
    for cname, spec in (head.get("columns") or {}).items():
        spec = spec if isinstance(spec, dict) else {"description": str(spec or "")}
        derived = spec.get("from", [])
        columns[cname] = Column(
            cname, spec.get("type", "dimension"), spec.get("description", ""),
            tuple([derived] if isinstance(derived, str) else derived),
        )
    datasets = tuple(head.get("datasets") or ())
    for d in datasets:
        catalog.contract(d)
    totals = head.get("totals") or []
    if not isinstance(totals, list) or not all(isinstance(g, list) for g in totals):
        raise ValueError(f"{path.name}: totals must be a list of lists of dimension columns")
    for g in totals:
        for c in g:
            if c not in columns or columns[c].type not in ("dimension", "date", "text"):
                raise ValueError(f"{path.name}: totals: {c} is not a declared dimension column")
    return NamedQuery(
        name=path.stem, title=head.get("title", path.stem), description=head.get("description", ""),
        datasets=datasets, params=params, columns=columns, grain=head.get("grain"),
        sql=sql, path=path, totals=tuple(tuple(g) for g in totals),
    )


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


_registry_lock = threading.Lock()
_registry: dict[str, tuple[int, NamedQuery]] = {}


def get(name: str) -> NamedQuery:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name or ""):
        # Not echoed: the name may be hostile and the message may be shown as Markdown.
        raise QueryError("Unknown query name. See `python -m csp queries`.")
    path = config.QUERIES_DIR / f"{name}.sql"
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise QueryError(f"Unknown query '{name}'. See `python -m csp queries`.") from None
    with _registry_lock:
        hit = _registry.get(name)
        if hit and hit[0] == mtime:
            return hit[1]
        q = _parse(path)
        _registry[name] = (mtime, q)
        return q


def all_queries() -> list[NamedQuery]:
    return [get(p.stem) for p in sorted(config.QUERIES_DIR.glob("*.sql"))]


def _coerce(p: Param, raw) -> object:
    """Validate one parameter value against its declared type; return the value to bind."""
    if raw is None or raw == "" or raw == []:
        if p.required:
            raise QueryError(f"Parameter '{p.name}' is required.")
        return None
    if p.type == "text_list":
        items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
        items = [str(i).strip() for i in items if str(i).strip()]
        for i in items:
            _check_text(p, i)
        return items or None
    if not isinstance(raw, (str, int)):
        raise QueryError(f"Parameter '{p.name}' must be a single value.")
    raw = str(raw).strip()
    if p.type == "month":
        m = MONTH.match(raw)
        if not m:
            raise QueryError(f"Parameter '{p.name}' must be a month as YYYY-MM, e.g. 2024-03.")
        return dt.date(int(m.group(1)), int(m.group(2)), 1)
    if p.type == "area":
        if not AREA.match(raw):
            raise QueryError(f"Parameter '{p.name}' must be a ward or district code, e.g. E05010784.")
        return raw
    if p.type == "int":
        if not re.fullmatch(r"-?\d{1,9}", raw):
            raise QueryError(f"Parameter '{p.name}' must be a whole number.")
        return int(raw)
    _check_text(p, raw)
    return raw


def _check_text(p: Param, value: str) -> None:
    if len(value) > p.max_length or any(ord(ch) < 32 for ch in value):
        raise QueryError(f"Parameter '{p.name}' is not an accepted value.")


def bind_params(q: NamedQuery, params: dict | None) -> dict:
    params = dict(params or {})
    unknown = sorted(set(params) - set(q.params))
    if unknown:
        shown = unknown[0] if re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", unknown[0]) else "…"  # never echo junk
        raise QueryError(
            f"Query '{q.name}' has no parameter '{shown}'"
            + (f" (it takes: {', '.join(q.params)})." if q.params else " (it takes none).")
        )
    return {n: _coerce(p, params.get(n, p.default)) for n, p in q.params.items()}


# ---- the scoped CTEs ---------------------------------------------------------------------


def _scope_codes(grant: access.Grant) -> dict[str, list[str]]:
    """The user's ward scope expressed at every geography level, read from the geography lookup."""
    geo = store.current("geography")
    if geo is None:
        return {"ward": list(grant.areas), "lsoa": [], "district": []}
    return _scope_codes_at(str(geo.path), tuple(geo.files), tuple(grant.areas))


@functools.lru_cache(maxsize=512)
def _scope_codes_at(geo_path: str, files: tuple[str, ...], wards: tuple[str, ...]) -> dict[str, list[str]]:
    # Keyed by the geography version's path: a new lookup version is a new key, so this never
    # serves a stale scope, and it saves a Parquet read on every scoped query.
    cur = store.cursor()
    try:
        rows = cur.execute(
            "SELECT lsoa_code, district_code FROM read_parquet($f) WHERE list_contains($w, ward_code)",
            {"f": list(files), "w": list(wards)},
        ).fetchall()
    finally:
        cur.close()
    return {
        "ward": list(wards),
        "lsoa": sorted({r[0] for r in rows if r[0]}),
        "district": sorted({r[1] for r in rows if r[1]}),
    }


def _dataset_cte(name: str, grant: access.Grant, binds: dict, cur: store.Version | None) -> str:
    contract = catalog.contract(name)
    fkey = f"__{name}_files"
    cols = []
    for f in contract.fields:
        if f.name in grant.fields:
            cols.append(f'"{f.name}"')
        else:  # blanked, not dropped: the same query runs for everyone, coarser users see NULL
            cols.append(f'CAST(NULL AS {f.type}) AS "{f.name}"')
    if cur is None:
        # Nothing published yet: an empty relation of the right shape, not an error.
        select = ", ".join(f'CAST(NULL AS {f.type}) AS "{f.name}"' for f in contract.fields)
        return f'"{name}" AS (SELECT {select} WHERE false)'
    src, src_cur, by_lsoa = name, cur, False
    if grant.areas and not _codes_agree(catalog.base(name)):
        # Some rows' ward codes disagree with the current lookup (a rollback of the data or of
        # the lookup): check each row's LSOA too, reading a cube without LSOAs from a finer file
        # of the same version (catalog.scoped_source).
        src, by_lsoa = catalog.scoped_source(name), True
        src_cur = store.current(src) if src != name else cur
    src_contract = catalog.contract(src)
    binds[fkey] = src_cur.files
    where = _scope_filter(name, src_contract, grant, binds, by_lsoa) if grant.areas else ""
    source = f"read_parquet(${fkey})"
    if contract.cube_of and (src_contract.cube_of is None or src_cur.meta.get("cube_fallback")):
        # Reading the parent's rows for a cube (a version published before cubes existed, or a
        # scoped user's finer source): each row counts 1; every cube query sums n, so the
        # answer is the same.
        dims = ", ".join(f'"{d}"' for d in contract.dims)
        source = f"(SELECT {dims}, CAST(1 AS BIGINT) AS n FROM {source}{where})"
        where = ""
    elif src != name:  # a finer cube: filter on its columns, then keep this cube's
        source = f"(SELECT * FROM {source}{where})"
        where = ""
    return f'"{name}" AS (SELECT {", ".join(cols)} FROM {source}{where})'


def _scope_filter(name: str, src: catalog.Contract, grant: access.Grant, binds: dict,
                  by_lsoa: bool) -> str:
    """The user's wards as a row filter on ``src``: its ward code in the user's wards (and, with
    ``by_lsoa``, its LSOA in those wards by the current lookup too: stricter, never wider);
    lacking a ward field, its finest geography at that level's codes (district-only data: the
    wards' districts). Codes are bound one parameter each, so DuckDB pushes the filter into the
    Parquet scan and skips row groups (files are sorted district, ward, LSOA, period); a
    semi-join cost ~2x that in the bench."""
    levels = [lv for lv in ("ward", "lsoa") if src.geo_field(lv) and (lv == "ward" or by_lsoa)]
    levels = levels or [src.finest_geo]
    if levels == [None]:
        return " WHERE false"
    scope = _scope_codes(grant)
    conds = []
    for level in levels:
        codes = scope[level]
        if not codes:
            return " WHERE false"
        keys = [f"__{name}_{level}_{i}" for i in range(len(codes))]
        binds.update(zip(keys, codes))
        conds.append(f'"{src.geo_field(level)}" IN ({", ".join("$" + k for k in keys)})')
    return " WHERE " + " AND ".join(conds)


def _codes_agree(dataset: str) -> bool:
    """True when every row of the dataset's current version carries the ward that the current
    lookup gives its LSOA, so the ward code alone scopes it exactly. A dataset without both an
    LSOA and a ward field has nothing to disagree with (its codes are its owner's data)."""
    contract = catalog.contract(dataset)
    lsoa, ward = contract.geo_field("lsoa"), contract.geo_field("ward")
    cur, geo = store.current(dataset), store.current("geography")
    if not (lsoa and ward) or cur is None or dataset == "geography":
        return True
    if geo is None:
        return False
    # The LSOA-level cube has every (LSOA, ward) pair in far fewer rows than the data.
    finer = [c for c in catalog.cubes(dataset).values() if lsoa in c.dims and ward in c.dims]
    source = store.current(finer[0].name) if finer else cur
    if source.meta.get("cube_fallback"):
        source = cur
    return _codes_agree_at(tuple(source.files), source.stamp, lsoa, ward, tuple(geo.files), geo.stamp)


@functools.lru_cache(maxsize=64)
def _codes_agree_at(files: tuple[str, ...], _version: tuple, lsoa: str, ward: str,
                    geo_files: tuple[str, ...], _geo_version: tuple) -> bool:
    # Once per pair of versions (~0.1 s on the 10M-row bench), not per query.
    cur = store.cursor()
    try:
        bad = cur.execute(
            f'SELECT count(*) FROM (SELECT DISTINCT "{lsoa}" AS l, "{ward}" AS w FROM read_parquet($f)) d '
            "LEFT JOIN read_parquet($g) g ON g.lsoa_code = d.l "
            "WHERE d.w IS NOT NULL AND d.w IS DISTINCT FROM g.ward_code",
            {"f": list(files), "g": list(geo_files)},
        ).fetchone()[0]
    finally:
        cur.close()
    return bad == 0


def compose_sql(q: NamedQuery, grants: dict[str, access.Grant], binds: dict,
                current: dict[str, store.Version | None]) -> str:
    ctes = ",\n".join(_dataset_cte(d, grants[d], binds, current[d]) for d in q.datasets)
    body = q.sql
    m = re.match(r"^\s*WITH\s+(?!RECURSIVE)", body, re.IGNORECASE)
    if m:  # splice our CTEs in front of the query's own
        return f"WITH {ctes},\n{body[m.end():]}"
    return f"WITH {ctes}\n{body}"


# ---- running -----------------------------------------------------------------------------


@dataclass
class Result:
    query: NamedQuery
    frame: pl.DataFrame  # suppressed cells are null; see `suppressed`
    suppressed: pl.DataFrame  # same shape as frame's count/derived columns: True where suppressed
    threshold: int
    versions: dict[str, str | None]  # dataset -> version id read

    @property
    def n_suppressed(self) -> int:
        if self.suppressed.width == 0:
            return 0
        return int(sum(self.suppressed[c].sum() for c in self.suppressed.columns))


_cache_lock = threading.Lock()
_cache: OrderedDict = OrderedDict()
_CACHE_SIZE = 256
# The cache is also bounded in bytes: a national LSOA result, with the ranked table, Arrow table
# and CSV the pages remember on it (csp.indicators.per_result), is ~10 MB, and 256 of those
# would be gigabytes (issue 6: app RSS <= 600 MB at 10M rows).
_CACHE_BYTES = int(float(os.environ.get("CSP_QUERY_CACHE_MB", "128")) * 2**20)


def _nbytes(obj, depth: int = 0, nest: int = 0) -> int:
    """Approximate bytes held by a result and what is remembered on it: frames, Arrow tables,
    numpy arrays and bytes, found in small containers, and Results remembered on it (a ranked
    table and its own Arrow table and CSV), up to three levels down. Other objects, such as
    figures, and big Python lists count 0: walking them item by item cost more than the queries.
    Containers are copied before they are walked (another session's thread may be adding to
    them). A Result's size is kept on it until something new is remembered there."""
    if isinstance(obj, pl.DataFrame):
        return obj.estimated_size()
    if isinstance(obj, (bytes, bytearray)):
        return len(obj)
    if isinstance(obj, Result):
        if nest > 3:
            return 0
        stamp = _remembered(obj)
        cached = obj.__dict__.get("_nbytes_stamp")
        if cached and cached[0] == stamp:
            return cached[1]
        size = sum(_nbytes(v, 1, nest + 1) for k, v in list(vars(obj).items())
                   if k not in ("query", "_nbytes_stamp"))
        obj._nbytes_stamp = (stamp, size)
        return size
    nbytes = getattr(obj, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    if depth > 3 or not isinstance(obj, (list, tuple, dict)) or len(obj) > 32:
        return 0
    values = list(obj.values()) if isinstance(obj, dict) else list(obj)
    return sum(_nbytes(v, depth + 1, nest) for v in values)


def _remembered(result: Result, nest: int = 0) -> int:
    """How many things are remembered on a Result, counting those on Results remembered there:
    cheap (lengths only), and it changes whenever a size could have."""
    count = 0
    for k, v in list(vars(result).items()):
        if k == "_nbytes_stamp":
            continue
        count += 1
        if isinstance(v, dict):
            count += len(v)
            for x in list(v.values()):
                for r in (x if isinstance(x, tuple) else (x,)):
                    if isinstance(r, Result) and nest < 3:
                        count += _remembered(r, nest + 1)
    return count


def run(user: access.User | None, name: str, params: dict | None = None) -> Result:
    """Run a named query as a user, through the access layer. The only way to read data."""
    q = get(name)
    values = bind_params(q, params)
    grants = {d: access.require(user, d) for d in q.datasets}
    if q.grain:
        too_coarse = [d for d, g in grants.items() if _finer(q.grain, g.geography)]
        if too_coarse:
            raise access.AccessDenied(
                f"This view shows {q.grain.upper()} detail; the sharing agreement lets you see "
                f"{', '.join(too_coarse)} only down to {grants[too_coarse[0]].geography} level."
            )
    threshold = max((g.threshold for g in grants.values()), default=0)
    _check_complements(q, values, threshold)
    _check_choices(user, q, values)
    current = {d: store.current(d) for d in q.datasets}
    # Reported under the dataset's own name: a cube is a file of its parent's version.
    versions = {catalog.base(d): (v.version if v else None) for d, v in current.items()}
    # The cache key carries everything that can change the answer, the user's whole grant
    # included, so two users with different scopes can never share an entry.
    # A scoped answer also depends on the lookup that turns wards into LSOAs and districts.
    geo = store.current("geography") if any(g.areas for g in grants.values()) else None
    key = (
        q.name, q.path.stat().st_mtime_ns, tuple(sorted((k, str(v)) for k, v in values.items())),
        tuple(sorted(g.fingerprint() for g in grants.values())),
        tuple(sorted((d, str(v.path) if v else "") for d, v in current.items())),
        str(geo.path) if geo else None,
    )
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    binds = dict(values)
    sql = compose_sql(q, grants, binds, current)
    cur = store.cursor()
    try:
        frame = _narrow_sums(cur.sql(sql, params=binds).pl())
    finally:
        cur.close()
    frame, mask = disclosure.suppress(frame, q.columns, threshold, [list(g) for g in q.totals])
    result = Result(q, frame, mask, threshold, versions)
    with _cache_lock:
        _cache[key] = result
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        total = sum(_nbytes(r) for r in _cache.values())
        while total > _CACHE_BYTES and len(_cache) > 1:  # oldest first; the newest always stays
            _, old = _cache.popitem(last=False)
            total -= _nbytes(old)
    return result


def _narrow_sums(frame: pl.DataFrame) -> pl.DataFrame:
    """DuckDB's sum() of integers is a HUGEINT, which arrives as Decimal(38, 0); counts summed from
    a cube are whole numbers well inside Int64, so give them the type count(*) would have."""
    wide = [c for c, t in frame.schema.items() if isinstance(t, pl.Decimal) and t.scale == 0]
    return frame.with_columns(pl.col(wide).cast(pl.Int64)) if wide else frame


def _check_complements(q: NamedQuery, values: dict, threshold: int) -> None:
    """Differencing rule: with suppression in force, a multi-value filter takes one value or
    none. Otherwise "all" minus "all but X" would give X exactly, however small."""
    if threshold <= 0:
        return
    for name, p in q.params.items():
        if p.type == "text_list" and values.get(name) and len(values[name]) > 1:
            raise QueryError(
                f"Under the sharing agreement you can filter '{name}' to one value at a time, or "
                "leave it empty for all: combining a few values could reveal suppressed numbers."
            )


_choice_depth = threading.local()


def _check_choices(user, q: NamedQuery, values: dict) -> None:
    """Allowed-value check for parameters with a known domain. The message never repeats the
    value (it may be hostile and the message may be shown as Markdown)."""
    for name, p in q.params.items():
        v = values.get(name)
        if v is None or (p.choices is None and p.choices_from is None):
            continue
        allowed = set(p.choices or ())
        if p.choices_from:
            if getattr(_choice_depth, "n", 0) > 2:
                raise QueryError(f"Query '{q.name}': allowed values of '{name}' refer back to themselves.")
            qname, col = p.choices_from.split(".")
            _choice_depth.n = getattr(_choice_depth, "n", 0) + 1
            try:
                frame = run(user, qname, {}).frame
            except access.AccessDenied:
                frame = pl.DataFrame()
            finally:
                _choice_depth.n -= 1
            if col in frame.columns:
                allowed |= {str(x) for x in frame[col].drop_nulls().to_list()}
        items = v if isinstance(v, list) else [v]
        if any(str(i.isoformat()[:7] if isinstance(i, dt.date) else i) not in allowed for i in items):
            raise QueryError(f"Parameter '{name}' has a value that is not one of its allowed values.")


def _finer(a: str, b: str) -> bool:
    return catalog.GEO_LEVELS.index(a) < catalog.GEO_LEVELS.index(b)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
