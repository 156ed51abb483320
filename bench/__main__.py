"""`python -m bench`: publish synthetic police.uk data for real, then time every figure behind the
Crime and ASB pages (access layer; DuckDB's SQL alone; the floor = that SQL plus publishing the
counts by the user's grant; pandas; Polars), full page runs, publish throughput and peak RSS, in
one process; print a table and write JSON. See docs/performance.md."""
from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JSON = ROOT / "bench" / "results" / "latest.json"
PASSWORD = "bench-password-" + "x" * 8
USERS = {"unscoped": "bench.council", "ward": "bench.officer"}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--rows", type=int, default=1_000_000, help="police.uk rows to generate (default 1M; try 10000000)")
    p.add_argument("--months", type=int, default=36, help="months of data, ending 2025-09 (default 36)")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per measurement; medians are quoted (default 5)")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write results (default {DEFAULT_JSON.relative_to(ROOT)})")
    p.add_argument("--data-dir", type=Path, help="keep the published data here and reuse it on the next run with the same --rows")
    p.add_argument("--no-pages", action="store_true", help="skip the Streamlit AppTest page runs")
    p.add_argument("--explain", action="store_true", help="print DuckDB EXPLAIN ANALYZE of each composed query")
    return p.parse_args(argv)


def median_ms(xs: list[float]) -> float:
    return round(1000 * statistics.median(xs), 2)


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def prepare_data(args) -> tuple[Path, dict, bool]:
    """Publish (in a child process, so the importer's memory is not the app's) or reuse."""
    if args.data_dir:
        data_dir, temporary = args.data_dir.resolve(), False
        facts_file = data_dir / "bench-dataset.json"
        if facts_file.exists():
            facts = json.loads(facts_file.read_text())
            if facts.get("rows") == args.rows and facts.get("months") == args.months:
                print(f"reusing the {args.rows:,}-row dataset in {data_dir}", file=sys.stderr)
                return data_dir, facts, temporary
            shutil.rmtree(data_dir)
    else:
        data_dir, temporary = Path(tempfile.mkdtemp(prefix="csp-bench-")), True
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"generating and publishing {args.rows:,} police.uk rows in {data_dir} ...", file=sys.stderr)
    out = subprocess.run(
        [sys.executable, "-m", "bench.dataset", str(data_dir), str(args.rows), str(args.months)],
        cwd=ROOT, check=True, capture_output=True, text=True,
        env={**os.environ, "CSP_DATA_DIR": str(data_dir)},
    )
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    (data_dir / "bench-dataset.json").write_text(json.dumps(facts))
    return data_dir, facts, temporary


def machine() -> dict:
    import duckdb
    import pandas
    import polars
    import streamlit

    mem = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), None)
    return {"cpus": os.cpu_count(), "memory_mb": mem, "platform": platform.platform(),
            "python": platform.python_version(), "duckdb": duckdb.__version__,
            "polars": polars.__version__, "pandas": pandas.__version__, "streamlit": streamlit.__version__}


def main(argv=None) -> dict:
    args = parse_args(argv)
    data_dir, dataset, temporary = prepare_data(args)
    os.environ["CSP_DATA_DIR"] = str(data_dir)
    os.environ["CSP_COOKIE_KEY"] = secrets.token_urlsafe(48)
    os.environ.pop("CSP_DEMO", None)
    sys.path.insert(0, str(ROOT))
    try:
        return run(args, dataset)
    finally:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)


def describe(user, ctx) -> str:
    """The user and how their crime and ASB counts are published (from their grants)."""
    scope = f"scoped to ward {ctx.ward} (the busiest)" if ctx.ward else "whole area"
    rules = []
    for d in ("crime", "asb"):
        g = ctx.grants[d]
        rules.append(f"{d}: {'exact (owner)' if g.owner else g.protection}"
                     + (f" with {g.ptable}, threshold {g.threshold}" if g.protection == "perturb" and not g.owner else "")
                     + f", {g.geography} detail")
    return f"{user.role}, {user.partner}, {scope}; " + "; ".join(rules)


