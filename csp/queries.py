"""Named, parameterised queries (queries/*.sql) and the one runner every page, download and CLI uses.

A query file starts with a YAML header in ``--`` comments (title, description, datasets,
parameters, columns), then SQL that reads the datasets by name. The runner, for every call:

1. validates each parameter against its declared type (unknown or malformed → QueryError),
2. asks the access layer for a grant on every dataset the query declares (none → AccessDenied),
3. puts in front of the SQL one CTE per dataset that applies the grant: the user's area scope as a
   row filter, geography finer than permitted and fields outside the user's tiers blanked,
4. binds every value as a DuckDB parameter (nothing user-supplied is formatted into SQL),
5. publishes every ``count`` column by the grant of the dataset each cell came from
   (csp.protection.cells: cell-key perturbation, suppression of the protected base, or exact),
6. only then computes the ``derived`` columns (each declared with its ``expr``) from the published
   figures, and applies the header's ``order`` and ``limit`` (so nothing is ranked or cut on a
   figure the user may not see).

Counts reach the SQL as cells (csp.protection.cells): queries add them up with ``total(n)`` /
``total_if(n, condition)``, never ``sum``. Hostile-input hooks (SECURITY.md): a parameter may
declare its allowed values, ``choices: [a, b]`` or ``choices_from: <query>.<column>`` (run as the
same user, so the allowed values are what that user may see); ``access: owner`` makes a query
the data owner's only.

Pages never hold a DuckDB connection; this module is the only reader of published data.
"""
from __future__ import annotations

import contextlib
import dataclasses
import contextvars
import datetime as dt
import functools
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from . import access, catalog, config, disclosure, incidents, store
from .protection import cells, periods

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
AREA = re.compile(r"^([EW](0[1-9]|[1-9]\d)\d{6}|all)$")  # a ward or district code, or all held
SYSTEM = {"partnership": ("partnership",), "held": ("held_first", "held_last"), "scope": ("scope_wards",),
          "comparator": ("comparator",)}
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
    period: str | None = None  # start | end | end12: a window a total covers (protection.periods)


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # count | derived | dimension | number | date | text
    description: str
    derived_from: tuple[str, ...] = ()
    expr: str | None = None  # derived: SQL over the published columns, computed after protection
    dataset: str | None = None  # count: the dataset of its empty cells (no_cell()), if ambiguous


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
    order: tuple[tuple[str, bool], ...] = ()  # (column, descending), applied after protection
    limit: int | None = None
    owner_only: bool = False  # access: owner
    system: tuple[str, ...] = ()  # partnership | held | scope: values the runner binds
    held_of: str | None = None  # the dataset whose months held bind $held_first / $held_last
    # "partnership": the partnership's totals only (a comparator), read beyond a ward-scoped
    # user's wards where the policy allows it for every dataset read (access.partnership_comparator).
    scope: str | None = None

    @property
    def count_columns(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.type == "count"]

    @property
    def derived_columns(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.type == "derived"]


