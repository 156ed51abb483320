"""Smoke test of the benchmark harness at a tiny size: the JSON it writes has the expected shape,
and the access layer's published figures equal what the DuckDB floor, pandas and Polars compute
(the same perturbation, the same cells withheld). No timing is asserted (timings on a shared
2-core machine are not a test)."""
from __future__ import annotations

import json

import polars as pl
import pytest

from tests.conftest import LOOKUP_CSV

pytestmark = pytest.mark.skipif(not LOOKUP_CSV.exists(), reason="needs the national LSOA lookup in ../shared/realdata")

ROWS = 20_000


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    from csp import queries, users

    from bench.__main__ import main

    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "results.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(users, "BCRYPT_ROUNDS", 4)
        # main() sets these for the app it benchmarks; the monkeypatch puts them back afterwards.
        for var in ("CSP_DATA_DIR", "CSP_COOKIE_KEY", "CSP_DEMO"):
            mp.setenv(var, "")
        queries.clear_cache()
        result = main(["--rows", str(ROWS), "--months", "12", "--repeat", "1",
                       "--data-dir", str(tmp / "data"), "--json", str(out)])
        queries.clear_cache()
    return {"result": result, "json": json.loads(out.read_text()), "dir": tmp / "data"}


def test_publishes_generated_rows_through_the_importer(bench_run):
    d = bench_run["json"]["dataset"]
    assert d["rows"] == ROWS
    assert d["crime_rows"] + d["asb_rows"] == ROWS == d["published_rows"]
    assert 0.12 < d["asb_rows"] / ROWS < 0.22  # police.uk-like share of ASB
    assert d["lsoas"] > 30_000 and d["wards"] > 6_000 and d["districts"] > 300
    assert d["publish_rows_per_s"] > 0
    # Published by the real importer: versioned datasets with the coverage it computed.
    meta = json.loads(next((bench_run["dir"] / "datasets" / "crime" / "versions").glob("v*/meta.json")).read_text())
    assert meta["published_by"] == "bench" and meta["coverage"] == {"first": "2024-10", "last": "2025-09"}


def test_json_has_every_measurement(bench_run):
    r = bench_run["json"]
    assert set(r) >= {"machine", "config", "dataset", "queries", "page_data", "pages", "rss_mb", "checks", "targets"}
    figures = {(q["query"], q["user"]) for q in r["queries"] if q["source"] == "figure"}
    from bench import figures as F

    names = [f.query for f in F.FIGURES]
    assert {"crime_headline", "crime_monthly_total", "crime_by_ward", "crime_benchmark", "asb_monthly_total"} <= set(names)
    for name in names:
        assert {(name, "unscoped"), (name, "ward")} <= figures
    for q in r["queries"]:
        assert q["access_ms"] > 0 and q["floor_ms"] > 0 and q["sql_ms"] > 0
        assert q["access_over_floor"] == pytest.approx(q["access_ms"] / q["floor_ms"], abs=0.01)
        assert q["floor_over_sql"] == pytest.approx(q["floor_ms"] / q["sql_ms"], abs=0.01)
        if q["source"] == "figure":
            assert q["pandas_ms"] > 0 and q["polars_ms"] > 0
    # What protection costs, per user, over every query timed.
    for user in ("unscoped", "ward"):
        cost = r["protection_cost"][user]
        timed = [q for q in r["queries"] if q["user"] == user]
        assert cost["queries"] == len(timed)
        assert cost["within_1_5_of_floor"] == sum(q["access_over_floor"] <= 1.5 for q in timed)
    # The users' grants as the policy gives them: perturbation for both bench users.
    assert "crime: perturb with ptable_t5, threshold 5" in r["config"]["unscoped_user"]
    assert "asb: perturb with ptable_t3, threshold 3" in r["config"]["ward_user"]
    # The page runs recorded the queries the Crime page really runs, and timed its three views.
    assert any(q["source"] == "page run (crime)" for q in r["queries"])
    for user in ("unscoped", "ward"):
        crime = r["pages"][user]["crime"]
        assert set(crime) == {"first_view_s", "filter_change_s", "revisit_s"}, crime
    assert r["rss_mb"]["app_peak"] > 0
    assert r["targets_total"] == len(r["targets"]) and all(isinstance(t["met"], bool) for t in r["targets"])


def test_access_layer_answers_equal_the_peers(bench_run):
    from bench import figures as F

    r = bench_run["json"]
    page_queries = [q for q in r["queries"] if q["source"] != "figure"]
    assert page_queries
    # Every figure, two users, three others each (floor, pandas, Polars); and the floor's answer
    # to every query the pages ran.
    assert r["checks"]["compared"] == len(F.FIGURES) * 2 * 3 + len(page_queries)
    assert r["checks"]["problems"] == []


def test_comparison_catches_a_wrong_answer(bench_run, monkeypatch):
    """The equality check can fail: a peer answer that is off by one is reported."""
    from csp import access, queries

    from bench import figures as F

    monkeypatch.setenv("CSP_DATA_DIR", str(bench_run["dir"]))
    queries.clear_cache()
    user = access.User("bench.check", "Check", "board", "police")  # the owner: nothing suppressed
    ctx = F.make_context(user)
    fig = next(f for f in F.FIGURES if f.query == "crime_monthly")
    result = F.run_access(user, fig, ctx)
    peer = fig.polars(ctx, fig.params(ctx))
    assert F.compare(fig, result, peer) == []
    wrong = peer.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.col("crimes") + 1)
                              .otherwise(pl.col("crimes")).alias("crimes"))
    problems = F.compare(fig, result, wrong)
    assert len(problems) == 1 and "crimes" in problems[0]
    assert F.compare(fig, result, peer.slice(1)) != []  # a missing row is reported too
    queries.clear_cache()


