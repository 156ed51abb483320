"""The police.uk importer on the real Lincolnshire files, and bad input that must change nothing."""
from __future__ import annotations

import csv
import gc
import hashlib
import shutil
import subprocess
import sys
import weakref
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from csp import ingest, queries, store, users
from conftest import LINCS, LOOKUP_CSV, REALDATA

ROOT = Path(__file__).resolve().parents[1]


def raw_counts(folder: Path) -> tuple[Counter, Counter]:
    """Counts per (month, crime type) read straight from the CSVs with the csv module."""
    crime, asb = Counter(), Counter()
    for f in sorted(folder.rglob("*.csv")):
        with f.open(newline="", encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                if row["Crime type"] == "Anti-social behaviour":
                    asb[row["Month"]] += 1
                else:
                    crime[(row["Month"], row["Crime type"])] += 1
    return crime, asb


@pytest.fixture(scope="module")
def lincs(tmp_path_factory):
    import os

    d = tmp_path_factory.mktemp("lincs")
    old = os.environ.get("CSP_DATA_DIR")
    os.environ["CSP_DATA_DIR"] = str(d)
    queries.clear_cache()
    ingest.import_lookup(LOOKUP_CSV)
    report = ingest.import_police_uk([LINCS])
    users.BCRYPT_ROUNDS = 4
    owner = users.add_user("police.analyst", "a-long-password", role="analyst", partner="police")
    users.BCRYPT_ROUNDS = 12
    yield {"dir": d, "report": report, "owner": owner}
    if old is None:
        os.environ.pop("CSP_DATA_DIR", None)
    else:
        os.environ["CSP_DATA_DIR"] = old


def test_every_row_kept_and_totals_match_the_files(lincs):
    crime, asb = raw_counts(LINCS)
    r = queries.run(lincs["owner"], "crime_monthly")
    got = {(str(row["month"])[:7], row["crime_type"]): row["crimes"] for row in r.frame.iter_rows(named=True)}
    assert got == dict(crime)
    a = queries.run(lincs["owner"], "asb_monthly_total")
    assert {str(row["month"])[:7]: row["incidents"] for row in a.frame.iter_rows(named=True)} == dict(asb)
    rep = lincs["report"]
    assert rep.crime_rows == sum(crime.values()) and rep.asb_rows == sum(asb.values())
    assert len(rep.months) == 61


def test_taxonomy_change_is_kept_and_harmonised(lincs):
    cur = store.cursor()
    files = store.current("crime").files
    rows = dict(cur.execute(
        "SELECT crime_type, any_value(crime_category) FROM read_parquet($f) GROUP BY 1", {"f": files}
    ).fetchall())
    cur.close()
    assert rows["Violent crime"] == "Violence and sexual offences"
    assert rows["Violence and sexual offences"] == "Violence and sexual offences"
    assert rows["Public disorder and weapons"] == "Public disorder and weapons"


def test_rows_without_lsoa_count_as_unknown_area(lincs):
    blank = sum(
        1 for f in LINCS.rglob("*.csv") for row in csv.DictReader(f.open(encoding="utf-8-sig"))
        if not row["LSOA code"].strip()
    )
    assert blank > 0 and lincs["report"].no_lsoa_rows == blank
    r = queries.run(lincs["owner"], "crime_by_ward")
    unknown = r.frame.filter(r.frame["row_kind"] == "no location")
    crime, _ = raw_counts(LINCS)
    assert unknown.height == 1
    assert r.frame["crimes"].sum() == sum(crime.values())


def test_reimporting_a_month_replaces_it(lincs):
    before = queries.run(lincs["owner"], "crime_monthly").frame
    month_dir = LINCS / "2013-05"
    ingest.import_police_uk([month_dir])
    after = queries.run(lincs["owner"], "crime_monthly").frame
    assert after.equals(before)


def test_lincoln_2021_file_imports_with_out_of_area_rows(lincs):
    f = REALDATA / "police_uk" / "street" / "lincoln_city_2021" / "Lincoln-city-crime.csv"
    rep = ingest.import_police_uk([f])
    assert rep.months == [f"2021-{m:02d}" for m in range(1, 13)]
    r = queries.run(lincs["owner"], "crime_by_ward", {"from": "2021-01", "to": "2021-12"})
    districts = set(r.frame["district_name"].drop_nulls().to_list())
    assert "Lincoln" in districts and len(districts) > 1  # the Fenland/Melton rows kept


# ---- bad input ----------------------------------------------------------------------------

def snapshot(d: Path) -> dict[str, str]:
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*")) if p.is_file() and not p.name.startswith(".lock")
        and "tmp" not in p.parts
    }


