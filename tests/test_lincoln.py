"""Issue 13 on real data: a partnership set to the City of Lincoln (E07000138) over the whole
Lincolnshire force import (61 months of police.uk files), with the geography built as a CSP
analyst would from the ONS files in shared/. Every headline, rate, comparator and ranked-table
judgement the owner sees equals an independent recomputation from the raw CSV files and lookups
(the csv module, numpy ray casting, the published formulas), and the rows outside the
partnership and with no location are counted apart and add up, with the partnership's, to the
force's total."""
from __future__ import annotations

import csv
import math
import os
from collections import Counter

import pytest

import geography_oracle as oracle
from conftest import LINCS, LOOKUP_CSV, REALDATA
from csp import access, indicators, partnership, queries, users
from csp.__main__ import main

LINCOLN = "E07000138"
COUNTY = ["E07000136", "E07000137", "E07000138", "E07000139", "E07000140", "E07000141", "E07000142"]
ASB = "Anti-social behaviour"
POPULATION = REALDATA / "lookups" / "national_2011lsoa_2017ward" / "derived_population_mid2017.csv"
PERIOD = ("2015-01", "2015-12")  # the latest 12 months held
PREVIOUS = ("2014-01", "2014-12")
Z = 1.959963984540054


@pytest.fixture(scope="module")
def lincoln(tmp_path_factory):
    d = tmp_path_factory.mktemp("lincoln")
    old = os.environ.get("CSP_DATA_DIR")
    os.environ["CSP_DATA_DIR"] = str(d / "data")
    queries.clear_cache()
    try:
        assert main(["geography", "build", "--centroids", str(oracle.LATLONG), "--wards", str(oracle.WARDS25),
                     "--lsoa21", str(oracle.LSOA21), "--lookup", str(LOOKUP_CSV),
                     "--ward-codes", str(oracle.WARD_CODES)]) == 0
        assert main(["import", "population", str(POPULATION)]) == 0
        assert main(["import", "police-uk", str(LINCS)]) == 0
        partnership.set_area([LINCOLN], by="test", label="Lincoln CSP")
        partnership.set_area(COUNTY, by="test", label="Lincolnshire", comparator=True)
        owner = access.User("lincs.police", "Police", "board", "police")
        yield {"owner": owner, "truth": truth()}
    finally:
        queries.clear_cache()
        if old is None:
            os.environ.pop("CSP_DATA_DIR", None)
        else:
            os.environ["CSP_DATA_DIR"] = old


# ---- the independent recomputation ----------------------------------------------------------


def best_fit_wards() -> dict[str, str]:
    """Every LSOA code to its current ward, the ONS way (oracle.best_fit_wards)."""
    return oracle.best_fit_wards()


def truth() -> dict:
    wards = best_fit_wards()
    ward_district = {c: r["LADCD"] for c, r in oracle.ward_codes().items()}
    lsoa_district = {c: r["lad17cd"] for c, r in oracle.national().items()}
    counts = {"crime": Counter(), "asb": Counter()}
    for f in sorted(LINCS.rglob("*.csv")):
        with f.open(newline="", encoding="utf-8-sig") as fh:
            for r in csv.DictReader(fh):
                month = r["Month"]
                lsoa = r["LSOA code"].strip()
                ward = wards.get(lsoa) if lsoa else None
                district = (ward_district.get(ward) or lsoa_district.get(lsoa)) if lsoa else None
                kind = "asb" if r["Crime type"] == ASB else "crime"
                counts[kind][(month, ward, district)] += 1
    pops = {}
    with POPULATION.open(newline="") as fh:
        for r in csv.DictReader(fh):
            pops[r["area_code"]] = int(r["population_mid2017"])
    lincoln_lsoas = [c for c, r in oracle.national().items() if r["lad17cd"] == LINCOLN]
    ward_pop = Counter()
    for c in lincoln_lsoas:
        ward_pop[wards[c]] += pops[c]
    # A ward's own mid-2017 estimate where its code existed in 2017, else the sum of its LSOAs.
    ward_pop = {w: pops.get(w, p) for w, p in ward_pop.items()}
    district_pop = {d: sum(pops[c] for c, r in oracle.national().items() if r["lad17cd"] == d) for d in COUNTY}
    return {"counts": counts, "ward_pop": ward_pop, "district_pop": district_pop}


def total(counts: Counter, period, where=lambda w, d: True) -> int:
    return sum(n for (m, w, d), n in counts.items() if period[0] <= m <= period[1] and where(w, d))


def byar(o: int) -> tuple[float, float]:
    lo = 0.0 if o == 0 else o * (1 - 1 / (9 * o) - Z / (3 * math.sqrt(o))) ** 3
    hi = (o + 1) * (1 - 1 / (9 * (o + 1)) + Z / (3 * math.sqrt(o + 1))) ** 3
    return lo, hi


def params(**extra) -> dict:
    return {"from": PERIOD[0], "to": PERIOD[1], **extra}


# ---- the figures ------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["crime", "asb"])
def test_headline_is_the_partnerships_two_years(lincoln, dataset):
    counts = lincoln["truth"]["counts"][dataset]
    r = queries.run(lincoln["owner"], f"{dataset}_headline").frame.row(0, named=True)
    in_lincoln = lambda w, d: d == LINCOLN  # noqa: E731
    assert str(r["last_month"])[:7] == PERIOD[1]
    assert r["current"] == total(counts, PERIOD, in_lincoln)
    assert r["previous"] == total(counts, PREVIOUS, in_lincoln)
    assert (r["current_months_held"], r["previous_months_held"]) == (12, 12)
    assert r["pct_change"] == round(100 * (r["current"] - r["previous"]) / r["previous"], 1)


