"""Data-quality judgements: schedule gaps and lateness, geography flags, category changes, and the
quality queries on the tiny area (restricted identifiers visible to the owner only)."""
from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from csp import access, quality, queries
from protection_oracle import ons_total, published_rows

D = dt.date


def test_schedule_finds_gaps_and_lateness():
    months = [D(2024, 1, 1), D(2024, 2, 1), D(2024, 5, 1)]
    s = quality.schedule("crime", months, today=D(2024, 11, 15))
    assert s.missing == ["2024-03", "2024-04"]
    # Crime is due two months after the month ends: by mid-November, September is expected.
    assert s.latest == "2024-05" and s.expected_latest == "2024-09" and s.periods_late == 4
    on_time = quality.schedule("crime", months + [D(2024, m, 1) for m in (3, 4, 6, 7, 8, 9)], today=D(2024, 11, 1))
    assert on_time.missing == [] and on_time.periods_late == 0


def test_quarterly_schedule_steps_by_quarter():
    qs = [D(2023, 1, 1), D(2023, 7, 1), D(2023, 10, 1)]
    s = quality.schedule("substance_misuse", qs, today=D(2024, 8, 20))
    assert s.step == 3 and s.missing == ["2023 Q2"]
    # Due six months after: by 2024-08 the quarter starting 2024-01 is expected, two quarters on.
    assert s.expected_latest == "2024 Q1" and s.periods_late == 1


def test_flag_geography_threshold():
    f = quality.flag_geography(pl.DataFrame({"pct_located": [84.9, 85.0, None, 100.0]}))
    assert f["low_geography"].to_list() == [True, False, False, False]


def test_category_changes_describe_taxonomy_changes():
    rows = []
    for m in range(1, 7):
        rows.append((D(2013, m, 1), "Burglary"))
        rows.append((D(2013, m, 1), "Violent crime" if m < 5 else "Violence and sexual offences"))
        if m in (2, 4):
            rows.append((D(2013, m, 1), "Bicycle theft"))
    frame = pl.DataFrame(rows, schema={"month": pl.Date, "crime_type": pl.String}, orient="row").with_columns(
        pl.lit(1).alias("records"))
    got = {r["crime_type"]: r["change"] for r in quality.category_changes(frame).iter_rows(named=True)}
    assert got == {"Burglary": "used throughout", "Violent crime": "last used 2013-04",
                   "Violence and sexual offences": "new from 2013-05", "Bicycle theft": "used only 2013-02 to 2013-04"}


def test_quality_query_on_tiny_area(tiny):
    owner = tiny["users"]["police"]
    r = queries.run(owner, "quality_crime")
    feb = r.frame.filter(pl.col("month") == D(2024, 2, 1)).row(0, named=True)
    # 2024-02: 12 drugs in L3 + 3 burglaries with no LSOA.
    assert (feb["records"], feb["located"], feb["pct_located"]) == (15, 12, 80.0)
    ids = queries.run(owner, "quality_crime_ids").frame.filter(pl.col("month") == D(2024, 2, 1))
    assert ids.row(0, named=True)["with_id"] == 15
    # Identifiers are restricted: the identifier checks are the owner's only.
    with pytest.raises(access.AccessDenied):
        queries.run(tiny["users"]["council"], "quality_crime_ids")
    council = queries.run(tiny["users"]["council"], "quality_crime")
    # The council's month total is perturbed exactly as the same cell is everywhere else.
    rows = published_rows("crime").filter(pl.col("month") == D(2024, 2, 1))
    got = council.frame.filter(pl.col("month") == D(2024, 2, 1)).row(0, named=True)
    assert got["records"] == ons_total(rows, "ptable_t5", 5)
    assert got["located"] == ons_total(rows.filter(pl.col("district_code").is_not_null()), "ptable_t5", 5)
    monthly = queries.run(tiny["users"]["council"], "crime_monthly_total").frame
    assert monthly.filter(pl.col("month") == D(2024, 2, 1))["crimes"].to_list() == [got["records"]]


def test_catalogue_lists_access_per_user(tiny):
    cat = {e["dataset"]: e for e in quality.catalogue(tiny["users"]["health"])}
    # every dataset is listed, with what this user may see of it (issue 15 added the partners')
    assert set(cat) == {"geography", "population", "areas", "crime", "asb", "reoffending", "substance_misuse",
                        "alcohol_admissions", "fires", "council_asb", "environmental_crime", "ae_assaults",
                        "ambulance_assaults", "housing_asb", "youth_first_time_entrants", "youth_reoffending"}
    assert cat["crime"]["access"] == "district level, 1 to 4 suppressed"
    assert cat["substance_misuse"]["access"] == "everything, exact (yours)"
    council = {e["dataset"]: e for e in quality.catalogue(tiny["users"]["council"])}
    assert council["crime"]["access"] == "LSOA level, perturbed (under 5: low)"
    assert cat["asb"]["latest_version"] is None and cat["crime"]["coverage"] == "2023-02 to 2024-02"
    assert "crime_id" in cat["crime"]["fields"]["field"].to_list()


def test_missing_periods_read_as_runs_and_gaps_are_counted():
    months = [D(2023, 1, 1), D(2023, 5, 1), D(2023, 7, 1)]
    s = quality.schedule("crime", months, today=D(2023, 9, 1))
    assert s.missing == ["2023-02", "2023-03", "2023-04", "2023-06"]
    assert s.missing_runs == ["Feb 2023 to Apr 2023 (3 months)", "Jun 2023"]
    q = quality.schedule("substance_misuse", [D(2022, 1, 1), D(2023, 1, 1)], today=D(2023, 3, 1))
    assert q.missing_runs == ["Apr–Jun 2022 to Oct–Dec 2022 (3 quarters)"]
    rows = [(D(2013, m, 1), "Burglary") for m in range(1, 7)] + [(D(2013, m, 1), "Robbery") for m in (1, 2, 6)]
    frame = pl.DataFrame(rows, schema={"month": pl.Date, "crime_type": pl.String}, orient="row")
    changes = quality.category_changes(frame)
    got = {r["crime_type"]: r["change"] for r in changes.iter_rows(named=True)}
    assert got == {"Burglary": "used throughout", "Robbery": "not used in 3 of 6 months"}
    assert quality.changes_summary(changes) == "Of 2 categories: 1 used in every month, 1 missing from some months."


def test_a_share_from_two_perturbed_counts_never_reads_over_100_percent():
    # Perturbation can push "located" above "records" for a non-owner; no more records can be
    # located than there are, so the share is capped and not flagged.
    import polars as pl
    from csp import quality
    frame = pl.DataFrame({"records": [40, 40, 40], "located": [42, 30, None],
                          "pct_located": [105.0, 75.0, None]})
    out = quality.flag_geography(frame)
    assert out["pct_located"].to_list() == [100.0, 75.0, None]
    assert out["low_geography"].to_list() == [False, True, False]