def _parse(path: Path, text: str | None = None, name: str | None = None) -> NamedQuery:
    """A query file (or a rendered incident template: ``text`` and ``name`` given)."""
    text = path.read_text() if text is None else text
    name = name or path.stem
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
        period = spec.get("period")
        if period is not None and (period not in ("start", "end", "end12") or ptype != "month"):
            raise ValueError(f"{path.name}: parameter {pname}: period must be start, end or end12 on a month")
        params[pname] = Param(
            pname, ptype, bool(spec.get("required", False)), spec.get("description", ""),
            spec.get("default"), int(spec.get("max_length", 200)),
            tuple(str(c) for c in choices) if choices is not None else None, choices_from, period,
        )
    columns = {}
    for cname, spec in (head.get("columns") or {}).items():
        spec = spec if isinstance(spec, dict) else {"description": str(spec or "")}
        derived = spec.get("from", [])
        col = Column(
            cname, spec.get("type", "dimension"), spec.get("description", ""),
            tuple([derived] if isinstance(derived, str) else derived), spec.get("expr"),
            spec.get("dataset"),
        )
        if col.type == "derived" and not col.expr:
            raise ValueError(f"{path.name}: derived column {cname} needs an expr (computed after protection)")
        if col.expr and _FORBIDDEN.search(col.expr):
            raise ValueError(f"{path.name}: {cname}: expr may only compute over the output columns")
        columns[cname] = col
    datasets = tuple(head.get("datasets") or ())
    for d in datasets:
        catalog.contract(d)
    if "totals" in head:
        raise ValueError(f"{path.name}: 'totals' (secondary suppression) is gone: protection is by "
                         "cell-key perturbation or a protected base (csp.protection)")
    if _CELL_BYPASS.search(_strip_comments(sql)):
        raise ValueError(f"{path.name}: counts are cells: add them up with total()/total_if(), "
                         "never by reading their parts")
    order = []
    for item in head.get("order") or []:
        desc = str(item).startswith("-")
        cname = str(item).lstrip("-")
        if cname not in columns:
            raise ValueError(f"{path.name}: order: {cname} is not a declared column")
        order.append((cname, desc))
    counts = [c for c, spec in columns.items() if spec.type == "count"]
    if counts and re.search(r"\border\s+by\b[^)]*\b(" + "|".join(map(re.escape, counts)) + r")\b",
                            _last_clause(sql), re.IGNORECASE | re.DOTALL):
        raise ValueError(f"{path.name}: order by counts in the header's 'order', not in SQL "
                         "(the runner orders by the published figures)")
    system = tuple(head.get("system") or ())
    if not set(system) <= set(SYSTEM):
        raise ValueError(f"{path.name}: system values are {', '.join(SYSTEM)}")
    for key, binds in SYSTEM.items():
        used = any(f"${b}" in sql for b in binds)
        if used != (key in system):
            raise ValueError(f"{path.name}: declare system: [{key}] exactly when the SQL uses ${binds[0]}")
    held_of = head.get("held_of")
    if "held" in system:
        if held_of not in datasets and held_of not in {catalog.base(d) for d in datasets}:
            raise ValueError(f"{path.name}: held_of must name a dataset it reads")
    access_rule = head.get("access", "grant")
    if access_rule not in ("grant", "owner"):
        raise ValueError(f"{path.name}: access must be grant or owner")
    scope = head.get("scope")
    if scope not in (None, "partnership"):
        raise ValueError(f"{path.name}: scope may only be partnership")
    if scope == "partnership":
        # Read beyond a user's wards, so it must not be able to say anything about one area:
        # no area to choose, no area in its rows, and only the partnership's districts read.
        areas = [n for n, p in params.items() if p.type == "area"]
        if areas or head.get("grain") or "partnership" not in system or "scope" in system:
            raise ValueError(f"{path.name}: a partnership-scope query takes no area, has no grain, "
                             "reads $partnership and not $scope_wards")
        geo = [c for c in columns if re.search(r"(ward|lsoa|district|area)_(code|name)$", c)]
        if geo:
            raise ValueError(f"{path.name}: a partnership-scope query has no area columns ({', '.join(geo)})")
    return NamedQuery(
        name=name, title=head.get("title", name), description=head.get("description", ""),
        datasets=datasets, params=params, columns=columns, grain=head.get("grain"),
        sql=sql, path=path, order=tuple(order),
        limit=int(head["limit"]) if head.get("limit") is not None else None,
        owner_only=access_rule == "owner", system=system, held_of=held_of, scope=scope,
    )


# Reading a cell's parts would publish its exact value: only the runner may (after protection).
_CELL_BYPASS = re.compile(r"\.(value|key|hidden|ds)\b|struct_extract|\['(value|key|hidden)'\]|"
                          r"\bunnest\s*\(\s*(n|c)\b", re.IGNORECASE)


def _last_clause(sql: str) -> str:
    """The query's final top-level clause (after the last closing bracket of any CTE)."""
    body = _strip_comments(sql)
    depth, cut = 0, 0
    for i, ch in enumerate(body):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                cut = i + 1
    return body[cut:]


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
        text = None
    except FileNotFoundError:
        # An incident template instantiated for a dataset (csp.incidents), if there is one.
        inst = incidents.instance(name)
        if inst is None:
            raise QueryError(f"Unknown query '{name}'. See `python -m csp queries`.") from None
        path, text = inst.template, inst.text
        mtime = (path.stat().st_mtime_ns, config.contracts_path().stat().st_mtime_ns)
    with _registry_lock:
        hit = _registry.get(name)
        if hit and hit[0] == mtime:
            return hit[1]
        q = _parse(path, text, name)
        _registry[name] = (mtime, q)
        return q