def make_bad(tmp_path: Path, kind: str) -> Path:
    good = (LINCS / "2015-12" / "2015-12-lincolnshire-street.csv").read_bytes()
    p = tmp_path / f"{kind}.csv"
    if kind == "empty":
        p.write_bytes(b"")
    elif kind == "header_only":
        p.write_bytes(good.split(b"\n", 1)[0] + b"\n")
    elif kind == "wrong_header":
        p.write_bytes(good.replace(b"Crime type", b"Offence", 1))
    elif kind == "zip":
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("inner.csv", good)
    elif kind == "binary":
        p.write_bytes(bytes(range(256)) * 20)
    elif kind == "bad_month":
        lines = good.split(b"\n")
        lines[5] = lines[5].replace(b"2015-12", b"Dec-2015", 1)
        p.write_bytes(b"\n".join(lines))
    elif kind == "latin1":
        p.write_bytes(good.replace(b"On or near", "Près de".encode("latin-1"), 3))
    return p


BAD = {
    "empty": "empty", "header_only": "header only", "wrong_header": "not a police.uk street-level file",
    "zip": "zip", "binary": "binary", "bad_month": "bad Month", "latin1": "not UTF-8",
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_file_gives_clear_message_and_changes_nothing(kind, tmp_path, data_dir):
    ingest.import_lookup(LOOKUP_CSV)
    ingest.import_police_uk([LINCS / "2015-11"])
    before = snapshot(data_dir)
    bad = make_bad(tmp_path, kind)
    proc = subprocess.run(
        [sys.executable, "-m", "csp", "import", "police-uk", str(LINCS / "2015-12"), str(bad)],
        cwd=ROOT, capture_output=True, text=True, env={**__import__("os").environ},
    )
    assert proc.returncode != 0
    msg = proc.stderr.strip()
    assert len(msg.splitlines()) == 1 and BAD[kind] in msg and bad.name in msg
    assert "Traceback" not in proc.stderr
    assert snapshot(data_dir) == before


def test_missing_lookup_is_a_clear_error(data_dir):
    with pytest.raises(ingest.IngestError, match="lookup"):
        ingest.import_police_uk([LINCS / "2015-12"])
    assert not (data_dir / "datasets" / "crime").exists()


def test_bad_lookup_changes_nothing(tmp_path, data_dir):
    ingest.import_lookup(LOOKUP_CSV)
    before = snapshot(data_dir)
    p = tmp_path / "lookup.csv"
    p.write_text("code,name\nE01000001,x\n")
    with pytest.raises(ingest.IngestError, match="not an LSOA lookup"):
        ingest.import_lookup(p)
    assert snapshot(data_dir) == before


# ---- streaming: one file's rows in memory at a time ----------------------------------------

def test_files_are_read_one_at_a_time_and_duplicates_skipped(tmp_path, data_dir, monkeypatch):
    """Reading every file before staging any needed 11 GB for 10M rows: now, whenever a file is
    read, no earlier file's rows are still held; the counts still add up over all files."""
    ingest.import_lookup(LOOKUP_CSV)
    read, held, refs = ingest.read_police_uk, [], []

    def read_and_track(path):
        gc.collect()
        held.append(sum(r() is not None for r in refs))
        df = read(path)
        refs.append(weakref.ref(df))
        return df

    monkeypatch.setattr(ingest, "read_police_uk", read_and_track)
    months = [LINCS / m for m in ("2015-10", "2015-11", "2015-12")]
    copy = tmp_path / "again.csv"
    shutil.copy(next(months[1].glob("*.csv")), copy)
    rep = ingest.import_police_uk(months + [copy])

    assert len(refs) == 3 and held == [0, 0, 0]
    assert len(rep.skipped_duplicates) == 1 and str(copy) in rep.skipped_duplicates[0]
    crime, asb = Counter(), Counter()
    for m in months:
        c, a = raw_counts(m)
        crime, asb = crime + c, asb + a
    assert (rep.crime_rows, rep.asb_rows) == (sum(crime.values()), sum(asb.values()))
    assert rep.months == ["2015-10", "2015-11", "2015-12"]
    assert store.current("crime").meta["rows"] == rep.crime_rows
    assert not list((data_dir / "tmp").glob("police-uk-*"))  # staged files removed


def test_bad_file_after_staged_ones_changes_nothing_and_leaves_nothing(tmp_path, data_dir):
    ingest.import_lookup(LOOKUP_CSV)
    ingest.import_police_uk([LINCS / "2015-11"])
    before = snapshot(data_dir)
    bad = make_bad(tmp_path, "bad_month")
    with pytest.raises(ingest.IngestError, match=r"bad_month\.csv: 1 row\(s\) with a bad Month"):
        ingest.import_police_uk([LINCS / "2015-10", LINCS / "2015-12", bad])
    assert snapshot(data_dir) == before
    assert not list((data_dir / "tmp").glob("police-uk-*"))