def run(args, dataset: dict) -> dict:
    from csp import queries, store, users

    from . import figures as F
    from . import pages as P

    # The practitioner's ward: the busiest one, the worst case for a scoped user.
    cur = store.cursor()
    ward = cur.execute(
        "SELECT ward_code FROM read_parquet($f) WHERE ward_code IS NOT NULL GROUP BY 1 "
        "ORDER BY count(*) DESC, 1 LIMIT 1", {"f": store.current("crime").files}).fetchone()[0]
    cur.close()
    who = {
        "unscoped": users.add_user(USERS["unscoped"], PASSWORD, role="board", partner="council", replace=True),
        "ward": users.add_user(USERS["ward"], PASSWORD, role="practitioner", partner="housing",
                               areas=[ward], replace=True),
    }
    ctxs = {label: F.make_context(user) for label, user in who.items()}

    # Warm-up run of every figure through the access layer, the SQL alone and the floor; the
    # floor's published answer must equal the access layer's. The answers are kept and checked
    # against the peers at the end, so the peers' memory is not counted as the app's.
    answers, problems, compared = {}, [], 0
    for label, user in who.items():
        ctx = ctxs[label]
        for fig in F.FIGURES:
            answers[(fig.query, label)] = r = F.run_access(user, fig, ctx)
            F.run_sql(fig.query, ctx, fig.params(ctx))
            problems += F.compare(fig, r, F.run_floor(fig, ctx))
            compared += 1
    rss = {"after_warm_up": rss_mb()}
    if args.explain:
        for label, user in who.items():
            for fig in F.FIGURES:
                print(f"\n==== EXPLAIN ANALYZE {fig.query} as {label} ====\n{F.explain_analyze(user, fig, ctxs[label])}")

    # Phase 1: full page runs; they also record the exact queries each page runs on first view.
    page_times, page_calls = {}, {}
    if not args.no_pages:
        for label in who:
            print(f"page runs as {USERS[label]} ...", file=sys.stderr)
            page_times[label], page_calls[label] = P.measure(USERS[label], PASSWORD, args.repeat)
        rss["after_pages"] = rss_mb()

    def access_call(user, name, params):
        queries.clear_cache()
        return queries.run(user, name, params)

    # Phase 2: access layer, SQL alone and floor, interleaved per repetition so drift hits all
    # alike: the figures (with the pages' default parameters) and every query the pages ran.
    t: dict[tuple, list[float]] = {}
    # Only queries over the benchmarked datasets (the Overview also reads partner datasets
    # that this harness does not generate; with nothing published they return no rows).
    calls = {label: [(page, i, name, params) for page, cs in page_calls.get(label, {}).items()
                     for i, (name, params) in enumerate(cs)
                     if set(queries.get(name).datasets) <= set(ctxs[label].files)] for label in who}
    # The floor must give every page query's published answer too, not only the figures'.
    for label, user in who.items():
        for page, i, name, params in calls[label]:
            q = queries.get(name)
            problems += F.compare_by(f"{name} ({label}, {page} page)", F.row_keys(q),
                                     access_call(user, name, params), F.run_floor_query(name, ctxs[label], params))
            compared += 1
    for _ in range(args.repeat):
        for label, user in who.items():
            ctx = ctxs[label]
            for fig in F.FIGURES:
                t.setdefault((fig.query, label, "access"), []).append(timed(F.run_access, user, fig, ctx)[0])
                t.setdefault((fig.query, label, "sql"), []).append(
                    timed(F.run_sql, fig.query, ctx, fig.params(ctx))[0])
                t.setdefault((fig.query, label, "floor"), []).append(timed(F.run_floor, fig, ctx)[0])
            for page, i, name, params in calls[label]:
                key = (f"{page}#{i}:{name}", label)
                t.setdefault((*key, "access"), []).append(timed(access_call, user, name, params)[0])
                t.setdefault((*key, "sql"), []).append(timed(F.run_sql, name, ctx, params)[0])
                t.setdefault((*key, "floor"), []).append(timed(F.run_floor_query, name, ctx, params)[0])
    app_rss = rss["after_queries"] = rss_mb()  # all the app does, before the peers load whole columns

    # Phase 3: the peers, then their answers checked against the access layer's.
    for label in who:
        for fig in F.FIGURES:
            params = fig.params(ctxs[label])
            for other in (fig.pandas(ctxs[label], params), fig.polars(ctxs[label], params)):
                problems += F.compare(fig, answers[(fig.query, label)], other)
                compared += 1
    for _ in range(args.repeat):
        for label in who:
            ctx = ctxs[label]
            for fig in F.FIGURES:
                params = fig.params(ctx)
                t.setdefault((fig.query, label, "pandas"), []).append(timed(fig.pandas, ctx, params)[0])
                t.setdefault((fig.query, label, "polars"), []).append(timed(fig.polars, ctx, params)[0])

    page_params = {f"{page}#{i}:{name}": params for label in calls for page, i, name, params in calls[label]}
    described = {label: describe(user, ctxs[label]) for label, user in who.items()}
    results = summarise(args, dataset, described, t, page_times, page_params, app_rss, problems, compared)
    results["rss_mb"]["app_by_phase"] = rss
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, default=str))
    print_table(results)
    print(f"\nJSON written to {args.json}", file=sys.stderr)
    return results


HOWS = ("access", "sql", "floor", "pandas", "polars")


