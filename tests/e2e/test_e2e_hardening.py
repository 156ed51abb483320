"""Issue 14, finding 4, in a real browser against ``streamlit run serve.py``: a table's toolbar
offers no "Download as CSV" of its own; a page's CSV download is recorded in the audit trail as
it is served (each time it is fetched); its URL gives nothing after logging out, or to a file
nobody was offered; and the server keeps answering."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from playwright.sync_api import expect

from .e2e_helpers import has_login_cookie, login, logout, open_page, settle

USER = "analyst.police"


def served_downloads(app_data, target: str) -> list[dict]:
    from csp import audit

    return [r for r in audit.search(action="download", actor=USER) if r["target"] == target]


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_downloads_are_audited_when_served_and_refused_after_logout(base_url, page, context, app_data):
    login(page, base_url, USER)
    has_login_cookie(page)  # the second tab below logs in by cookie
    open_page(page, "Crime")
    button = page.get_by_role("button", name="Download monthly figures (CSV)").first
    expect(button).to_be_visible()
    target = "crime_monthly.csv"
    before = len(served_downloads(app_data, target))

    # The table's own toolbar has no download: client.disableDataExport.
    page.get_by_role("tab", name="Table").first.click()
    table = page.locator("[data-testid=stDataFrame]:visible").first
    table.scroll_into_view_if_needed()
    table.hover()
    expect(page.get_by_test_id("stElementToolbar").first).to_be_attached()
    expect(page.get_by_role("button", name="Download as CSV")).to_have_count(0)

    with page.expect_download() as info:
        button.click()
    download = info.value
    url = download.url
    assert download.suggested_filename == target and "/media/" in url
    assert download.path().read_bytes().startswith(b"month,")
    rows = served_downloads(app_data, target)
    assert len(rows) == before + 1
    details = json.loads(rows[0]["details"])
    assert details["served"] is True and details["query"] == "crime_monthly_total" and rows[0]["data_owner"] == "police"

    # Fetched again by URL while the session is live: served, and recorded again.
    assert page.request.get(url).status == 200
    assert len(served_downloads(app_data, target)) == before + 2

    # Log out in another tab: this tab still shows the page, so Streamlit still holds the file,
    # but the session that was offered it has ended. Its URL gives nothing, to the browser or to
    # anyone else, and nothing more is recorded; the server keeps answering.
    other = context.new_page()
    other.goto(base_url + "/")
    expect(other.get_by_role("button", name="Log out")).to_be_visible()
    settle(other)
    logout(other)
    assert page.request.get(url).status == 403
    assert status(url) == 403
    assert len(served_downloads(app_data, target)) == before + 2
    assert status(base_url + "/_stcore/health") == 200
