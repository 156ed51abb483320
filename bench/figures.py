"""The figures behind the Crime and ASB pages, computed five ways on the same published Parquet.

- ``access``: ``csp.queries.run`` as a user, result cache cleared first (what a page pays uncached);
- ``sql``:    the same named query's SQL on plain ``read_parquet`` views of the files it reads, each
  count presented as a cell (``struct_pack(value := n, key := rk, ...)`` for cubes, ``value := 1,
  key := rkey`` for rows) so the SQL runs unchanged, no access layer, same DuckDB connection
  (scoped: a plain ``ward_code = $ward`` filter). DuckDB alone: its answer is not publishable;
- ``floor``:  ``sql`` plus the work any correct implementation must do after it: publishing each
  count cell by the user's grant (cell-key perturbation through ``csp.protection.cellkey``), the
  query's derived columns (its ``expr``, computed from the published figures) and its
  ``order``/``limit``. The access-layer targets are measured against this floor;
- ``pandas``: ``pd.read_parquet(columns=...)`` then filter and groupby (counts and record-key sums
  per cell), then the same perturbation and derived columns, as a dashboard would have to;
- ``polars``: the same with a ``pl.scan_parquet`` lazy query.

Each figure is given the parameters the page uses on first view (the last 24 months held).
``compare`` checks the floor's and the peers' answers against the access layer's, cell by cell:
the same published figures and the same cells withheld.
"""
from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import polars as pl

from csp import access, catalog, config, queries, store
from csp.protection import cellkey, cells


@dataclass
class Context:
    user: access.User
    files: dict[str, list[str]]  # dataset -> Parquet files of the current version
    start: dt.date  # first month of the page's default period
    end: dt.date  # last month held
    ward: str | None = None  # scope (practitioner) or None (everywhere)
    lsoas: tuple[str, ...] = ()  # LSOAs in the scope ward
    grants: dict[str, access.Grant] = field(default_factory=dict)  # the user's, per dataset

    @property
    def month_params(self) -> dict:
        return {"from": self.start.strftime("%Y-%m"), "to": self.end.strftime("%Y-%m")}


def months_back(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.year * 12 + d.month - 1 - n, 12)
    return dt.date(y, m + 1, 1)


def make_context(user: access.User, span: int = 24) -> Context:
    """The user's view of the published data: files, period, scope and grants. The bench scopes
    a practitioner to one ward (a plain filter the floor and peers can apply)."""
    if len(user.areas) > 1:
        raise ValueError("the bench's floor and peers filter one ward; give the user one ward or none")
    ward = user.areas[0] if user.areas else None
    # The cubes too: the floor runs each named query's own SQL, and the counting queries read them.
    names = ("crime", "asb", "geography", *catalog.cubes("crime"), *catalog.cubes("asb"))
    files = {d: store.current(d).files for d in names}
    grants = {d: access.require(user, d) for d in names}
    cur = store.cursor()
    try:
        end = cur.execute("SELECT max(month) FROM read_parquet($f)", {"f": files["crime"]}).fetchone()[0]
        lsoas = ()
        if ward:
            lsoas = tuple(r[0] for r in cur.execute(
                "SELECT lsoa_code FROM read_parquet($f) WHERE ward_code = $w ORDER BY 1",
                {"f": files["geography"], "w": ward}).fetchall())
    finally:
        cur.close()
    return Context(user, files, months_back(end, span - 1), end, ward, lsoas, grants)


# ---- publishing, as the grant says -------------------------------------------------------------

def publish(ctx: Context, dataset: str, values, key_sums) -> tuple[np.ndarray, np.ndarray]:
    """Published figures and the withheld mask for count cells of ``dataset`` (true counts and the
    sums of their records' keys), by the user's grant: exact for the owner (or "none"), else
    cell-key perturbation with the grant's table and threshold."""
    g = ctx.grants[dataset]
    v = np.asarray(values, dtype=np.int64)
    if g.owner or g.protection == "none":
        return v, np.zeros(v.shape, dtype=bool)
    if g.protection == "perturb":
        table = cellkey.load_ptable(config.CONFIG_DIR / "ptables" / f"{g.ptable}.csv")
        return cellkey.perturb(v, np.asarray(key_sums, dtype=np.int64), table, g.threshold)
    # A "suppress" grant withholds cells of a protected base table that every view is added up
    # from; the bench's users (council, housing) perturb, so no peer rebuilds that table.
    raise NotImplementedError(f"bench peers: {dataset} is suppressed for this user; only perturb and exact are done")


