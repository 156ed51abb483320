"""Issue 14, findings 5, 6 and 9: every change to published data is audited whoever makes it;
rollback accepts only a dataset's own version ids; a police.uk file's crime and ASB are published
and rolled back as one change, confirmed first, saying what was rolled back."""
from __future__ import annotations

import json

import polars as pl
import pytest

from conftest import GEOGRAPHY, L1, L3, crime_frame, publish_frame
from upload_fixtures import crime_csv, crime_rows, police_uk_csv

from csp import audit, ingest, queries, store, upload, users
from csp.__main__ import main


@pytest.fixture
def analyst(tiny):
    return users.add_user("analyst.police", tiny["password"], role="analyst", partner="police")


def audit_rows(action: str | None = None) -> list[dict]:
    """Oldest first, leaving out the fixture's own publishes (actor "test")."""
    return [r for r in reversed(audit.search(limit=10_000))
            if (action is None or r["action"] == action) and r["actor"] != "test"]


def serving() -> tuple[str | None, str | None]:
    return store.current_version_id("crime"), store.current_version_id("asb")


# ---- finding 6: rollback trusts the version name ----------------------------------------------


def test_rollback_refuses_a_path_outside_the_data_directory(tiny, tmp_path, capsys):
    """`rollback crime ../../../../evil/v9` served crime from outside the data directory: a
    directory there with a meta.json pointing at any Parquet was enough."""
    evil = tmp_path / "evil" / "v9"  # where ../../../../evil/v9 lands from datasets/crime/versions
    evil.mkdir(parents=True)
    crime_frame().head(1).write_parquet(evil / "data.parquet")
    meta = json.loads((store.current("crime").path / "meta.json").read_text())
    (evil / "meta.json").write_text(json.dumps(meta | {"version": "v9", "files": ["data.parquet"], "cubes": {}}))
    before = store.current("crime")
    for vid in ("../../../../evil/v9", "v000001/../../../../../evil/v9", "/etc", "v1", "v0000001", "V000001",
                "v000001 ", "v00000١"):  # the last has an Arabic-Indic digit, which \d would accept
        capsys.readouterr()
        assert main(["rollback", "crime", vid]) == 2, vid  # refused before any confirmation
        err = capsys.readouterr().err
        assert "version ids look like v000003" in err and "Traceback" not in err and "evil" not in err
        with pytest.raises(store.StoreError):
            store.rollback("crime", vid)
    assert store.current("crime").path == before.path
    assert [a["target"] for a in audit_rows("rollback")] == []


def test_rollback_refuses_another_datasets_version(tiny):
    """`rollback crime ../../asb/versions/v000001` broke every crime query."""
    publish_frame("asb", pl.DataFrame({"month": [crime_frame()["month"][0]], "lsoa_code": [L1]}).with_columns(
        pl.lit(None, pl.String).alias(c) for c in ("ward_code", "district_code", "falls_within", "location", "outcome")))
    with pytest.raises(store.StoreError, match="version ids look like"):
        store.rollback("crime", "../../asb/versions/v000001")
    with pytest.raises(store.StoreError, match="has no version v000007"):
        store.rollback("crime", "v000007")
    assert store.current_version_id("crime") == "v000001"
    assert queries.run(tiny["users"]["police"], "crime_monthly_total").frame.height > 0


# ---- finding 5: publishes without an audit entry ----------------------------------------------


def test_every_publish_path_is_audited_once(analyst, tmp_path, tiny):
    """import police-uk, import lookup (and the re-coding of crime/ASB it triggers), a geography
    upload's re-coding, boundaries, a rollback and a purge each leave audit entries; an upload's
    publish leaves exactly one per dataset version (store.publish records it, upload does not
    record it again)."""
    street = tmp_path / "2024-03-tiny-street.csv"
    street.write_bytes(police_uk_csv(9, ["2024-03"], "imp"))
    assert main(["import", "police-uk", str(street), "--by", "jo.ops"]) == 0
    published = sorted((a["actor"], a["target"]) for a in audit_rows("publish"))
    assert published == [("jo.ops", "asb v000001"), ("jo.ops", "crime v000002")]
    crime = next(a for a in audit_rows("publish") if a["target"] == "crime v000002")
    assert json.loads(crime["details"])["together_with"] == {"asb": "v000001"}

    lookup = tmp_path / "lookup.csv"
    GEOGRAPHY.write_csv(lookup)
    assert main(["import", "lookup", str(lookup), "--by", "jo.ops"]) == 0
    targets = [a["target"] for a in audit_rows("publish")][2:]
    assert targets[0] == "geography v000002"
    assert {"asb v000002", "crime v000003"} <= set(targets[1:])  # re-coded to the new lookup

    plan = upload.prepare("crime", crime_csv(crime_rows(3, month="2024-04")), "apr.csv", user=analyst)
    upload.publish(plan, analyst.username)
    mine = [a for a in audit_rows("publish") if a["actor"] == "analyst.police"]
    assert [a["target"] for a in mine] == ["crime v000004"]  # once, not twice
    assert json.loads(mine[0]["details"])["rows"] == store.current("crime").meta["rows"]
    assert mine[0]["data_owner"] == "police"

    ok, problems = None, None
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"WD22CD": "E05000901"},
          "geometry": {"type": "Polygon", "coordinates": [[[0, 52], [0.1, 52], [0.1, 52.1], [0, 52]]]}}]}
    problems, ok = upload.boundaries("ward", json.dumps(fc).encode(), "w.geojson", by="admin.x")
    assert ok is not None
    assert audit_rows("publish")[-1]["target"] == "boundaries ward"

    assert main(["rollback", "crime", "v000003", "--yes"]) == 0
    rolled = audit_rows("rollback")
    assert [a["target"] for a in rolled] == ["crime v000003"]
    assert json.loads(rolled[0]["details"])["from"] == "v000004"
    assert audit.verify().intact