def _ratio(a, b):
    return round(a / b, 2) if a and b else None


def protection_cost(rows: list[dict]) -> dict:
    """What publishing costs, per user, over every query timed: the floor (SQL + publishing)
    against DuckDB's SQL alone, and the access layer against both."""
    out = {}
    for label in dict.fromkeys(r["user"] for r in rows):
        sel = [r for r in rows if r["user"] == label and r.get("sql_ms") and r.get("floor_ms")]
        if not sel:
            continue
        out[label] = {
            "queries": len(sel),
            "median_floor_over_sql": round(statistics.median(r["floor_over_sql"] for r in sel), 2),
            "median_access_over_sql": round(statistics.median(r["access_over_sql"] for r in sel), 2),
            "median_access_over_floor": round(statistics.median(r["access_over_floor"] for r in sel), 2),
            "median_publish_ms": round(statistics.median(r["floor_ms"] - r["sql_ms"] for r in sel), 2),
            "median_access_minus_sql_ms": round(statistics.median(r["access_ms"] - r["sql_ms"] for r in sel), 2),
            "within_1_5_of_floor": sum(r["access_over_floor"] <= 1.5 for r in sel),
        }
    return out


def summarise(args, dataset, who, t, page_times, page_params, app_rss, problems, compared) -> dict:
    from . import figures as F

    fig_page = {f.query: f.page or "-" for f in F.FIGURES}
    rows = []
    for (name, label) in dict.fromkeys((k[0], k[1]) for k in t):
        m = {how: median_ms(t[(name, label, how)]) for how in HOWS if (name, label, how) in t}
        page, _, qname = name.rpartition(":")
        rows.append({
            "query": qname, "page": fig_page.get(name) or page.split("#")[0], "user": label,
            "source": "figure" if name in fig_page else f"page run ({page.split('#')[0]})",
            **({"params": page_params[name]} if name in page_params else {}),
            **{f"{how}_ms": v for how, v in m.items()},
            "access_over_floor": _ratio(m.get("access"), m.get("floor")),
            "access_over_sql": _ratio(m.get("access"), m.get("sql")),
            "floor_over_sql": _ratio(m.get("floor"), m.get("sql")),
            "pandas_over_access": _ratio(m.get("pandas"), m.get("access")),
            "polars_over_access": _ratio(m.get("polars"), m.get("access")),
        })
    # A page's data: the sum of the medians of the figures it shows that have peers.
    page_data = []
    for page in dict.fromkeys(f.page for f in F.FIGURES if f.page):
        for label in ("unscoped", "ward"):
            sel = [r for r in rows if r["source"] == "figure" and r["page"] == page and r["user"] == label]
            tot = {how: round(sum(r[f"{how}_ms"] for r in sel), 2) for how in HOWS}
            page_data.append({"page": page, "user": label, "queries": [r["query"] for r in sel],
                              **{f"{k}_ms": v for k, v in tot.items()},
                              "pandas_over_access": _ratio(tot["pandas"], tot["access"]),
                              "polars_over_access": _ratio(tot["polars"], tot["access"])})
    pages = {label: {page: ({"error": times["error"]} if "error" in times else
                            {f"{k}_s": round(statistics.median(v), 3) for k, v in times.items()})
                     for page, times in per_user.items()} for label, per_user in page_times.items()}
    per_1m = dataset["publish_s"] * 1_000_000 / dataset["published_rows"]
    targets = []
    for r in rows:
        if r["access_over_floor"] is not None:
            targets.append({"target": f"access/floor {r['query']} ({r['user']})", "limit": "<= 1.5",
                            "value": r["access_over_floor"], "met": r["access_over_floor"] <= 1.5})
    for d in page_data:
        targets.append({"target": f"pandas/ours {d['page']} page data ({d['user']})", "limit": ">= 10",
                        "value": d["pandas_over_access"], "met": (d["pandas_over_access"] or 0) >= 10})
        targets.append({"target": f"polars/ours {d['page']} page data ({d['user']})", "limit": "> 1",
                        "value": d["polars_over_access"], "met": (d["polars_over_access"] or 0) > 1})
    limits = {"first_view_s": 1.0, "filter_change_s": 0.5, "revisit_s": 0.15}
    for label, per_page in pages.items():
        for page, m in per_page.items():
            if "error" in m:
                targets.append({"target": f"page {page} runs without error ({label})", "limit": "no error",
                                "value": m["error"][:120], "met": False})
            for k, lim in limits.items():
                if k in m:
                    targets.append({"target": f"page {page} {k[:-2]} ({label})", "limit": f"<= {lim} s",
                                    "value": m[k], "met": m[k] <= lim})
    targets.append({"target": "publish time per 1M police.uk rows", "limit": "<= 10 s",
                    "value": round(per_1m, 2), "met": per_1m <= 10})
    targets.append({"target": f"app peak RSS at {args.rows:,} rows (10M is the target size)",
                    "limit": "<= 600 MB", "value": app_rss, "met": app_rss <= 600})
    return {
        "machine": machine(),
        "config": {"rows": args.rows, "months": args.months, "repeat": args.repeat,
                   "unscoped_user": who["unscoped"], "ward_user": who["ward"],
                   "period": "the pages' default named period: the latest 24 months held (12 when fewer are held)"},
        "dataset": dataset,
        "queries": rows,
        "page_data": page_data,
        "protection_cost": protection_cost(rows),
        "pages": pages,
        "rss_mb": {"app_peak": app_rss, "process_peak_incl_peers": rss_mb(),
                   "publish_peak": dataset.get("publish_peak_rss_mb")},
        "checks": {"compared": compared, "problems": problems[:50]},
        "targets": targets,
        "targets_met": sum(t["met"] for t in targets), "targets_total": len(targets),
    }


