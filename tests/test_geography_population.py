"""Population files of any year and level, and the derived areas table: labels told apart where
names repeat, and ward and district populations that never count an LSOA twice across vintages.
Every expected figure is computed here from the raw files (csv module, numpy ray casting)."""
from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from shapely.geometry import shape

import geography_oracle as oracle
from conftest import LOOKUP_CSV, REALDATA
from csp import geography, store
from csp.__main__ import main

T_LSOA = oracle.TRAFFORD / "trafford_mid-2024_population_lsoa.csv"
T_WARD = oracle.TRAFFORD / "trafford_mid-2024_population_ward.csv"
GM = oracle.TRAFFORD / "gm_lsoa21_to_ward22_best-fit_lookup.csv"
POP2017 = REALDATA / "lookups" / "national_2011lsoa_2017ward" / "derived_population_mid2017.csv"


def rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def frame(name: str) -> pl.DataFrame:
    return pl.read_parquet(store.current(name).files)


def persons(path: Path) -> dict[str, int]:
    return {r["area_code"]: int(r["all_ages"]) for r in rows(path) if r["sex"] == "Persons"}


def test_trafford_mid_2024_lsoa_and_ward_files(data_dir, capsys):
    assert main(["import", "population", str(T_LSOA)]) == 0
    assert main(["import", "population", str(T_WARD)]) == 0
    out = capsys.readouterr().out
    assert "mid-2024" in out and "no geography is published yet" in out
    p = frame("population")
    want = {("lsoa", c): n for c, n in persons(T_LSOA).items()} | {("ward", c): n for c, n in persons(T_WARD).items()}
    assert {(r["area_level"], r["area_code"]): r["population"] for r in p.iter_rows(named=True)} == want
    assert len(want) == 139 + 21 and set(p["year"]) == {2024}
    assert store.current("areas") is None  # nothing to derive areas from yet


def test_national_mid_2017_file_by_level(data_dir, capsys):
    assert main(["import", "population", str(POP2017)]) == 0
    assert "skipped 70 row(s)" in capsys.readouterr().out
    want = {}
    for r in rows(POP2017):
        c = r["area_code"]
        level = {"E01": "lsoa", "W01": "lsoa", "E05": "ward", "W05": "ward", "E06": "district", "E07": "district",
                 "E08": "district", "E09": "district", "W06": "district"}.get(c[:3])
        if level:
            want[(level, c)] = int(r["population_mid2017"])
    p = frame("population")
    assert {(r["area_level"], r["area_code"]): r["population"] for r in p.iter_rows(named=True)} == want
    assert set(p["year"]) == {2017}
    assert Counter(lv for lv, _ in want) == {"lsoa": 34_753, "ward": 8_297, "district": 147}


def test_year_from_the_file_or_asked_for(data_dir, tmp_path, capsys):
    body = [[r["area_code"], r["all_ages"]] for r in rows(T_LSOA) if r["sex"] == "Persons"]
    p = tmp_path / "estimates.csv"
    with p.open("w", newline="") as fh:
        csv.writer(fh).writerows([["LSOA 2021 Code", "Total"], *body])
    assert main(["import", "population", str(p)]) == 2
    assert "--year" in capsys.readouterr().err and store.current("population") is None
    assert main(["import", "population", str(p), "--year", "2022"]) == 0
    assert set(frame("population")["year"]) == {2022}
    named = tmp_path / "sapelsoa_mid-2023.csv"
    named.write_bytes(p.read_bytes())
    assert main(["import", "population", str(named)]) == 0
    assert sorted(set(frame("population")["year"])) == [2022, 2023]  # the other year is kept
    assert main(["import", "population", str(named)]) == 0  # the same file again replaces itself
    assert frame("population").height == 2 * len(body)
    two = tmp_path / "two.csv"
    two.write_text("period,area_code,all_ages\n2023-06-30,E01006074,10\n2024-06-30,E01006075,11\n")
    assert main(["import", "population", str(two)]) == 2
    assert "more than one year" in capsys.readouterr().err


