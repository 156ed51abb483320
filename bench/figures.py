"""The figures behind the Crime and ASB pages, computed five ways on the same published Parquet.

- ``access``: ``csp.queries.run`` as a user, result cache cleared first (what a page pays uncached);
- ``sql``:    the same named query's SQL on plain ``read_parquet`` views of the files it reads, each
  count presented as a cell (``struct_pack(value := n, key := rk, ...)`` for cubes, ``value := 1,
  key := rkey`` for rows) so the SQL runs unchanged, no access layer, same DuckDB connection
  (scoped: a plain ``ward_code = $ward`` filter on the datasets a scope filters), with the system
  values a query declares (the partnership's districts, the months held, the user's wards, the
  comparator area) bound as the runner binds them. DuckDB alone: its answer is not publishable;
- ``floor``:  ``sql`` plus the work any correct implementation must do after it: publishing each
  count cell by the user's grant (cell-key perturbation through ``csp.protection.cellkey``), the
  query's derived columns (its ``expr``, computed from the published figures) and its
  ``order``/``limit``. The access-layer targets are measured against this floor;
- ``pandas``: ``pd.read_parquet(columns=...)`` then filter and groupby (counts and record-key sums
  per cell), then the same perturbation and derived columns, as a dashboard would have to;
- ``polars``: the same with a ``pl.scan_parquet`` lazy query.

Each figure is given the parameters the page uses on first view (the default named period: the
latest 24 months held, or 12 when fewer are held; the monthly trend also reads the year before,
for its rolling line and same-month-last-year check: ``csp.indicators.history_start``). ``compare`` checks the floor's and the peers' answers against the access layer's,
cell by cell: the same rows, the same published figures and the same cells withheld.

The peers do what the queries do for the bench's setting: no partnership area and no comparator
set (every district held is the partnership), a whole-area user or a user scoped to one ward.
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

from csp import access, catalog, config, indicators, partnership, queries, store
from csp.protection import cellkey, cells, periods


@dataclass
class Context:
    user: access.User
    files: dict[str, list[str]]  # dataset -> Parquet files of the current version
    ward: str | None = None  # scope (practitioner) or None (everywhere)
    grants: dict[str, access.Grant] = field(default_factory=dict)  # the user's, per dataset
    held: dict[str, tuple[dt.date, dt.date]] = field(default_factory=dict)  # first, last month held

    def period(self, dataset: str = "crime") -> tuple[dt.date, dt.date]:
        """The page's default period (csp.ui.common.period_filter): the latest 24 named months,
        or the latest 12 when fewer than 24 are held."""
        first, last = self.held[dataset]
        named = {p.key: p for p in periods.named_periods(first, last)}
        p = named.get("latest24") or named["latest12"]
        return p.start, p.end

    def period_params(self, dataset: str = "crime") -> dict:
        start, end = self.period(dataset)
        return {"from": start.strftime("%Y-%m"), "to": end.strftime("%Y-%m")}

    def trend_params(self, dataset: str = "crime") -> dict:
        """The monthly trend's parameters: the months before the period it reads too (csp.ui.sections)."""
        p = self.period_params(dataset)
        first = self.held[dataset][0].strftime("%Y-%m")
        return p | {"from": indicators.history_start(p["from"], first)}

    def headline_params(self, dataset: str = "crime") -> dict:
        return {"to": indicators.headline_end(self.period_params(dataset)["to"], dataset)}

    @property
    def month_params(self) -> dict:
        return self.period_params("crime")


