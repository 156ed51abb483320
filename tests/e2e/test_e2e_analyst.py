"""Journey 2, analyst: upload a month of police.uk street-level data for the demo area → the file
is rejected → upload the fixed file → publish → the Crime page shows the new month → roll back →
it is gone."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from playwright.sync_api import expect

from .e2e_helpers import choose, file_input, login, open_page, rerun, snap

ROOT = Path(__file__).resolve().parents[2]
USER = "analyst.police"
HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
          "Crime type,Last outcome category,Context")
CRIME = re.compile(r"^Police recorded crime")
TYPES = ["Burglary", "Shoplifting", "Vehicle crime", "Violence and sexual offences", "Anti-social behaviour"]


def street_csv(month: str, bad_row: int | None = None) -> str:
    """A small police.uk street-level file for Fenmouth's demo LSOAs; ``bad_row`` gets an
    impossible month, which validation must reject."""
    lines = [HEADER]
    for i in range(60):
        ctype = TYPES[i % len(TYPES)]
        crime_id = "" if ctype == "Anti-social behaviour" else f"{i + 1:064x}"
        m = "2026-13" if i == bad_row else month
        lines.append(f"{crime_id},{m},Fenmouth Constabulary,Fenmouth Constabulary,0.01,52.9,"
                     f"On or near High Street,E01999{i % 30 + 1:03d},Fenmouth {i % 30 + 1:03d}A,{ctype},,")
    return "\n".join(lines) + "\n"


def next_month(label: str) -> str:
    d = dt.datetime.strptime(label, "%b %Y").date()
    y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return dt.date(y, m, 1).strftime("%Y-%m")


def crime_period_end(page) -> str:
    """The latest month the Crime page's headline covers ("Crimes, 12 months to Sep 2026")."""
    label = page.get_by_test_id("stMetricLabel").filter(has_text=re.compile(r"12 months to"))
    expect(label.first).to_be_visible()
    return re.search(r"12 months to (\w{3} \d{4})", label.first.inner_text()).group(1)


def test_upload_fix_publish_and_roll_back(base_url, page, app_data, tmp_path):
    from csp import store

    serving_before = store.current_version_id("crime")
    login(page, base_url, USER)
    open_page(page, "Crime")
    last = crime_period_end(page)
    new = next_month(last)
    new_label = dt.datetime.strptime(new, "%Y-%m").strftime("%b %Y")

    open_page(page, "Upload", "Upload data")
    choose(page, "Dataset", CRIME)
    uploader = file_input(page)

    bad = tmp_path / f"{new}-fenmouth-street.csv"
    bad.write_text(street_csv(new, bad_row=3))
    rerun(page, lambda: uploader.set_input_files(bad))
    expect(page.get_by_text(re.compile(r"problem\(s\) must be fixed"))).to_be_visible()
    expect(page.get_by_role("button", name="Publish", exact=True)).to_have_count(0)
    snap(page, "upload-rejected")

    good = tmp_path / "fixed" / bad.name
    good.parent.mkdir()
    good.write_text(street_csv(new))
    rerun(page, lambda: uploader.set_input_files(good))
    expect(page.get_by_text("Validation passed")).to_be_visible()
    rerun(page, page.get_by_role("button", name="Publish", exact=True).click)
    expect(page.get_by_text(re.compile(r"^Published .*crime"))).to_be_visible()
    snap(page, "upload-published")
    published = store.current_version_id("crime")
    assert published != serving_before

    open_page(page, "Crime")
    assert crime_period_end(page) == new_label
    expect(page.get_by_test_id("stMetricLabel").filter(has_text=f"12 months to {new_label}")).to_be_visible()

    open_page(page, "Upload", "Upload data")
    choose(page, "Dataset", CRIME)
    # Versions read as people count them ("Version 1"), not as stored ids.
    expect(page.get_by_role("combobox", name="Roll back to")).to_have_value(
        store.version_words(serving_before).capitalize())
    rerun(page, page.get_by_role("button", name="Roll back", exact=True).click)
    # Nothing changes until confirmed; the street file's crime and ASB go back together.
    expect(page.get_by_text(re.compile(r"^Roll back\? Police recorded crime.*: version .* Anti-social "
                                       r"behaviour incidents: version "))).to_be_visible()
    assert store.current_version_id("crime") == published
    rerun(page, page.get_by_role("button", name="Confirm rollback", exact=True).click)
    expect(page.get_by_text(re.compile(r"^Rolled back: "))).to_be_visible()
    assert store.current_version_id("crime") == serving_before

    open_page(page, "Crime")
    assert crime_period_end(page) == last
    labels = page.get_by_test_id("stMetricLabel")
    expect(labels.filter(has_text=f"12 months to {last}")).to_be_visible()
    expect(labels.filter(has_text=new_label)).to_have_count(0)