@pytest.mark.parametrize("body,needle", [
    ("area_code,all_ages\nE01006074,12x\n", "not whole numbers"),
    ("area_code,all_ages\nNOTACODE,12\n", "invalid area code"),
    ("area_code,all_ages\nE01006074,12\nE01006074,13\n", "more than once"),
    ("code_of_area,people\nE01006074,12\n", "not a population table"),
])
def test_bad_population_files(body, needle, data_dir, tmp_path):
    p = tmp_path / "mid-2024.csv"
    p.write_text(body)
    with pytest.raises(geography.GeographyError, match=needle):
        geography.import_population(p)
    assert store.current("population") is None


def test_area_labels_tell_repeated_ward_names_apart(data_dir):
    assert main(["import", "lookup", str(LOOKUP_CSV), "--ward-codes", str(oracle.WARD_CODES)]) == 0
    a = frame("areas").filter(pl.col("area_level") == "ward")
    wc, nat = oracle.ward_codes(), oracle.national()
    wards = {r["wd17cd"]: r["wd17nm"] for r in nat.values()}
    district = {w: wc[w]["LADNM_ACTIVE"] for w in wards}
    count = Counter(wards.values())
    want = {w: f"{n} ({district[w]})" if count[n] > 1 else n for w, n in wards.items()}
    dup = Counter(want.values())  # same name in the same district: the code too
    want = {w: (f"{wards[w]} ({district[w]}, {w})" if dup[lab] > 1 else lab) for w, lab in want.items()}
    assert dict(zip(a["area_code"], a["area_label"])) == want
    assert a["area_label"].is_unique().all()
    lab = dict(zip(a["area_code"], a["area_label"]))
    assert lab["E05010784"] == "Abbey (Lincoln)" and lab["E05010788"] == "Castle (Lincoln)"
    assert lab["E05010794"] == "Witham (Lincoln)" and lab["E05010786"] == "Boultham"
    assert count["Abbey"] > 10 and count["Castle"] > 5 and count["Witham"] > 1


def lincs_build(data_dir) -> None:
    assert main(["geography", "build", "--centroids", str(oracle.LATLONG), "--wards", str(oracle.WARDS25),
                 "--lsoa21", str(oracle.LSOA21), "--lookup", str(LOOKUP_CSV), "--ward-codes",
                 str(oracle.WARD_CODES)]) == 0


def best_fit_wards() -> tuple[dict[str, str], dict[str, str]]:
    """(2021 LSOA -> ward, replaced 2011 LSOA -> its 2021 LSOA), by the oracle."""
    s21 = oracle.lsoa21_codes()
    ward = oracle.polygon_of(s21, oracle.WARDS25, "WD25CD")
    replaced = sorted(set(oracle.lsoa11_codes()) - set(s21))
    return ward, oracle.polygon_of(replaced, oracle.LSOA21, "LSOA21CD")


def test_ward_population_sums_2011_lsoas_by_best_fit(data_dir):
    lincs_build(data_dir)
    ward21, holder = best_fit_wards()
    nat = oracle.national()
    want: dict[str, int] = defaultdict(int)
    for c in oracle.lsoa11_codes():
        w = ward21[holder[c]] if c in holder else ward21[c]
        want[w] += int(nat[c]["lsoa_population_mid2017"])
    a = frame("areas").filter(pl.col("area_level") == "ward", pl.col("area_code").is_in(list(want)))
    assert dict(zip(a["area_code"], a["population"])) == dict(want)
    assert set(a["population_year"]) == {2017}
    assert all("2011 LSOAs by best fit" in b for b in a["population_basis"])


