"""Cubes: counts written at publish time next to a dataset's rows, read by the counting queries.

The properties that matter: a cube always agrees with the rows it was counted from (for every
query that reads it, and for every kind of user), it is governed by its parent's access rule, it
travels with the parent's version (rollback serves the older counts), and data published before
cubes existed still answers the same, counted on the fly.
"""
from __future__ import annotations

import json

import polars as pl
import pytest

from csp import access, catalog, ingest, queries, store
from conftest import D2, GEOGRAPHY, L2, L4, W1, W2, W3, crime_frame, publish_frame

CUBE_QUERIES = sorted(
    q.name for q in queries.all_queries() if any(catalog.contract(d).cube_of for d in q.datasets)
)


def _params(q) -> dict:
    return {n: W1 for n, p in q.params.items() if p.required and p.type == "area"}


def _answers(user) -> dict:
    queries.clear_cache()
    out = {}
    for name in CUBE_QUERIES:
        q = queries.get(name)
        try:
            r = queries.run(user, name, _params(q))
        except access.AccessDenied:
            out[name] = "denied"
            continue
        out[name] = (r.frame, r.suppressed)
    return out


def _assert_same_answers(got: dict, expected: dict, *label, scoped_only: bool = False) -> None:
    """Every cube query: the same frame and suppression mask, or denied both times.
    ``scoped_only``: leave out the queries declared `scope: partnership`, which read the whole
    partnership by design (tests/test_neighbourhood.py checks them)."""
    for name in CUBE_QUERIES:
        if scoped_only and queries.get(name).scope == "partnership":
            continue
        a, b = got[name], expected[name]
        if a == "denied" or b == "denied":
            assert a == b, (*label, name)
            continue
        assert a[0].equals(b[0]), (*label, name, a[0], b[0])
        assert a[1].equals(b[1]), (*label, name)


def _drop_cubes_from_meta(name: str) -> None:
    """Make the current version look like one published before cubes existed."""
    v = store.current(name)
    meta = dict(v.meta)
    for f in meta.pop("cubes", {}).values():
        (v.path / f).unlink()
    (v.path / "meta.json").write_text(json.dumps(meta))


def test_publish_writes_each_cube_in_the_same_version(tiny):
    v = store.current("crime")
    assert set(v.meta["cubes"]) == set(catalog.cubes("crime")) and v.meta["cubes"]
    cube = store.current("crime_cube")
    assert cube.version == v.version and cube.path == v.path
    counted = pl.read_parquet(cube.files[0])
    rows = pl.read_parquet(v.files[0])
    dims = list(catalog.contract("crime_cube").dims)
    assert counted["n"].sum() == rows.height
    want = rows.group_by(dims).len("n").sort(dims, nulls_last=True)
    got = counted.select(*dims, "n").sort(dims, nulls_last=True)
    assert got.equals(want.with_columns(pl.col("n").cast(pl.Int64)))


def test_cube_is_not_a_dataset_of_its_own(tiny):
    assert "crime_cube" not in catalog.contracts()
    with pytest.raises(store.StoreError):
        store.dataset_dir("crime_cube")


def test_cube_grant_follows_the_parent(tiny):
    for user in tiny["users"].values():
        parent, cube = access.grant(user, "crime"), access.grant(user, "crime_cube")
        assert (parent is None) == (cube is None), user
        if parent is None:
            continue
        assert (cube.geography, cube.threshold, cube.areas, cube.owner) == (
            parent.geography, parent.threshold, parent.areas, parent.owner)
        assert set(cube.fields) - {"n"} == set(parent.fields) & set(catalog.contract("crime_cube").dims)


def test_denied_parent_denies_the_cube_with_the_parent_named(tiny, tmp_path, monkeypatch):
    from csp import config

    # Withdraw crime from health in a copy of the policy: its cube must go with it.
    text = config.policy_path().read_text()
    line = 'health = { geography = "district", protection = "suppress", threshold = 5, tiers = ["public"] }\n'
    crime_rules = text.index("[datasets.crime.partners]")
    assert text.index(line, crime_rules) < text.index("[datasets.asb]")
    at = text.index(line, crime_rules)
    policy = tmp_path / "policy.toml"
    policy.write_text(text[:at] + text[at + len(line):])
    monkeypatch.setenv("CSP_POLICY", str(policy))
    health = tiny["users"]["health"]
    assert access.grant(health, "crime") is None and access.grant(health, "crime_cube") is None
    with pytest.raises(access.AccessDenied, match="does not share police recorded crime"):
        queries.run(health, "crime_monthly")


