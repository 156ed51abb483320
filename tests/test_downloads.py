"""Page downloads carry their context: an Excel workbook whose first sheet is the table as shown
and whose second ('About this file') holds the filters, the as-at dates and source of each
dataset and how the figures were protected. Captured from the real page run (AppTest), at the
point the bytes are handed to the download button."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from apptest_helpers import demo_area, go, login

from csp import export, queries, store
from csp.ui import downloads


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with demo_area(tmp_path_factory, "demo_downloads"):
        yield


@pytest.fixture
def offered(monkeypatch):
    """Every file a page offers for download: {file name: bytes}."""
    files = {}
    real = downloads.offer

    def capture(label, data, filename, *args, **kwargs):
        files[filename] = data
        return real(label, data, filename, *args, **kwargs)

    monkeypatch.setattr(downloads, "offer", capture)
    return files


def sheets(data: bytes) -> tuple[list[list], dict[str, str]]:
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Data", "About this file"]
    rows = [list(r) for r in wb["Data"].iter_rows(values_only=True)]
    about = {k: v for k, v in wb["About this file"].iter_rows(min_row=2, values_only=True)}
    return rows, about


def test_neighbourhood_downloads_carry_ward_as_at_and_protection(demo, offered):
    from csp import users

    at = go(login("officer.housing"), "neighbourhood")
    assert not at.exception, at.exception
    assert "neighbourhood_comparison.xlsx" in offered, sorted(offered)
    rows, about = sheets(offered["neighbourhood_comparison.xlsx"])
    assert rows[0][0] == "category" and len(rows) > 2
    ward = at.selectbox(key="ward").value
    assert about["Filter: Ward"].endswith(f"({ward})")
    assert about["Filter: Comparator"].startswith("the partnership area")  # policy: partnership_comparator
    # as-at dates of what was read: the published version's coverage, read from the store
    meta = store.current("crime").meta
    source = about["Source: " + export_title("crime")]
    assert f"data held {meta['coverage']['first']} to {meta['coverage']['last']}" in source
    assert store.current("crime").version in source
    # how it was protected, as the query layer applied it for this user
    user = users.get_user("officer.housing")
    res = queries.run(user, "neighbourhood_summary", {"ward": ward})
    rule = res.rules["crime"]
    protection = about["Protection: " + export_title("crime")]
    assert protection.startswith(export.METHOD_WORDS[rule.method])
    if rule.threshold:
        assert f"threshold {rule.threshold}" in protection
    assert about["Prepared for"].startswith(user.name)
    from csp.indicators import scope_label
    assert about["Area scope"] == scope_label(user)


def test_a_url_filter_is_named_in_the_download(demo, offered):
    at = login("board.police")
    at.query_params["area"] = "E05999009"
    at = go(at, "crime")
    assert not at.exception, at.exception
    crime = {k: v for k, v in offered.items() if k.startswith("crime")}
    assert crime, sorted(offered)
    for name, data in crime.items():
        _, about = sheets(data)
        assert about.get("Filter: Area", "").startswith("Marsh End"), (name, about)


def test_text_cells_never_become_formulas():
    import polars as pl
    from csp.queries import Result

    frame = pl.DataFrame({"crime_type": ["=HYPERLINK(\"x\")", "Burglary"], "crimes": [3, 12]})
    res = Result(queries.get("crime_by_type"), frame, pl.DataFrame({"crimes": [False, False]}), 5, {})
    rows, about = sheets(export.to_xlsx(res, [("Title", "=1+1")]))
    wb = load_workbook(io.BytesIO(export.to_xlsx(res, [])))
    cell = wb["Data"]["A2"]
    assert cell.data_type == "s" and cell.value == "=HYPERLINK(\"x\")" and cell.quotePrefix
    assert rows[2] == ["Burglary", 12]  # numbers stay numbers
    assert about["Title"] == "=1+1"


def export_title(dataset: str) -> str:
    from csp import catalog
    return catalog.contract(dataset).title


def test_an_area_outside_the_scope_in_the_url_is_not_named_in_the_download(demo, offered):
    at = login("officer.housing")
    at.query_params["area"] = "E05999017"  # St Botolph's, outside their wards
    at = go(at, "crime")
    assert not at.exception, at.exception
    assert offered
    for name, data in offered.items():
        rows, about = sheets(data)
        text = " ".join(str(v) for v in list(about.values()) + [c for r in rows for c in r] if v)
        assert "E05999017" not in text and "Botolph" not in text, name
