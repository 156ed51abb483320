"""Uploads that should work: every accepted format, mapping remembered per partner, transforms,
the preview diff, versions with who/checksum/validation, rollback and the retention purge."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

import polars as pl
import pytest

from conftest import L1, L3
from upload_fixtures import (CRIME_HEADER, crime_csv, crime_rows, parquet_bytes, reoff_csv,
                             with_extra, xlsx_bytes, REOFF_OK)

from csp import access, queries, store, upload, users
from csp.__main__ import main


@pytest.fixture
def env(tiny):
    pw = tiny["password"]
    tiny["analyst"] = users.add_user("analyst.police", pw, role="analyst", partner="police")
    tiny["probation"] = users.add_user("analyst.probation", pw, role="analyst", partner="probation")
    tiny["admin"] = users.add_user("admin.user", pw, role="admin", partner="council")
    return tiny


def month_counts(dataset: str = "crime") -> dict[str, int]:
    v = store.current(dataset)
    df = pl.read_parquet(v.files)
    return {str(k)[:7]: n for k, n in df.group_by("month").len().iter_rows()}


def publish_ok(env, data, name, user=None, **kw):
    plan = upload.prepare("crime", data, name, user=user or env["analyst"], **kw)
    assert plan.ok, plan.report()
    return plan, upload.publish(plan, (user or env["analyst"]).username)


@pytest.mark.parametrize("fmt", ["utf8", "utf8_bom", "cp1252", "crlf", "xlsx", "xlsx_named_csv", "parquet"])
def test_every_format_publishes_the_same_rows(env, fmt):
    rows = crime_rows(6, month="2024-05")
    rows[0] = rows[0].replace("On or near High Street", "On or near Caf\u00e9 Royal")
    text = crime_csv(rows).decode()
    data, name = {
        "utf8": (text.encode(), "a.csv"),
        "utf8_bom": (b"\xef\xbb\xbf" + text.encode(), "a.csv"),
        "cp1252": (text.encode("cp1252"), "a.csv"),
        "crlf": (text.replace("\n", "\r\n").encode(), "a.csv"),
        "xlsx": (xlsx_bytes([CRIME_HEADER.split(",")] + [r.split(",") for r in rows]), "a.xlsx"),
        "xlsx_named_csv": (xlsx_bytes([CRIME_HEADER.split(",")] + [r.split(",") for r in rows]), "a.csv"),
        "parquet": (parquet_bytes(pl.DataFrame([dict(zip(CRIME_HEADER.split(","), r.split(","))) for r in rows])), "a.parquet"),
    }[fmt]
    plan, done = publish_ok(env, data, name)
    df = pl.read_parquet(done["crime"].files).filter(pl.col("month") == dt.date(2024, 5, 1)).sort("crime_id")
    assert df.height == 6
    assert df["location"][0] == "On or near Caf\u00e9 Royal"
    # Wards and districts come from the lookup; the category is harmonised from the type.
    assert df.filter(pl.col("lsoa_code") == L1)["ward_code"].unique().to_list() == ["E05000901"]
    assert df["crime_category"].to_list() == df["crime_type"].to_list()
    meta = done["crime"].meta
    assert meta["published_by"] == "analyst.police"
    assert meta["source_checksum"] == hashlib.sha256(data).hexdigest()
    assert meta["validation"]["rows"] == 6 and meta["validation"]["errors"] == 0
    if fmt == "cp1252":
        assert plan.encoding == "windows-1252" and any(p.code == "windows_1252" for p in plan.warnings)


def test_upload_replaces_its_months_and_keeps_the_rest(env):
    before = month_counts()
    assert before == {"2023-02": 25, "2024-01": 23, "2024-02": 15}
    plan, done = publish_ok(env, crime_csv(crime_rows(4, month="2024-02") + crime_rows(2, month="2024-03")), "m.csv")
    d = plan.diffs["crime"]
    assert d.periods_replaced == ["2024-02"] and d.periods_added == ["2024-03"]
    assert (d.rows_before, d.rows_after) == (63, 63 - 15 + 6)
    t = {r["period"]: (r["before"], r["after"], r["moved"]) for r in d.totals.iter_rows(named=True)}
    assert t["2024-02"] == (15, 4, True)  # 15 -> 4 is more than the 20% margin
    assert t["2024-01"] == (23, 23, False)
    assert t["2024-03"] == (0, 2, False)
    assert month_counts() == {"2023-02": 25, "2024-01": 23, "2024-02": 4, "2024-03": 2}


def test_preview_flags_only_moves_beyond_the_margin(env):
    # 2024-01 has 23 crimes: 26 is +13%, inside 20%; with a 10% margin it is flagged.
    data = crime_csv(crime_rows(26, month="2024-01"))
    wide = upload.prepare("crime", data, "a.csv", user=env["analyst"], margin=0.2).diffs["crime"]
    narrow = upload.prepare("crime", data, "a.csv", user=env["analyst"], margin=0.1).diffs["crime"]
    assert wide.moved == [] and narrow.moved == ["2024-01"]


def test_publish_refuses_when_dataset_changed_since_preview(env):
    first = upload.prepare("crime", crime_csv(crime_rows(3, month="2024-04")), "a.csv", user=env["analyst"])
    second = upload.prepare("crime", crime_csv(crime_rows(5, month="2024-05")), "b.csv", user=env["analyst"])
    upload.publish(first, "analyst.police")
    with pytest.raises(upload.UploadError, match="changed since the preview"):
        upload.publish(second, "analyst.police")
    assert "2024-05" not in month_counts()


def test_mapping_is_remembered_per_partner_and_dataset(env):
    header = CRIME_HEADER.replace("crime_type", "Offence Group").replace("lsoa_code", "LSOA11")
    data = crime_csv(crime_rows(3), header=header)
    first = upload.prepare("crime", data, "a.csv", user=env["analyst"])
    assert {p.code for p in first.errors} == {"missing_columns"}
    mapped = upload.prepare("crime", data, "a.csv", user=env["analyst"],
                            mapping={"Offence Group": "crime_type", "LSOA11": "lsoa_code"})
    assert mapped.ok, mapped.report()
    assert upload.remembered_mapping("police", "crime") == {"Offence Group": "crime_type", "LSOA11": "lsoa_code"}
    again = upload.prepare("crime", data, "a.csv", user=env["analyst"])  # no --map this time
    assert again.ok and again.mapping["LSOA11"] == "lsoa_code"
    assert upload.remembered_mapping("probation", "crime") == {}
    assert upload.remembered_mapping("police", "asb") == {}


def test_transforms_clear_the_findings(env):
    data = with_extra("postcode", ["LN1 3AB", "LN2 4DF"])
    blocked = upload.prepare("crime", data, "a.csv", user=env["analyst"])
    assert [f.kind for f in blocked.findings] == ["postcode_full"]
    fixed = upload.prepare("crime", data, "a.csv", user=env["analyst"], transforms=["postcode_to_sector:postcode"])
    assert fixed.findings == [] and fixed.ok
    dropped = upload.prepare("crime", with_extra("surname", ["Smith"]), "a.csv", user=env["analyst"],
                             transforms=["drop_column:surname"])
    assert dropped.ok and "surname" not in dropped.ignored_columns
    bad = upload.prepare("crime", data, "a.csv", user=env["analyst"], transforms=["postcode_to_sector:nope"])
    assert any(p.code == "transform" and "no column 'nope'" in p.message for p in bad.errors)


def test_only_owners_and_admins_may_upload(env):
    assert upload.upload_targets(env["analyst"]) == ["crime", "asb"]
    assert upload.upload_targets(env["probation"]) == ["reoffending"]
    assert "reoffending" in upload.upload_targets(env["admin"])
    assert upload.upload_targets(env["users"]["police"]) == []  # a board member, not an analyst
    with pytest.raises(access.AccessDenied, match="analysts and administrators"):
        upload.prepare("crime", crime_csv(), "a.csv", user=env["users"]["police"])
    plan = upload.prepare("reoffending", reoff_csv(REOFF_OK), "r.csv", user=env["probation"])
    assert plan.ok, plan.report()
    v = upload.publish(plan, "analyst.probation")["reoffending"]
    assert v.meta["rows"] == 2 and v.meta["coverage"] == {"first": "2024-01", "last": "2024-01"}


def test_versions_rollback_and_retention_via_cli(env, tmp_path, capsys):
    f = tmp_path / "apr.csv"
    f.write_bytes(crime_csv(crime_rows(3, month="2024-04")))
    assert main(["upload", "crime", str(f), "--as", "analyst.police"]) == 0
    assert main(["upload", "crime", str(f), "--as", "analyst.police", "--dry-run"]) == 0
    assert len(store.versions("crime")) == 2  # fixture + one upload; the dry run published nothing
    capsys.readouterr()
    assert main(["versions", "crime"]) == 0
    out = capsys.readouterr().out
    assert "* v000002" in out and "analyst.police" in out and "apr.csv" in out
    # Unconfirmed (no --yes, no terminal to ask on): shown, nothing changed.
    assert main(["rollback", "crime", "v000001", "--as", "analyst.police"]) == 1
    assert store.current_version_id("crime") == "v000002"
    assert main(["rollback", "crime", "v000001", "--as", "analyst.police", "--yes"]) == 0
    assert store.current_version_id("crime") == "v000001" and "2024-04" not in month_counts()
    assert main(["rollback", "crime", "v000009", "--yes"]) == 2
    assert main(["rollback", "crime", "v000002", "--as", "analyst.probation", "--yes"]) != 0
    events = [e["event"] for e in store.history("crime")]
    assert events == ["publish", "rollback"]

    # Retention: make v000001 (serving) and v000002 look old; only what is neither serving nor
    # newest may go, so nothing yet; after a new publish, v000002 is purged and the purge recorded.
    upload.set_retention("crime", 30, by="admin.user")
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=90)).isoformat(timespec="seconds")
    for vid in ("v000001", "v000002"):
        p = store.version("crime", vid).path / "meta.json"
        meta = json.loads(p.read_text())
        p.write_text(json.dumps(meta | {"published_at": old}))
    assert upload.apply_retention("crime", by="admin.user") == []
    assert main(["rollback", "crime", "v000002", "--yes"]) == 0
    f.write_bytes(crime_csv(crime_rows(4, month="2024-06")))
    assert main(["upload", "crime", str(f), "--as", "analyst.police"]) == 0
    assert [v.version for v in store.versions("crime")] == ["v000003"]
    purge = [e for e in store.history("crime") if e["event"] == "purge"]
    assert purge and purge[0]["versions"] == ["v000001", "v000002"]


def test_geography_upload_regeocodes_crime(env):
    from conftest import GEOGRAPHY

    moved = GEOGRAPHY.with_columns(
        pl.when(pl.col("lsoa_code") == L3).then(pl.lit("E05000901")).otherwise(pl.col("ward_code")).alias("ward_code"))
    data = moved.rename({"lsoa_code": "LSOA11CD", "ward_code": "WD17CD", "district_code": "LAD17CD"}).write_csv().encode()
    plan = upload.prepare("geography", data, "lookup.csv", user=env["admin"])
    assert plan.ok, plan.report()
    upload.publish(plan, "admin.user")
    crime = pl.read_parquet(store.current("crime").files)
    assert crime.filter(pl.col("lsoa_code") == L3)["ward_code"].unique().to_list() == ["E05000901"]


def test_police_uk_file_updates_crime_and_asb(env):
    from csp import ingest

    header = ",".join(ingest.POLICE_UK_HEADER)
    rows = [f"id{i},2024-03,Tiny Police,Tiny Police,-0.5,53.2,On or near Mill Lane,{L1},Tiny 001A,"
            f"{'Anti-social behaviour' if i % 3 == 0 else 'Burglary'},," for i in range(9)]
    plan = upload.prepare("asb", ("\n".join([header, *rows]) + "\n").encode(), "2024-03-tiny-street.csv", user=env["analyst"])
    assert plan.police_uk and plan.ok, plan.report()
    done = upload.publish(plan, "analyst.police")
    assert set(done) == {"crime", "asb"}
    assert month_counts("asb") == {"2024-03": 3}
    assert month_counts("crime")["2024-03"] == 6
    r = queries.run(env["analyst"], "crime_monthly", {"from": "2024-03", "to": "2024-03"})
    assert r.frame["crimes"].sum() == 6


def _square(x: float, y: float, d: float = 0.01) -> dict:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]}


def test_boundaries_upload(env, tmp_path, capsys):
    from conftest import REALDATA

    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"WD22CD": code, "WD22NM": name, "notes": "x"}, "geometry": _square(-0.5 + i / 50, 53.2)}
        for i, (code, name) in enumerate([("E05000901", "Abbey"), ("E05000902", "Bridge")])]}
    f = tmp_path / "wards.geojson"
    f.write_text(json.dumps(fc))
    assert main(["boundaries", "ward", str(f), "--as", "admin.user"]) == 0
    written = json.loads((env["dir"] / "boundaries" / "ward.geojson").read_text())
    assert [ft["properties"] for ft in written["features"]] == [{"code": "E05000901", "name": "Abbey"},
                                                                  {"code": "E05000902", "name": "Bridge"}]
    # British National Grid coordinates, and a file without ward codes, are refused; nothing changes.
    before = (env["dir"] / "boundaries" / "ward.geojson").read_bytes()
    bng = json.loads(json.dumps(fc))
    bng["features"][1]["geometry"] = _square(497000, 371000, 100)
    f.write_text(json.dumps(bng))
    capsys.readouterr()
    assert main(["boundaries", "ward", str(f), "--as", "admin.user"]) == 1
    assert "WGS84" in capsys.readouterr().out
    f.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Abbey"}, "geometry": _square(0, 52)}]}))
    assert main(["boundaries", "ward", str(f), "--as", "admin.user"]) == 1
    assert main(["boundaries", "ward", str(f), "--as", "analyst.police"]) == 2  # geography is the council's
    assert (env["dir"] / "boundaries" / "ward.geojson").read_bytes() == before
    # The real City of Lincoln ward boundaries pass (codes checked against the lookup as a warning).
    real = REALDATA / "boundaries" / "lincoln" / "lincoln_wards_2019.geojson"
    if real.exists():
        problems, path = upload.boundaries("ward", real, real.name, dry_run=True)
        assert [p.code for p in problems] == ["unknown_geo_code"] and path is None
