"""Smoke test of the benchmark harness at a tiny size: the JSON it writes has the expected shape,
and the access layer's figures equal what the pandas, Polars and raw-DuckDB peers compute.
No timing is asserted (timings on a shared 2-core machine are not a test)."""
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
    for name in ("crime_facets", "areas", "crime_headline", "crime_monthly", "crime_by_ward", "asb_monthly"):
        assert {(name, "unscoped"), (name, "ward")} <= figures
    for q in r["queries"]:
        assert q["access_ms"] > 0 and q["floor_ms"] > 0
        if q["source"] == "figure":
            assert q["pandas_ms"] > 0 and q["polars_ms"] > 0
            assert q["access_over_floor"] == pytest.approx(q["access_ms"] / q["floor_ms"], abs=0.01)
    # The page runs recorded the queries the Crime page really runs, and timed its three views.
    assert any(q["source"] == "page run (crime)" for q in r["queries"])
    for user in ("unscoped", "ward"):
        crime = r["pages"][user]["crime"]
        assert set(crime) == {"first_view_s", "filter_change_s", "revisit_s"}, crime
    assert r["rss_mb"]["app_peak"] > 0
    assert r["targets_total"] == len(r["targets"]) and all(isinstance(t["met"], bool) for t in r["targets"])


def test_access_layer_answers_equal_the_peers(bench_run):
    checks = bench_run["json"]["checks"]
    assert checks["compared"] == 6 * 2 * 3  # six figures, two users, three peers each
    assert checks["problems"] == []


def test_comparison_catches_a_wrong_answer(bench_run, monkeypatch):
    """The equality check can fail: a peer answer that is off by one is reported."""
    from csp import access, queries

    from bench import figures as F

    monkeypatch.setenv("CSP_DATA_DIR", str(bench_run["dir"]))
    queries.clear_cache()
    user = access.User("bench.check", "Check", "board", "police")  # the owner: nothing suppressed
    ctx = F.make_context()
    fig = next(f for f in F.FIGURES if f.query == "crime_monthly")
    result = F.run_access(user, fig, ctx)
    peer = fig.polars(ctx)
    assert F.compare(fig, result, peer) == []
    wrong = peer.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.col("crimes") + 1)
                              .otherwise(pl.col("crimes")).alias("crimes"))
    problems = F.compare(fig, result, wrong)
    assert len(problems) == 1 and "crimes" in problems[0]
    assert F.compare(fig, result, peer.slice(1)) != []  # a missing row is reported too
    queries.clear_cache()
