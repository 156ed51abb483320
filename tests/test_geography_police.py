"""police.uk rows coded with 2011 or with 2021 LSOAs land in today's wards (issue 13).

The whole Lincolnshire force series (61 months, 320,488 rows, 2011 LSOA codes) is imported over a
geography built from the shared boundaries (May 2025 wards, LSOA 2021 polygons, centre points)
and the national 2011 lookup. A copy of the same months coded with 2021 LSOAs is made by placing
each row's point (Longitude/Latitude) in the LSOA 2021 polygons, as police.uk codes recent months.
Both are checked against an independent best fit (tests/geography_oracle.py: numpy ray casting,
csv/json modules), and the two codings' ward totals are compared (figures in docs/geography.md).
"""
from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import shapely
from shapely.geometry import shape

import geography_oracle as oracle
from conftest import LINCS, LOOKUP_CSV, REALDATA
from csp import queries, store
from csp.__main__ import main

LINCOLN_2021 = REALDATA / "police_uk" / "street" / "lincoln_city_2021" / "Lincoln-city-crime.csv"


def build_args() -> list[str]:
    return ["geography", "build", "--centroids", str(oracle.LATLONG), "--wards", str(oracle.WARDS25),
            "--lsoa21", str(oracle.LSOA21), "--lookup", str(LOOKUP_CSV), "--ward-codes", str(oracle.WARD_CODES)]


def published_ward_counts() -> Counter:
    out = Counter()
    for name in ("crime", "asb"):
        f = pl.read_parquet(store.current(name).files).group_by("ward_code").len()
        for w, n in f.iter_rows():
            out[w] += n
    return out


def read_rows(folder: Path) -> list[dict]:
    rows = []
    for f in sorted(folder.rglob("*.csv")):
        with f.open(newline="", encoding="utf-8-sig") as fh:
            rows += list(csv.DictReader(fh))
    return rows


def code_by_point(rows: list[dict]) -> list[str | None]:
    """The LSOA 2021 polygon holding each row's point (None outside the county's polygons)."""
    feats = oracle.features(oracle.LSOA21)
    codes = [p["LSOA21CD"] for p, _ in feats]
    tree = shapely.STRtree([shape(g) for _, g in feats])
    pts = shapely.points([float(r["Longitude"]) for r in rows], [float(r["Latitude"]) for r in rows])
    out: list[str | None] = [None] * len(rows)
    pi, gi = tree.query(pts, predicate="intersects")
    for p, g in sorted(zip(pi.tolist(), gi.tolist()), key=lambda t: (t[0], codes[t[1]])):
        if out[p] is None:
            out[p] = codes[g]
    return out


def write_recoded(rows: list[dict], codes: list[str | None], folder: Path) -> None:
    """The rows as police.uk street-level files, one per month, with the given LSOA codes."""
    by_month: dict[str, list[dict]] = {}
    for r, c in zip(rows, codes):
        by_month.setdefault(r["Month"], []).append(r | {"LSOA code": c} if c else r)
    for month, rs in by_month.items():
        p = folder / month / f"{month}-lincolnshire-street.csv"
        p.parent.mkdir(parents=True, exist_ok=True)
        with p.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rs)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    d = tmp_path_factory.mktemp("geo-police")
    old = os.environ.get("CSP_DATA_DIR")
    os.environ["CSP_DATA_DIR"] = str(d / "data")
    queries.clear_cache()
    try:
        assert main(build_args()) == 0
        geo = pl.read_parquet(store.current("geography").files)
        rows = read_rows(LINCS)
        assert main(["import", "police-uk", str(LINCS)]) == 0
        coded_2011 = published_ward_counts()

        # 2021 coding, as police.uk does it: each row's point in the LSOA 2021 polygons; rows
        # outside the county's polygons keep their code (neighbouring districts).
        by_point = code_by_point(rows)
        codes_2021 = [p if (p and r["LSOA code"]) else r["LSOA code"] for r, p in zip(rows, by_point)]
        write_recoded(rows, codes_2021, d / "coded2021")
        assert main(["import", "police-uk", str(d / "coded2021")]) == 0
        coded_2021 = published_ward_counts()

        # 2021 coding of the replaced LSOAs only: rows of LSOAs that carried on keep their code,
        # so any difference from the 2011 coding is the best fit's alone.
        s21 = set(oracle.lsoa21_codes())
        codes_replaced = [p if (r["LSOA code"] and r["LSOA code"] not in s21 and p) else r["LSOA code"]
                          for r, p in zip(rows, by_point)]
        write_recoded(rows, codes_replaced, d / "replaced-only")
        assert main(["import", "police-uk", str(d / "replaced-only")]) == 0
        coded_replaced = published_ward_counts()
        yield {"rows": rows, "geo": geo, "codes_2021": codes_2021, "codes_replaced": codes_replaced,
               "coded_2011": coded_2011, "coded_2021": coded_2021, "coded_replaced": coded_replaced}
    finally:
        if old is None:
            os.environ.pop("CSP_DATA_DIR", None)
        else:
            os.environ["CSP_DATA_DIR"] = old


def oracle_ward() -> dict[str, str]:
    """Independent best fit of every LSOA code in the study to its current ward: a 2021 LSOA's
    centre point in the May 2025 ward polygons; a 2011 LSOA replaced in 2021 through the 2021
    polygon holding its centre; anything else (outside the county) its 2017 ward from the
    national lookup."""
    s21 = oracle.lsoa21_codes()
    ward = oracle.polygon_of(s21, oracle.WARDS25, "WD25CD")
    replaced = sorted(set(oracle.lsoa11_codes()) - set(s21))
    holder = oracle.polygon_of(replaced, oracle.LSOA21, "LSOA21CD")
    out = {c: r["wd17cd"] for c, r in oracle.national().items()}
    out.update(ward)
    out.update({c: ward[holder[c]] for c in replaced})
    return out