def all_queries() -> list[NamedQuery]:
    names = {p.stem for p in config.QUERIES_DIR.glob("*.sql")} | set(incidents.instances())
    return [get(n) for n in sorted(names)]


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
            raise QueryError(f"Parameter '{p.name}' must be a ward or district code, e.g. E05010784, or all.")
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
    if contract.protected:
        return _protected_cte(name, contract, grant, binds, cur)
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
    fkey = f"__{name}_files"
    binds[fkey] = cur.files
    where = _scope_filter(name, contract, grant, binds, False) if grant.areas and contract.row_scope else ""
    return f'"{name}" AS (SELECT {", ".join(cols)} FROM read_parquet(${fkey}){where})'


REKEY = ("This dataset was published before record keys existed, so it cannot be shown with "
         "perturbation. Ask an administrator to republish it (python -m csp rekey).")


def _protected_cte(name: str, contract: catalog.Contract, grant: access.Grant, binds: dict,
                   cur: store.Version | None) -> str:
    """A protected dataset as the user may see it: its fields (blanked where not granted) and
    each count as a cell (csp.protection.cells). The owner gets the rows as published; other
    partners get cells, never single records: under "suppress" the protected base cells (period x
    granted geography x base categories, small ones withheld), otherwise the rows added up by
    every field they may see."""
    base = catalog.base(name)
    measures = contract.measures
    fields = [f for f in contract.fields if f.name not in measures]
    if cur is None:
        select = ", ".join([f'CAST(NULL AS {f.type}) AS "{f.name}"' for f in fields]
                           + [f'CAST(NULL AS {cells.EMPTY_CELL_TYPE}) AS "{m}"' for m in measures])
        return f'"{name}" AS (SELECT {select} WHERE false)'
    mode = "owner" if grant.owner else grant.protection
    exposed = [f.name for f in fields if f.name in grant.fields]
    need = set(f.name for f in fields)
    group = exposed
    if mode == "suppress":
        group = catalog.base_fields(base, grant.geography)
        need |= set(group)
    by_lsoa = bool(grant.areas) and not _codes_agree(base)
    if by_lsoa:
        # Some rows' ward codes disagree with the current lookup (a rollback of the data or of
        # the lookup): check each row's LSOA too, reading a finer file of the same version.
        need.add(catalog.contract(base).geo_field("lsoa"))
    src = catalog.source_with(name, need)
    src_cur = cur if src == name else store.current(src)
    src_contract = catalog.contract(src)
    rows = src_contract.cube_of is None or bool(src_cur.meta.get("cube_fallback"))
    if rows and src_contract.cube_of:  # a version published before cubes: the parent's rows
        src_contract = catalog.contract(base)
    keyed = bool(src_cur.meta.get("record_keys"))
    if mode == "perturb" and not keyed:
        raise QueryError(REKEY)
    fkey = f"__{name}_files"
    binds[fkey] = src_cur.files
    where = _scope_filter(name, src_contract, grant, binds, by_lsoa) if grant.areas else ""
    source = f"read_parquet(${fkey}){where}"

    def value_key(m: str) -> tuple[str, str]:
        if not rows:
            return '"n"', '"rk"' if keyed else "0"
        if contract.kind == "events":
            return "1", '"rkey"' if keyed else "0"
        return f'"{m}"', f'"{m}_rkey"' if keyed else "0"

    def blank_or(f: catalog.Field, shown: set) -> str:
        return f'"{f.name}"' if f.name in shown else f'CAST(NULL AS {f.type}) AS "{f.name}"'

    if mode == "suppress":
        t = int(grant.threshold)
        inner = ", ".join(f'"{g}"' for g in group)
        sums = []
        outs = []
        for i, m in enumerate(measures):
            v, k = value_key(m)
            sums.append(f"sum({v}) AS __v{i}, sum({k}) AS __k{i}")
            small = f"(__v{i} BETWEEN 1 AND {t - 1})"
            outs.append(f"{cells.cell_sql(f'CASE WHEN {small} THEN 0 ELSE __v{i} END', f'__k{i}', f'CASE WHEN {small} THEN 1 ELSE 0 END', base)} AS \"{m}\"")
        shown = set(group) & set(exposed)
        cols = [blank_or(f, shown) for f in fields] + outs
        return (f'"{name}" AS (SELECT {", ".join(cols)} FROM '
                f"(SELECT {inner}, {', '.join(sums)} FROM {source} GROUP BY {inner}))")
    shown = set(exposed) if mode != "owner" else {f.name for f in fields}
    if mode == "owner" or not rows:
        # Cube cells (or the owner's own rows) as they are, each count as a cell.
        outs = [f'{cells.cell_sql(*value_key(m), "0", base)} AS "{m}"' for m in measures]
        cols = [blank_or(f, shown) for f in fields] + outs
        return f'"{name}" AS (SELECT {", ".join(cols)} FROM {source})'
    # Another partner reading rows: added up by every field they may see, never one record.
    inner = ", ".join(f'"{g}"' for g in exposed) or "NULL"
    sums = ", ".join(f"sum({value_key(m)[0]}) AS __v{i}, sum({value_key(m)[1]}) AS __k{i}"
                     for i, m in enumerate(measures))
    outs = [f'{cells.cell_sql(f"__v{i}", f"__k{i}", "0", base)} AS "{m}"' for i, m in enumerate(measures)]
    cols = [blank_or(f, shown) for f in fields] + outs
    group_by = f" GROUP BY {inner}" if exposed else ""
    return (f'"{name}" AS (SELECT {", ".join(cols)} FROM '
            f"(SELECT {inner if exposed else '1 AS __one'}, {sums} FROM {source}{group_by}))")


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
    frame: pl.DataFrame  # withheld cells are null; see `suppressed`
    suppressed: pl.DataFrame  # the count and derived columns: True where no figure is shown
    threshold: int  # the highest threshold of the datasets read (0: nothing withheld)
    versions: dict[str, str | None]  # dataset -> version id read
    # The count and derived columns: True where a "suppress" total leaves out withheld cells.
    partial: pl.DataFrame = field(default_factory=pl.DataFrame)
    # How each dataset read was protected for this user: dataset -> csp.protection.cells.Rule.
    rules: dict = field(default_factory=dict)

    @property
    def n_suppressed(self) -> int:
        if self.suppressed.width == 0:
            return 0
        return int(sum(self.suppressed[c].sum() for c in self.suppressed.columns))

    @property
    def n_partial(self) -> int:
        if self.partial.width == 0:
            return 0
        return int(sum(self.partial[c].sum() for c in self.partial.columns))

    def methods(self) -> set[str]:
        """The protection methods applied to this result's counts (perturb, suppress)."""
        return {r.method for r in self.rules.values() if r.method != "none"}


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
    return run_query(user, get(name), params)