def test_population_held_under_both_vintages_is_never_counted_twice(data_dir, tmp_path):
    """Mid-2017 figures for the 2011 LSOAs (national) and for the 2021 LSOAs new in 2021 (made
    here by sharing each replaced 2011 LSOA's figure among the 2021 LSOAs over it, by area, as the
    ONS back-series on 2021 boundaries would give): each ward is the sum of one vintage's LSOAs."""
    lincs_build(data_dir)
    nat = oracle.national()
    f11 = {p["LSOA11CD"]: shape(g) for p, g in oracle.features(oracle.LSOA11)}
    f21 = {p["LSOA21CD"]: shape(g) for p, g in oracle.features(oracle.LSOA21)}
    new = sorted(set(f21) - set(nat))
    gone = sorted(set(f11) - set(f21))  # the 2011 LSOAs the new ones replaced
    overlap = np.array([[f21[n].intersection(f11[o]).area for o in gone] for n in new])
    share = overlap / overlap.sum(axis=0)  # each replaced LSOA shared out among the new ones
    made = dict(zip(new, np.rint(share @ np.array([int(nat[o]["lsoa_population_mid2017"]) for o in gone]))
                    .astype(int).tolist()))
    p = tmp_path / "lsoa21_mid-2017.csv"
    with p.open("w", newline="") as fh:
        csv.writer(fh).writerows([["LSOA21CD", "population"], *[[c, n] for c, n in made.items()]])
    assert main(["import", "population", str(p)]) == 0

    ward21, holder = best_fit_wards()
    pop21 = {c: (made[c] if c in made else int(nat[c]["lsoa_population_mid2017"])) for c in f21}
    want21: dict[str, int] = defaultdict(int)
    naive: dict[str, int] = defaultdict(int)  # every code of the ward, both vintages: double counts
    for c in f21:
        want21[ward21[c]] += pop21[c]
        naive[ward21[c]] += pop21[c]
    for c in holder:
        naive[ward21[holder[c]]] += int(nat[c]["lsoa_population_mid2017"])
    a = frame("areas").filter(pl.col("area_level") == "ward", pl.col("area_code").is_in(list(want21)))
    got = dict(zip(a["area_code"], a["population"]))
    assert got == dict(want21)
    assert all("2021 LSOAs by best fit" in b for b in a["population_basis"])
    touched = {ward21[holder[c]] for c in holder}
    assert touched and all(got[w] < naive[w] for w in touched)
    # The district total is the same whichever vintage it is summed over, up to the rounding of
    # the shares made above: nothing is lost or counted twice.
    d = frame("areas").filter(pl.col("area_level") == "district", pl.col("area_code") == "E07000136")
    boston11 = sum(int(r["lsoa_population_mid2017"]) for r in nat.values() if r["lad17cd"] == "E07000136")
    assert abs(d["population"][0] - boston11) <= len(made)


def test_trafford_wards_use_the_newest_complete_year(data_dir, capsys):
    assert main(["import", "lookup", str(GM)]) == 0
    assert main(["import", "population", str(LOOKUP_CSV)]) == 0  # mid-2017, 2011 LSOAs
    assert main(["import", "population", str(T_LSOA)]) == 0
    assert main(["import", "population", str(T_WARD)]) == 0
    assert "not in the published geography" in capsys.readouterr().out  # 2023 ward codes vs the 2022 lookup
    pop = persons(T_LSOA)
    want: dict[str, int] = defaultdict(int)
    for r in rows(GM):
        if r["lad22cd"] == "E08000009":
            want[r["wd22cd"]] += pop[r["lsoa21cd"]]
    a = frame("areas").filter(pl.col("area_level") == "ward", pl.col("district_code") == "E08000009")
    assert dict(zip(a["area_code"], a["population"])) == dict(want)
    assert set(a["population_year"]) == {2024}
    # Another GM district, with only its 2021 LSOAs held: a ward whose 2021 LSOAs all carried on
    # from 2011 is the sum of their mid-2017 figures (same codes, same boundaries); a ward with an
    # LSOA new in 2021 has no complete mid-2017 figure: blank, and the basis says so.
    nat = oracle.national()
    members: dict[str, list[str]] = defaultdict(list)
    for r in rows(GM):
        if r["lad22cd"] == "E08000003":
            members[r["wd22cd"]].append(r["lsoa21cd"])
    want = {w: (sum(int(nat[c]["lsoa_population_mid2017"]) for c in cs) if all(c in nat for c in cs) else None)
            for w, cs in members.items()}
    gm = frame("areas").filter(pl.col("area_level") == "ward", pl.col("district_code") == "E08000003")
    assert dict(zip(gm["area_code"], gm["population"])) == want
    assert 0 < sum(v is None for v in want.values()) < len(want)
    blank = gm.filter(pl.col("population").is_null())
    assert dict(zip(blank["area_code"], blank["population_basis"])) == {
        w: f"incomplete: {sum(c in nat for c in cs)} of its {len(cs)} LSOAs held for mid-2017"
        for w, cs in members.items() if want[w] is None}
