"""Administrators: the user-management page opens for the admin, with its user table and form.
(test_e2e_practitioner checks that other roles cannot open it.)"""
from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from .e2e_helpers import login, open_page, snap

ROOT = Path(__file__).resolve().parents[2]


def test_admin_opens_user_management(base_url, page):
    login(page, base_url, "admin")
    open_page(page, "Users")
    main = page.get_by_test_id("stMain")
    expect(main.get_by_test_id("stDataFrame").first).to_be_visible()
    expect(main.get_by_role("button", name="Add user")).to_be_visible()
    snap(page, "admin-users")