def from_text(name: str, text: str, path: Path | None = None) -> NamedQuery:
    """A query built at run time (csp.explore), parsed and checked exactly as a query file is.
    ``text`` must be made from trusted identifiers only (contract fields), with every value a
    declared parameter; ``path`` (default: the contracts file) stamps it for the result cache."""
    return _parse(path or config.contracts_path(), text, name)


# The datasets the queries of one page run read, for the audit trail's "whose data" (app.py):
# Explore and My dashboard may read any dataset, but a view uses only the ones it read.
_reads: contextvars.ContextVar[set | None] = contextvars.ContextVar("csp_reads", default=None)


@contextlib.contextmanager
def tracking_reads():
    """Collects, in the set it yields, the partner datasets (by their own name, not a cube's;
    no reference data) that the queries run inside it were allowed to read."""
    seen: set[str] = set()
    token = _reads.set(seen)
    try:
        yield seen
    finally:
        _reads.reset(token)


def run_query(user: access.User | None, q: NamedQuery, params: dict | None = None) -> Result:
    """Run a parsed query (a named one, or one built by csp.explore) as a user: the same access
    layer, protection and checks as every page."""
    values = bind_params(q, params)
    grants = {d: access.require(user, d) for d in q.datasets}
    if q.scope == "partnership" and any(g.areas for g in grants.values()):
        # A ward-scoped user reads the partnership's totals only where the policy says so for
        # every partner dataset (lookups are public): exactly what their partner's unscoped
        # users read, nothing finer.
        closed = sorted({catalog.in_sentence(catalog.contract(catalog.base(d)).title)
                         for d, g in grants.items() if g.areas and catalog.contract(d).protected
                         and not access.partnership_comparator(d)})
        if closed:
            raise access.AccessDenied(
                f"The sharing agreement does not let you compare with the partnership's {' and '.join(closed)}.")
        grants = {d: dataclasses.replace(g, areas=()) for d, g in grants.items()}
    if q.grain:
        too_coarse = [d for d, g in grants.items()
                      if catalog.contract(d).protected and _finer(q.grain, g.geography)]
        if too_coarse:
            names = sorted({catalog.in_sentence(catalog.contract(catalog.base(d)).title) for d in too_coarse})
            level = {"lsoa": "LSOA", "ward": "ward", "district": "district"}
            raise access.AccessDenied(
                f"This view shows {level[q.grain]} detail; under the sharing agreement you see "
                f"{' and '.join(names)} only down to {level[grants[too_coarse[0]].geography]} level."
            )
    if q.owner_only and not all(g.owner for d, g in grants.items() if catalog.contract(d).protected):
        raise access.AccessDenied("This view is for the data's owner only.")
    threshold = max((g.threshold for g in grants.values()), default=0)
    _check_complements(q, values, threshold)
    _check_periods(q, values, grants)
    _check_area_level(q, values, grants)
    _check_choices(user, q, values)
    values = {**values, **_system_values(q, user)}
    seen = _reads.get()
    if seen is not None:  # every check passed: this view reads these datasets
        # Lookups and published reference figures (areas, population) are read by every page:
        # that is no use of a partner's data.
        seen.update(b for b in (catalog.base(d) for d in q.datasets) if catalog.contract(b).kind != "reference")
    current = {d: store.current(d) for d in q.datasets}
    # Reported under the dataset's own name: a cube is a file of its parent's version.
    versions = {catalog.base(d): (v.version if v else None) for d, v in current.items()}
    # The cache key carries everything that can change the answer, the user's whole grant
    # included, so two users with different scopes can never share an entry.
    # A scoped answer also depends on the lookup that turns wards into LSOAs and districts.
    geo = store.current("geography") if any(g.areas for g in grants.values()) else None
    key = (
        q.name, q.path.stat().st_mtime_ns, hash(q.sql), tuple(sorted((k, str(v)) for k, v in values.items())),
        tuple(sorted(g.fingerprint() for g in grants.values())),
        tuple(sorted((d, str(v.path) if v else "") for d, v in current.items())),
        str(geo.path) if geo else None,
        tuple(sorted(_ptable_stamp(g.ptable) for g in grants.values() if g.ptable)),
    )
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    binds = dict(values)
    sql = compose_sql(q, grants, binds, current)
    # A system value a query does not use (held_first when it needs only held_last) is not bound:
    # DuckDB refuses parameters the SQL does not name.
    binds = {k: v for k, v in binds.items() if re.search(rf"\${re.escape(k)}\b", sql)}
    cur = store.cursor()
    try:
        frame = _narrow_sums(cur.sql(sql, params=binds).pl())
    finally:
        cur.close()
    rules = {catalog.base(d): cells.Rule(catalog.base(d), "none" if g.owner else g.protection,
                                         0 if g.owner else g.threshold, g.ptable)
             for d, g in grants.items() if catalog.contract(d).protected}
    try:
        frame, mask, partial = _publish(q, frame, rules, cur_datasets=q.datasets)
    except cells.CellError as e:  # a bug in a query file: say which, show no figures
        raise QueryError(f"Query '{q.name}' cannot be shown: {e}.") from None
    result = Result(q, frame, mask, threshold, versions, partial, rules)
    with _cache_lock:
        _cache[key] = result
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        total = sum(_nbytes(r) for r in _cache.values())
        while total > _CACHE_BYTES and len(_cache) > 1:  # oldest first; the newest always stays
            _, old = _cache.popitem(last=False)
            total -= _nbytes(old)
    return result


