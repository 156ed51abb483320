"""Pages through Streamlit's AppTest: the login gate and the Crime page on the tiny fixture."""
from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import across_views, go, login, table_with
from protection_oracle import ons_counts, ons_total, published_rows

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


@pytest.fixture
def app_env(tiny, monkeypatch):
    monkeypatch.setenv("CSP_COOKIE_KEY", "test-cookie-key-9f3Kq2LmZ7xW4vB8nR1pY6dH0sJ5gTcE")
    return tiny


def ward_table(at: AppTest):
    return table_with(at, "ward_code")


def data_elements(at: AppTest) -> int:
    return len(at.dataframe) + len(at.metric) + len(at.get("plotly_chart")) + len(at.table)


def test_logged_out_shows_login_and_no_data(app_env):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert data_elements(at) == 0


def test_logged_out_page_url_shows_login(app_env):
    # Logged out, every page's URL answers with the login form (so a deep link survives logging
    # in) and nothing else: no page code runs.
    from pages import PAGES

    for spec in PAGES:
        at = go(AppTest.from_file(APP, default_timeout=30), spec.url_path)
        assert not at.exception
        assert [t.label for t in at.text_input] == ["Username", "Password"], spec.url_path
        assert data_elements(at) == 0 and len(at.title) == 1 and at.title[0].value == "CSP Insight"


def test_wrong_password_is_refused_without_saying_why(app_env):
    at = login("council.board", "wrong-password")
    assert not at.exception
    assert [e.value for e in at.error] == ["Username or password is incorrect."]
    unknown = login("nobody", "wrong-password")
    assert [e.value for e in unknown.error] == ["Username or password is incorrect."]
    assert data_elements(at) == 0


def test_crime_page_shows_expected_figures(app_env):
    at = login("council.board", app_env["password"])
    at = go(at, "crime")
    assert not at.exception, at.exception
    assert at.title[0].value == "Crime"
    metrics = {m.label: m.value for m in at.metric}
    # 12 months to 2024-02: everything dated 2024 = 7+2+4+9+1+12+3 = 38; the 12 before: 20+5 = 25,
    # each perturbed for the council as the ONS method gives for the same records and keys.
    rows = published_rows("crime")
    cur = ons_total(rows.filter(pl.col("month") > pl.date(2023, 2, 1)), "ptable_t5", 5)
    prev = ons_total(rows.filter(pl.col("month") <= pl.date(2023, 2, 1)), "ptable_t5", 5)
    assert metrics["Crimes, 12 months to Feb 2024"] == f"{cur:,}"
    assert metrics["Previous 12 months"] == f"{prev:,}"
    # The 12 months before Feb 2024 are only 1 month inside the data held (from Feb 2023), so no
    # change is claimed, and the page says why.
    assert not at.metric[0].delta
    assert any("only 1 of the 12 months before" in c.value for c in at.caption)
    wards = ward_table(at)
    got = dict(zip(wards["ward_name"], wards["crimes"].astype(str)))
    # The latest 12 months (2023-03..2024-02) by default: 24 months back is before the data
    # starts. No location (3 crimes) is its own row, perturbed like any other cell.
    names = {"E05000901": "Abbey", "E05000902": "Bridge", "E05000903": "Canal", None: "No location given"}
    latest = rows.filter(pl.col("month") >= pl.date(2023, 3, 1))
    want = {names[k[0]]: ("low" if v is None else str(v))
            for k, v in ons_counts(latest, ["ward_code"], "ptable_t5", 5).items()}
    assert got == want and got["No location given"] in ("low", "5", "6", "7", "8")  # 3 + noise
    # The trend and the by-type charts; no maps (the fixture has no boundaries) and no outcomes.
    assert len(across_views(at, "plotly_chart")) == 2


def test_practitioner_sees_only_their_ward(app_env):
    at = login("housing.officer", app_env["password"])
    at = go(at, "crime")
    assert not at.exception, at.exception
    wards = ward_table(at)
    assert list(wards["ward_name"]) == ["Abbey"]
    assert [o for o in at.selectbox(key="area").options] == ["Your ward"]  # one ward: nothing to pick


def test_logout_returns_to_login(app_env):
    at = login("council.board", app_env["password"])
    logout = [b for b in at.button if b.label == "Log out"]
    logout[0].click()
    at.run()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert data_elements(at) == 0


def test_missing_cookie_key_refuses_to_start(tiny, monkeypatch):
    monkeypatch.delenv("CSP_COOKIE_KEY", raising=False)
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert "cannot start" in at.error[0].value and "CSP_COOKIE_KEY" in at.error[0].value
    assert len(at.text_input) == 0
    monkeypatch.setenv("CSP_COOKIE_KEY", "too-short")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert "at least 32" in at.error[0].value


def test_a_page_the_user_may_not_open_says_so_in_plain_words(app_env, tmp_path, monkeypatch):
    """A deep link to a page outside the user's role or sharing answers with "You don't have
    access to this page" and why, in words (no dataset or role identifiers), and shows no data."""
    import re

    from csp import access
    from pages import PAGES

    housing = app_env["users"]["housing"]
    upload = next(s for s in PAGES if s.action == "upload")
    assert not access.can(housing, upload.action)
    at = go(login("housing.officer", app_env["password"]), upload.url_path)
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["You don't have access to this page"]
    text = " ".join(m.value for m in at.markdown)
    assert f"**{upload.title}** is not available to you" in text
    assert "Your role (practitioner) does not include uploading data" in text
    assert data_elements(at) == 0 and not at.file_uploader

    # A dashboard whose data is not shared with the partner at all (crime withdrawn from health
    # in a copy of the policy): the page answers with the data's title, not its identifier.
    from csp import config

    text = config.policy_path().read_text()
    line = 'health = { geography = "district", protection = "suppress", threshold = 5, tiers = ["public"] }\n'
    at_line = text.index(line, text.index("[datasets.crime.partners]"))
    policy = tmp_path / "policy.toml"
    policy.write_text(text[:at_line] + text[at_line + len(line):])
    monkeypatch.setenv("CSP_POLICY", str(policy))
    health = app_env["users"]["health"]
    unshared = [s for s in PAGES if s.action == "view_dashboards" and s.datasets
                and all(access.grant(health, d) is None for d in s.datasets)]
    assert "crime" in [s.url_path for s in unshared]  # (and partners' datasets health is not granted)
    at = go(login("health.board", app_env["password"]), "crime")
    assert [t.value for t in at.title] == ["You don't have access to this page"]
    text = " ".join(m.value for m in at.markdown)
    assert "does not share police recorded crime" in text and "with the Health partner" in text
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), text  # no internal names such as crime_cube
    assert data_elements(at) == 0


def test_login_page_in_demo_mode_says_where_the_demo_logins_are(app_env, monkeypatch):
    import re

    from csp import users

    monkeypatch.setenv("CSP_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception, at.exception
    note = " ".join(i.value for i in at.info)
    assert '"Demo logins"' in note and f"`{users.DEMO_PASSWORD}`" in note
    readme = (ROOT / "README.md").read_text()
    assert f"### Demo logins (password for all: `{users.DEMO_PASSWORD}`)" in readme
    named = re.findall(r"`([a-z]+\.[a-z]+)`", note)
    demo = {u[0] for u in users.DEMO_USERS}
    assert named and set(named) <= demo  # the examples are real demo logins
    assert all(f"| `{u}` |" in readme for u in named)  # and the README lists them
    assert data_elements(at) == 0
