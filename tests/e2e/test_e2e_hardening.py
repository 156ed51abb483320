"""Issue 14, finding 4, in a real browser against ``streamlit run serve.py``: a table's toolbar
offers no "Download as CSV" of its own; a page's CSV download is recorded in the audit trail as
it is served (each time it is fetched); its URL gives nothing after logging out, or to a file
nobody was offered; and the server keeps answering."""
from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request

from playwright.sync_api import expect

from .e2e_helpers import file_input, has_login_cookie, heading, login, logout, open_page, settle

USER = "analyst.police"


def served_downloads(app_data, target: str | None) -> list[dict]:
    """The user's recorded downloads of this file (of any file when target is None)."""
    from csp import audit

    return [r for r in audit.search(action="download", actor=USER) if target in (None, r["target"])]


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_downloads_are_audited_when_served_and_refused_after_logout(base_url, page, context, app_data):
    login(page, base_url, USER)
    has_login_cookie(page)  # the second tab below logs in by cookie
    target = "crime_monthly.xlsx"
    before = len(served_downloads(app_data, target))
    recorded = len(served_downloads(app_data, None))
    # Drawing the button makes Streamlit fetch its file (to see that the URL answers): that is
    # not a download, gets no bytes, and is not recorded.
    with page.expect_response(lambda r: re.search(r"/media/.*\.xlsx$", r.url) is not None) as probe:
        open_page(page, "Crime")
    assert probe.value.status == 200 and probe.value.all_headers().get("content-length") == "0"
    button = page.get_by_role("button", name="Download monthly figures (Excel)").first
    expect(button).to_be_visible()
    assert page.evaluate("async (u) => (await (await fetch(u)).arrayBuffer()).byteLength",
                         probe.value.url) == 0
    assert len(served_downloads(app_data, None)) == recorded

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
    assert download.path().read_bytes().startswith(b"PK")  # an xlsx (zip) workbook
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


# ---- finding 1 through the running server -----------------------------------------------------


def _status_mb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) // 1024 for line in fh if line.startswith(field + ":"))


def test_hostile_uploads_leave_the_server_memory_and_answering(base_url, page, server, tmp_path):
    """Each hostile file, uploaded on the Upload page of the running server, is refused with a
    clear message; the server process's peak resident memory while it is handled (VmHWM, reset
    first) stays within 100 MB of what it was; the server answers throughout."""
    from tests.upload_fixtures import declared_xlsx, many_rows_parquet, wide_csv

    files = {"wide.xlsx": (declared_xlsx("A1:XFD8000"), "16,384 columns"),
             "huge.xlsx": (declared_xlsx("A1:XFD1048576"), "16,384 columns"),
             "rows.parquet": (many_rows_parquet(), "20,000,000 rows"),
             "wide.csv": (wide_csv(), "1,000,000 columns")}
    login(page, base_url, USER)
    open_page(page, "Upload", "Upload data")
    uploader = file_input(page)
    for i, (name, (data, said)) in enumerate(files.items()):
        path = tmp_path / name
        path.write_bytes(data)
        if i:  # each file on a freshly loaded Upload page, as a person starting again would
            page.goto(base_url + "/upload")
            expect(heading(page, "Upload data")).to_be_visible()
            settle(page)
            uploader = file_input(page)
        before = _status_mb(server.proc.pid, "VmRSS")
        with open(f"/proc/{server.proc.pid}/clear_refs", "w") as fh:
            fh.write("5")  # reset the peak to the current resident size
        t = time.monotonic()
        uploader.set_input_files(path)
        expect(page.get_by_text(re.compile(r"problem\(s\) must be fixed"))).to_be_visible()
        # This file's own message (the last one's may still be on screen), in the report's grid.
        expect(page.get_by_text(re.compile(re.escape(name) + ".*" + re.escape(said))).first).to_be_attached()
        seconds = time.monotonic() - t
        peak = _status_mb(server.proc.pid, "VmHWM")
        print(f"\n{name} ({len(data):,} bytes) on the running server: refused in {seconds:.1f} s; server "
              f"resident {before} MB -> peak {peak} MB (+{peak - before} MB)")
        assert peak - before <= 100
        assert status(base_url + "/_stcore/health") == 200
        settle(page)