def _ptable_stamp(name: str) -> tuple:
    path = config.CONFIG_DIR / "ptables" / f"{name}.csv"
    try:
        return (name, path.stat().st_mtime_ns)
    except FileNotFoundError:
        return (name, None)


def _publish(q: NamedQuery, frame: pl.DataFrame, rules: dict, cur_datasets) -> tuple:
    """Protect every count column (csp.protection.cells), then compute the derived columns from
    the published figures, then order and cut. Returns (frame, withheld mask, partial mask)."""
    counts = [c for c in q.count_columns if c in frame.columns]
    for c in frame.columns:
        if c not in counts and cells.is_cell(frame[c]):
            raise cells.CellError(f"column '{c}' holds counts but is not declared a count")
    protected_sets = sorted({catalog.base(d) for d in cur_datasets if catalog.contract(d).protected})
    withheld, partial = {}, {}
    replaced = []
    for c in counts:
        if not rules:  # counts of reference data (none here today): nothing to protect
            withheld[c] = np.zeros(frame.height, dtype=bool)
            partial[c] = np.zeros(frame.height, dtype=bool)
            continue
        default = q.columns[c].dataset or (protected_sets[0] if len(protected_sets) == 1 else None)
        p = cells.protect(frame[c], rules, default)
        replaced.append(p.values)
        withheld[c], partial[c] = p.withheld, p.partial
    if replaced:
        frame = frame.with_columns(replaced)
    derived = [c for c in q.derived_columns]
    if derived:
        frame = _derive(q, frame, derived)
        for c in derived:
            src = [s for s in q.columns[c].derived_from if s in withheld]
            withheld[c] = (np.logical_or.reduce([withheld[s] for s in src])
                           if src else np.zeros(frame.height, dtype=bool))
            partial[c] = (np.logical_or.reduce([partial[s] for s in src])
                          if src else np.zeros(frame.height, dtype=bool))
    # Columns in the header's order (the SQL may compute them in another; derived ones come last).
    declared = [c for c in q.columns if c in frame.columns]
    frame = frame.select(declared + [c for c in frame.columns if c not in declared])
    cols = counts + derived
    mask = pl.DataFrame({c: withheld[c] for c in cols}, schema={c: pl.Boolean for c in cols})
    part = pl.DataFrame({c: partial[c] for c in cols}, schema={c: pl.Boolean for c in cols})
    if q.order or q.limit is not None:
        idx = pl.Series("__i", np.arange(frame.height))
        keyed = frame.with_columns(idx)
        if q.order:
            keyed = keyed.sort([c for c, _ in q.order], descending=[d for _, d in q.order],
                               nulls_last=True, maintain_order=True)
        if q.limit is not None:
            keyed = keyed.head(q.limit)
        take = keyed["__i"].to_numpy()
        frame, mask, part = keyed.drop("__i"), mask[take], part[take]
    return frame, mask, part