def add_months(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return dt.date(y, m + 1, 1)


def months_between(a: dt.date, b: dt.date) -> int:
    """DuckDB's date_diff('month', a, b) for first-of-month dates."""
    return (b.year * 12 + b.month) - (a.year * 12 + a.month)


def make_context(user: access.User) -> Context:
    """The user's view of the published data: files, months held, scope and grants. The bench
    scopes a practitioner to one ward (a plain filter the floor and peers can apply)."""
    if len(user.areas) > 1:
        raise ValueError("the bench's floor and peers filter one ward; give the user one ward or none")
    if partnership.districts() or partnership.comparator_districts():
        raise ValueError("the bench's peers assume no partnership or comparator area is set")
    ward = user.areas[0] if user.areas else None
    # The cubes too: the floor runs each named query's own SQL, and the counting queries read them.
    names = ("crime", "asb", "geography", "areas", *catalog.cubes("crime"), *catalog.cubes("asb"))
    files = {d: store.current(d).files for d in names}
    grants = {d: access.require(user, d) for d in names}
    held = {d: periods.held([d]) for d in ("crime", "asb")}
    return Context(user, files, ward, grants, held)


def system_binds(q: queries.NamedQuery, ctx: Context) -> dict:
    """The values the runner binds for a query's ``system`` declaration (never from the user)."""
    out = {}
    if "partnership" in q.system:
        out["partnership"] = partnership.districts()
    if "held" in q.system:
        span = periods.held([q.held_of])
        out["held_first"], out["held_last"] = span if span else (None, None)
    if "scope" in q.system:
        out["scope_wards"] = [ctx.ward] if ctx.ward else None
    if "comparator" in q.system:
        out["comparator"] = partnership.comparator_districts()
    return out


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


def _rate(counts: np.ndarray, population: np.ndarray, months: int) -> np.ndarray:
    """``round(1000.0 * n / nullif(population, 0) * 12.0 / months, 2)``: per 1,000 residents a
    year, in the same order of operations (float arrays, NaN = null)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return round_away(1000.0 * counts / np.where(population == 0, np.nan, population) * 12.0 / months, 2)


def _pct_change(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return round_away(100.0 * (current - previous) / np.where(previous == 0, np.nan, previous), 1)


def _month(s: str | None) -> dt.date | None:
    return dt.date(int(s[:4]), int(s[5:7]), 1) if s else None


def _bounds(ctx: Context, params: dict, dataset: str = "crime") -> tuple[dt.date, dt.date]:
    """``coalesce($from, $held_first)``, ``coalesce($to, $held_last)``."""
    first, last = ctx.held[dataset]
    return _month(params.get("from")) or first, _month(params.get("to")) or last


# ---- peers ---------------------------------------------------------------------------------
# pandas reads the columns it needs, then filters and groups in memory; Polars scans lazily.
# Both count each cell and add up its records' keys, then publish as the grant says.

def _scoped(ctx: Context, dataset: str) -> bool:
    return bool(ctx.ward) and catalog.contract(dataset).row_scope


def _pd(ctx: Context, dataset: str, columns: list[str]) -> pd.DataFrame:
    cols = sorted(set(columns) | ({"ward_code"} if _scoped(ctx, dataset) else set()))
    df = pd.concat([pd.read_parquet(f, columns=cols) for f in ctx.files[dataset]])
    if _scoped(ctx, dataset):
        df = df[df["ward_code"] == ctx.ward]
    if "rkey" in df.columns:  # SMALLINT on disk; a groupby sum would keep (and overflow) it
        df["rkey"] = df["rkey"].astype("int64")
    return df


def _pl(ctx: Context, dataset: str) -> pl.LazyFrame:
    lf = pl.scan_parquet(ctx.files[dataset])
    return lf.filter(pl.col("ward_code") == ctx.ward) if _scoped(ctx, dataset) else lf


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


def _in_period(df: pd.DataFrame, params: dict) -> pd.DataFrame:
    m = pd.to_datetime(df["month"])
    keep = np.ones(len(df), dtype=bool)
    if params.get("from"):
        keep &= (m >= pd.Timestamp(_month(params["from"]))).to_numpy()
    if params.get("to"):
        keep &= (m <= pd.Timestamp(_month(params["to"]))).to_numpy()
    return df[keep]


def _pl_period(params: dict) -> pl.Expr:
    e = pl.lit(True)
    if params.get("from"):
        e &= pl.col("month") >= _month(params["from"])
    if params.get("to"):
        e &= pl.col("month") <= _month(params["to"])
    return e


def _pl_cell() -> list[pl.Expr]:
    return [pl.len().alias("__n"), pl.col("rkey").cast(pl.Int64).sum().alias("__k")]


def _count_name(dataset: str) -> str:
    return "crimes" if dataset == "crime" else "incidents"


# facets: first and last month per crime type -------------------------------------------------

def pandas_facets(ctx, params):
    df = _pd(ctx, "crime", ["crime_type", "month"])
    return df.groupby("crime_type", as_index=False, dropna=False).agg(
        first_month=("month", "min"), last_month=("month", "max"))


def polars_facets(ctx, params):
    return (_pl(ctx, "crime").group_by("crime_type")
            .agg(pl.col("month").min().alias("first_month"), pl.col("month").max().alias("last_month"))
            .collect())


# areas: the wards and districts of the partnership, or the user's wards ------------------------

AREA_COLUMNS = ["area_code", "area_level", "area_label", "district_code", "district_name",
                "population", "population_year"]


def pandas_areas(ctx, params):
    a = pd.concat([pd.read_parquet(f, columns=AREA_COLUMNS) for f in ctx.files["areas"]])
    a = a[a["area_level"].isin(["ward", "district"])]
    if ctx.ward:
        a = a[(a["area_level"] == "ward") & (a["area_code"] == ctx.ward)]
    ward = a["area_level"] == "ward"
    return pd.DataFrame({
        "area_code": a["area_code"], "area_level": a["area_level"], "label": a["area_label"],
        "ward_code": a["area_code"].where(ward), "ward_name": a["area_label"].where(ward),
        "district_code": a["district_code"], "district_name": a["district_name"],
        "population": a["population"], "population_year": a["population_year"]})


def polars_areas(ctx, params):
    lf = pl.scan_parquet(ctx.files["areas"]).filter(pl.col("area_level").is_in(["ward", "district"]))
    if ctx.ward:
        lf = lf.filter((pl.col("area_level") == "ward") & (pl.col("area_code") == ctx.ward))
    ward = pl.col("area_level") == "ward"
    return lf.select("area_code", "area_level", pl.col("area_label").alias("label"),
                     pl.when(ward).then(pl.col("area_code")).alias("ward_code"),
                     pl.when(ward).then(pl.col("area_label")).alias("ward_name"),
                     "district_code", "district_name", "population", "population_year").collect()


def _pd_area_rows(ctx, level: str) -> pd.DataFrame:
    a = pd.concat([pd.read_parquet(f, columns=AREA_COLUMNS) for f in ctx.files["areas"]])
    return a[a["area_level"] == level]


def _pl_area_rows(ctx, level: str) -> pl.LazyFrame:
    return pl.scan_parquet(ctx.files["areas"]).filter(pl.col("area_level") == level)


# headline: the 12 months to `to` against the 12 before ----------------------------------------

def _headline_frame(ctx, params, n_cur, k_cur, n_prev, k_prev) -> dict:
    """The headline row from its two cells, with the months of each period inside the data held."""
    last, cut12, cut24 = _headline_cuts(ctx, params)
    first_h, last_h = ctx.held["crime"]
    cur_held = months_between(max(add_months(cut12, 1), first_h), min(last, last_h)) + 1
    prev_held = max(0, months_between(max(add_months(cut24, 1), first_h), min(cut12, last_h)) + 1)
    values, withheld = publish(ctx, "crime", [n_cur, n_prev], [k_cur, k_prev])
    f = np.where(withheld, np.nan, values.astype(np.float64))
    cur, prev = (None if withheld[0] else int(values[0])), (None if withheld[1] else int(values[1]))
    return {"last_month": [last], "current": [cur], "previous": [prev],
            "current_months_held": [cur_held], "previous_months_held": [prev_held],
            "pct_change": _pct_change(f[:1], f[1:])}


def _headline_cuts(ctx, params):
    last = _month(params.get("to")) or ctx.held["crime"][1]
    return last, add_months(last, -12), add_months(last, -24)


def pandas_headline(ctx, params):
    last, cut12, cut24 = _headline_cuts(ctx, params)
    df = _pd(ctx, "crime", ["month", "rkey"])
    m = pd.to_datetime(df["month"])
    cur = (m > pd.Timestamp(cut12)) & (m <= pd.Timestamp(last))
    prev = (m > pd.Timestamp(cut24)) & (m <= pd.Timestamp(cut12))
    k = df["rkey"]
    return pd.DataFrame(_headline_frame(ctx, params, int(cur.sum()), int(k[cur].sum()),
                                        int(prev.sum()), int(k[prev].sum())))


def polars_headline(ctx, params):
    last, cut12, cut24 = _headline_cuts(ctx, params)
    cur = (pl.col("month") > cut12) & (pl.col("month") <= last)
    prev = (pl.col("month") > cut24) & (pl.col("month") <= cut12)
    k = pl.col("rkey").cast(pl.Int64)
    raw = _pl(ctx, "crime").select(
        cur.sum().cast(pl.Int64).alias("n_cur"), k.filter(cur).sum().alias("k_cur"),
        prev.sum().cast(pl.Int64).alias("n_prev"), k.filter(prev).sum().alias("k_prev"),
    ).collect().row(0)
    return pl.DataFrame(_headline_frame(ctx, params, *(x or 0 for x in raw)))


# counts per month and/or category over the period --------------------------------------------

def pandas_counts(ctx, params, dataset: str, keys: list[str]):
    name = _count_name(dataset)
    df = _in_period(_pd(ctx, dataset, sorted({*keys, "month", "rkey"})), params)
    g = df.groupby(keys, as_index=False, dropna=False).agg(__n=("rkey", "size"), __k=("rkey", "sum"))
    g[name] = _pd_published(ctx, dataset, g["__n"], g["__k"])
    return g[[*keys, name]]


def polars_counts(ctx, params, dataset: str, keys: list[str]):
    name = _count_name(dataset)
    g = _pl(ctx, dataset).filter(_pl_period(params)).group_by(keys).agg(_pl_cell()).collect()
    return g.select(*keys, _pl_published(ctx, dataset, name, g["__n"], g["__k"]))


# by ward: every ward with crimes, and the crimes with no location, with rates a year -----------

def pandas_by_ward(ctx, params):
    start, end = _bounds(ctx, params)
    months = months_between(start, end) + 1
    df = _in_period(_pd(ctx, "crime", ["month", "ward_code", "rkey"]), params)
    k = df.groupby("ward_code", as_index=False, dropna=False).agg(__n=("rkey", "size"), __k=("rkey", "sum"))
    k["crimes"] = _pd_published(ctx, "crime", k["__n"], k["__k"])
    a = _pd_area_rows(ctx, "ward").rename(columns={"area_code": "ward_code"})
    out = k.merge(a[["ward_code", "area_label", "district_name", "population", "population_year"]],
                  on="ward_code", how="left")
    none = out["ward_code"].isna()
    out["ward_name"] = out["area_label"].fillna(out["ward_code"]).mask(none, "No location given")
    out["district_name"] = out["district_name"].mask(none, None)
    out["row_kind"] = np.where(none, "no location", "ward")
    out["row_order"] = np.where(none, 2, 0)
    out["months"] = months
    out["rate_per_1000"] = _rate(_floats(out["crimes"]), _floats(out["population"]), months)
    return out[["ward_code", "ward_name", "district_name", "row_kind", "row_order", "crimes",
                "population", "population_year", "months", "rate_per_1000"]]


def polars_by_ward(ctx, params):
    start, end = _bounds(ctx, params)
    months = months_between(start, end) + 1
    k = (_pl(ctx, "crime").filter(pl.col("month").is_between(start, end))
         .group_by("ward_code").agg(_pl_cell()).collect())
    k = k.with_columns(_pl_published(ctx, "crime", "crimes", k["__n"], k["__k"]))
    a = _pl_area_rows(ctx, "ward").select(pl.col("area_code").alias("ward_code"), "area_label",
                                          "district_name", "population", "population_year")
    none = pl.col("ward_code").is_null()
    pop = pl.col("population")
    return (k.lazy().join(a, on="ward_code", how="left", nulls_equal=False)
            .with_columns(pl.when(none).then(pl.lit("No location given"))
                          .otherwise(pl.coalesce("area_label", "ward_code")).alias("ward_name"),
                          pl.when(none).then(pl.lit("no location")).otherwise(pl.lit("ward")).alias("row_kind"),
                          pl.when(none).then(2).otherwise(0).alias("row_order"),
                          pl.lit(months).alias("months"),
                          (1000.0 * pl.col("crimes") / pl.when(pop != 0).then(pop) * 12.0 / months)
                          .round(2, mode="half_away_from_zero").alias("rate_per_1000"))
            .select("ward_code", "ward_name", "district_name", "row_kind", "row_order", "crimes",
                    "population", "population_year", "months", "rate_per_1000")
            .collect())


# benchmark: the partnership (every district held), or the user's wards -------------------------

def _benchmark_row(ctx, params, n, k, districts, areas_rows) -> dict:
    """One comparator row from its cell (n crimes, key sum k) and the areas it covers."""
    start, end = _bounds(ctx, params)
    months = months_between(start, end) + 1
    values, withheld = publish(ctx, "crime", [n], [k])
    crimes = None if withheld[0] else int(values[0])
    pop, year, wards = areas_rows
    rate = _rate(np.array([np.nan if crimes is None else float(crimes)]),
                 np.array([np.nan if pop is None else float(pop)]), months)[0]
    if ctx.ward:
        return {"comparator": "your wards", "label": "your wards", "sort": 0, "districts": None,
                "wards": 1, "crimes": crimes, "population": pop, "population_year": year,
                "months": months, "rate_per_1000": rate}
    return {"comparator": "partnership", "label": "the partnership", "sort": 0,
            "districts": len(districts) if districts is not None else None, "wards": wards,
            "crimes": crimes, "population": pop, "population_year": year, "months": months,
            "rate_per_1000": rate}


def _whole(pops, years, count: int):
    """``CASE WHEN count(*) = <count> AND count(*) = count(population) THEN sum(population) END``
    and ``max(population_year)`` over an area's rows (nulls as None or NaN): the population only
    when all of the area is held."""
    pops = [None if _norm(p) is None else int(p) for p in pops]
    ys = [int(y) for y in years if _norm(y) is not None]
    complete = pops and len(pops) == count and None not in pops
    return (sum(pops) if complete else None), (max(ys) if ys else None)


def pandas_benchmark(ctx, params):
    df = _in_period(_pd(ctx, "crime", ["month", "ward_code", "district_code", "rkey"]), params)
    if ctx.ward:
        located = df[df["ward_code"].notna()]
        w = _pd_area_rows(ctx, "ward")
        w = w[w["area_code"] == ctx.ward]
        pop, year = _whole(w["population"].tolist(), w["population_year"].tolist(), len(w))
        row = _benchmark_row(ctx, params, len(located), int(located["rkey"].sum()), None, (pop, year, 1))
    else:
        located = df[df["district_code"].notna()]
        districts = located["district_code"].unique().tolist() or None
        d = _pd_area_rows(ctx, "district")
        d = d[d["area_code"].isin(districts or [])]
        wards = _pd_area_rows(ctx, "ward")
        pop, year = _whole(d["population"].tolist(), d["population_year"].tolist(),
                           len(districts) if districts else -1)
        n_wards = int(wards["district_code"].isin(districts or []).sum())
        row = _benchmark_row(ctx, params, len(located), int(located["rkey"].sum()), districts, (pop, year, n_wards))
    return pd.DataFrame([row])


def polars_benchmark(ctx, params):
    start, end = _bounds(ctx, params)
    lf = _pl(ctx, "crime").filter(pl.col("month").is_between(start, end))
    if ctx.ward:
        n, k = lf.filter(pl.col("ward_code").is_not_null()).select(
            pl.len(), pl.col("rkey").cast(pl.Int64).sum()).collect().row(0)
        w = _pl_area_rows(ctx, "ward").filter(pl.col("area_code") == ctx.ward).collect()
        pop, year = _whole(w["population"].to_list(), w["population_year"].to_list(), w.height)
        return pl.DataFrame([_benchmark_row(ctx, params, n, k or 0, None, (pop, year, 1))])
    located = lf.filter(pl.col("district_code").is_not_null())
    n, k = located.select(pl.len(), pl.col("rkey").cast(pl.Int64).sum()).collect().row(0)
    districts = located.select(pl.col("district_code").unique()).collect()["district_code"].to_list() or None
    d = _pl_area_rows(ctx, "district").filter(pl.col("area_code").is_in(districts or [])).collect()
    pop, year = _whole(d["population"].to_list(), d["population_year"].to_list(),
                       len(districts) if districts else -1)
    n_wards = _pl_area_rows(ctx, "ward").filter(pl.col("district_code").is_in(districts or [])) \
        .select(pl.len()).collect().item()
    return pl.DataFrame([_benchmark_row(ctx, params, n, k or 0, districts, (pop, year, n_wards))])


@dataclass(frozen=True)
class Figure:
    query: str
    page: str | None  # the page that draws it on first view (None: measured, not drawn)
    params: Callable[[Context], dict]
    pandas: Callable[[Context, dict], object]
    polars: Callable[[Context, dict], object]
    keys: tuple[str, ...]  # columns identifying a row, for comparing answers


def _counts_figure(query, page, params, dataset, keys) -> Figure:
    return Figure(query, page, params, lambda c, p: pandas_counts(c, p, dataset, list(keys)),
                  lambda c, p: polars_counts(c, p, dataset, list(keys)), keys)


FIGURES = [
    Figure("crime_facets", "Crime", lambda c: {}, pandas_facets, polars_facets, ("crime_type",)),
    Figure("areas", "Crime", lambda c: {}, pandas_areas, polars_areas, ("area_level", "area_code")),
    Figure("crime_headline", "Crime", lambda c: c.headline_params("crime"), pandas_headline,
           polars_headline, ("last_month",)),
    _counts_figure("crime_monthly_total", "Crime", lambda c: c.trend_params("crime"), "crime", ("month",)),
    _counts_figure("crime_by_type", "Crime", lambda c: c.period_params("crime"), "crime", ("crime_type",)),
    Figure("crime_by_ward", "Crime", lambda c: c.period_params("crime"), pandas_by_ward, polars_by_ward,
           ("row_kind", "ward_code")),
    Figure("crime_benchmark", "Crime", lambda c: c.period_params("crime"), pandas_benchmark,
           polars_benchmark, ("comparator",)),
    # No page draws it since the incident templates (the page shows the monthly total and the
    # breakdown by type); kept as the finest grid of published cells, where a scoped user's
    # small cells are withheld.
    _counts_figure("crime_monthly", None, lambda c: c.period_params("crime"), "crime", ("month", "crime_type")),
    _counts_figure("asb_monthly_total", "ASB", lambda c: c.trend_params("asb"), "asb", ("month",)),
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
    binds = queries.bind_params(q, params) | system_binds(q, ctx)
    ctes = []
    for d in q.datasets:
        binds[f"__{d}"] = ctx.files[d]
        where = ""
        if _scoped(ctx, d):
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
    # As the runner: DuckDB refuses a bound value the SQL does not name (held_first, say).
    return sql, {k: v for k, v in binds.items() if re.search(rf"\${re.escape(k)}\b", sql)}


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
    binds = queries.bind_params(q, fig.params(ctx)) | queries._system_values(q, user)
    grants = {d: access.require(user, d) for d in q.datasets}
    sql = queries.compose_sql(q, grants, binds, {d: store.current(d) for d in q.datasets})
    binds = {k: v for k, v in binds.items() if re.search(rf"\${re.escape(k)}\b", sql)}
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
