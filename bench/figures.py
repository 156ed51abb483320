"""The figures behind the Crime and ASB pages, computed four ways on the same published Parquet.

- ``access``: ``csp.queries.run`` as a user, result cache cleared first (what a page pays uncached);
- ``floor``:  the same named query's SQL on plain ``read_parquet`` views, no access layer, on the
  same DuckDB connection (scoped: a plain ``ward_code = $ward`` filter);
- ``pandas``: ``pd.read_parquet(columns=...)`` then filter and groupby, as a typical dashboard does;
- ``polars``: ``pl.scan_parquet`` lazy query.

Each figure is given the parameters the page uses on first view (the last 24 months held).
``compare`` checks the peers' answers against the access layer's, suppression included.
"""
from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from dataclasses import dataclass
from typing import Callable

import pandas as pd
import polars as pl

from csp import access, catalog, queries, store


@dataclass
class Context:
    files: dict[str, list[str]]  # dataset -> Parquet files of the current version
    start: dt.date  # first month of the page's default period
    end: dt.date  # last month held
    ward: str | None = None  # scope (practitioner) or None (everywhere)
    lsoas: tuple[str, ...] = ()  # LSOAs in the scope ward

    @property
    def month_params(self) -> dict:
        return {"from": self.start.strftime("%Y-%m"), "to": self.end.strftime("%Y-%m")}


def months_back(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.year * 12 + d.month - 1 - n, 12)
    return dt.date(y, m + 1, 1)


def make_context(ward: str | None = None, span: int = 24) -> Context:
    # The cubes too: the floor runs each named query's own SQL, and the counting queries read them.
    names = ("crime", "asb", "geography", *catalog.cubes("crime"), *catalog.cubes("asb"))
    files = {d: store.current(d).files for d in names}
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
    return Context(files, months_back(end, span - 1), end, ward, lsoas)


# ---- peers ---------------------------------------------------------------------------------
# pandas reads the columns it needs, then filters and groups in memory; Polars scans lazily.

def _pd(ctx: Context, dataset: str, columns: list[str]) -> pd.DataFrame:
    cols = sorted(set(columns) | ({"lsoa_code"} if ctx.ward else set()))
    df = pd.concat([pd.read_parquet(f, columns=cols) for f in ctx.files[dataset]])
    if ctx.ward:
        df = df[df["lsoa_code"].isin(ctx.lsoas)]
    return df


def _pl(ctx: Context, dataset: str) -> pl.LazyFrame:
    lf = pl.scan_parquet(ctx.files[dataset])
    return lf.filter(pl.col("lsoa_code").is_in(ctx.lsoas)) if ctx.ward else lf


