"""Tests for csp.demo: the deterministic Fenmouth demo data and its publication.

Expected ranges come from the brief (realistic volumes for ~200k residents, MoJ-like reoffending
rates, NDTMS-like treatment figures, Fingertips-like admissions), not from the generator's own
constants. Significance checks use scipy's exact conditional (binomial) test, independent of
csp.stats.
"""
from __future__ import annotations

import datetime as dt
import json
import time

import duckdb
import numpy as np
import polars as pl
import pytest
from scipy.stats import binomtest

from csp import catalog, demo, store
from csp.protection import record_keys

POLARS_TYPES = {"VARCHAR": pl.String, "BIGINT": pl.Int64, "INTEGER": pl.Int32, "DATE": pl.Date, "DOUBLE": pl.Float64}
POLICE_UK_TYPES = {
    "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs", "Other crime", "Other theft",
    "Possession of weapons", "Public order", "Robbery", "Shoplifting", "Theft from the person",
    "Vehicle crime", "Violence and sexual offences",
}
POLICE_UK_OUTCOMES = {
    "Action to be taken by another organisation", "Awaiting court outcome",
    "Court case unable to proceed", "Court result unavailable", "Defendant found not guilty",
    "Defendant sent to Crown Court", "Formal action is not in the public interest",
    "Further action is not in the public interest",
    "Further investigation is not in the public interest",
    "Investigation complete; no suspect identified", "Local resolution",
    "Offender deprived of property", "Offender fined", "Offender given a caution",
    "Offender given a drugs possession warning", "Offender given absolute discharge",
    "Offender given community sentence", "Offender given conditional discharge",
    "Offender given penalty notice", "Offender given suspended prison sentence",
    "Offender ordered to pay compensation", "Offender otherwise dealt with",
    "Offender sent to prison", "Suspect charged as part of another case",
    "Status update unavailable", "Unable to prosecute suspect", "Under investigation",
}
END = dt.date(2026, 9, 1)


@pytest.fixture(scope="module")
def frames():
    return demo.build_frames()