def test_cube_answers_equal_counting_the_rows(tiny):
    """Every cube query, every fixture user: the published cube and the raw rows read as cells of
    n = 1 (the path for versions without a cube) give identical frames and suppression masks, so
    a query that counted cells instead of summing n would fail here."""
    asb = crime_frame().select("month", "falls_within", "location", "lsoa_code", "ward_code", "district_code")
    publish_frame("asb", asb)
    outcomes = pl.Series(["Under investigation", None, "Unable to prosecute suspect"])
    crime = crime_frame().with_columns(  # some outcomes, so the outcome cube has cells to get wrong
        outcome=pl.int_range(pl.len()).map_elements(lambda i: outcomes[i % 3], return_dtype=pl.String))
    publish_frame("crime", crime)
    users = list(tiny["users"].values())
    from_cube = {u.username: _answers(u) for u in users}
    _drop_cubes_from_meta("crime")
    _drop_cubes_from_meta("asb")
    assert store.current("crime_cube").meta.get("cube_fallback")
    assert store.current("asb_cube").meta.get("cube_fallback")
    for u in users:
        _assert_same_answers(from_cube[u.username], _answers(u), u.username)


def test_counts_are_int64_like_count_star(tiny):
    r = queries.run(tiny["users"]["police"], "crime_monthly")
    assert r.frame.schema["crimes"] == pl.Int64
    r = queries.run(tiny["users"]["police"], "crime_benchmark")
    assert r.frame.schema["crimes"] == pl.Int64


def test_rollback_serves_the_older_versions_counts(tiny):
    police = tiny["users"]["police"]
    before = queries.run(police, "crime_monthly_total").frame
    more = pl.concat([crime_frame(), crime_frame()])
    publish_frame("crime", more)
    queries.clear_cache()
    doubled = queries.run(police, "crime_monthly_total").frame
    assert doubled["crimes"].to_list() == [2 * x for x in before["crimes"].to_list()]
    store.rollback("crime", store.versions("crime")[0].version)
    queries.clear_cache()
    assert queries.run(police, "crime_monthly_total").frame.equals(before)


def test_ward_scope_applies_to_the_cube(tiny):
    officer = tiny["users"]["housing"]  # scoped to W1
    r = queries.run(officer, "crime_by_ward")
    assert set(r.frame["ward_code"].drop_nulls().to_list()) <= {W1}
    # Housing's crime grant is perturbed (t=5): the ward's figure is the ONS package's for its
    # published records (their record keys now include the crime flags, issue 15).
    from protection_oracle import ons_counts
    rows = pl.read_parquet(store.current("crime").files).filter(pl.col("ward_code") == W1)
    assert rows.height == crime_frame().filter(pl.col("ward_code") == W1).height
    shown = r.frame.filter(pl.col("ward_code") == W1)["crimes"].to_list()
    assert shown == [ons_counts(rows, ["ward_code"], "ptable_t5", 5)[(W1,)]]
    assert W2 not in r.frame["ward_code"].to_list()


