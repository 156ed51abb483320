"""``upload geography`` / ``upload population`` take the ONS files as published, and ONS place
names are not refused as people's names; the personal-data screen stays strict elsewhere."""
from __future__ import annotations

import csv
import io

import polars as pl
import pytest

import geography_oracle as oracle
from conftest import L1, L3, LOOKUP_CSV, W1
from upload_fixtures import crime_rows, with_extra

from csp import pii, store, upload, users
from csp.__main__ import main

GM = oracle.TRAFFORD / "gm_lsoa21_to_ward22_best-fit_lookup.csv"
T_LSOA = oracle.TRAFFORD / "trafford_mid-2024_population_lsoa.csv"


@pytest.fixture
def env(tiny):
    pw = tiny["password"]
    tiny["admin"] = users.add_user("admin.user", pw, role="admin", partner="council")
    tiny["council"] = users.add_user("analyst.council", pw, role="analyst", partner="council")
    tiny["analyst"] = users.add_user("analyst.police", pw, role="analyst", partner="police")
    return tiny


def real(path, **kw) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False, **kw)


# ---- the personal-data screen and ONS place names ----------------------------------------

def test_real_ons_names_flagged_before_are_place_names_now():
    """The names that made `upload geography` refuse the ONS files ("wd17nm has 71 values that
    look like people's names": Isaac Newton, William Morris, Mary Tavy ...)."""
    for path, col, n in ((LOOKUP_CSV, "wd17nm", 71), (oracle.WARD_CODES, "WDNM", 24)):
        df = real(path)
        plain = pii.screen(df)
        assert [(f.column, f.kind, f.count) for f in plain] == [(col, "person_name", n)]
        assert pii.screen(df, allowed_columns=pii.place_name_columns(df.columns)) == []
    names = set(real(oracle.WARD_CODES)["WDNM"])
    assert {"Isaac Newton", "William Morris", "Mary Tavy", "Charles Dickens"} <= names


def test_place_name_columns_are_only_ons_name_columns():
    cols = ["LSOA21NM", "lsoa11nm", "WD24NM", "wd17nm", "LAD24NM", "LADNM_ACTIVE", "LSOA 2021 Name", "ward_name",
            "district_name", "area_name", "WD25NMW", "surname", "full_name", "name", "client_name", "notes"]
    assert sorted(pii.place_name_columns(cols)) == sorted(cols[:11])


def test_strict_kinds_still_found_in_place_name_columns():
    df = real(oracle.WARD_CODES).head(50).with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("call 07700 900123")).otherwise(pl.col("WDNM")).alias("WDNM"))
    found = pii.screen(df, allowed_columns=pii.place_name_columns(df.columns))
    assert [(f.column, f.kind) for f in found] == [("WDNM", "phone")]


def test_other_datasets_still_refuse_names_in_a_name_column(env):
    """A crime extract with a ward_name column holding a person is still stopped: the allowance
    is for reference geography uploads only."""
    plan = upload.prepare("crime", with_extra("ward_name", ["Isaac Newton", "Abbey"]), "crime.csv", user=env["analyst"])
    assert [(f.column, f.kind) for f in plan.findings] == [("ward_name", "person_name")]


# ---- upload geography --------------------------------------------------------------------

def test_upload_national_lookup_publishes_geography_population_and_areas(env):
    plan = upload.prepare("geography", LOOKUP_CSV.read_bytes(), LOOKUP_CSV.name, user=env["admin"])
    assert plan.ok, plan.report()
    assert not plan.findings and set(plan.frames) == {"population", "geography", "areas"}
    assert plan.mapping["wd17cd"] == "ward_code" and plan.mapping["lsoa_population_mid2017"] == "population"
    done = upload.publish(plan, "admin.user")
    assert set(done) == {"population", "geography", "areas", }
    g = pl.read_parquet(store.current("geography").files)
    assert g.height == 34_753
    # crime was re-geocoded: the tiny area's codes are real 2011 LSOAs, now in their real wards
    crime = pl.read_parquet(store.current("crime").files)
    nat = oracle.national()
    assert [(r["lsoa_code"] and nat[r["lsoa_code"]]["wd17cd"]) or None for r in crime.iter_rows(named=True)] \
        == crime["ward_code"].to_list()
    assert crime["ward_code"].is_not_null().sum() == 60 and W1 not in set(crime["ward_code"])


