"""Tests for csp.pii: the personal-data screen that blocks uploads, and its transforms."""
from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Run from any working directory without relying on an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from csp import pii  # noqa: E402
from csp.pii import Finding, screen  # noqa: E402


# --------------------------------------------------------------------------------------
# Helpers (independent of the module under test)
# --------------------------------------------------------------------------------------

def nhs_check_digit(first9: str) -> int | None:
    """NHS mod-11 check digit, written out from the spec: None when it would be 10."""
    total = sum(int(d) * w for d, w in zip(first9, range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def valid_nhs(first9: str) -> str:
    check = nhs_check_digit(first9)
    assert check is not None, first9
    return first9 + str(check)


# 943 476 591 -> check digit 9 (the NHS's own published example number).
VALID_NHS = valid_nhs("943476591")
assert VALID_NHS == "9434765919"
VALID_NHS_2 = valid_nhs("401023213")
# A prefix whose check digit would be 10, so no valid NHS number starts with it.
INVALID_PREFIX = next(
    f"{n:09d}" for n in range(400000000, 400001000) if nhs_check_digit(f"{n:09d}") is None
)


def kinds(findings: list[Finding], column: str | None = None) -> set[str]:
    return {f.kind for f in findings if column is None or f.column == column}


def one(findings: list[Finding], kind: str, column: str | None = None) -> Finding:
    matches = [f for f in findings if f.kind == kind and (column is None or f.column == column)]
    assert len(matches) == 1, findings
    return matches[0]


def screen_values(values: list[str | None], column: str = "notes", **kw) -> list[Finding]:
    return screen(pl.DataFrame({column: values}, schema={column: pl.String}), **kw)


def assert_flags(kind: str, value: str, column: str = "notes") -> Finding:
    f = one(screen_values(["nothing here", value], column), kind)
    assert f.rows == [2] and f.count == 1
    return f


def assert_not_flagged(kind: str, value: str, column: str = "notes") -> None:
    found = screen_values([value], column)
    assert kind not in kinds(found), (value, found)


# --------------------------------------------------------------------------------------
# NHS numbers
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "value",
    [
        VALID_NHS,
        "943 476 5919",
        "943-476-5919",
        f"Patient NHS no {VALID_NHS_2[:3]} {VALID_NHS_2[3:6]} {VALID_NHS_2[6:]} attended",
    ],
)
def test_nhs_valid_check_digit_flagged(value):
    f = assert_flags("nhs_number", value)
    assert "NHS number" in f.message


@pytest.mark.parametrize(
    "value",
    [
        VALID_NHS[:9] + str((int(VALID_NHS[9]) + 1) % 10),  # wrong check digit
        INVALID_PREFIX + "0",  # check digit would be 10: never valid
        INVALID_PREFIX + "1",
        "0000000000",  # placeholder: passes mod-11 but is nobody's number
        VALID_NHS + "123",  # 13 digits: part of something longer
        "9434765919x" + "a",  # glued to letters (e.g. inside a hash)
    ],
)
def test_nhs_failing_check_not_flagged(value):
    assert_not_flagged("nhs_number", value)


def test_nhs_numbers_stored_as_integers_flagged():
    df = pl.DataFrame({"patient": [1, int(VALID_NHS), None, int(VALID_NHS[:9] + "0")]})
    f = one(screen(df), "nhs_number")
    assert f.rows == [2] and f.count == 1
    assert VALID_NHS not in f.example


def test_nhs_numbers_in_float_column_flagged():
    # Excel exports integer IDs as floats.
    df = pl.DataFrame({"ref": [float(VALID_NHS), 3.5, None]})
    assert one(screen(df), "nhs_number").rows == [1]


def test_numeric_counts_are_never_flagged():
    df = pl.DataFrame({
        "crimes": list(range(0, 200_000, 997)),
        "rate": [x / 7 for x in range(201)],
        "year": [2019] * 201,
    })
    assert screen(df) == []


# --------------------------------------------------------------------------------------
# National Insurance numbers
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["AB123456C", "AB 12 34 56 C", "ab123456c", "NI: JG 10 37 26 D", "PA123456A"])
def test_ni_number_flagged(value):
    assert_flags("ni_number", value)