def print_table(res: dict) -> None:
    d, m = res["dataset"], res["machine"]
    print(f"\nCSP Insight benchmark: {d['published_rows']:,} rows ({d['crime_rows']:,} crime, {d['asb_rows']:,} ASB), "
          f"{d['months']} months, {d['lsoas']:,} LSOAs / {d['wards']:,} wards / {d['districts']} districts; "
          f"{m['cpus']} CPUs; medians of {res['config']['repeat']} runs")
    print(f"publish: {d['publish_s']} s = {d['publish_rows_per_s']:,} rows/s;  peak RSS: app {res['rss_mb']['app_peak']} MB, "
          f"with peers {res['rss_mb']['process_peak_incl_peers']} MB, publish {res['rss_mb']['publish_peak']} MB")
    print(f"users: unscoped = {res['config']['unscoped_user']}\n       ward = {res['config']['ward_user']}")
    print("sql = the named SQL on plain Parquet views (counts as cells, unpublished); floor = sql + publishing "
          "(perturbation, derived columns, order/limit); the access-layer target is against the floor")
    print(f"\n{'query':24} {'page':9} {'user':9} {'access':>8} {'sql':>8} {'floor':>8} {'pandas':>8} {'polars':>8} "
          f"{'acc/flr':>7} {'flr/sql':>7} {'pd/acc':>7} {'pl/acc':>7}   (ms)")

    def f(v, w=8):
        return f"{v:>{w}}" if v is not None else f"{'-':>{w}}"
    for r in res["queries"]:
        print(f"{r['query']:24} {r['page']:9} {r['user']:9} {f(r.get('access_ms'))} {f(r.get('sql_ms'))} "
              f"{f(r.get('floor_ms'))} {f(r.get('pandas_ms'))} {f(r.get('polars_ms'))} {f(r['access_over_floor'], 7)} "
              f"{f(r['floor_over_sql'], 7)} {f(r['pandas_over_access'], 7)} {f(r['polars_over_access'], 7)}")
    print("\npage data (sum of the figures with peers):")
    for p in res["page_data"]:
        print(f"  {p['page']:9} {p['user']:9} ours {p['access_ms']} ms (sql {p['sql_ms']}, floor {p['floor_ms']}), "
              f"pandas {p['pandas_ms']} ms ({p['pandas_over_access']}x), polars {p['polars_ms']} ms "
              f"({p['polars_over_access']}x)")
    print("\nwhat protection costs (medians over every query timed):")
    for label, c in res["protection_cost"].items():
        print(f"  {label:9} {c['queries']} queries: publishing {c['median_publish_ms']} ms (floor/sql "
              f"{c['median_floor_over_sql']}x); access - sql {c['median_access_minus_sql_ms']} ms (access/sql "
              f"{c['median_access_over_sql']}x); access/floor {c['median_access_over_floor']}x, "
              f"{c['within_1_5_of_floor']} within 1.5x")
    if res["pages"]:
        print("\npage runs (AppTest, s):")
        for label, per_page in res["pages"].items():
            for page, v in per_page.items():
                print(f"  {page:9} {label:9} " + ("ERROR " + v["error"] if "error" in v else
                                                 "  ".join(f"{k[:-2]} {x}" for k, x in v.items())))
    c = res["checks"]
    print(f"\nanswers compared: {c['compared']}, problems: {len(c['problems'])}"
          + (f" (e.g. {c['problems'][0]})" if c["problems"] else ""))
    print(f"\ntargets met: {res['targets_met']}/{res['targets_total']}")
    for t in res["targets"]:
        if not t["met"]:
            print(f"  MISSED {t['target']}: {t['value']} (target {t['limit']})")


if __name__ == "__main__":
    main()