def test_upload_ons_layout_by_cli(env, tmp_path, capsys):
    f = tmp_path / "LSOA21_WD22_LAD22_EW_LU.csv"
    f.write_text(GM.read_text().replace("lsoa21cd,lsoa21nm,wd22cd,wd22nm,lad22cd,lad22nm",
                                        "LSOA21CD,LSOA21NM,WD22CD,WD22NM,LAD22CD,LAD22NM", 1))
    assert main(["upload", "geography", str(f), "--as", "analyst.council", "--dry-run"]) == 0
    assert "Validation passed" in capsys.readouterr().out
    assert main(["upload", "geography", str(f), "--as", "analyst.police"]) == 2  # geography is the council's
    assert main(["upload", "geography", str(f), "--as", "analyst.council"]) == 0
    g = pl.read_parquet(store.current("geography").files)
    assert g.height == 1702 and g["lsoa_vintage"].is_in(["2021", "2011+2021"]).all()


def test_upload_lookup_without_districts(env):
    # Wards the published geography knows get their districts from it ...
    ok = f"LSOA21CD,WD24CD,WD24NM\n{L1},{W1},Abbey\n{L3},{W1},Abbey\n".encode()
    plan = upload.prepare("geography", ok, "lsoa_ward.csv", user=env["admin"])
    assert plan.ok, plan.report()
    assert set(plan.frames["geography"]["district_code"]) == {"E07000901"}
    # ... others are refused, saying what to add.
    bad = b"LSOA21CD,WD24CD\nE01000901,E05999999\n"
    plan = upload.prepare("geography", bad, "lsoa_ward.csv", user=env["admin"])
    assert not plan.ok and "ward_all_codes.csv" in plan.report()


def test_upload_of_a_ward_to_district_table_alone_is_refused(env):
    plan = upload.prepare("geography", oracle.WARD_CODES.read_bytes(), oracle.WARD_CODES.name, user=env["admin"])
    assert not plan.ok and not plan.findings
    assert "import lookup" in plan.report()


# ---- upload population, areas ------------------------------------------------------------

def test_upload_trafford_population(env):
    plan = upload.prepare("population", T_LSOA.read_bytes(), T_LSOA.name, user=env["council"])
    assert plan.ok, plan.report()  # the period column (2024-06-30 on every row) is not a date of birth
    assert plan.mapping == {"area_code": "area_code", "all_ages": "population", "period": "year", "sex": "sex (Persons)"}
    done = upload.publish(plan, "analyst.council")
    assert set(done) == {"population", "areas"}  # tiny's geography has no Trafford LSOA: unchanged
    p = pl.read_parquet(store.current("population").files)
    with T_LSOA.open(newline="") as fh:
        want = {r["area_code"]: int(r["all_ages"]) for r in csv.DictReader(fh) if r["sex"] == "Persons"}
    got = p.filter(pl.col("source") == T_LSOA.name)
    assert dict(zip(got["area_code"], got["population"])) == want and set(got["year"]) == {2024}
    assert p.filter(pl.col("source") == "fixture").height == 4  # the tiny area's rows are kept
    # A real date of birth in a population upload is still found.
    text = T_LSOA.read_text().splitlines()
    text[1] = text[1].replace("2024-06-30", "1987-03-14", 1)
    plan = upload.prepare("population", "\n".join(text).encode(), "pop.csv", user=env["council"])
    assert ("period", "exact_date") in [(f.column, f.kind) for f in plan.findings]


def test_areas_cannot_be_uploaded(env):
    assert "areas" not in upload.upload_targets(env["admin"])
    plan = upload.prepare("areas", b"area_code\nE05000901\n", "areas.csv", user=env["admin"])
    assert not plan.ok and plan.errors[0].code == "derived"