def round_away(x: np.ndarray, digits: int) -> np.ndarray:
    """DuckDB's round(x, d) for DOUBLE: halves away from zero (numpy's round is half-to-even)."""
    m = 10.0 ** digits
    return np.sign(x) * np.floor(np.abs(x) * m + 0.5) / m


def _per_1000(counts: np.ndarray, population: np.ndarray) -> np.ndarray:
    """``round(1000.0 * crimes / nullif(population, 0), 2)`` on float arrays (NaN = null)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return round_away(1000.0 * counts / np.where(population == 0, np.nan, population), 2)


def _pct_change(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return round_away(100.0 * (current - previous) / np.where(previous == 0, np.nan, previous), 1)


# ---- peers ---------------------------------------------------------------------------------
# pandas reads the columns it needs, then filters and groups in memory; Polars scans lazily.
# Both count each cell and add up its records' keys, then publish as the grant says.

def _pd(ctx: Context, dataset: str, columns: list[str]) -> pd.DataFrame:
    cols = sorted(set(columns) | ({"lsoa_code"} if ctx.ward else set()))
    df = pd.concat([pd.read_parquet(f, columns=cols) for f in ctx.files[dataset]])
    if ctx.ward:
        df = df[df["lsoa_code"].isin(ctx.lsoas)]
    if "rkey" in df.columns:  # SMALLINT on disk; a groupby sum would keep (and overflow) it
        df["rkey"] = df["rkey"].astype("int64")
    return df


def _pl(ctx: Context, dataset: str) -> pl.LazyFrame:
    lf = pl.scan_parquet(ctx.files[dataset])
    return lf.filter(pl.col("lsoa_code").is_in(ctx.lsoas)) if ctx.ward else lf


def _pd_published(ctx: Context, dataset: str, n, k) -> pd.Series:
    values, withheld = publish(ctx, dataset, n, k)
    out = pd.Series(values, dtype="Int64", index=n.index if isinstance(n, pd.Series) else None)
    out[withheld] = pd.NA
    return out


def _pl_published(ctx: Context, dataset: str, name: str, n: pl.Series, k: pl.Series) -> pl.Series:
    values, withheld = publish(ctx, dataset, n.to_numpy(), k.to_numpy())
    out = pl.Series(name, values, dtype=pl.Int64)
    return out.scatter(np.flatnonzero(withheld), None) if withheld.any() else out


def _floats(s) -> np.ndarray:
    """A count or number column as float64 with NaN for null (pandas or Polars)."""
    if isinstance(s, pl.Series):
        return s.cast(pl.Float64).fill_null(np.nan).to_numpy()
    return s.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)


def _in_period(df: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    m = pd.to_datetime(df["month"])
    return df[(m >= pd.Timestamp(ctx.start)) & (m <= pd.Timestamp(ctx.end))]


def _pl_period(ctx: Context) -> pl.Expr:
    return pl.col("month").is_between(ctx.start, ctx.end)


def _pl_cell() -> list[pl.Expr]:
    return [pl.len().alias("__n"), pl.col("rkey").cast(pl.Int64).sum().alias("__k")]


def pandas_facets(ctx):
    df = _pd(ctx, "crime", ["crime_type", "month"])
    return df.groupby("crime_type", as_index=False).agg(first_month=("month", "min"), last_month=("month", "max"))


def polars_facets(ctx):
    return (_pl(ctx, "crime").group_by("crime_type")
            .agg(pl.col("month").min().alias("first_month"), pl.col("month").max().alias("last_month"))
            .sort("crime_type").collect())


def _pd_wards(ctx):
    g = _pd(ctx, "geography", ["ward_code", "ward_name", "district_code", "district_name", "population"])
    g = g[g["ward_code"].notna()]
    return g.groupby("ward_code", as_index=False).agg(
        ward_name=("ward_name", "first"), district_code=("district_code", "first"),
        district_name=("district_name", "first"), population=("population", "sum"))


def _pl_wards(ctx):
    return (_pl(ctx, "geography").filter(pl.col("ward_code").is_not_null()).group_by("ward_code")
            .agg(pl.col("ward_name").first(), pl.col("district_code").first(),
                 pl.col("district_name").first(), pl.col("population").sum()))


def pandas_areas(ctx):
    return _pd_wards(ctx)


def polars_areas(ctx):
    return _pl_wards(ctx).collect()


def pandas_headline(ctx):
    df = _pd(ctx, "crime", ["month", "rkey"])
    m = pd.to_datetime(df["month"])
    last = pd.Timestamp(ctx.end)
    cur = (m > last - pd.DateOffset(months=12)) & (m <= last)
    prev = (m > last - pd.DateOffset(months=24)) & (m <= last - pd.DateOffset(months=12))
    k = df["rkey"]
    pub = _pd_published(ctx, "crime", np.array([cur.sum(), prev.sum()]), np.array([k[cur].sum(), k[prev].sum()]))
    f = _floats(pub)
    return pd.DataFrame({"last_month": [ctx.end], "current": pub.iloc[[0]].to_numpy(),
                         "previous": pub.iloc[[1]].to_numpy(), "pct_change": _pct_change(f[:1], f[1:])})


def polars_headline(ctx):
    last = ctx.end
    a, b = months_back(last, 12), months_back(last, 24)
    cur = (pl.col("month") > a) & (pl.col("month") <= last)
    prev = (pl.col("month") > b) & (pl.col("month") <= a)
    k = pl.col("rkey").cast(pl.Int64)
    raw = _pl(ctx, "crime").select(
        cur.sum().cast(pl.Int64).alias("n_cur"), k.filter(cur).sum().alias("k_cur"),
        prev.sum().cast(pl.Int64).alias("n_prev"), k.filter(prev).sum().alias("k_prev"),
    ).collect()
    pub = _pl_published(ctx, "crime", "pub", pl.concat([raw["n_cur"], raw["n_prev"]]),
                        pl.concat([raw["k_cur"], raw["k_prev"]]))
    out = pl.DataFrame({"last_month": [last], "current": pub[:1], "previous": pub[1:]})
    return out.with_columns(
        (100.0 * (pl.col("current") - pl.col("previous")) / pl.when(pl.col("previous") != 0).then(pl.col("previous")))
        .round(1, mode="half_away_from_zero").alias("pct_change"))


def _monthly_keys(dataset):
    return (["month", "crime_type"] if dataset == "crime" else ["month"]), ("crimes" if dataset == "crime" else "incidents")


def pandas_monthly(ctx, dataset="crime"):
    keys, name = _monthly_keys(dataset)
    df = _in_period(_pd(ctx, dataset, [*keys, "rkey"]), ctx)
    g = df.groupby(keys, as_index=False).agg(__n=("rkey", "size"), __k=("rkey", "sum"))
    g[name] = _pd_published(ctx, dataset, g["__n"], g["__k"])
    return g[[*keys, name]].sort_values(keys)


def polars_monthly(ctx, dataset="crime"):
    keys, name = _monthly_keys(dataset)
    g = _pl(ctx, dataset).filter(_pl_period(ctx)).group_by(keys).agg(_pl_cell()).sort(keys).collect()
    return g.select(*keys, _pl_published(ctx, dataset, name, g["__n"], g["__k"]))


def pandas_by_ward(ctx):
    df = _in_period(_pd(ctx, "crime", ["month", "ward_code", "rkey"]), ctx)
    counts = df.groupby("ward_code", as_index=False, dropna=False).agg(__n=("rkey", "size"), __k=("rkey", "sum"))
    counts["crimes"] = _pd_published(ctx, "crime", counts["__n"], counts["__k"])
    out = counts.merge(_pd_wards(ctx), on="ward_code", how="left")
    out["ward_name"] = out["ward_name"].fillna("Unknown area")
    out["rate_per_1000"] = _per_1000(_floats(out["crimes"]), _floats(out["population"]))
    return out[["ward_code", "ward_name", "district_name", "crimes", "population", "rate_per_1000"]]


def polars_by_ward(ctx):
    counts = _pl(ctx, "crime").filter(_pl_period(ctx)).group_by("ward_code").agg(_pl_cell()).collect()
    counts = counts.with_columns(_pl_published(ctx, "crime", "crimes", counts["__n"], counts["__k"]))
    pop = pl.col("population")
    return (counts.lazy().join(_pl_wards(ctx), on="ward_code", how="left", nulls_equal=False)
            .with_columns(pl.col("ward_name").fill_null("Unknown area"),
                          (1000.0 * pl.col("crimes") / pl.when(pop != 0).then(pop))
                          .round(2, mode="half_away_from_zero").alias("rate_per_1000"))
            .select("ward_code", "ward_name", "district_name", "crimes", "population", "rate_per_1000")
            .collect())


@dataclass(frozen=True)
class Figure:
    query: str
    page: str
    params: Callable[[Context], dict]
    pandas: Callable[[Context], object]
    polars: Callable[[Context], object]
    keys: tuple[str, ...]  # columns identifying a row, for comparing answers


FIGURES = [
    Figure("crime_facets", "Crime", lambda c: {}, pandas_facets, polars_facets, ("crime_type",)),
    Figure("areas", "Crime", lambda c: {}, pandas_areas, polars_areas, ("ward_code",)),
    Figure("crime_headline", "Crime", lambda c: {"to": c.month_params["to"]}, pandas_headline,
           polars_headline, ("last_month",)),
    Figure("crime_monthly", "Crime", lambda c: c.month_params, pandas_monthly, polars_monthly,
           ("month", "crime_type")),
    Figure("crime_by_ward", "Crime", lambda c: c.month_params, pandas_by_ward, polars_by_ward,
           ("ward_code",)),
    Figure("asb_monthly", "ASB", lambda c: c.month_params, lambda c: pandas_monthly(c, "asb"),
           lambda c: polars_monthly(c, "asb"), ("month",)),
]


# ---- the access layer, and the DuckDB floors ------------------------------------------------

def run_access(user: access.User, fig: Figure, ctx: Context) -> queries.Result:
    queries.clear_cache()
    return queries.run(user, fig.query, fig.params(ctx))


def _view(d: str) -> str:
    """A dataset as a plain view: its columns as stored, each count presented as a cell (the
    runner's cell struct) so the named SQL runs unchanged; no grouping, scope or blanking."""
    c = catalog.contract(d)
    if not c.protected:
        return "*"
    if c.cube_of:  # a cube cell: its count and the sum of its records' keys
        counts, drop = {"n": ('"n"', '"rk"')}, ["n", "rk"]
    elif c.kind == "events":  # a row is one record: a cell of 1 with the record's key
        counts, drop = {"n": ("1", '"rkey"')}, ["rkey"]
    else:
        counts = {m: (f'"{m}"', f'"{m}_rkey"') for m in c.measures}
        drop = [x for m in c.measures for x in (m, f"{m}_rkey")]
    built = ", ".join(f'{cells.cell_sql(v, k, "0", catalog.base(d))} AS "{m}"' for m, (v, k) in counts.items())
    return f"* EXCLUDE ({', '.join(drop)}), {built}"


def floor_sql(query: str, ctx: Context, params: dict) -> tuple[str, dict]:
    """The named query's own SQL on plain Parquet views: what DuckDB costs with no access layer."""
    q = queries.get(query)
    binds = queries.bind_params(q, params)
    ctes = []
    for d in q.datasets:
        binds[f"__{d}"] = ctx.files[d]
        where = ""
        if ctx.ward:
            ward = catalog.contract(d).geo_field("ward")
            if ward is None:
                raise ValueError(f"bench floor: {d} has no ward field to scope it by")
            where = f' WHERE "{ward}" = $__ward'
        ctes.append(f'"{d}" AS (SELECT {_view(d)} FROM read_parquet($__{d}){where})')
    if ctx.ward:
        binds["__ward"] = ctx.ward
    body = q.sql
    m = re.match(r"^\s*WITH\s+", body, re.IGNORECASE)
    sql = f"WITH {', '.join(ctes)},\n{body[m.end():]}" if m else f"WITH {', '.join(ctes)}\n{body}"
    return sql, binds


def floor_publish(q: queries.NamedQuery, frame: pl.DataFrame, ctx: Context, cur) -> pl.DataFrame:
    """What must follow the SQL: each count cell published by the grant of its dataset (withheld
    cells null), then the derived columns from the published figures, then order and limit."""
    protected = sorted({catalog.base(d) for d in q.datasets if catalog.contract(d).protected})
    published = []
    for c in (c for c in q.count_columns if c in frame.columns):
        parts = frame[c].struct.unnest()
        names = {b: n for n, b in cells.dataset_bits().items()}
        ds = [names[b] for b in parts["ds"].fill_null(0).unique().to_list() if b] \
            or [q.columns[c].dataset or protected[0]]
        if len(ds) != 1:
            raise ValueError(f"bench floor: {q.name}.{c} mixes datasets {ds}")
        published.append(_pl_published(ctx, ds[0], c, parts["value"].fill_null(0), parts["key"].fill_null(0)))
    if published:
        frame = frame.with_columns(published)
    derived = q.derived_columns
    if derived:  # one DuckDB statement: the derived expressions, ordered and cut
        order = ", ".join(f'"{c}" {"DESC" if desc else "ASC"} NULLS LAST' for c, desc in q.order)
        cur.register("__published", frame.with_row_index("__i").to_arrow())
        exprs = ", ".join(f'({q.columns[c].expr}) AS "{c}"' for c in derived)
        sql = (f"SELECT * EXCLUDE (__i), {exprs} FROM __published"
               + (f" ORDER BY {order}, __i" if order else "")
               + (f" LIMIT {int(q.limit)}" if q.limit is not None else ""))
        try:
            return cur.sql(sql).pl()
        finally:
            cur.unregister("__published")
    if q.order:
        frame = frame.sort([c for c, _ in q.order], descending=[d for _, d in q.order],
                           nulls_last=True, maintain_order=True)
    return frame.head(q.limit) if q.limit is not None else frame


def run_sql(query: str, ctx: Context, params: dict) -> pl.DataFrame:
    """DuckDB alone: the named SQL on plain views; counts come back as unpublished cells."""
    sql, binds = floor_sql(query, ctx, params)
    cur = store.cursor()
    try:
        return cur.sql(sql, params=binds).pl()
    finally:
        cur.close()


def run_floor_query(query: str, ctx: Context, params: dict) -> pl.DataFrame:
    """The floor: DuckDB's SQL, then publishing, derived columns, order and limit."""
    sql, binds = floor_sql(query, ctx, params)
    cur = store.cursor()
    try:
        return floor_publish(queries.get(query), cur.sql(sql, params=binds).pl(), ctx, cur)
    finally:
        cur.close()


def run_floor(fig: Figure, ctx: Context) -> pl.DataFrame:
    return run_floor_query(fig.query, ctx, fig.params(ctx))


def explain_analyze(user: access.User, fig: Figure, ctx: Context) -> str:
    """EXPLAIN ANALYZE of the SQL the access layer composes for this user (for profiling)."""
    q = queries.get(fig.query)
    binds = queries.bind_params(q, fig.params(ctx))
    grants = {d: access.require(user, d) for d in q.datasets}
    sql = queries.compose_sql(q, grants, binds, {d: store.current(d) for d in q.datasets})
    cur = store.cursor()
    try:
        rows = cur.execute("EXPLAIN ANALYZE " + sql, binds).fetchall()
    finally:
        cur.close()
    return "\n".join(r[-1] for r in rows)


# ---- checking the answers agree ---------------------------------------------------------------

def _norm(v):
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    if isinstance(v, pd.Timestamp):
        return v.date()
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if hasattr(v, "item"):  # numpy scalars
        return _norm(v.item())
    return v


def _records(frame, keys) -> dict:
    if isinstance(frame, pd.DataFrame):
        frame = pl.from_pandas(frame.reset_index(drop=True))
    return {tuple(_norm(r[k]) for k in keys): {c: _norm(v) for c, v in r.items()}
            for r in frame.iter_rows(named=True)}


def row_keys(q: queries.NamedQuery) -> tuple[str, ...]:
    """Columns that identify a row of a query's answer: all but its counts and derived figures."""
    return tuple(c for c, spec in q.columns.items() if spec.type not in ("count", "derived"))


def compare(fig: Figure, result: queries.Result, other) -> list[str]:
    return compare_by(fig.query, fig.keys, result, other)


def compare_by(name: str, keys: tuple[str, ...], result: queries.Result, other) -> list[str]:
    """Differences between the access layer's answer and another's, cell by cell: the same rows,
    the same published figures (derived ones computed the same way, so equal to the last bit),
    and the same cells withheld (null in the other answer exactly where the access layer's
    mask withholds a count)."""
    q = result.query
    ours, theirs = _records(result.frame, keys), _records(other, keys)
    problems = []
    if len(ours) != result.frame.height:
        problems.append(f"{name}: {keys} do not identify its rows; cannot compare")
    if set(ours) != set(theirs):
        problems.append(f"{name}: rows differ ({len(ours)} vs {len(theirs)}; e.g. "
                        f"{sorted(set(ours) ^ set(theirs), key=str)[:3]})")
    masked = _records(result.frame.select(list(keys)).hstack(result.suppressed), keys) \
        if result.suppressed.width else {}
    for key in sorted(set(ours) & set(theirs), key=str):
        for col, spec in q.columns.items():
            a, b = ours[key].get(col), theirs[key].get(col)
            withheld = bool(masked.get(key, {}).get(col))
            if spec.type == "count":
                if withheld != (a is None):
                    problems.append(f"{name} {key} {col}: access mask says withheld={withheld} but shows {a!r}")
                elif withheld and b is not None:
                    problems.append(f"{name} {key} {col}: withheld by the access layer, other publishes {b!r}")
                elif not withheld and b is None:
                    problems.append(f"{name} {key} {col}: access publishes {a!r}, other withholds it")
                elif a != b:
                    problems.append(f"{name} {key} {col}: access {a!r} vs other {b!r}")
            elif a != b:
                problems.append(f"{name} {key} {col}: access {a!r} vs other {b!r}")
    return problems