def _busiest_ward(data_dir):
    from csp import store

    cur = store.cursor()
    try:
        return cur.execute("SELECT ward_code FROM read_parquet($f) WHERE ward_code IS NOT NULL GROUP BY 1 "
                           "ORDER BY count(*) DESC, 1 LIMIT 1", {"f": store.current("crime").files}).fetchone()[0]
    finally:
        cur.close()


def test_peers_publish_what_the_grant_says(bench_run, monkeypatch):
    """The peers perturb as the user's grant says: for the council board member their answer
    differs from the owner's exact counts, and equals the access layer's; for a ward-scoped
    practitioner, cells are withheld and the peers withhold exactly those."""
    from csp import access, queries

    from bench import figures as F

    monkeypatch.setenv("CSP_DATA_DIR", str(bench_run["dir"]))
    queries.clear_cache()
    fig = next(f for f in F.FIGURES if f.query == "crime_monthly")
    owner = access.User("bench.check", "Check", "board", "police")
    council = access.User("bench.c", "Council", "board", "council")
    exact = F.run_access(owner, fig, F.make_context(owner)).frame
    ctx = F.make_context(council)
    result = F.run_access(council, fig, ctx)
    published = result.frame.join(exact, on=["month", "crime_type"], suffix="_exact")
    changed = published.filter(pl.col("crimes") != pl.col("crimes_exact")).height
    assert 0 < changed < published.height  # perturbed: some cells moved, not all
    for other in (fig.pandas(ctx, fig.params(ctx)), fig.polars(ctx, fig.params(ctx)), F.run_floor(fig, ctx)):
        assert F.compare(fig, result, other) == []
    # The exact counts are not what the council may see.
    assert F.compare(fig, result, exact)

    officer = access.User("bench.o", "Officer", "practitioner", "housing", (_busiest_ward(bench_run["dir"]),))
    ctx = F.make_context(officer)
    result = F.run_access(officer, fig, ctx)
    assert 0 < result.n_suppressed < result.frame.height
    peer = fig.polars(ctx, fig.params(ctx))
    assert F.compare(fig, result, peer) == []
    # A peer that shows a withheld cell, or withholds a shown one, is reported.
    scoped_owner = access.User("bench.check", "Check", "board", "police", officer.areas)
    exact = F.run_access(scoped_owner, fig, F.make_context(scoped_owner)).frame
    i = int(result.suppressed["crimes"].arg_true()[0])
    key = tuple(result.frame.row(i, named=True)[k] for k in fig.keys)
    true = exact.filter((pl.col("month") == key[0]) & (pl.col("crime_type") == key[1]))["crimes"][0]
    leaked = peer.with_columns(pl.when((pl.col("month") == key[0]) & (pl.col("crime_type") == key[1]))
                               .then(pl.lit(true)).otherwise(pl.col("crimes")).alias("crimes"))
    problems = F.compare(fig, result, leaked)
    assert len(problems) == 1 and "withheld by the access layer" in problems[0]
    j = int((~result.suppressed["crimes"]).arg_true()[0])
    key = tuple(result.frame.row(j, named=True)[k] for k in fig.keys)
    hidden = peer.with_columns(pl.when((pl.col("month") == key[0]) & (pl.col("crime_type") == key[1]))
                               .then(None).otherwise(pl.col("crimes")).alias("crimes"))
    problems = F.compare(fig, result, hidden)
    assert len(problems) == 1 and "other withholds it" in problems[0]
    queries.clear_cache()


def test_sql_floor_reads_cells_and_floor_publishes_them(bench_run, monkeypatch):
    """DuckDB alone returns the unpublished cells (the exact count and key sum); the floor's
    publishing turns them into the council's published figures."""
    from csp import access, queries

    from bench import figures as F

    monkeypatch.setenv("CSP_DATA_DIR", str(bench_run["dir"]))
    queries.clear_cache()
    fig = next(f for f in F.FIGURES if f.query == "crime_by_ward")
    owner = access.User("bench.check", "Check", "board", "police")
    council = access.User("bench.c", "Council", "board", "council")
    ctx = F.make_context(council)
    raw = F.run_sql(fig.query, ctx, fig.params(ctx))
    cellsf = raw.select("ward_code", pl.col("crimes").struct.field("value").alias("v"))
    exact = F.run_access(owner, fig, F.make_context(owner)).frame.select("ward_code", "crimes")
    joined = cellsf.join(exact, on="ward_code", how="full", nulls_equal=True)
    assert joined.height == exact.height == raw.height
    assert (joined["v"] == joined["crimes"]).fill_null(False).all()
    result = F.run_access(council, fig, ctx)
    assert F.compare(fig, result, F.run_floor(fig, ctx)) == []
    # The rows the query adds since the partnership area: the crimes with no location, counted
    # apart with no rate; the peers give it too, and a rate off in its last digits is reported.
    none = result.frame.filter(pl.col("row_kind") == "no location")
    assert none.height == 1 and none["ward_code"][0] is None and none["rate_per_1000"][0] is None
    peer = fig.pandas(ctx, fig.params(ctx))
    assert F.compare(fig, result, peer) == []
    i = int(peer["rate_per_1000"].first_valid_index())
    peer.loc[i, "rate_per_1000"] += 1e-9
    problems = F.compare(fig, result, peer)
    assert len(problems) == 1 and "rate_per_1000" in problems[0]
    assert F.compare(fig, result, peer[peer["row_kind"] != "no location"]) != []
    queries.clear_cache()
