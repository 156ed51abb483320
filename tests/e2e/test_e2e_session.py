"""Journey 5, the re-login cookie: a reload keeps the session, a new tab shares it, and logging
out in one tab ends it in every tab (and the cookie is gone)."""
from __future__ import annotations

from playwright.sync_api import expect

from .e2e_helpers import (COOKIE, data_elements, has_login_cookie, heading, logged_in, login,
                         login_cookie_gone, login_form, logout, open_page, rerun, snap)

USER = "board.police"  # logging out revokes this user's sessions: no other journey uses it


def test_reload_keeps_session_and_logout_ends_it_in_every_tab(base_url, context):
    one = context.new_page()
    login(one, base_url, USER)
    open_page(one, "Crime")
    has_login_cookie(one)

    one.reload()
    logged_in(one)
    expect(heading(one, "Crime")).to_be_visible()

    two = context.new_page()
    two.goto(base_url + "/asb")
    logged_in(two)
    expect(heading(two, "Anti-social behaviour")).to_be_visible()
    snap(two, "asb")

    logout(one)
    expect(data_elements(one)).to_have_count(0)
    login_cookie_gone(one)
    assert COOKIE not in {c["name"] for c in context.cookies()}

    # The other tab, left open: its next click finds the session ended.
    nav = two.get_by_test_id("stSidebarNav").get_by_role("link", name="Crime", exact=True)
    rerun(two, nav.click)
    login_form(two)
    expect(two.get_by_text("Your session has ended")).to_be_visible()
    expect(data_elements(two)).to_have_count(0)
    # And neither tab gets back in by reloading.
    for tab in (one, two):
        tab.reload()
        login_form(tab)
        expect(data_elements(tab)).to_have_count(0)