@pytest.mark.parametrize("dataset", ["crime", "asb"])
def test_ward_table_counts_partnership_outside_and_no_location_apart(lincoln, dataset):
    t = lincoln["truth"]
    counts = t["counts"][dataset]
    count = "crimes" if dataset == "crime" else "incidents"
    r = queries.run(lincoln["owner"], f"{dataset}_by_ward", params()).frame
    rows = {(row["row_kind"], row["ward_code"]): row for row in r.iter_rows(named=True)}
    lincoln_wards = {w for (m, w, d) in counts if d == LINCOLN}
    assert {w for k, w in rows if k == "ward"} == lincoln_wards  # the partnership's wards only
    for w in lincoln_wards:
        row = rows[("ward", w)]
        n = total(counts, PERIOD, lambda ww, d, w=w: ww == w)
        assert row[count] == n, w
        assert row["population"] == t["ward_pop"][w], w
        assert row["months"] == 12 and row["population_year"] == 2017
        assert row["rate_per_1000"] == round(1000 * n / t["ward_pop"][w], 2)
    outside = total(counts, PERIOD, lambda w, d: d is not None and d != LINCOLN)
    none = total(counts, PERIOD, lambda w, d: d is None)
    assert rows[("outside", None)][count] == outside and outside > 0
    assert rows.get(("no location", None), {count: 0})[count] == none  # a row only when there are some
    # ...and everything adds up to the force's total for the year.
    assert sum(row[count] for row in rows.values()) == total(counts, PERIOD)


@pytest.mark.parametrize("dataset", ["crime", "asb"])
def test_comparators_and_ranked_judgements(lincoln, dataset):
    t = lincoln["truth"]
    counts = t["counts"][dataset]
    count = "crimes" if dataset == "crime" else "incidents"
    bench = queries.run(lincoln["owner"], f"{dataset}_benchmark", params()).frame
    by = {row["comparator"]: row for row in bench.iter_rows(named=True)}
    assert set(by) == {"partnership", "comparator"}  # one district: no per-district rows
    part_n = total(counts, PERIOD, lambda w, d: d == LINCOLN)
    county_n = total(counts, PERIOD, lambda w, d: d in COUNTY)
    part_pop = t["district_pop"][LINCOLN]
    county_pop = sum(t["district_pop"][d] for d in COUNTY)
    assert (by["partnership"][count], by["partnership"]["population"]) == (part_n, part_pop)
    assert (by["comparator"][count], by["comparator"]["population"]) == (county_n, county_pop)
    assert by["partnership"]["rate_per_1000"] == round(1000 * part_n / part_pop, 2)
    assert by["comparator"]["rate_per_1000"] == round(1000 * county_n / county_pop, 2)
    # Each ward's judgement: its Byar interval wholly below / above the partnership's rate.
    b = indicators.benchmark_rate(queries.run(lincoln["owner"], f"{dataset}_benchmark", params()), count)
    assert b["rate"] == pytest.approx(1000 * part_n / part_pop)
    ranked, _ = indicators.ranked_areas(queries.run(lincoln["owner"], f"{dataset}_by_ward", params()), count, b)
    judged = 0
    for row in ranked.frame.iter_rows(named=True):
        if row["row_kind"] != "ward":
            assert row["vs_benchmark"] is None  # no population, no rate, no judgement
            continue
        n, pop = row[count], t["ward_pop"][row["ward_code"]]
        lo, hi = (x * 1000 / pop for x in byar(n))
        want = "better" if hi < part_n * 1000 / part_pop else "worse" if lo > part_n * 1000 / part_pop else "similar"
        assert row["vs_benchmark"] == want, row
        judged += 1
    assert judged == 11  # the City of Lincoln's wards


def test_partners_see_the_same_cells_perturbed(lincoln):
    """The council's figures are the same cells as the owner's, each perturbed (ONS method)."""
    from protection_oracle import ons_total, published_rows

    import polars as pl
    council = access.User("lincs.council", "Council", "board", "council")
    r = queries.run(council, "crime_headline").frame.row(0, named=True)
    rows = published_rows("crime").filter(pl.col("district_code") == LINCOLN)
    cur = rows.filter(pl.col("month").dt.year() == 2015)
    prev = rows.filter(pl.col("month").dt.year() == 2014)
    assert (r["current"], r["previous"]) == (ons_total(cur, "ptable_t5", 5), ons_total(prev, "ptable_t5", 5))


def test_area_choices_are_the_partnerships_and_told_apart(lincoln):
    from csp import areas
    council = access.User("lincs.council", "Council", "board", "council")
    options = areas.choices(council, "crime")
    wards = [o for o in options if o.level == "ward"]
    assert len(wards) == 11 and {o.code[:3] for o in wards} == {"E05"}
    # Lincoln's Abbey, Castle and Witham share names with wards elsewhere in the lookup.
    assert any(o.label == "Abbey (Lincoln)" for o in wards)
    # A district-level grant is never offered a ward.
    health = access.User("lincs.health", "Health", "board", "health")
    assert not [o for o in areas.choices(health, "crime") if o.level == "ward"]
    with pytest.raises(queries.QueryError, match="by district, not by ward"):
        queries.run(health, "crime_monthly_total", {"area": wards[0].code})


def test_no_location_rows_over_everything_held(lincoln):
    """Over the whole series police.uk gave 3 crimes no location: they are their own row."""
    counts = lincoln["truth"]["counts"]["crime"]
    r = queries.run(lincoln["owner"], "crime_by_ward", {}).frame
    none = r.filter(r["row_kind"] == "no location")["crimes"].to_list()
    want = total(counts, ("0000-00", "9999-99"), lambda w, d: d is None)
    assert want > 0 and none == [want]
    assert r["crimes"].sum() == sum(counts.values())