@pytest.mark.parametrize("stale_by", ["crime rolled back", "geography rolled back"])
def test_scope_holds_when_ward_codes_predate_the_lookup(tiny, stale_by):
    """A boundary review moves LSOA L2 from W1 to W2. After a rollback the published rows' ward
    codes disagree with the current lookup; a scoped user must still see only rows whose ward
    code and LSOA (by the current lookup) are both theirs: every cube query answers exactly as
    if only those rows were published. Checking the ward code alone let a W1 user see L2's
    crimes, and by difference with the LSOA table, a count below the suppression threshold."""
    moved = GEOGRAPHY.with_columns(
        ward_code=pl.when(pl.col("lsoa_code") == L2).then(pl.lit(W2)).otherwise(pl.col("ward_code")))
    publish_frame("geography", moved)
    ingest.regeocode("test")  # crime v2: L2's rows say W2
    if stale_by == "crime rolled back":
        store.rollback("crime", "v000001")  # rows coded before the review: L2's say W1
        lookup = moved
    else:
        store.rollback("geography", "v000001")  # L2 back in W1; the rows still say W2
        lookup = GEOGRAPHY
    stale = store.current("crime")
    rows = pl.read_parquet(stale.files)
    scoped = [tiny["users"]["housing"], tiny["users"]["fire"]]
    seen = {u.username: _answers(u) for u in scoped}
    stale_rows = 0  # rows a ward-code-only filter would have shown them
    for u in scoped:
        lsoas = lookup.filter(pl.col("ward_code").is_in(list(u.areas)))["lsoa_code"].to_list()
        theirs = rows.filter(pl.col("ward_code").is_in(list(u.areas)) & pl.col("lsoa_code").is_in(lsoas))
        assert theirs.height > 0
        stale_rows += rows.filter(pl.col("ward_code").is_in(list(u.areas))).height - theirs.height
        # Rows in a ward neither user may see keep the months held (and with them every default
        # period) as they were; the users cannot see them, so their answers must not change.
        ghosts = pl.concat([rows.head(1).with_columns(
            month=pl.lit(m), lsoa_code=pl.lit(L4), ward_code=pl.lit(W3), district_code=pl.lit(D2),
            crime_id=pl.lit(f"ghost-{m}")) for m in (rows["month"].min(), rows["month"].max())])
        publish_frame("crime", pl.concat([theirs, ghosts]))
        _assert_same_answers(seen[u.username], _answers(u), stale_by, u.username, scoped_only=True)
        store.rollback("crime", stale.version)
    assert stale_rows > 0  # the scenario really put rows in the wrong ward


def test_result_cache_is_bounded_in_bytes(tiny, monkeypatch):
    """Results (and what pages remember on them) are evicted oldest first beyond the byte
    budget; the newest answer always stays, and an evicted one is recomputed identically."""
    police = tiny["users"]["police"]
    queries.clear_cache()
    first = queries.run(police, "crime_by_lsoa")
    size = queries._nbytes(first)
    assert size >= first.frame.estimated_size() > 0
    first.__dict__["_remembered"] = b"x" * 10_000  # as csp.indicators.per_result stores things
    assert queries._nbytes(first) >= size + 10_000
    # A Result remembered on it (a ranked table), and what is later remembered on that, count too.
    from csp import indicators
    ranked = indicators.per_result(first, ("ranked",), lambda: queries.Result(
        first.query, first.frame.clone(), first.suppressed.clone(), first.threshold, first.versions))
    with_ranked = queries._nbytes(first)
    assert with_ranked >= size + 10_000 + ranked.frame.estimated_size()
    indicators.per_result(ranked, ("csv",), lambda: b"y" * 5_000)
    assert queries._nbytes(first) >= with_ranked + 5_000
    monkeypatch.setattr(queries, "_CACHE_BYTES", queries._nbytes(first) + 1)
    second = queries.run(police, "crime_by_ward")
    assert queries.run(police, "crime_by_ward") is second  # newest kept
    again = queries.run(police, "crime_by_lsoa")
    assert again is not first and again.frame.equals(first.frame)  # evicted, recomputed the same


def test_scoped_source_is_the_finest_file_with_lsoas():
    """A ward-scoped user's rows are checked by LSOA, so cubes without one are read from a finer
    file of the same version: the smallest cube with LSOAs and every dimension, else the rows."""
    for name, cube in catalog.cubes().items():
        if not catalog.contract(cube.cube_of).geo_field("lsoa"):
            continue  # ward- or district-level partner data (issue 15): no finer file to read
        src = catalog.contract(catalog.scoped_source(name))
        assert src.geo_field("lsoa"), name
        assert set(cube.dims) <= set(src.field_names), name
        assert catalog.base(src.name) == cube.cube_of, name
    assert catalog.scoped_source("crime_cube") == "crime_cube"
    assert catalog.scoped_source("crime_ward_cube") == "crime_cube"
    assert catalog.scoped_source("crime_outcome_cube") == "crime"  # no cube has outcome and LSOA
    assert catalog.scoped_source("reoffending") == "reoffending"