@pytest.mark.parametrize(
    "value",
    [
        "BG123456A", "GB123456A", "KN123456A", "NK123456A", "NT123456A", "TN123456A", "ZZ123456A",
        "DA123456A",  # D not allowed first
        "QA123456A",  # Q not allowed first
        "AO123456A",  # O not allowed second
        "AV123456A",  # V not allowed second
        "AB123456E",  # suffix must be A-D
        "AB12345C",  # five digits
    ],
)
def test_ni_number_invalid_not_flagged(value):
    assert_not_flagged("ni_number", value)


# --------------------------------------------------------------------------------------
# Postcodes
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["LN1 3AB", "SW1A 1AA", "LN13AB", "ln1 3ab", "LN1-3AB", "M1 1AE", "Lives at LN2 4HT now"])
def test_full_postcode_flagged(value):
    f = assert_flags("postcode_full", value)
    assert f.example.endswith("**")


@pytest.mark.parametrize("value", ["LN1", "LN1 3", "SW1A", "SW1A 1", "E01026144", "Lincoln 001A", "B2 1st floor", "A15"])
def test_partial_postcode_not_flagged(value):
    assert_not_flagged("postcode_full", value)


def test_postcode_column_must_be_sector_or_coarser():
    df = pl.DataFrame({"postcode": ["LN1", "LN1 3", "unknown", None, "LN1 3A", "LN1-3AB", "NFA", "sw1a 1"]})
    found = screen(df)
    assert [(f.kind, f.rows) for f in found] == [("postcode_full", [6]), ("postcode_column", [5])]
    assert "LN1 3A" not in one(found, "postcode_column").example
    assert screen(pl.DataFrame({"postcode": ["LN1", "LN2 4", "SW1A 1", None]})) == []
    # An allowance switches off the column check but never the full-postcode check.
    allowed = screen(df, {"postcode": "sector-level partner extract"})
    assert [(f.kind, f.rows) for f in allowed] == [("postcode_full", [6])]


# --------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("column", ["dob", "DateOfBirth", "date_of_birth", "birth_date", "born"])
@pytest.mark.parametrize("value", ["12/03/1985", "1985-03-12", "3 March 1985", "1st March 1985"])
def test_date_of_birth_flagged_in_birth_column(column, value):
    found = screen_values([value], column)
    f = one(found, "date_of_birth")
    assert f.rows == [1]
    assert "exact_date" not in kinds(found)
    assert "1985" in f.example and value not in f.example


def test_dob_column_named_even_on_first_of_month():
    # The 1st-of-month exemption is only for ordinary dates, never dates of birth.
    found = screen_values(["01/01/1990"], "dob")
    assert {"date_of_birth", "dob_column"} <= kinds(found)


@pytest.mark.parametrize("value", ["12/03/2019", "2019-03-12", "2019-03-12T10:15:00", "12 March 2019", "March 12, 2019", "12-Mar-19"])
def test_exact_date_flagged_in_other_columns(value):
    f = one(screen_values(["", value], "incident_date"), "exact_date")
    assert f.rows == [2]
    assert value not in f.example


@pytest.mark.parametrize(
    "values",
    [
        ["2019-03", "2019-04"],  # police.uk Month
        ["2019-03-01", "2019-04-01"],  # first-of-month dates are months in disguise
        ["2017/18", "2018/19"],  # financial years
        ["Q1 2019", "March 2019"],
        ["12", "31", "2019"],
    ],
)
def test_month_level_values_not_flagged(values):
    found = screen_values(values, "month")
    assert not kinds(found) & {"exact_date", "date_of_birth"}, found


def test_temporal_columns():
    days = pl.DataFrame({"incident": [date(2019, 3, 12), None, date(2019, 3, 1)]})
    f = one(screen(days), "exact_date")
    assert f.rows == [1, 3]
    months = pl.DataFrame({"month": [date(2019, 3, 1), date(2019, 4, 1)], "ts": [datetime(2019, 3, 1), None]})
    assert screen(months) == []
    dob = pl.DataFrame({"dob": [date(1985, 3, 12)]})
    assert {"date_of_birth", "dob_column"} == kinds(screen(dob))


# --------------------------------------------------------------------------------------
# Email and phone
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["john.smith@example.co.uk", "Contact: j.o'neill+csp@lincoln.gov.uk please"])
def test_email_flagged(value):
    f = assert_flags("email", value)
    assert "@" in f.example