def _derive(q: NamedQuery, frame: pl.DataFrame, derived: list[str]) -> pl.DataFrame:
    """The derived columns, each computed by DuckDB from its ``expr`` over the published frame
    (so a rate or a change is always of the figures the user sees)."""
    cur = store.cursor()
    try:
        base = frame.drop([c for c in derived if c in frame.columns])
        cur.register("__published", base.to_arrow())
        select = ", ".join(f"({q.columns[c].expr}) AS \"{c}\"" for c in derived)
        extra = cur.sql(f"SELECT {select} FROM __published").pl()
    finally:
        cur.close()
    return pl.concat([base, _narrow_sums(extra)], how="horizontal")


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
                f"Under the sharing agreement you can filter {name.replace('_', ' ')} to one value at a time, or "
                "leave it empty for all: combining a few values could reveal suppressed numbers."
            )


def _system_values(q: NamedQuery, user) -> dict:
    """The values a query declares under ``system``: never from the user."""
    from . import partnership

    out = {}
    if "partnership" in q.system:
        out["partnership"] = partnership.districts()
    if "held" in q.system:
        span = periods.held([q.held_of])
        out["held_first"], out["held_last"] = span if span else (None, None)
    if "scope" in q.system:
        out["scope_wards"] = list(user.areas) if user and user.areas else None
    if "comparator" in q.system:
        out["comparator"] = partnership.comparator_districts()
    return out


def _check_area_level(q: NamedQuery, values: dict, grants: dict) -> None:
    """A ward asked of data the user may see only by district would match nothing and read as
    zero, which is false: say so instead."""
    for name, p in q.params.items():
        v = values.get(name)
        if p.type != "area" or not v or v[:3] not in ("E05", "W05"):
            continue
        coarse = [d for d, g in grants.items()
                  if catalog.contract(d).protected and not g.owner and g.geography == "district"]
        if coarse:
            raise QueryError("Under the sharing agreement you see this data by district, not by ward: "
                             "choose a district or the whole partnership.")


def _check_periods(q: NamedQuery, values: dict, grants: dict) -> None:
    """Totals over a window of months are given for a fixed set of windows to partners whose
    counts are protected (csp.protection.periods says why)."""
    roles = {p.period: n for n, p in q.params.items() if p.period}
    if not roles:
        return
    start, end = values.get(roles.get("start")), values.get(roles.get("end"))
    if start is not None and end is not None and start > end:
        # For everyone: a window ending before it starts read '-46 months' and a rate of -0.0.
        raise QueryError("The first month is after the last: choose a period that runs forwards.")
    span = periods.held([d for d, g in grants.items()
                         if catalog.contract(d).protected and not g.owner and g.protection != "none"])
    if span is None:
        return
    first, last = span
    if "end12" in roles and not periods.end12_allowed(values.get(roles["end12"]), first, last):
        raise QueryError(periods.REFUSAL_12)
    if ("start" in roles or "end" in roles) and not periods.window_allowed(
            values.get(roles.get("start")), values.get(roles.get("end")), first, last):
        raise QueryError(periods.REFUSAL)


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
