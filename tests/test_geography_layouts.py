"""ONS lookup layouts as published: column names in either case and any year, one file or two,
a ward -> district table, an LSOA11 -> LSOA21 lookup, the national 2011 CSV; bad input refused
with a message saying what to do, and nothing changed."""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import shapely
from shapely.geometry import shape

import geography_oracle as oracle
from conftest import LOOKUP_CSV
from csp import geography, ingest, store
from csp.__main__ import main

GM = oracle.TRAFFORD / "gm_lsoa21_to_ward22_best-fit_lookup.csv"


def rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def write(path: Path, header: list[str], body: list[list]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(body)
    return path


def snapshot(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file() and not p.name.startswith(".lock") and "tmp" not in p.parts}


def geo() -> pl.DataFrame:
    return pl.read_parquet(store.current("geography").files)


def as_dict(frame: pl.DataFrame, *cols: str) -> dict:
    return {r["lsoa_code"]: tuple(r[c] for c in cols) for r in frame.iter_rows(named=True)}


GM_ROWS = rows(GM)


def test_gm_lookup_lower_case_21_codes(data_dir):
    geography.import_lookup([GM])
    g = geo()
    assert g.height == len(GM_ROWS) == 1702
    want = {r["lsoa21cd"]: (r["wd22cd"], r["lad22cd"], r["lsoa21nm"]) for r in GM_ROWS}
    assert as_dict(g, "ward_code", "district_code", "lsoa_name") == want
    # 2021 codes that were 2011 LSOAs too: by the national 2011 lookup, not by the importer's rule
    both = {c for c in want if c in oracle.national()}
    assert dict(zip(g["lsoa_code"], g["lsoa_vintage"])) == {c: "2011+2021" if c in both else "2021" for c in want}
    assert len(both) == 1636 and (g["current_lsoa_code"] == g["lsoa_code"]).all()
    assert set(g["fit"]) == {"ward: best-fit lookup (2022 wards)"}


def test_upper_case_other_year_and_spelt_out_headers_give_the_same_geography(data_dir, tmp_path):
    body = [[r["lsoa21cd"], r["lsoa21nm"], r["wd22cd"], r["wd22nm"], r["lad22cd"], r["lad22nm"]] for r in GM_ROWS]
    layouts = {
        "upper.csv": ["LSOA21CD", "LSOA21NM", "WD24CD", "WD24NM", "LAD24CD", "LAD24NM"],
        "spelt.csv": ["LSOA 2021 Code", "LSOA 2021 Name", "Ward 2024 Code", "Ward 2024 Name",
                      "Local Authority District 2024 Code", "Local Authority District 2024 Name"],
        "mixed.csv": ["Lsoa21Cd", "lsoa21nm", "WD24cd", "wd24NM", "Lad24CD", "LAD24nm"],
    }
    geography.import_lookup([GM])
    base = geo().drop("fit")
    for name, header in layouts.items():
        geography.import_lookup([write(tmp_path / name, header, body)])
        g = geo()
        assert g.drop("fit").equals(base), name
        assert set(g["fit"]) == {"ward: best-fit lookup (2024 wards)"}, name


def test_two_file_lookup_equals_one_file(data_dir, tmp_path):
    geography.import_lookup([GM])
    one = geo()
    a = write(tmp_path / "lsoa_ward.csv", ["LSOA21CD", "LSOA21NM", "WD22CD", "WD22NM"],
              [[r["lsoa21cd"], r["lsoa21nm"], r["wd22cd"], r["wd22nm"]] for r in GM_ROWS])
    wards = sorted({(r["wd22cd"], r["wd22nm"], r["lad22cd"], r["lad22nm"]) for r in GM_ROWS})
    b = write(tmp_path / "ward_lad.csv", ["WD22CD", "WD22NM", "LAD22CD", "LAD22NM"], [list(w) for w in wards])
    assert main(["import", "lookup", str(a), str(b)]) == 0
    assert geo().equals(one)
    # either order
    assert main(["import", "lookup", str(b), str(a)]) == 0
    assert geo().equals(one)


def test_lookup_without_districts_completed_from_ward_all_codes(data_dir, tmp_path, capsys):
    a = write(tmp_path / "lsoa_ward.csv", ["lsoa21cd", "wd22cd", "wd22nm"],
              [[r["lsoa21cd"], r["wd22cd"], r["wd22nm"]] for r in GM_ROWS])
    # Alone it is refused, saying what to add; nothing is published.
    assert main(["import", "lookup", str(a)]) == 2
    err = capsys.readouterr().err
    assert "no district" in err and "ward_all_codes.csv" in err
    assert store.current("geography") is None
    assert main(["import", "lookup", str(a), str(oracle.WARD_CODES)]) == 0
    wc = oracle.ward_codes()
    g = geo()
    assert as_dict(g, "district_code", "district_name") == {
        r["lsoa21cd"]: (wc[r["wd22cd"]]["LADCD_ACTIVE"], wc[r["wd22cd"]]["LADNM_ACTIVE"]) for r in GM_ROWS}
    assert set(g["district_code"]) == {r["lad22cd"] for r in GM_ROWS}  # GM's districts are unchanged since 2022


def test_national_2011_csv_keeps_working_and_brings_mid_2017_population(data_dir):
    v = ingest.import_lookup(LOOKUP_CSV)
    assert v.meta["rows"] == 34_753
    nat = oracle.national()
    g = geo()
    assert as_dict(g, "ward_code", "district_code", "population") == {
        c: (r["wd17cd"], r["lad17cd"], int(r["lsoa_population_mid2017"])) for c, r in nat.items()}
    assert set(g["lsoa_vintage"]) == {"2011"} and set(g["fit"]) == {"ward: best-fit lookup (2017 wards)"}
    pop = pl.read_parquet(store.current("population").files)
    assert pop.height == 34_753 and set(pop["year"]) == {2017} and set(pop["area_level"]) == {"lsoa"}
    assert pop["population"].sum() == sum(int(r["lsoa_population_mid2017"]) for r in nat.values())
    areas = pl.read_parquet(store.current("areas").files)
    assert areas.filter(pl.col("area_level") == "ward").height == len({r["wd17cd"] for r in nat.values()})


def test_lsoa11_to_lsoa21_lookup_places_replaced_lsoas(data_dir, tmp_path):
    """An ONS-shaped LSOA11 -> LSOA21 lookup (one row per pair, splits on several rows), made
    here from the two sets of polygons by area of overlap; built without 2021 boundaries, so the
    2021 set and the placing of replaced LSOAs come from the lookup alone."""
    f11, f21 = oracle.features(oracle.LSOA11), oracle.features(oracle.LSOA21)
    g21 = [shape(g) for _, g in f21]
    tree = shapely.STRtree(g21)
    pairs = []
    for p, g in f11:
        s = shape(g)
        for i in tree.query(s):
            share = s.intersection(g21[i]).area / s.area
            if share > 0.05:
                pairs.append([p["LSOA11CD"], f21[i][0]["LSOA21CD"], f21[i][0]["LSOA21NM"]])
    lk = write(tmp_path / "LSOA11_LSOA21_LAD22_EW_LU.csv", ["LSOA11CD", "LSOA21CD", "LSOA21NM"], pairs)
    assert main(["geography", "build", "--centroids", str(oracle.LATLONG), "--wards", str(oracle.WARDS25),
                 "--lookup", str(LOOKUP_CSV), "--ward-codes", str(oracle.WARD_CODES), "--lsoa11-to-21", str(lk)]) == 0
    g = geo()
    kids: dict[str, list[str]] = {}
    for a, b, _ in pairs:
        kids.setdefault(a, []).append(b)
    pts = oracle.centroids()
    replaced = sorted(c for c in kids if c not in {b for _, b, _ in pairs})
    assert replaced  # the 2011 LSOAs that did not carry on
    cur = dict(zip(g["lsoa_code"], g["current_lsoa_code"]))
    for c in replaced:
        ks = kids[c]
        want = ks[0] if len(ks) == 1 else min(ks, key=lambda k: float(((np.array(pts[k]) - np.array(pts[c])) ** 2).sum()))
        assert cur[c] == want, c
    assert set(g.filter(pl.col("lsoa_vintage") == "2021")["lsoa_code"]) == {
        b for _, b, _ in pairs if b not in oracle.national()}


@pytest.mark.parametrize("case,needle", [
    ("duplicate", "more than once with different wards"),
    ("bad_lsoa", "invalid LSOA code"),
    ("bad_ward", "invalid ward code"),
    ("not_lookup", "not an LSOA lookup"),
    ("header_only", "no data rows"),
    ("lsoa_2001", "LSOA 2001"),
])
def test_bad_lookup_is_refused_and_changes_nothing(case, needle, data_dir, tmp_path):
    geography.import_lookup([GM])
    before = snapshot(data_dir)
    h = ["LSOA21CD", "WD22CD", "LAD22CD"]
    good = [GM_ROWS[0]["lsoa21cd"], GM_ROWS[0]["wd22cd"], GM_ROWS[0]["lad22cd"]]
    body = {
        "duplicate": [good, [good[0], GM_ROWS[5]["wd22cd"], good[2]]],
        "bad_lsoa": [good, ["E0100486", good[1], good[2]]],
        "bad_ward": [good, [GM_ROWS[1]["lsoa21cd"], "X05000655", good[2]]],
        "not_lookup": [good],
        "header_only": [],
        "lsoa_2001": [good],
    }[case]
    header = {"not_lookup": ["code", "name", "district"], "lsoa_2001": ["LSOA01CD", "WD22CD", "LAD22CD"]}.get(case, h)
    p = write(tmp_path / f"{case}.csv", header, body)
    with pytest.raises(geography.GeographyError, match=needle):
        geography.import_lookup([p])
    assert snapshot(data_dir) == before


def test_ward_boundaries_without_districts_need_ward_codes(data_dir, tmp_path):
    trafford = oracle.TRAFFORD / "trafford_ward_2022_generalised.geojson"
    args = ["geography", "build", "--centroids", str(oracle.LATLONG), "--wards", str(trafford), "--lookup", str(GM)]
    assert main(args) == 2 and store.current("geography") is None
    assert main(args + ["--ward-codes", str(oracle.WARD_CODES)]) == 0
    g = geo().filter(pl.col("district_code") == "E08000009")  # Trafford
    # The 2022 ward polygons and the 2022 best-fit lookup hold the same ward set: a tie, and the
    # lookup wins it, so every Trafford LSOA keeps the ONS best-fit ward.
    want = {r["lsoa21cd"]: r["wd22cd"] for r in GM_ROWS if r["lad22cd"] == "E08000009"}
    got = dict(zip(g["lsoa_code"], g["ward_code"]))
    assert {c: w for c, w in got.items() if c in want} == want
    # The centre points inside the wards also bring in Trafford's 2011 LSOAs that 2021 replaced
    # (no 2021 boundaries held: each goes to the nearest 2021 LSOA centre in its district).
    replaced = {c for c, r in oracle.national().items() if r["lad17cd"] == "E08000009"} - set(want)
    assert replaced and set(got) - set(want) == replaced
    pts = oracle.centroids()
    cur = dict(zip(g["lsoa_code"], g["current_lsoa_code"]))
    for c in replaced:
        near = min(want, key=lambda k: (pts[k][0] - pts[c][0]) ** 2 + (pts[k][1] - pts[c][1]) ** 2)
        assert cur[c] == near and got[c] == want[near]


@pytest.mark.parametrize("content,needle", [
    (b"LSOA21CD,WD22CD,LAD22CD\nE01004861,E05000655\nE01004912,E05000664,E08000001,extra\n", "header's 3 columns"),
    (bytes(range(256)) * 8, "binary"),
    (b"", "empty"),
    (b"^LSOA21CD$,WD22CD,LAD22CD\nE01004861,E05000655,E08000001\n", "pattern"),
])
def test_damaged_files_get_the_upload_readers_message(content, needle, data_dir, tmp_path):
    p = tmp_path / "lookup.csv"
    p.write_bytes(content)
    with pytest.raises(geography.GeographyError, match=needle):
        geography.import_lookup([p])
    assert store.current("geography") is None


def test_windows_1252_lookup_with_welsh_names(data_dir, tmp_path):
    p = tmp_path / "wales.csv"
    p.write_bytes("LSOA11CD,LSOA11NM,WD17CD,WD17NM,LAD17CD,LAD17NM\n"
                  "W01000001,Isle of Anglesey 007A,W05000001,Aberffraw,W06000001,Isle of Anglesey\n"
                  "W01000002,Ynys Môn 007B,W05000001,Aberffraw,W06000001,Isle of Anglesey\n".encode("cp1252"))
    geography.import_lookup([p])
    assert geo()["lsoa_name"].to_list() == ["Isle of Anglesey 007A", "Ynys Môn 007B"]
