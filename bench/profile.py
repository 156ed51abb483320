"""Where the access layer's time goes, and what the proposed fixes would buy (issue 6).

`python -m bench.profile --data-dir DIR [--repeat 5]` on a data directory kept by
`python -m bench --data-dir DIR`. Read-only: it never publishes; experimental layouts are
written to a temporary directory and deleted.

1. *Breakdown* of one uncached csp.queries.run for the ward-scoped user, step by step.
2. *Scope filter*: the runner's `lsoa_code IN (SELECT unnest($scope))` against an IN-list of
   bound parameters and a plain `ward_code = $ward`.
3. *Layout*: the same composed queries on the published file (sorted month, district, ward,
   LSOA) and on copies sorted by district, ward, LSOA, month with 122,880- and 16,384-row groups.
4. *Monthly cube*: counts per month x LSOA x ward x district x crime type, built once at
   publish time; the Crime page's figures from the cube against the pandas peer.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
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


def breakdown(user, fig, ctx, repeat: int) -> dict:
    from csp import access, disclosure, queries, store

    q = queries.get(fig.query)
    params = fig.params(ctx)
    steps = {}
    steps["bind_params"] = med_ms(lambda: queries.bind_params(q, params), repeat)
    steps["grants"] = med_ms(lambda: {d: access.require(user, d) for d in q.datasets}, repeat)
    steps["store.current (meta.json)"] = med_ms(lambda: {d: store.current(d) for d in q.datasets}, repeat)
    grants = {d: access.require(user, d) for d in q.datasets}
    if any(g.areas for g in grants.values()):
        g = next(g for g in grants.values() if g.areas)
        steps["_scope_codes (reads geography)"] = med_ms(lambda: queries._scope_codes(g), repeat)
    cur_v = {d: store.current(d) for d in q.datasets}
    binds = queries.bind_params(q, params)
    sql = queries.compose_sql(q, grants, binds, cur_v)
    steps["compose_sql (incl. scope)"] = med_ms(
        lambda: queries.compose_sql(q, grants, queries.bind_params(q, params), cur_v), repeat)

    def execute():
        c = store.cursor()
        try:
            return c.sql(sql, params=binds).pl()
        finally:
            c.close()
    steps["DuckDB execute + .pl()"] = med_ms(execute, repeat)
    frame = execute()
    steps["suppress"] = med_ms(lambda: disclosure.suppress(frame, q.columns, 5), repeat)

    def whole():
        queries.clear_cache()
        queries.run(user, fig.query, params)
    steps["whole queries.run"] = med_ms(whole, repeat)
    return steps


def scoped_sql(q, files: list[str], lsoas: list[str], ward: str, mode: str, binds: dict) -> str:
    """The runner's CTE for the crime dataset with one of three scope filters."""
    from csp import catalog

    cols = ", ".join(f'"{f.name}"' if f.tier == "public" else f'CAST(NULL AS {f.type}) AS "{f.name}"'
                     for f in catalog.contract("crime").fields)
    binds["__files"] = files
    if mode == "semi-join (current)":
        binds["__scope"] = lsoas
        where = 'WHERE "lsoa_code" IN (SELECT unnest($__scope))'
    elif mode == "IN-list of parameters":
        names = []
        for i, code in enumerate(lsoas):
            binds[f"__s{i}"] = code
            names.append(f"$__s{i}")
        where = f'WHERE "lsoa_code" IN ({", ".join(names)})'
    else:
        binds["__ward"] = ward
        where = 'WHERE "ward_code" = $__ward'
    cte = f'"crime" AS (SELECT {cols} FROM read_parquet($__files) {where})'
    body = q.sql
    import re
    m = re.match(r"^\s*WITH\s+", body, re.IGNORECASE)
    return f"WITH {cte},\n{body[m.end():]}" if m else f"WITH {cte}\n{body}"