@pytest.mark.parametrize(
    "value",
    ["07700 900123", "07700900123", "+44 7700 900123", "+447700900123", "01522 123456", "(01522) 123456",
     "020 7946 0000", "0300 123 4567", "+44 (0)1522 123456", "0044 1522 123456", "tel 0115-496-0123"],
)
def test_phone_flagged(value):
    assert_flags("phone", value)


@pytest.mark.parametrize(
    "value",
    ["123456", "1234567", "12345678", "2019", "2019-03", "07", "0800 123 4567",
     "Crimes: 1234567 in 2019", "E01026144", "0 1 2 3 4 5 6 7 8 9 10",
     "b6a0b5f207700900123a5e6d8f2d49a3c9d1e0f3a4b5c6d7e8f90123456789ab"],
)
def test_phone_false_positives_not_flagged(value):
    assert_not_flagged("phone", value)


def test_crime_counts_as_strings_not_flagged():
    df = pl.DataFrame({"count": [str(n) for n in range(0, 99_999_999, 1_234_567)], "year": ["2019"] * 82})
    assert screen(df) == []


# --------------------------------------------------------------------------------------
# PNC and CRO
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["12/345678A", "2012/0012345A", "PNC 99/1234567Z held"])
def test_pnc_flagged(value):
    assert_flags("pnc_id", value)


@pytest.mark.parametrize("value", ["123456/12A", "SF12/123456A"])
def test_cro_flagged(value):
    assert_flags("cro_number", value)


@pytest.mark.parametrize("value", ["2017/18", "12/03/2019", "12/345678", "1/2A"])
def test_pnc_cro_false_positives(value):
    found = screen_values([value])
    assert not kinds(found) & {"pnc_id", "cro_number"}


# --------------------------------------------------------------------------------------
# Person names
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "value",
    ["Mr Smith", "Mrs J Brown", "Dr Patel", "John Smith", "seen with Sarah Jane Connor at 2pm",
     "Victim was Mohammed Ali", "Miss O'Brien", "SMITH, John", "JOHN SMITH", "Called Mr. McDonald"],
)
def test_person_name_flagged(value):
    f = assert_flags("person_name", value)
    assert value not in f.example


POLICE_UK_AND_PLACES = [
    "On or near Upsall Road", "On or near Supermarket", "On or near Parking Area",
    "On or near Sports/Recreation Area", "On or near Victoria Road", "On or near John Street",
    "On or near King Edward Street", "On or near Conference/Exhibition Centre", "On or near Petrol Station",
    "Boston 001A", "Lincoln 012C", "Abbey", "Carholme", "Birchwood", "Victoria Park", "West Lindsey",
    "Lindsey District Council", "Victoria West", "Florence Nightingale House", "Grace Road", "St John Street",
    "George Stephenson Way", "Shirley North", "victim said john was there", "Violence and sexual offences",
    "Under investigation", "Mary's Close", "King George Avenue",
]


@pytest.mark.parametrize("value", POLICE_UK_AND_PLACES)
def test_places_not_flagged_as_names(value):
    assert_not_flagged("person_name", value, column="location")
    assert_not_flagged("person_name", value, column="notes")


def test_police_uk_location_column_is_clean():
    df = pl.DataFrame({
        "Crime ID": ["b6a0b5f2" * 8, None],
        "Month": ["2019-03", "2019-03"],
        "Reported by": ["Lincolnshire Police"] * 2,
        "Falls within": ["Lincolnshire Police"] * 2,
        "Longitude": [-0.54, -0.55],
        "Latitude": [53.2, 53.21],
        "Location": ["On or near Upsall Road", "On or near Sports/Recreation Area"],
        "LSOA code": ["E01026144", "E01026145"],
        "LSOA name": ["Lincoln 001A", "Boston 001A"],
        "Crime type": ["Burglary", "Anti-social behaviour"],
        "Last outcome category": ["Investigation complete; no suspect identified", None],
        "Context": [None, None],
    })
    assert screen(df) == []


# --------------------------------------------------------------------------------------
# House numbers
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["12 High Street", "Flat 3, 4 Mill Lane", "12a Church Road", "221B Baker Street, London", "7 ST JOHN'S ROAD"])
def test_house_number_flagged(value):
    f = assert_flags("house_number", value, column="location")
    assert f.example.startswith("*") or f.example.startswith("Flat *")


@pytest.mark.parametrize("value", ["On or near High Street", "12 burglaries on Mill Road", "Boston 001A", "A15", "High Street"])
def test_house_number_false_positives(value):
    assert_not_flagged("house_number", value, column="location")