# ---- finding 9: one police.uk upload, one change ---------------------------------------------


def _upload_street(analyst, months, tag, n=9):
    plan = upload.prepare("crime", police_uk_csv(n, months, tag), f"{tag}-street.csv", user=analyst)
    assert plan.police_uk and plan.ok, plan.report()
    return upload.publish(plan, analyst.username)


def test_a_failure_between_the_two_publishes_changes_neither(analyst, monkeypatch):
    """The ASB publish fails after crime's was written: neither dataset changes (it used to leave
    crime on the new file and ASB on the old)."""
    _upload_street(analyst, ["2024-03"], "a")
    before = serving()
    real = store.write_relation

    def fail_for_asb(cur, name, sql, params, out):
        if name == "asb":
            raise OSError("disk full")
        return real(cur, name, sql, params, out)

    monkeypatch.setattr(store, "write_relation", fail_for_asb)
    plan = upload.prepare("crime", police_uk_csv(12, ["2024-03"], "b"), "b-street.csv", user=analyst)
    with pytest.raises(OSError):
        upload.publish(plan, analyst.username)
    assert serving() == before
    assert not list((store.dataset_dir("crime")).glob(".tmp-*"))  # the staged crime version is gone


def test_rollback_of_a_street_upload_reverts_crime_and_asb_together(analyst, capsys):
    first = _upload_street(analyst, ["2024-03"], "a", n=9)
    second = _upload_street(analyst, ["2024-03"], "b", n=15)
    assert serving() == (second["crime"].version, second["asb"].version)
    a_crime, a_asb = first["crime"].version, first["asb"].version

    capsys.readouterr()
    assert main(["rollback", "crime", a_crime, "--as", "analyst.police"]) == 1  # not confirmed
    out = capsys.readouterr().out
    assert f"crime: {second['crime'].version} -> {a_crime}" in out
    assert f"asb: {second['asb'].version} -> {a_asb}" in out and "rolled back together" in out
    assert serving() == (second["crime"].version, second["asb"].version)

    assert main(["rollback", "crime", a_crime, "--as", "analyst.police", "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"Rolled back: crime now serves {a_crime}" in out and f"Rolled back: asb now serves {a_asb}" in out
    assert serving() == (a_crime, a_asb)
    assert sorted(a["target"] for a in audit_rows("rollback")) == [f"asb {a_asb}", f"crime {a_crime}"]
    assert [e["event"] for e in store.history("asb")][-1] == "rollback"

    # Forward again through ASB: the crime of the same file comes with it.
    plan = upload.rollback_plan("asb", second["asb"].version)
    assert plan == {"asb": (a_asb, second["asb"].version), "crime": (a_crime, second["crime"].version)}
    upload.rollback("asb", second["asb"].version, "analyst.police", expect=plan)
    assert serving() == (second["crime"].version, second["asb"].version)


def test_a_separate_crime_upload_rolls_back_alone(analyst):
    """Only datasets published together move together: undoing a crime-only upload leaves ASB."""
    street = _upload_street(analyst, ["2024-03"], "a")
    plan = upload.prepare("crime", crime_csv(crime_rows(3, month="2024-04")), "apr.csv", user=analyst)
    upload.publish(plan, analyst.username)
    p = upload.rollback_plan("crime", street["crime"].version)
    assert upload.changes_in(p) == ["crime"]
    assert "asb stays on" in upload.describe_rollback(p)


def test_confirmed_plan_is_refused_if_the_data_changed_since(analyst):
    first = _upload_street(analyst, ["2024-03"], "a")
    _upload_street(analyst, ["2024-03"], "b")
    plan = upload.rollback_plan("crime", first["crime"].version)
    _upload_street(analyst, ["2024-03"], "c")
    with pytest.raises(upload.UploadError, match="changed since"):
        upload.rollback("crime", first["crime"].version, "analyst.police", expect=plan)


def test_store_current_reads_the_group_pointer(analyst):
    """Crime and ASB are served from one file swapped with one os.replace; the datasets' own
    CURRENT files are gone, so nothing can read a half-updated pair."""
    done = _upload_street(analyst, ["2024-03"], "a")
    root = store.config.data_dir()
    assert not (root / "datasets" / "crime" / "CURRENT").exists()
    text = (root / "groups" / "police" / "CURRENT").read_text()
    assert text == f"asb {done['asb'].version}\ncrime {done['crime'].version}\n"
    assert store.current("crime").version == done["crime"].version