@pytest.fixture(scope="module")
def boundaries():
    return demo.build_boundaries(demo.DEFAULT_SEED)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CSP_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def last12_prev12(df: pl.DataFrame, end: dt.date = END) -> tuple[int, int]:
    """Rows in the 12 months ending with ``end`` and in the 12 months before those."""
    months = pl.col("month")
    n = end.year * 12 + end.month - 1 - 11  # first month of the latest 12
    cur_start = dt.date(n // 12, n % 12 + 1, 1)
    prev_start = dt.date(n // 12 - 1, n % 12 + 1, 1)
    cur = df.filter((months >= cur_start) & (months <= end)).height
    prev = df.filter((months >= prev_start) & (months < cur_start)).height
    return cur, prev


def ward_code(name: str) -> str:
    return demo.WARD_CODES[name]


# --------------------------------------------------------------------------------------------
# determinism and contracts
# --------------------------------------------------------------------------------------------
def test_same_seed_gives_identical_frames_and_boundaries(frames, boundaries):
    again = demo.build_frames(seed=demo.DEFAULT_SEED)
    assert set(again) == set(demo.DATASETS)
    for name in demo.DATASETS:
        assert again[name].equals(frames[name]), name
    assert demo.build_boundaries(demo.DEFAULT_SEED) == boundaries


def test_different_seed_gives_different_data(frames, boundaries):
    other = demo.build_frames(seed=7)
    for name in demo.DATASETS:
        assert not other[name].equals(frames[name]), name
    assert demo.build_boundaries(7) != boundaries
    # ...but the same area: codes and names do not depend on the seed
    cols = ["lsoa_code", "lsoa_name", "ward_code", "ward_name", "district_code"]
    assert other["geography"].select(cols).equals(frames["geography"].select(cols))


@pytest.mark.parametrize("name", demo.DATASETS)
def test_frames_match_contract_exactly(frames, name):
    contract = catalog.contract(name)
    df = frames[name]
    assert df.columns == contract.field_names
    assert [df.schema[f.name] for f in contract.fields] == [POLARS_TYPES[f.type] for f in contract.fields]
    assert df.height > 0


@pytest.mark.parametrize("name", demo.DATASETS)
def test_parquet_as_written_by_publish_has_contract_types(frames, name, tmp_path):
    # publish(write=...) does no casting, so what DuckDB reads back must already be the contract
    out = tmp_path / f"{name}.parquet"
    frames[name].write_parquet(out, compression="zstd")
    rows = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{out}')").fetchall()
    assert [(r[0], r[1]) for r in rows] == [(f.name, f.type) for f in catalog.contract(name).fields]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        demo.build_frames(end_month="2026-13")
    with pytest.raises(ValueError):
        demo.build_frames(end_month="September")
    with pytest.raises(ValueError):
        demo.build_frames(months=0)


def test_other_end_month_and_length():
    f = demo.build_frames(seed=3, end_month="2025-03", months=24)
    months = f["crime"]["month"]
    assert months.min() == dt.date(2023, 4, 1) and months.max() == dt.date(2025, 3, 1)
    assert months.n_unique() == 24
    assert f["asb"]["month"].max() == dt.date(2025, 3, 1)
    assert f["reoffending"]["cohort_quarter"].max() == dt.date(2023, 4, 1)
    assert f["reoffending"]["cohort_quarter"].n_unique() == 8
    assert f["substance_misuse"]["quarter"].max() == dt.date(2025, 1, 1)
    assert f["alcohol_admissions"]["period"].max() == "2023/24"


# --------------------------------------------------------------------------------------------
# geography
# --------------------------------------------------------------------------------------------
def test_geography_shape_and_codes(frames):
    g = frames["geography"]
    assert 80 <= g.height <= 150
    assert 18 <= g["ward_code"].n_unique() <= 22
    assert g["lsoa_code"].is_unique().all()
    assert g["lsoa_code"].str.contains(r"^E01999\d{3}$").all()
    assert g["ward_code"].str.contains(r"^E05999\d{3}$").all()
    assert (g["district_code"] == "E07999001").all() and (g["district_name"] == "Fenmouth").all()
    assert g["lsoa_name"].str.contains(r"^Fenmouth \d{3}[A-Z]$").all()
    assert g["lsoa_name"].is_unique().all()
    assert g["population"].min() >= 1200 and g["population"].max() <= 2400
    assert 150_000 <= g["population"].sum() <= 260_000
    assert g.null_count().sum_horizontal().item() == 0


def test_every_lsoa_in_one_ward_and_every_ward_in_one_district(frames):
    g = frames["geography"]
    per_lsoa = g.group_by("lsoa_code").agg(pl.col("ward_code").n_unique(), pl.col("district_code").n_unique())
    assert (per_lsoa["ward_code"] == 1).all() and (per_lsoa["district_code"] == 1).all()
    per_ward = g.group_by("ward_code").agg(
        pl.col("district_code").n_unique(), pl.col("ward_name").n_unique(), pl.len()
    )
    assert (per_ward["district_code"] == 1).all() and (per_ward["ward_name"] == 1).all()
    assert per_ward["len"].min() >= 3  # every ward has a few LSOAs
    assert g["ward_name"].n_unique() == g["ward_code"].n_unique()


def test_hotspot_wards_exist(frames):
    g = frames["geography"]
    for spot in demo.HOTSPOTS.values():
        assert g.filter(pl.col("ward_code") == spot["code"])["ward_name"].unique().to_list() == [spot["ward"]]


# --------------------------------------------------------------------------------------------
# crime
# --------------------------------------------------------------------------------------------
def test_crime_volumes(frames):
    c, pop = frames["crime"], frames["geography"]["population"].sum()
    per_month = c.group_by("month").len()["len"]
    assert per_month.len() == 48
    assert 1100 <= per_month.mean() <= 1500
    assert per_month.min() >= 950 and per_month.max() <= 1650
    rate = c.height / 4 / pop * 1000
    assert 70 <= rate <= 95, rate
    assert c["month"].min() == dt.date(2022, 10, 1) and c["month"].max() == END
    assert (c["month"].dt.day() == 1).all()
    assert 40_000 <= c.height <= 80_000


def test_crime_types_and_shares(frames):
    c = frames["crime"]
    assert set(c["crime_type"].unique()) == POLICE_UK_TYPES
    assert (c["crime_category"] == c["crime_type"]).all()
    share = c["crime_type"].value_counts(normalize=True)
    violence = share.filter(pl.col("crime_type") == "Violence and sexual offences")["proportion"].item()
    assert 0.30 <= violence <= 0.40


def test_crime_ids_and_constant_fields(frames):
    c = frames["crime"]
    assert c["crime_id"].is_unique().all()
    assert c["crime_id"].str.contains(r"^[0-9a-f]{64}$").all()
    assert (c["falls_within"] == "Fenmouth Constabulary").all()
    assert c["location"].null_count() == 0
    assert c["location"].str.starts_with("On or near ").mean() > 0.99
    assert c["outcome"].null_count() == 0 and c["crime_type"].null_count() == 0


def test_unknown_area_rows(frames):
    c, g = frames["crime"], frames["geography"]
    unknown = c.filter(pl.col("lsoa_code").is_null())
    assert 0.001 <= unknown.height / c.height <= 0.006
    # all three area codes are blank together, and the location says so
    assert unknown["ward_code"].null_count() == unknown.height
    assert unknown["district_code"].null_count() == unknown.height
    assert c["ward_code"].null_count() == unknown.height == c["district_code"].null_count()
    assert (unknown["location"] == "No location").all()
    # located rows agree with the lookup
    known = c.filter(pl.col("lsoa_code").is_not_null()).select("lsoa_code", "ward_code", "district_code")
    joined = known.join(g.select("lsoa_code", "ward_code", "district_code"), on="lsoa_code", how="left", suffix="_g")
    assert joined["ward_code_g"].null_count() == 0
    assert (joined["ward_code"] == joined["ward_code_g"]).all()
    assert (joined["district_code"] == joined["district_code_g"]).all()


def test_outcomes_realistic(frames):
    c = frames["crime"]
    assert set(c["outcome"].unique()) <= POLICE_UK_OUTCOMES
    share = dict(c["outcome"].value_counts(normalize=True).iter_rows())
    assert 0.25 <= share["Investigation complete; no suspect identified"] <= 0.50
    assert 0.20 <= share["Unable to prosecute suspect"] <= 0.40
    ui = c.with_columns(ui=pl.col("outcome") == "Under investigation").group_by("month").agg(pl.col("ui").mean()).sort("month")
    assert ui["ui"][-1] > 0.6  # the latest month is mostly still open
    assert ui["ui"][:12].max() < 0.05  # old crimes are mostly closed
    assert ui["ui"][-1] > ui["ui"][-3] > ui["ui"][-12]
    awaiting = c.filter(pl.col("outcome") == "Awaiting court outcome")
    assert awaiting.height > 0 and awaiting["month"].min() > dt.date(2023, 9, 1)


def test_small_counts_exist(frames):
    cells = frames["crime"].drop_nulls("lsoa_code").group_by("month", "lsoa_code", "crime_type").len()
    small = cells.filter(pl.col("len") <= 4).height
    assert small / cells.height > 0.5  # disclosure control has plenty to suppress


def test_seasonality(frames):
    c = frames["crime"].with_columns(m=pl.col("month").dt.month())
    def mean_per_month(df, months):
        sub = df.filter(pl.col("m").is_in(months))
        return sub.height / sub["month"].n_unique()
    violence = c.filter(pl.col("crime_type") == "Violence and sexual offences")
    assert mean_per_month(violence, [6, 7, 8]) > 1.12 * mean_per_month(violence, [1, 2, 12])
    burglary = c.filter((pl.col("crime_type") == "Burglary") & (pl.col("ward_code") != ward_code("Marsh End")))
    assert mean_per_month(burglary, [11, 12, 1]) > 1.15 * mean_per_month(burglary, [5, 6, 7])
    asb = frames["asb"].with_columns(m=pl.col("month").dt.month())
    assert mean_per_month(asb, [6, 7, 8]) > 1.25 * mean_per_month(asb, [12, 1, 2])


# --------------------------------------------------------------------------------------------
# hotspots (checked on a few seeds: they are properties of the model, not luck)
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=[demo.DEFAULT_SEED, 1, 99])
def seeded(request, frames):
    return frames if request.param == demo.DEFAULT_SEED else demo.build_frames(seed=request.param)


def per_capita_ratio(c: pl.DataFrame, g: pl.DataFrame, ward: str, types: list[str]) -> float:
    sub = c.filter(pl.col("crime_type").is_in(types))
    ward_pop = g.filter(pl.col("ward_code") == ward)["population"].sum()
    return (sub.filter(pl.col("ward_code") == ward).height / ward_pop) / (sub.height / g["population"].sum())


def test_town_centre_hotspot(seeded):
    c, g = seeded["crime"], seeded["geography"]
    code = demo.HOTSPOTS["town_centre"]["code"]
    assert 3.5 <= per_capita_ratio(c, g, code, ["Violence and sexual offences"]) <= 7
    assert per_capita_ratio(c, g, code, ["Shoplifting"]) >= 4
    # shoplifting is concentrated in the two town-centre wards
    town = [code, ward_code("Castle")]
    shop = c.filter(pl.col("crime_type") == "Shoplifting")
    assert shop.filter(pl.col("ward_code").is_in(town)).height / shop.height > 0.4
    # and no other ward comes close on violence
    violence = c.filter(pl.col("crime_type") == "Violence and sexual offences").group_by("ward_code").len()
    rates = violence.join(g.group_by("ward_code").agg(pl.col("population").sum()), on="ward_code")
    rates = rates.with_columns(r=pl.col("len") / pl.col("population")).sort("r", descending=True)
    assert rates["ward_code"][0] == code


def test_burglary_spike_is_significant(seeded):
    c = seeded["crime"]
    code = demo.HOTSPOTS["burglary_spike"]["code"]
    cur, prev = last12_prev12(c.filter((pl.col("ward_code") == code) & (pl.col("crime_type") == "Burglary")))
    assert cur > 1.6 * prev
    assert binomtest(cur, cur + prev).pvalue < 0.001
    # the spike starts about 10 months before the end: the months before it look normal
    monthly = (c.filter((pl.col("ward_code") == code) & (pl.col("crime_type") == "Burglary"))
               .group_by("month").len().sort("month"))
    before = monthly.filter(pl.col("month") < dt.date(2025, 12, 1))["len"].sum() / 38
    after = monthly.filter(pl.col("month") >= dt.date(2025, 12, 1))["len"].sum() / 10
    assert after > 2 * before
    # district-wide, burglary is not spiking
    d_cur, d_prev = last12_prev12(c.filter((pl.col("crime_type") == "Burglary") & (pl.col("ward_code") != code)))
    assert 0.75 < d_cur / d_prev < 1.25


def test_vehicle_crime_falls_in_its_ward(seeded):
    c = seeded["crime"]
    code = demo.HOTSPOTS["vehicle_decline"]["code"]
    v = c.filter((pl.col("ward_code") == code) & (pl.col("crime_type") == "Vehicle crime"))
    first = v.filter(pl.col("month") < dt.date(2023, 10, 1)).height
    last = v.filter(pl.col("month") >= dt.date(2025, 10, 1)).height
    assert last < 0.5 * first
    assert binomtest(last, last + first).pvalue < 1e-6


def test_vehicle_decline_last12_significant_for_default_seed(frames):
    code = demo.HOTSPOTS["vehicle_decline"]["code"]
    cur, prev = last12_prev12(frames["crime"].filter(
        (pl.col("ward_code") == code) & (pl.col("crime_type") == "Vehicle crime")))
    assert cur < prev and binomtest(cur, cur + prev).pvalue < 0.05


def test_asb_volumes_and_hotspot(seeded):
    a, g = seeded["asb"], seeded["geography"]
    per_month = a.group_by("month").len()["len"]
    assert per_month.len() == 48
    assert 350 <= per_month.mean() <= 600
    assert per_month.min() >= 280 and per_month.max() <= 680
    assert (a["falls_within"] == "Fenmouth Constabulary").all()
    assert a["location"].null_count() == 0
    code = demo.HOTSPOTS["asb"]["code"]
    ward_pop = g.filter(pl.col("ward_code") == code)["population"].sum()
    ratio = (a.filter(pl.col("ward_code") == code).height / ward_pop) / (a.height / g["population"].sum())
    assert ratio >= 3
    assert 0.0005 <= a["lsoa_code"].null_count() / a.height <= 0.008
    assert a["ward_code"].null_count() == a["lsoa_code"].null_count() == a["district_code"].null_count()


# --------------------------------------------------------------------------------------------
# reoffending, treatment, admissions
# --------------------------------------------------------------------------------------------
def rate(df: pl.DataFrame) -> float:
    return df["reoffenders"].sum() / df["offenders"].sum()


def test_reoffending_shape_and_lag(frames):
    r = frames["reoffending"]
    quarters = r["cohort_quarter"].unique().sort()
    assert quarters.len() == 16
    # latest cohort: end month less 12 months' follow-up, 6 months' wait and a quarter to publish
    assert quarters[-1] == dt.date(2024, 10, 1)
    assert quarters[0] == dt.date(2021, 1, 1)
    assert all(q.day == 1 and q.month in (1, 4, 7, 10) for q in quarters)
    assert r.height == 16 * 2 * 3 * 2
    assert set(r["age_group"]) == {"adult", "juvenile"}
    assert set(r["cohort_type"]) == {"custody", "court_order", "caution"}
    assert set(r["cohort_group"]) == {"IOM", "other"}
    assert (r["district_code"] == "E07999001").all()
    assert r.select(pl.col("cohort_quarter", "age_group", "cohort_type", "cohort_group")).is_unique().all()
    assert demo.reoffending_latest_cohort("2026-09") == dt.date(2024, 10, 1)


def test_reoffending_counts_consistent_and_realistic(frames):
    r = frames["reoffending"]
    assert (r["offenders"] >= 1).all()
    assert (r["reoffenders"] <= r["offenders"]).all()
    assert (r["reoffences"] >= r["reoffenders"]).all()
    assert ((r["reoffences"] == 0) == (r["reoffenders"] == 0)).all()
    assert (r["offenders"] < 10).sum() > 10  # suppression matters
    assert 0.20 <= rate(r.filter(pl.col("age_group") == "adult")) <= 0.30
    assert 0.25 <= rate(r.filter(pl.col("age_group") == "juvenile")) <= 0.40
    assert 0.30 <= rate(r.filter(pl.col("cohort_type") == "custody")) <= 0.45
    assert 0.10 <= rate(r.filter(pl.col("cohort_type") == "caution")) <= 0.18
    iom = r.filter(pl.col("cohort_group") == "IOM")
    assert 0.45 <= rate(iom) <= 0.65
    adult_iom = iom.filter(pl.col("age_group") == "adult")
    assert adult_iom["offenders"].min() >= 1 and adult_iom["offenders"].max() <= 45
    per_reoffender = r["reoffences"].sum() / r["reoffenders"].sum()
    assert 3.2 <= per_reoffender <= 4.3
    per_quarter = r.group_by("cohort_quarter").agg(pl.col("offenders").sum())["offenders"]
    assert 250 <= per_quarter.mean() <= 450


def test_substance_misuse(frames):
    s = frames["substance_misuse"]
    assert s.height == 16 * 4
    assert set(s["substance_group"]) == {"opiate", "non-opiate", "alcohol", "alcohol and non-opiate"}
    assert s["quarter"].max() == dt.date(2026, 7, 1)
    assert (s["district_code"] == "E07999001").all()
    expect = {  # in treatment, completion share
        "opiate": (600, 0.05), "alcohol": (450, 0.35), "non-opiate": (200, 0.30),
        "alcohol and non-opiate": (250, 0.28),
    }
    for group, (n, share) in expect.items():
        g = s.filter(pl.col("substance_group") == group)
        assert 0.75 * n <= g["in_treatment"].mean() <= 1.25 * n, group
        completion = g["successful_completions"].sum() / g["in_treatment"].sum()
        assert 0.6 * share <= completion <= 1.4 * share, (group, completion)
    assert (s["representations"] <= s["successful_completions"]).all()
    rep = s["representations"].sum() / s["successful_completions"].sum()
    assert 0.08 <= rep <= 0.22
    # rolling 12-month figures move smoothly from quarter to quarter
    opiate = s.filter(pl.col("substance_group") == "opiate").sort("quarter")["in_treatment"].to_numpy()
    assert np.abs(np.diff(opiate) / opiate[:-1]).max() < 0.1


def test_alcohol_admissions(frames):
    a = frames["alcohol_admissions"]
    periods = sorted(a["period"].unique())
    assert periods == [f"{y}/{(y + 1) % 100:02d}" for y in range(2018, 2026)]
    assert a.height == 16
    assert set(zip(a["area_code"], a["area_name"])) == {("E07999001", "Fenmouth"), ("E92000001", "England")}
    eng = a.filter(pl.col("area_code") == "E92000001")
    fen = a.filter(pl.col("area_code") == "E07999001")
    assert eng["value"].min() >= 540 and eng["value"].max() <= 680
    assert eng.filter(pl.col("period") >= "2022/23")["value"].is_between(590, 670).all()
    assert set(fen["significance"]) <= {"Better", "Similar", "Worse"}
    assert set(eng["significance"]) == {"Not compared"}  # Fingertips does not compare England with itself
    assert fen["value"].is_between(450, 900).all()


# --------------------------------------------------------------------------------------------
# boundaries
# --------------------------------------------------------------------------------------------
def rings(geometry: dict):
    polys = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    for poly in polys:
        yield from poly


def shoelace(ring) -> float:
    r = np.asarray(ring)
    return 0.5 * float(np.sum(r[:-1, 0] * r[1:, 1] - r[1:, 0] * r[:-1, 1]))


def test_boundaries_are_geojson_matching_the_lookup(frames, boundaries):
    g = frames["geography"]
    assert set(boundaries) == {"lsoa", "ward", "district"}
    parsed = json.loads(json.dumps(boundaries))
    for level, fc in parsed.items():
        assert fc["type"] == "FeatureCollection"
        for f in fc["features"]:
            assert f["type"] == "Feature"
            assert f["geometry"]["type"] in {"Polygon", "MultiPolygon"}
            assert {"code", "name"} <= set(f["properties"])
            for ring in rings(f["geometry"]):
                assert len(ring) >= 4 and ring[0] == ring[-1]
                for lon, lat in ring:
                    assert -0.4 < lon < 0.4 and 52.6 < lat < 53.2
    lsoa = parsed["lsoa"]["features"]
    assert len(lsoa) == g.height
    assert sorted(f["properties"]["code"] for f in lsoa) == sorted(g["lsoa_code"])
    lookup = dict(zip(g["lsoa_code"], g["ward_code"]))
    names = dict(zip(g["lsoa_code"], g["lsoa_name"]))
    for f in lsoa:
        assert f["properties"]["ward_code"] == lookup[f["properties"]["code"]]
        assert f["properties"]["name"] == names[f["properties"]["code"]]
    wards = parsed["ward"]["features"]
    assert len(wards) == g["ward_code"].n_unique()
    assert {(f["properties"]["code"], f["properties"]["name"]) for f in wards} == set(
        zip(g["ward_code"], g["ward_name"]))
    district = parsed["district"]["features"]
    assert [(f["properties"]["code"], f["properties"]["name"]) for f in district] == [("E07999001", "Fenmouth")]


def test_boundaries_tile_consistently(boundaries):
    # outer rings anticlockwise (RFC 7946); ward areas add up to the district; LSOAs to each ward
    area = {}
    for level, fc in boundaries.items():
        for f in fc["features"]:
            total = 0.0
            polys = ([f["geometry"]["coordinates"]] if f["geometry"]["type"] == "Polygon"
                     else f["geometry"]["coordinates"])
            for poly in polys:
                assert shoelace(poly[0]) > 0
                total += shoelace(poly[0]) + sum(shoelace(h) for h in poly[1:])
            area[(level, f["properties"]["code"])] = total
    district = area[("district", "E07999001")]
    wards = sum(v for (lv, _), v in area.items() if lv == "ward")
    lsoas = sum(v for (lv, _), v in area.items() if lv == "lsoa")
    assert wards == pytest.approx(district, rel=1e-9) and lsoas == pytest.approx(district, rel=1e-9)
    for f in boundaries["ward"]["features"]:
        code = f["properties"]["code"]
        members = [area[("lsoa", x["properties"]["code"])] for x in boundaries["lsoa"]["features"]
                   if x["properties"]["ward_code"] == code]
        assert sum(members) == pytest.approx(area[("ward", code)], rel=1e-9)


def test_outline_handles_corner_touching_cells_and_holes():
    # two cells meeting only at a corner: two separate rings, not one figure-of-eight
    polys = demo._outline([(0, 0), (1, 1)])
    assert len(polys) == 2 and all(len(p) == 1 and len(p[0]) == 5 for p in polys)
    # a ring of 8 cells around an empty one: one polygon with one hole
    ring = [(i, j) for i in range(3) for j in range(3) if (i, j) != (1, 1)]
    polys = demo._outline(ring)
    assert len(polys) == 1 and len(polys[0]) == 2
    assert shoelace(polys[0][0]) == 9 and shoelace(polys[0][1]) == -1


# --------------------------------------------------------------------------------------------
# publishing
# --------------------------------------------------------------------------------------------
def test_publish_demo_publishes_everything_once(data_dir, frames):
    assert not demo.demo_present()
    ids = demo.publish_demo(published_by="tester")
    assert set(ids) == set(demo.DATASETS)
    assert demo.demo_present()
    for name in demo.DATASETS:
        v = store.current(name)
        assert v is not None and v.version == ids[name]
        assert v.meta["published_by"] == "tester"
        assert v.meta["source"] == f"demo generator (seed {demo.DEFAULT_SEED})"
        assert v.meta["rows"] == frames[name].height
        keys = record_keys.key_columns(name)
        back = pl.read_parquet(v.files[0])
        # The records as generated (sorted area-then-period at publish), plus their record keys.
        fields = frames[name].columns
        assert back.drop(keys).sort(fields, nulls_last=True).equals(
            frames[name].sort(fields, nulls_last=True)), name
        assert all(back[k].min() >= 0 and back[k].max() <= 255 for k in keys)
        described = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{v.files[0]}')").fetchall()
        assert [(r[0], r[1]) for r in described] == \
            [(f.name, f.type) for f in catalog.contract(name).fields] + [(k, "SMALLINT") for k in keys]
    assert store.current("crime").meta["coverage"] == {"first": "2022-10", "last": "2026-09"}
    for level, count in (("lsoa", frames["geography"].height),
                         ("ward", frames["geography"]["ward_code"].n_unique()), ("district", 1)):
        path = data_dir / "boundaries" / f"{level}.geojson"
        fc = json.loads(path.read_text())
        assert fc["type"] == "FeatureCollection" and len(fc["features"]) == count
    assert not list((data_dir / "boundaries").glob(".*.tmp"))

    # idempotent: a second call writes nothing and returns the same ids
    mtimes = {p: p.stat().st_mtime_ns for p in (data_dir / "boundaries").iterdir()}
    assert demo.publish_demo(published_by="someone else") == ids
    for name in demo.DATASETS:
        assert len(store.versions(name)) == 1
    assert {p: p.stat().st_mtime_ns for p in (data_dir / "boundaries").iterdir()} == mtimes


def test_publish_demo_fills_gaps_without_overwriting(data_dir, frames):
    # a real dataset already current is left alone; only missing pieces are published
    real = store.publish(
        "alcohol_admissions",
        relation_sql="SELECT 'E07999001' AS area_code, 'Fenmouth' AS area_name, '2024/25' AS period, "
                     "700.0 AS value, 'Worse' AS significance",
        published_by="analyst", source="fingertips",
    )
    ids = demo.publish_demo()
    assert ids["alcohol_admissions"] == real.version
    assert len(store.versions("alcohol_admissions")) == 1
    assert store.current("alcohol_admissions").meta["source"] == "fingertips"
    assert all(store.current_version_id(n) for n in demo.DATASETS)
    # boundaries removed -> rewritten, datasets untouched
    (data_dir / "boundaries" / "ward.geojson").unlink()
    assert not demo.demo_present()
    assert demo.publish_demo() == ids
    assert (data_dir / "boundaries" / "ward.geojson").exists()
    assert all(len(store.versions(n)) == 1 for n in demo.DATASETS)


def test_publish_demo_force_republishes(data_dir):
    first = demo.publish_demo()
    second = demo.publish_demo(force=True)
    for name in demo.DATASETS:
        assert second[name] != first[name]
        assert len(store.versions(name)) == 2
        assert store.current_version_id(name) == second[name]