# --------------------------------------------------------------------------------------
# Column names
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "column,kind",
    [
        ("name", "name_column"), ("forename", "name_column"), ("Surname", "name_column"),
        ("first_name", "name_column"), ("LastName", "name_column"), ("offender_name", "name_column"),
        ("dob", "dob_column"), ("date_of_birth", "dob_column"), ("DateOfBirth", "dob_column"),
        ("address", "address_column"), ("Address Line 1", "address_column"), ("house_number", "address_column"),
        ("email", "contact_column"), ("e_mail", "contact_column"), ("phone", "contact_column"),
        ("Mobile Number", "contact_column"),
        ("nhs_number", "identifier_column"), ("NHS No", "identifier_column"), ("ni_number", "identifier_column"),
        ("NINO", "identifier_column"), ("pnc", "identifier_column"), ("PNC ID", "identifier_column"),
        ("cro", "identifier_column"), ("cro_number", "identifier_column"),
    ],
)
def test_personal_column_names_flagged(column, kind):
    df = pl.DataFrame({column: ["x", None, "y"]})
    f = one(screen(df), kind)
    assert f.column == column
    assert f.rows == [1, 3] and f.count == 2
    assert column in f.message


@pytest.mark.parametrize(
    "column",
    ["lsoa_name", "ward_name", "district_name", "area_name", "LSOA name", "street_name", "crime_type",
     "location", "postcode", "falls_within", "Reported by", "population", "month", "outcome",
     "lsoa11nm", "live_births", "substance_group", "nhs_trust"],
)
def test_ordinary_column_names_not_flagged(column):
    df = pl.DataFrame({column: ["a", "b"]})
    assert screen(df) == []


def test_column_heading_itself_screened():
    df = pl.DataFrame({"John Smith": [1, 2], "ward": ["Abbey", "Carholme"]})
    f = one(screen(df), "person_name")
    assert f.column == "John Smith" and f.rows == []
    assert "John Smith" not in f.message and "John Smith" not in f.example


# --------------------------------------------------------------------------------------
# allowed_columns
# --------------------------------------------------------------------------------------

def test_allowed_column_skips_soft_kinds_but_not_strict_ones():
    df = pl.DataFrame({
        "location": ["12 High Street", "Mr Smith's house", "12/03/2019", "call 07700 900123", "LN1 3AB",
                     f"NHS {VALID_NHS}", "x@y.com", "AB123456C"],
    })
    unallowed = kinds(screen(df))
    assert {"house_number", "person_name", "exact_date"} <= unallowed
    allowed = kinds(screen(df, {"location": "police.uk anonymised street"}))
    assert allowed == {"phone", "postcode_full", "nhs_number", "email", "ni_number"}


def test_allowed_column_skips_name_check():
    df = pl.DataFrame({"address": ["On or near High Street"]})
    assert kinds(screen(df)) == {"address_column"}
    assert screen(df, {"address": "police.uk anonymised street text"}) == []


def test_allowed_column_needs_reason():
    with pytest.raises(ValueError):
        screen(pl.DataFrame({"a": ["x"]}), {"a": " "})


# --------------------------------------------------------------------------------------
# Rows, counts, messages and masking
# --------------------------------------------------------------------------------------

def test_rows_are_one_based_data_rows_with_nulls_and_duplicates():
    values = ["fine", f"{VALID_NHS}", None, "fine", f"NHS {VALID_NHS_2}", "fine", None, "", "fine", VALID_NHS]
    f = one(screen_values(values), "nhs_number")
    assert f.rows == [2, 5, 10]
    assert f.count == 3
    assert f.message == "Column 'notes' has 3 values that look like NHS numbers (rows 2, 5, 10)"


def test_rows_capped_at_20_but_count_is_complete():
    values = ["ok"] * 3 + ["x@y.com"] * 50
    f = one(screen_values(values), "email")
    assert f.rows == list(range(4, 24))
    assert f.count == 50
    assert "50 values" in f.message and "and 40 more" in f.message


def test_single_value_message_is_singular():
    f = one(screen_values(["a", "LN1 3AB"], column="where"), "postcode_full")
    assert f.message == "Column 'where' has 1 value that looks like a full postcode (row 2)"