def expected_counts(rows: list[dict], codes: list[str]) -> Counter:
    wards = oracle_ward()
    return Counter(wards.get(c) if c else None for c in codes)


def test_every_row_coded_2021_lands_in_its_best_fit_ward(study):
    want = expected_counts(study["rows"], study["codes_2021"])
    assert study["coded_2021"] == want
    assert sum(study["coded_2021"].values()) == len(study["rows"]) == 320_488
    unknown = study["coded_2021"][None]
    assert unknown == sum(1 for c in study["codes_2021"] if not c) == 3  # the rows police.uk gave no LSOA
    new_codes = {c for c in study["codes_2021"] if c} - set(oracle.national())
    assert len(new_codes) >= 25  # codes new in 2021 really are in the file, and none fell out


def test_every_row_coded_2011_lands_in_its_best_fit_ward(study):
    want = expected_counts(study["rows"], [r["LSOA code"] for r in study["rows"]])
    assert study["coded_2011"] == want


def test_2011_and_2021_codings_agree_within_the_best_fit(study):
    a, b, c = study["coded_2011"], study["coded_2021"], study["coded_replaced"]
    assert sum(a.values()) == sum(b.values()) == sum(c.values())
    wards = oracle_ward()
    # Only the replaced LSOAs' rows can move between wards when just they are recoded: every ward
    # their rows go to or come from (in either coding) may differ, no other ward may.
    moved = [(wards.get(r["LSOA code"]), wards.get(x)) for r, x in zip(study["rows"], study["codes_replaced"])
             if r["LSOA code"] != x]
    touched = {w for pair in moved for w in pair if pair[0] != pair[1]}
    for w in set(a) | set(c):
        if w not in touched:
            assert a[w] == c[w], w
    # The ward totals never differ by more than the rows that changed ward between the codings.
    for coded, codes in ((c, study["codes_replaced"]), (b, study["codes_2021"])):
        change = Counter()
        for r, x in zip(study["rows"], codes):
            w0, w1 = wards.get(r["LSOA code"]) if r["LSOA code"] else None, wards.get(x) if x else None
            if w0 != w1:
                change[w0] += 1
                change[w1] += 1
        for w in set(a) | set(coded):
            assert abs(a[w] - coded[w]) <= change[w], w
    figures = differences(a, c), differences(a, b)
    print("\nreplaced LSOAs only:", figures[0], "\nevery row by its point:", figures[1])
    assert figures[0]["wards_differing"] <= len(touched)


def differences(a: Counter, b: Counter) -> dict:
    """Per-ward difference between two codings, over the Lincolnshire (2025) wards."""
    lincs = {p["WD25CD"] for p, _ in oracle.features(oracle.WARDS25)}
    diffs = [(w, b[w] - a[w], (b[w] - a[w]) / a[w] * 100 if a[w] else None) for w in sorted(lincs) if a[w] or b[w]]
    nz = [d for d in diffs if d[1]]
    pct = [abs(d[2]) for d in nz if d[2] is not None]
    return {"wards": len(diffs), "wards_differing": len(nz), "rows_moved": sum(abs(d[1]) for d in nz) // 2 or 0,
            "max_abs": max((abs(d[1]) for d in nz), default=0), "max_pct": round(max(pct, default=0.0), 2),
            "median_pct_of_differing": round(float(np.median(pct)), 2) if pct else 0.0}


def test_geography_holds_both_vintages_and_neighbours(study):
    geo = study["geo"]
    police = {r["LSOA code"] for r in study["rows"] if r["LSOA code"]} | {c for c in study["codes_2021"] if c}
    assert police <= set(geo["lsoa_code"].to_list())
    # Rows outside the county keep the district the national lookup gives (current successor).
    outside = police - set(oracle.lsoa21_codes()) - set(oracle.lsoa11_codes())
    assert outside  # Newark and Sherwood, North Lincolnshire, Fenland ...
    g = geo.filter(pl.col("lsoa_code").is_in(sorted(outside)))
    nat, wc = oracle.national(), oracle.ward_codes()
    for r in g.iter_rows(named=True):
        assert r["ward_code"] == nat[r["lsoa_code"]]["wd17cd"]
        assert r["district_code"] == wc[r["ward_code"]]["LADCD_ACTIVE"]
        assert "2017 wards" in r["fit"] and r["current_lsoa_code"] == r["lsoa_code"]


def test_real_lincoln_2021_file_keeps_every_row(study):
    rows = read_rows(LINCOLN_2021.parent)
    assert main(["import", "police-uk", str(LINCOLN_2021)]) == 0
    crime = pl.read_parquet(store.current("crime").files).filter(pl.col("month").dt.year() == 2021)
    asb = pl.read_parquet(store.current("asb").files).filter(pl.col("month").dt.year() == 2021)
    both = pl.concat([crime.select("lsoa_code", "district_code"), asb.select("lsoa_code", "district_code")])
    assert both.height == len(rows) and both["district_code"].null_count() == 0
    outside = both.filter(pl.col("district_code") != "E07000138").height
    assert outside == sum(1 for r in rows if oracle.national()[r["LSOA code"]]["lad17cd"] != "E07000138") == 4

