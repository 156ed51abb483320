"""Journey 3, practitioner (officer.housing, wards E05999001 and E05999002): Neighbourhood (or
Crime) offers only their wards; a URL naming another ward shows nothing from it, on screen or in
the downloaded workbook."""
from __future__ import annotations

import io
from urllib.parse import quote_plus

import polars as pl
import pytest
from playwright.sync_api import expect

from .e2e_helpers import NAV, has_login_cookie, heading, in_navigation, logged_in, login, open_page, open_view, snap
from pages import PAGES

USER = "officer.housing"
SCOPE = {"E05999001", "E05999002"}
OTHER = "E05999017"  # St Botolph's, the town-centre hotspot: plenty to leak if scoping failed


@pytest.fixture
def wards(app_data) -> pl.DataFrame:
    """Ward and LSOA codes and names from the published geography (read directly, not through
    the query layer under test)."""
    from csp import store

    return pl.read_parquet(store.current("geography").files).select(
        "lsoa_code", "ward_code", "ward_name").unique()


def area_options(page, name: str = "Area") -> list[str]:
    box = page.get_by_role("combobox", name=name)
    box.click()
    options = page.get_by_role("option")
    expect(options.first).to_be_visible()
    names = [t.strip() for t in options.all_inner_texts()]
    box.press("Escape")
    return names


def main_text(page) -> str:
    return page.get_by_test_id("stMain").inner_text()


def download_rows(page, button_name: str, artifacts, stem: str) -> tuple[list[dict], dict]:
    """The downloaded workbook's table (its 'Data' sheet) as rows, and its 'About this file'."""
    from openpyxl import load_workbook

    with page.expect_download() as info:
        page.get_by_role("button", name=button_name).click()
    path = artifacts / f"{stem}.xlsx"
    info.value.save_as(path)
    wb = load_workbook(io.BytesIO(path.read_bytes()))
    data = list(wb["Data"].iter_rows(values_only=True))
    about = dict(wb["About this file"].iter_rows(min_row=2, values_only=True))
    return [dict(zip(data[0], r)) for r in data[1:]], about


def test_practitioner_sees_only_their_wards(base_url, page, wards, artifacts):
    scope_names = sorted(wards.filter(pl.col("ward_code").is_in(SCOPE))["ward_name"].unique())
    other_name = wards.filter(pl.col("ward_code") == OTHER)["ward_name"][0]
    title = "Neighbourhood"

    login(page, base_url, USER)
    has_login_cookie(page)  # the deep links below log in by cookie
    open_page(page, title)
    offered = area_options(page, "Ward")
    assert sorted(offered) == scope_names
    snap(page, title.lower())

    # A URL naming a ward outside their scope (by code or by the name the filter writes into the
    # URL): the value is dropped and nothing of that ward shows. Crime last, for the CSV below.
    paths = ["/neighbourhood", "/crime"]
    for path in paths:
        box, param = ("Ward", "ward") if path == "/neighbourhood" else ("Area", "area")
        for value in (OTHER, quote_plus(other_name)):
            page.goto(f"{base_url}{path}?{param}={value}")
            logged_in(page)
            if path == "/crime":  # a practitioner's default page may be served at the root instead
                expect(heading(page, "Crime")).to_be_visible()
            shown = page.get_by_role("combobox", name=box).input_value()
            assert shown in scope_names + ["Your wards"], shown
            text = main_text(page)
            assert other_name not in text and OTHER not in text
    # Pages outside their role are not in their navigation, and their URLs say so in words.
    expect(page.locator(NAV).get_by_role("link").first).to_be_visible()
    hidden = [s for s in PAGES if not in_navigation(page, s.title)]
    for spec in PAGES:
        if spec.action in ("upload", "manage_users", "audit", "access_log", "data_quality"):
            assert spec in hidden, spec.title
    csv_page = page.url
    for spec in hidden:
            page.goto(f"{base_url}/{spec.url_path}")
            logged_in(page)
            expect(heading(page, "You don't have access to this page")).to_be_visible()
            assert f"{spec.title} is not available to you" in main_text(page)
    page.goto(csv_page)
    logged_in(page)
    open_view(page, "By ward")

    # Back on /crime?area=<other ward>: the ward table's download holds only their wards' rows.
    rows, about = download_rows(page, "Download ward table (Excel)", artifacts, "practitioner-crime-wards")
    assert rows, "the ward table is empty"
    codes = {r["ward_code"] for r in rows if r.get("ward_code")}
    assert codes and codes <= SCOPE, codes
    assert not any(other_name in str(v) for r in rows for v in r.values() if v)
    assert not any(other_name in str(v) or OTHER in str(v) for v in about.values() if v)
    assert any(k.startswith("Protection: ") for k in about) and "Area scope" in about
