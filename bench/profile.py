"""Where a protected query's time goes (issue 12's cells, on top of issue 6's layout and cubes).

`python -m bench.profile --data-dir DIR [--repeat 5]` on a data directory kept by
`python -m bench --data-dir DIR`. Read-only: it never publishes.

1. *Breakdown* of one uncached csp.queries.run per bench user and figure, step by step: grants,
   versions and composing the SQL; DuckDB (execute and hand the result to Polars); publishing
   the cells (csp.protection.cells.protect per count column); the derived columns; the whole run.
2. *Cells vs plain integers*: every page query over the bench's datasets, DuckDB alone, on the
   same plain Parquet views, with each count a cell struct (total(n), as the queries are
   written) and with each count a plain BIGINT (total(n) read as sum(n)): what the structs cost.
3. *Quality queries for a non-owner*: they used to read rows, which for a partner other than
   the owner the access layer first added up by every field they may see (_protected_cte);
   they now read the ward cube, whose cells a partner gets as they are. Timed for a council
   analyst against the owner and the floor, with the dataset's CTE on its own.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def med_ms(fn, repeat: int) -> float:
    fn()  # warm
    xs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        xs.append(time.perf_counter() - t0)
    return round(1000 * statistics.median(xs), 2)


def _execute(sql: str, binds: dict):
    from csp import queries, store

    c = store.cursor()
    try:
        return queries._narrow_sums(c.sql(sql, params=binds).pl())
    finally:
        c.close()


def breakdown(user, name: str, params: dict, repeat: int) -> dict:
    from csp import access, catalog, queries, store
    from csp.protection import cells

    q = queries.get(name)
    steps = {}

    def compose():
        grants = {d: access.require(user, d) for d in q.datasets}
        binds = queries.bind_params(q, params) | queries._system_values(q, user)
        sql = queries.compose_sql(q, grants, binds, {d: store.current(d) for d in q.datasets})
        # As the runner: only the values the SQL names are bound.
        return grants, {k: v for k, v in binds.items() if re.search(rf"\${re.escape(k)}\b", sql)}, sql
    steps["grants+compose"] = med_ms(compose, repeat)
    grants, binds, sql = compose()
    steps["DuckDB+.pl()"] = med_ms(lambda: _execute(sql, binds), repeat)
    frame = _execute(sql, binds)
    rules = {catalog.base(d): cells.Rule(catalog.base(d), "none" if g.owner else g.protection,
                                         0 if g.owner else g.threshold, g.ptable)
             for d, g in grants.items() if catalog.contract(d).protected}
    counts = [c for c in q.count_columns if c in frame.columns]
    protected = sorted(rules)
    if counts and rules:
        def protect():
            for c in counts:
                cells.protect(frame[c], rules, q.columns[c].dataset or (protected[0] if len(protected) == 1 else None))
        steps["protect cells"] = med_ms(protect, repeat)
    published, _, _ = queries._publish(q, frame, rules, q.datasets)
    if q.derived_columns:
        base = published.drop(q.derived_columns)
        steps["derive (DuckDB over Arrow)"] = med_ms(lambda: queries._derive(q, base, q.derived_columns), repeat)
    steps["_publish total"] = med_ms(lambda: queries._publish(q, frame, rules, q.datasets), repeat)

    def whole():
        queries.clear_cache()
        queries.run(user, name, params)
    steps["whole queries.run"] = med_ms(whole, repeat)
    return steps


# The same SQL text with lighter counts, to see what each part of a cell costs. Each variant's
# macros are installed under a prefix; the views' struct_pack is rewritten to match.
def _variant_macros(prefix: str, fields: tuple[str, ...]) -> list[str]:
    if not fields:  # plain BIGINT counts: total(n) read as sum(n)
        return [f"CREATE OR REPLACE MACRO {prefix}total(c) AS CAST(coalesce(sum(c), 0) AS BIGINT)",
                f"CREATE OR REPLACE MACRO {prefix}total_if(c, cond) AS CAST(coalesce(sum(c) FILTER (WHERE cond), 0) AS BIGINT)",
                f"CREATE OR REPLACE MACRO {prefix}no_cell() AS CAST(0 AS BIGINT)",
                f"CREATE OR REPLACE MACRO {prefix}or_none(c) AS coalesce(c, {prefix}no_cell())"]
    def agg(f, cond=""):
        if f == "ds":  # the datasets as a bitmask: one integer aggregate
            return "ds := coalesce(bit_or(c.ds), 0)"
        if f in ("ds_lo", "ds_hi"):  # the datasets as two names (the cells before the bitmask)
            return f"{f} := {'min' if f == 'ds_lo' else 'max'}(c.{f})"
        return f"{f} := CAST(coalesce(sum(c.{f}){cond}, 0) AS BIGINT)"
    agg_if = ", ".join(agg(f, " FILTER (WHERE cond)") for f in fields)
    agg = ", ".join(agg(f) for f in fields)
    zero = ", ".join("ds := CAST(0 AS INTEGER)" if f == "ds" else f"{f} := CAST(NULL AS VARCHAR)" if f.startswith("ds_")
                     else f"{f} := CAST(0 AS BIGINT)" for f in fields)
    return [f"CREATE OR REPLACE MACRO {prefix}total(c) AS struct_pack({agg})",
            f"CREATE OR REPLACE MACRO {prefix}total_if(c, cond) AS struct_pack({agg_if})",
            f"CREATE OR REPLACE MACRO {prefix}no_cell() AS struct_pack({zero})",
            f"CREATE OR REPLACE MACRO {prefix}or_none(c) AS coalesce(c, {prefix}no_cell())"]


VARIANTS = {  # name: (macro prefix, struct fields); "cells" is the SQL as the runner gets it
    "ds names": ("__v5_", ("value", "key", "hidden", "ds_lo", "ds_hi")),  # as before the bitmask
    "cells": None,
    "no ds": ("__v3_", ("value", "key", "hidden")),
    "value+key": ("__v2_", ("value", "key")),
    "plain": ("__v0_", ()),
}
_CELL = re.compile(r"struct_pack\(value := CAST\((.+?) AS BIGINT\), key := CAST\((.+?) AS BIGINT\), "
                   r"hidden := CAST\((.+?) AS BIGINT\), ds := CAST\((\d+) AS INTEGER\)\)")


def variant_sql(sql: str, variant: str) -> str:
    spec = VARIANTS[variant]
    if spec is None:
        return sql
    prefix, fields = spec
    sql = re.sub(r"\b(total_if|total|no_cell|or_none)\(", prefix + r"\1(", sql)
    parts = {"value": 1, "key": 2, "hidden": 3}

    def part(f, m):
        if f.startswith("ds_"):
            return f"{f} := 'ds{m.group(4)}'"
        return f"{f} := CAST({m.group(parts[f])} AS BIGINT)"

    def cell(m):
        if not fields:
            return f"CAST({m.group(1)} AS BIGINT)"
        return "struct_pack(" + ", ".join(part(f, m) for f in fields) + ")"
    return _CELL.sub(cell, sql)


def page_queries(ctx) -> list[tuple[str, dict]]:
    """Every grant-checked query over the bench's datasets, with the pages' default period."""
    from csp import queries

    out = []
    for q in queries.all_queries():
        if q.owner_only or not set(q.datasets) <= set(ctx.files) or not any(
                c.type == "count" for c in q.columns.values()):
            continue
        if any(p.required and n not in ("from", "to") for n, p in q.params.items()):
            continue
        out.append((q.name, {k: v for k, v in ctx.month_params.items() if k in q.params}))
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--sections", default="1,2,3", help="which sections to run (default 1,2,3)")
    args = p.parse_args(argv)
    sections = {int(x) for x in args.sections.split(",") if x.strip()}
    os.environ["CSP_DATA_DIR"] = str(args.data_dir.resolve())
    sys.path.insert(0, str(ROOT))
    from csp import access, store

    from . import figures as F

    c = store.cursor()
    ward = c.execute(
        "SELECT ward_code FROM read_parquet($f) WHERE ward_code IS NOT NULL GROUP BY 1 "
        "ORDER BY count(*) DESC, 1 LIMIT 1", {"f": store.current("crime").files}).fetchone()[0]
    for spec in VARIANTS.values():
        for m in _variant_macros(*spec) if spec else ():
            c.execute(m)
    c.close()
    users = {"unscoped": access.User("bench.council", "Council", "board", "council"),
             "ward": access.User("bench.officer", "Officer", "practitioner", "housing", (ward,))}
    ctxs = {label: F.make_context(u) for label, u in users.items()}
    R = args.repeat

    if 1 in sections:
        section_breakdown(users, ctxs, ward, R)
    if 2 in sections:
        section_cells(users, ctxs, R)
    if 3 in sections:
        section_rows(R)


def section_breakdown(users, ctxs, ward, R):
    from . import figures as F

    print(f"1. one uncached queries.run, step by step (median ms of {R}); ward user: ward {ward}")
    for label, user in users.items():
        for fig in F.FIGURES:
            steps = breakdown(user, fig.query, fig.params(ctxs[label]), R)
            print(f"  {fig.query:16} {label:9} " + "; ".join(f"{k} {v}" for k, v in steps.items()))


def section_cells(users, ctxs, R):
    from . import figures as F

    print("\n2. DuckDB alone on plain views, what a cell costs (median ms): counts as cells with the dataset\n"
          "   as two names (min/max, as before the bitmask), as the runner gets them (value, key, hidden\n"
          "   and the dataset as an integer bitmask, bit_or), without the dataset, value and key only,\n"
          "   and plain BIGINTs (total(n) read as sum(n))")
    names = list(VARIANTS)
    print(f"  {'query':26} {'user':9} " + " ".join(f"{n:>9}" for n in names) + f" {'cells/plain':>11}")
    ratios = {label: {n: [] for n in names} for label in users}
    for label in users:
        ctx = ctxs[label]
        for name, params in page_queries(ctx):
            sql, binds = F.floor_sql(name, ctx, params)
            ts = {n: med_ms(lambda: _execute(variant_sql(sql, n), binds), R) for n in names}
            for n in names:
                ratios[label][n].append(ts[n] / ts["plain"])
            print(f"  {name:26} {label:9} " + " ".join(f"{ts[n]:9}" for n in names)
                  + f" {ts['cells'] / ts['plain']:11.2f}")
    for label, rs in ratios.items():
        print(f"  {label}: median over plain: " + ", ".join(
            f"{n} {statistics.median(v):.2f}x" for n, v in rs.items() if v and n != "plain"))



def section_rows(R):
    from csp import access, catalog, queries, store

    from . import figures as F

    print("\n3. quality queries: council analyst vs the owner vs the floor (median ms), and what the\n"
          "   dataset's CTE reads for the analyst (cube cells as they are, or rows added up)")
    analyst = access.User("bench.analyst", "Analyst", "analyst", "council")
    police = access.User("bench.police", "Police", "analyst", "police")
    actx = F.make_context(analyst)
    for name in ("quality_crime", "quality_asb", "quality_crime_categories"):
        q = queries.get(name)
        if q.owner_only or not set(q.datasets) <= set(actx.files):
            continue
        d = q.datasets[0]
        binds: dict = {}
        cte = queries._dataset_cte(d, access.require(analyst, d), binds, store.current(d))
        body = cte[cte.index(" AS (") + 5:-1]  # '"crime" AS (<select>)' -> <select>
        grouped = med_ms(lambda: _execute(f"SELECT count(*) FROM ({body})", binds), R)
        groups = _execute(f"SELECT count(*) AS n FROM ({body})", binds)["n"][0]

        def access_run(u):
            queries.clear_cache()
            queries.run(u, name, {})
        t_council = med_ms(lambda: access_run(analyst), R)
        t_owner = med_ms(lambda: access_run(police), R)
        t_floor = med_ms(lambda: F.run_floor_query(name, actx, {}), R)
        print(f"  {name:26} council {t_council:8} owner {t_owner:8} floor {t_floor:8} "
              f"council/floor {t_council / t_floor:5.2f}  (reads {d}; its CTE alone: {grouped} ms, "
              f"{groups:,} cells for {store.current(catalog.base(d)).meta.get('rows', 0):,} records)")


if __name__ == "__main__":
    main()