def run_sql(sql: str, binds: dict):
    from csp import store

    c = store.cursor()
    try:
        return c.sql(sql, params=binds).pl()
    finally:
        c.close()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    os.environ["CSP_DATA_DIR"] = str(args.data_dir.resolve())
    sys.path.insert(0, str(ROOT))
    from csp import access, queries, store

    from . import figures as F

    files = store.current("crime").files
    ward = store.cursor().execute(
        "SELECT ward_code FROM read_parquet($f) WHERE ward_code IS NOT NULL GROUP BY 1 "
        "ORDER BY count(*) DESC, 1 LIMIT 1", {"f": files}).fetchone()[0]
    officer = access.User("bench.officer", "Officer", "practitioner", "housing", (ward,))
    council = access.User("bench.council", "Council", "board", "council")
    ctx_w, ctx_u = F.make_context(ward), F.make_context()
    figs = {f.query: f for f in F.FIGURES}
    R = args.repeat

    print(f"\n1. breakdown of one uncached queries.run, ward-scoped user (ward {ward}), ms")
    for name in ("crime_monthly", "crime_facets"):
        print(f"  {name}: " + "; ".join(f"{k} {v}" for k, v in breakdown(officer, figs[name], ctx_w, R).items()))
    print("   same, unscoped user:")
    for name in ("crime_monthly", "asb_monthly"):
        print(f"  {name}: " + "; ".join(f"{k} {v}" for k, v in breakdown(council, figs[name], ctx_u, R).items()))

    print("\n2.+3. scope filter x layout, ward-scoped user, crime figures, median ms")
    tmp = Path(tempfile.mkdtemp(prefix="csp-profile-"))
    try:
        layouts = {"published (month, district, ward, lsoa; 122,880-row groups)": files}
        c = store.cursor()
        for rg in (122_880, 16_384):
            out = tmp / f"by-area-{rg}.parquet"
            c.execute(f"COPY (SELECT * FROM read_parquet($f) ORDER BY district_code, ward_code, lsoa_code, month) "
                      f"TO '{out}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {rg})", {"f": files})
            layouts[f"by area (district, ward, lsoa, month; {rg:,}-row groups)"] = [str(out)]
        c.close()
        modes = ("semi-join (current)", "IN-list of parameters", "ward_code = $ward (floor)")
        names = ("crime_facets", "crime_headline", "crime_monthly", "crime_by_ward")
        print(f"  {'layout':62} {'scope filter':28} " + " ".join(f"{n:>15}" for n in names))
        for lname, lfiles in layouts.items():
            for mode in modes:
                cells = []
                for name in names:
                    q = queries.get(name)
                    if set(q.datasets) != {"crime"} and name != "crime_by_ward":
                        continue
                    if name == "crime_by_ward":  # needs geography too: scope it the same way
                        cells.append("-")
                        continue
                    binds = queries.bind_params(q, figs[name].params(ctx_w))
                    sql = scoped_sql(q, lfiles, list(ctx_w.lsoas), ward, mode, binds)
                    cells.append(med_ms(lambda: run_sql(sql, binds), R))
                print(f"  {lname:62} {mode:28} " + " ".join(f"{x:>15}" for x in cells))

        print("\n4. monthly cube built at publish time (month x LSOA x crime type), Crime page figures, median ms")
        cube = tmp / "crime_cube.parquet"
        c = store.cursor()
        t0 = time.perf_counter()
        c.execute(f"COPY (SELECT month, district_code, ward_code, lsoa_code, crime_type, count(*) AS n "
                  f"FROM read_parquet($f) GROUP BY ALL ORDER BY month, district_code, ward_code, lsoa_code) "
                  f"TO '{cube}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)", {"f": files})
        build_s = time.perf_counter() - t0
        cube_rows = c.execute("SELECT count(*) FROM read_parquet($c)", {"c": str(cube)}).fetchone()[0]
        c.close()
        src_rows = store.current("crime").meta["rows"]
        print(f"  cube: {cube_rows:,} rows for {src_rows:,} crimes ({src_rows / cube_rows:.1f}x fewer), "
              f"built in {build_s:.1f} s, {cube.stat().st_size / 1e6:.1f} MB")
        start, end = ctx_u.start, ctx_u.end
        cube_sql = {
            "crime_facets": "SELECT crime_type, min(month), max(month) FROM read_parquet($c) GROUP BY 1",
            "crime_headline": "SELECT sum(n) FILTER (WHERE month > $e - INTERVAL 12 MONTH), "
                              "sum(n) FILTER (WHERE month <= $e - INTERVAL 12 MONTH) FROM read_parquet($c) "
                              "WHERE month > $e - INTERVAL 24 MONTH AND month <= $e",
            "crime_monthly": "SELECT month, crime_type, sum(n) FROM read_parquet($c) WHERE month BETWEEN $s AND $e GROUP BY ALL",
            "crime_by_ward": "SELECT ward_code, sum(n) FROM read_parquet($c) WHERE month BETWEEN $s AND $e GROUP BY ALL",
        }
        total_cube = total_raw = total_pd = 0.0
        for name, sql in cube_sql.items():
            binds = {"c": str(cube), "s": start, "e": end}
            binds = {k: v for k, v in binds.items() if f"${k}" in sql}
            t_cube = med_ms(lambda: run_sql(sql, binds), R)
            t_raw = med_ms(lambda: F.run_floor(figs[name], ctx_u), R)
            t_pd = med_ms(lambda: figs[name].pandas(ctx_u), R)
            total_cube, total_raw, total_pd = total_cube + t_cube, total_raw + t_raw, total_pd + t_pd
            print(f"  {name:15} cube {t_cube:8} raw floor {t_raw:8} pandas {t_pd:8}  pandas/cube {t_pd / t_cube:6.1f}x")
        print(f"  {'total':15} cube {total_cube:8.2f} raw floor {total_raw:8.2f} pandas {total_pd:8.2f}  "
              f"pandas/cube {total_pd / total_cube:6.1f}x (pandas/raw {total_pd / total_raw:.1f}x)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