MASK_CASES = [
    ("nhs_number", VALID_NHS, "notes"),
    ("nhs_number", "943 476 5919", "notes"),
    ("ni_number", "AB123456C", "notes"),
    ("postcode_full", "LN1 3AB", "notes"),
    ("postcode_full", "SW1A1AA", "notes"),
    ("email", "jo@ex.com", "notes"),
    ("email", "john.smith@example.co.uk", "notes"),
    ("phone", "07700 900123", "notes"),
    ("pnc_id", "12/345678A", "notes"),
    ("cro_number", "SF12/123456A", "notes"),
    ("date_of_birth", "12/03/1985", "dob"),
    ("exact_date", "2019-03-12", "when"),
    ("person_name", "Mr Li", "notes"),
    ("person_name", "John Smith", "notes"),
    ("house_number", "12 High Street", "notes"),
]


@pytest.mark.parametrize(
    "kind,value,column,expected",
    [
        ("postcode_full", "LN1 3AB", "notes", "LN1 3**"),  # outward + sector are publishable
        ("person_name", "John Smith", "notes", "J*** S****"),
        ("person_name", "Mrs J Brown", "notes", "Mrs J B****"),
        ("house_number", "12 High Street", "notes", "** High Street"),
        ("date_of_birth", "12/03/1985", "dob", "**/**/1985"),
        ("email", "john.smith@example.co.uk", "notes", "j*********@**********.uk"),
        ("nhs_number", "943 476 5919", "notes", "94* *** ***9"),
    ],
)
def test_examples_are_readable(kind, value, column, expected):
    assert one(screen_values([value], column), kind).example == expected


@pytest.mark.parametrize("kind,value,column", MASK_CASES)
def test_examples_are_masked(kind, value, column):
    for cell in (value, f"ref: {value} end"):
        f = one(screen_values([cell], column), kind)
        assert value not in f.example
        assert cell not in f.example
        assert "*" in f.example
        assert value not in f.message


# --------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------

def test_nulls_empty_and_odd_dtypes():
    df = pl.DataFrame({
        "empty": pl.Series([None, None], dtype=pl.String),
        "nulls": [None, None],
        "flag": [True, False],
        "cat": pl.Series(["x@y.com", "a"], dtype=pl.Categorical),
        "lst": [[1], [2]],
        "blank": ["", "   "],
    })
    found = screen(df)
    assert [(f.column, f.kind) for f in found] == [("cat", "email")]
    assert screen(pl.DataFrame()) == []
    assert screen(pl.DataFrame({"notes": []}, schema={"notes": pl.String})) == []


def test_screen_rejects_non_dataframes():
    with pytest.raises(TypeError):
        screen({"a": ["x"]})  # type: ignore[arg-type]


def test_screen_does_not_mutate_input():
    df = pl.DataFrame({"notes": ["Mr Smith", "LN1 3AB"]})
    before = df.clone()
    screen(df)
    assert df.equals(before)


def test_long_pathological_text_is_fast():
    # Guards against regex backtracking blow-ups in the Python name check.
    nasty = "John A" + "a" * 20000 + "1 Mr B" + "b" * 20000 + "2 " + "Smith-" * 2000
    screen_values([nasty] * 3)


