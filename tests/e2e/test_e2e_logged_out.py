"""Journey 4, logged out: every page URL shows the login form and no data; five wrong passwords
lock the account (the right password is then refused too)."""
from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from .server import LOCKOUT_USER, Server
from .e2e_helpers import NAV, data_elements, login_form, snap, submit_login
from pages import PAGES

ROOT = Path(__file__).resolve().parents[2]
# Every registered page plus paths people might type or bookmark.
PAGE_PATHS = sorted({"/" + s.url_path for s in PAGES} | {"/", "/crime", "/asb", "/overview", "/upload", "/admin"})


def assert_login_only(page) -> None:
    login_form(page)
    expect(data_elements(page)).to_have_count(0)
    # Logged out, navigation offers nothing but the login page.
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    for spec in PAGES:
        expect(page.get_by_role("link", name=spec.title, exact=True)).to_have_count(0)


def test_every_page_url_shows_login_form_and_no_data(base_url, page):
    for path in PAGE_PATHS:
        page.goto(base_url + path)
        assert_login_only(page)
    snap(page, "login")


# Page modules live one level below pages/, so Streamlit's legacy pages/ mode has no script to
# run for a first deep link on a fresh server: it must be app.py's login gate that answers.
def test_first_visit_after_restart_to_a_deep_link_shows_login_form(e2e_data, browser, artifacts):
    """A fresh server whose very first visitor opens a page URL (a bookmark, after a deploy).

    Streamlit decides once per process whether the app uses the legacy ``pages/`` directory mode,
    and only app.py's st.navigation call turns that off; until someone opens the root URL, a deep
    link runs ``pages/<name>.py`` directly, outside app.py's login gate.
    """
    srv = Server(e2e_data, artifacts / "server-fresh.log")
    try:
        srv.wait_healthy()
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        try:
            page = ctx.new_page()
            page.goto(srv.url + "/crime")
            # Whichever comes first: the login form, or a navigation it should not have.
            form = page.get_by_role("textbox", name="Username")
            expect(form.or_(page.locator(NAV))).to_be_visible()
            try:
                assert form.is_visible(), "a logged-out deep link showed no login form"
                assert_login_only(page)
            except AssertionError:
                page.screenshot(path=str(artifacts / "failures" / "first_visit_deep_link.png"))
                raise
        finally:
            ctx.close()
    finally:
        srv.stop()


def test_five_wrong_passwords_lock_the_account(base_url, page):
    username, password = LOCKOUT_USER
    page.goto(base_url + "/")
    login_form(page)
    for attempt in range(5):
        submit_login(page, username, f"wrong-password-{attempt}")
        expect(page.get_by_text("Username or password is incorrect.")).to_be_visible()
    snap(page, "login-refused")
    # Locked: the right password is refused with the same message, and nothing is shown.
    submit_login(page, username, password)
    expect(page.get_by_text("Username or password is incorrect.")).to_be_visible()
    assert_login_only(page)