def _in_period(df: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    m = pd.to_datetime(df["month"])
    return df[(m >= pd.Timestamp(ctx.start)) & (m <= pd.Timestamp(ctx.end))]


def _pl_period(ctx: Context) -> pl.Expr:
    return pl.col("month").is_between(ctx.start, ctx.end)


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
    df = _pd(ctx, "crime", ["month"])
    m = pd.to_datetime(df["month"])
    last = pd.Timestamp(ctx.end)
    cur = int(((m > last - pd.DateOffset(months=12)) & (m <= last)).sum())
    prev = int(((m > last - pd.DateOffset(months=24)) & (m <= last - pd.DateOffset(months=12))).sum())
    return pd.DataFrame({"last_month": [ctx.end], "current": [cur], "previous": [prev],
                         "pct_change": [round(100.0 * (cur - prev) / prev, 1) if prev else None]})


def polars_headline(ctx):
    last = ctx.end
    a, b = months_back(last, 12), months_back(last, 24)
    return (_pl(ctx, "crime").select(
        pl.lit(last).alias("last_month"),
        ((pl.col("month") > a) & (pl.col("month") <= last)).sum().cast(pl.Int64).alias("current"),
        ((pl.col("month") > b) & (pl.col("month") <= a)).sum().cast(pl.Int64).alias("previous"),
    ).with_columns(
        pl.when(pl.col("previous") > 0)
        .then((100.0 * (pl.col("current") - pl.col("previous")) / pl.col("previous")).round(1))
        .alias("pct_change")
    ).collect())


def pandas_monthly(ctx, dataset="crime"):
    cols = ["month", "crime_type"] if dataset == "crime" else ["month"]
    df = _in_period(_pd(ctx, dataset, cols), ctx)
    keys = ["month", "crime_type"] if dataset == "crime" else ["month"]
    name = "crimes" if dataset == "crime" else "incidents"
    return df.groupby(keys, as_index=False).size().rename(columns={"size": name}).sort_values(keys)


def polars_monthly(ctx, dataset="crime"):
    keys = ["month", "crime_type"] if dataset == "crime" else ["month"]
    name = "crimes" if dataset == "crime" else "incidents"
    return (_pl(ctx, dataset).filter(_pl_period(ctx)).group_by(keys).agg(pl.len().alias(name))
            .sort(keys).collect())


def pandas_by_ward(ctx):
    df = _in_period(_pd(ctx, "crime", ["month", "ward_code"]), ctx)
    counts = df.groupby("ward_code", as_index=False, dropna=False).size().rename(columns={"size": "crimes"})
    out = counts.merge(_pd_wards(ctx), on="ward_code", how="left")
    out["ward_name"] = out["ward_name"].fillna("Unknown area")
    out["rate_per_1000"] = (1000.0 * out["crimes"] / out["population"].replace(0, float("nan"))).round(2)
    return out[["ward_code", "ward_name", "district_name", "crimes", "population", "rate_per_1000"]]


def polars_by_ward(ctx):
    counts = _pl(ctx, "crime").filter(_pl_period(ctx)).group_by("ward_code").agg(pl.len().alias("crimes"))
    return (counts.join(_pl_wards(ctx), on="ward_code", how="left", nulls_equal=False)
            .with_columns(pl.col("ward_name").fill_null("Unknown area"),
                          (1000.0 * pl.col("crimes") / pl.col("population")).round(2).alias("rate_per_1000"))
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


# ---- the four ways ---------------------------------------------------------------------------

def run_access(user: access.User, fig: Figure, ctx: Context) -> queries.Result:
    queries.clear_cache()
    return queries.run(user, fig.query, fig.params(ctx))


def floor_sql(query: str, ctx: Context, params: dict) -> tuple[str, dict]:
    """The named query's own SQL on plain Parquet views: what DuckDB costs with no access layer."""
    q = queries.get(query)
    binds = queries.bind_params(q, params)
    ctes = []
    for d in q.datasets:
        binds[f"__{d}"] = ctx.files[d]
        where = " WHERE ward_code = $__ward" if ctx.ward else ""
        ctes.append(f'"{d}" AS (SELECT * FROM read_parquet($__{d}){where})')
    if ctx.ward:
        binds["__ward"] = ctx.ward
    body = q.sql
    m = re.match(r"^\s*WITH\s+", body, re.IGNORECASE)
    sql = f"WITH {', '.join(ctes)},\n{body[m.end():]}" if m else f"WITH {', '.join(ctes)}\n{body}"
    return sql, binds


def run_floor(fig: Figure, ctx: Context) -> pl.DataFrame:
    sql, binds = floor_sql(fig.query, ctx, fig.params(ctx))
    cur = store.cursor()
    try:
        return cur.sql(sql, params=binds).pl()
    finally:
        cur.close()


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
    if v is None or (isinstance(v, float) and math.isnan(v)):
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


def compare(fig: Figure, result: queries.Result, other) -> list[str]:
    """Differences between the access layer's answer and a peer's raw answer. A cell the access
    layer suppressed must be a count the peer finds below the threshold (or derived from one)."""
    q = result.query
    ours, theirs = _records(result.frame, fig.keys), _records(other, fig.keys)
    problems = []
    if set(ours) != set(theirs):
        problems.append(f"{fig.query}: rows differ ({len(ours)} vs {len(theirs)}; e.g. "
                        f"{sorted(set(ours) ^ set(theirs), key=str)[:3]})")
    masked = _records(result.frame.select(list(fig.keys)).hstack(result.suppressed), fig.keys) \
        if result.suppressed.width else {}
    for key in set(ours) & set(theirs):
        for col, spec in q.columns.items():
            a, b = ours[key].get(col), theirs[key].get(col)
            if masked.get(key, {}).get(col):
                # A larger count may be withheld on purpose where the query declares totals
                # (secondary suppression protecting a small cell in the same group).
                if spec.type == "count" and not (b is not None and 0 < b < result.threshold) \
                        and not (q.totals and b is not None):
                    problems.append(f"{fig.query} {key} {col}: suppressed but peer has {b}")
                continue
            if isinstance(a, float) or isinstance(b, float):
                ok = a is None and b is None or (a is not None and b is not None and abs(a - b) <= 0.051)
            else:
                ok = a == b
            if not ok:
                problems.append(f"{fig.query} {key} {col}: access {a!r} vs peer {b!r}")
    return problems