def test_large_upload_screens_correctly():
    n = 30_000
    df = pl.DataFrame({
        "location": [f"On or near {w} Road" for w in ("Upsall", "Victoria", "Mill")] * (n // 3),
        "count": [str(i % 997) for i in range(n)],
        "notes": ["nothing to see"] * (n - 1) + ["ring 07700 900123"],
    })
    found = screen(df)
    assert [(f.column, f.kind, f.rows) for f in found] == [("notes", "phone", [n])]


# --------------------------------------------------------------------------------------
# Transforms
# --------------------------------------------------------------------------------------

def test_drop_column():
    df = pl.DataFrame({"a": [1], "surname": ["x"]})
    out = pii.drop_column(df, "surname")
    assert out.columns == ["a"] and df.columns == ["a", "surname"]


def test_postcode_transforms():
    df = pl.DataFrame({"pc": ["LN1 3AB", "ln13ab", " SW1A 1AA ", "LN1", "LN1 3", None, "Lives at LN2 4HT now",
                              "LN1-3AB", "B2 1st floor"]})
    assert pii.postcode_to_outward(df, "pc")["pc"].to_list() == [
        "LN1", "LN1", "SW1A", "LN1", "LN1 3", None, "Lives at LN2 now", "LN1", "B2 1st floor"]
    assert pii.postcode_to_sector(df, "pc")["pc"].to_list() == [
        "LN1 3", "LN1 3", "SW1A 1", "LN1", "LN1 3", None, "Lives at LN2 4 now", "LN1 3", "B2 1st floor"]
    assert df["pc"][0] == "LN1 3AB"  # input untouched
    assert "postcode_full" not in kinds(screen(pii.postcode_to_sector(df, "pc")))


def test_date_to_month_strings():
    df = pl.DataFrame({"d": ["12/03/2019", "2019-03-12", "3 March 1985", "Tuesday 12th March 2019",
                             "March 12, 2019", "12-Mar-19", "2019-03-12T10:00:00", "31/12/1999 23:59",
                             "2019-03", None, "not a date"]})
    assert pii.date_to_month(df, "d")["d"].to_list() == [
        "2019-03", "2019-03", "1985-03", "2019-03", "2019-03", "2019-03", "2019-03", "1999-12",
        "2019-03", None, "not a date"]


def test_date_to_month_temporal_and_clears_finding():
    df = pl.DataFrame({"when": [date(2019, 3, 12), None], "at": [datetime(2020, 1, 31, 9), datetime(2020, 2, 2)]})
    out = pii.date_to_month(pii.date_to_month(df, "when"), "at")
    assert out["when"].to_list() == ["2019-03", None]
    assert out["at"].to_list() == ["2020-01", "2020-02"]
    assert screen(out) == []
    text = pl.DataFrame({"incident_date": ["12/03/2019", "13/03/2019"]})
    assert screen(pii.date_to_month(text, "incident_date")) == []


def test_age_to_band():
    df = pl.DataFrame({"age": [0, 9, 10, 17, 18, 24, 25, 34, 35, 49, 50, 64, 65, 101, None, -1]})
    assert pii.age_to_band(df, "age")["age"].to_list() == [
        "0-9", "0-9", "10-17", "10-17", "18-24", "18-24", "25-34", "25-34", "35-49", "35-49",
        "50-64", "50-64", "65+", "65+", None, None]
    s = pl.DataFrame({"age": ["17", " 18 ", "unknown", None, "17.9"]})
    assert pii.age_to_band(s, "age")["age"].to_list() == ["10-17", "18-24", None, None, "10-17"]
    assert pii.age_to_band(df, "age", bands=(18, 65))["age"].to_list()[:4] == [None, None, None, None]
    assert pii.age_to_band(pl.DataFrame({"age": [18, 70]}), "age", bands=(18, 65))["age"].to_list() == ["18-64", "65+"]
    with pytest.raises(ValueError):
        pii.age_to_band(df, "age", bands=(10, 5))


def test_coordinates_to_lsoa():
    centroids = pl.DataFrame({"lsoa_code": ["E01000001", "E01000002", "E01000003"],
                              "lon": [-0.540, -0.500, -0.600], "lat": [53.230, 53.200, 53.250]})
    df = pl.DataFrame({"id": [1, 2, 3, 4], "lon": [-0.541, -0.499, None, -0.59],
                       "lat": [53.231, 53.201, 53.2, 53.249]})
    out = pii.coordinates_to_lsoa(df, "lon", "lat", centroids)
    assert out.columns == ["id", "lsoa_code"]
    assert out["lsoa_code"].to_list() == ["E01000001", "E01000002", None, "E01000003"]
    assert df.columns == ["id", "lon", "lat"]
    far = pl.DataFrame({"lon": [10.0], "lat": [60.0]})
    assert pii.coordinates_to_lsoa(far, "lon", "lat", centroids, max_km=5)["lsoa_code"].to_list() == [None]
    # Longitude is shrunk by cos(latitude): 0.03 deg east is nearer than 0.025 deg north at 53N.
    tricky = pl.DataFrame({"lon": [0.03], "lat": [0.0 + 53.0]})
    c2 = pl.DataFrame({"lsoa_code": ["EAST", "NORTH"], "lon": [0.06, 0.03], "lat": [53.0, 53.025]})
    assert pii.coordinates_to_lsoa(tricky, "lon", "lat", c2)["lsoa_code"].to_list() == ["EAST"]
    with pytest.raises(ValueError):
        pii.coordinates_to_lsoa(df.with_columns(lsoa_code=pl.lit("x")), "lon", "lat", centroids)


def test_transform_registry_and_suggestions():
    assert set(pii.TRANSFORMS) == {"drop_column", "postcode_to_outward", "postcode_to_sector",
                                   "date_to_month", "age_to_band", "coordinates_to_lsoa"}
    for name, fn in pii.TRANSFORMS.items():
        assert callable(fn)
        desc = pii.TRANSFORM_DESCRIPTIONS[name]
        assert desc and "\n" not in desc
    every_kind = set(pii.KIND_LABELS) | {"name_column", "dob_column", "address_column",
                                         "contact_column", "identifier_column"}
    for kind in every_kind:
        suggestion = pii.suggest_transform(Finding("c", kind, [], 0, "", ""))
        assert suggestion in pii.TRANSFORMS, kind
    assert pii.suggest_transform(Finding("c", "postcode_full", [], 0, "", "")) == "postcode_to_sector"
    assert pii.suggest_transform(Finding("c", "exact_date", [], 0, "", "")) == "date_to_month"
    assert pii.suggest_transform(Finding("c", "nhs_number", [], 0, "", "")) == "drop_column"
    assert pii.suggest_transform(Finding("c", "no_such_kind", [], 0, "", "")) is None


def test_applying_suggestions_clears_every_finding():
    df = pl.DataFrame({
        "surname": ["Smith", "Jones"],
        "postcode": ["LN1 3AB", "LN2 4HT"],
        "incident_date": ["12/03/2019", "2019-03-14"],
        "notes": [f"NHS {VALID_NHS}", "fine"],
        "location": ["On or near Upsall Road", "On or near Supermarket"],
    })
    for _ in range(10):
        found = screen(df)
        if not found:
            break
        f = found[0]
        df = pii.TRANSFORMS[pii.suggest_transform(f)](df, f.column)
    assert screen(df) == []
    assert df.columns == ["postcode", "incident_date", "location"]
    assert df["postcode"].to_list() == ["LN1 3", "LN2 4"]
    assert df["incident_date"].to_list() == ["2019-03", "2019-03"]


# --------------------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------------------

_fragments = st.sampled_from([
    "Mr ", "John ", "Smith", VALID_NHS, "LN1 3AB", "12 ", " High Street", "@", "x@y.com", "07700 900123",
    "/", "12/03/", "2019", "On or near ", "AB123456C", ",", " ", "\n", "’", "٣",
])
_cells = st.one_of(st.none(), st.lists(st.one_of(st.text(max_size=30), _fragments), max_size=6).map("".join))
_SOFT_NAME_KINDS = {"name_column", "dob_column", "address_column", "contact_column", "identifier_column"}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    columns=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=3, unique=True),
    cells=st.lists(_cells, min_size=1, max_size=8),
)
def test_screen_never_raises_on_arbitrary_text(columns, cells):
    df = pl.DataFrame({c: cells for c in columns}, schema={c: pl.String for c in columns})
    found = screen(df)
    for f in found:
        assert isinstance(f, Finding)
        assert f.column in columns
        assert all(1 <= r <= len(cells) for r in f.rows)
        assert f.rows == sorted(f.rows) and len(f.rows) <= 20
        assert f.count >= len(f.rows)
        assert f.message
        if f.kind in _SOFT_NAME_KINDS:
            continue
        for r in f.rows:
            cell = cells[r - 1].strip()
            # The example never echoes a flagged cell back whole.
            assert not (cell and "*" not in cell and cell in f.example), (cell, f.example)


@settings(max_examples=40, deadline=None)
@given(prefix=st.text(max_size=20), suffix=st.text(max_size=20))
def test_embedded_nhs_number_is_found_and_masked(prefix, suffix):
    # Separate the number from its surroundings so it is a whole token.
    cell = f"{prefix} {VALID_NHS} {suffix}"
    f = one(screen_values([cell]), "nhs_number")
    assert f.rows == [1]
    assert VALID_NHS not in f.example


@pytest.mark.parametrize("heading", ["^[$", "^$", "^nhs.*$", "^(a|b)$"])
def test_screen_survives_headings_polars_reads_as_regex(heading):
    """Found by the property test above: Polars treats a name like "^…$" as a regex in some
    Series methods, so screening an upload with such a heading raised instead of reporting."""
    df = pl.DataFrame({heading: [VALID_NHS, None, "plain"]}, schema={heading: pl.String})
    found = screen(df)
    assert [f.kind for f in found if f.column == heading] == ["nhs_number"]
