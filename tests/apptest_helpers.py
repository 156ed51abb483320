"""Shared AppTest helpers: logging in through the form, going to a page, a demo-area fixture."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

APP = str(Path(__file__).resolve().parents[1] / "app.py")
DEMO_PASSWORD = "fenmouth-demo"


def login(username: str, password: str = DEMO_PASSWORD, timeout: float = 60) -> AppTest:
    """A fresh session, logged in through the login form as a person would."""
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    inputs = {t.label: t for t in at.text_input}
    inputs["Username"].input(username)
    inputs["Password"].input(password)
    at.button[0].click()
    return at.run()


def go(at: AppTest, url_path: str) -> AppTest:
    """Open a page as the browser's URL would. Pages are st.Page(callable, url_path=...), which
    AppTest.switch_page cannot match (it wants a file); the session routes by the hash of the
    url_path. An unlisted page falls back to the landing page, so tests check what they see."""
    at._page_hash = calc_hash(url_path)
    return at.run()


@contextmanager
def demo_area(tmp_path_factory, name: str = "demo"):
    """The demo area published in a temporary data directory, with the demo users (cheap bcrypt)."""
    from csp import demo as demo_mod, queries, users

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(users, "BCRYPT_ROUNDS", 4)
        mp.setenv("CSP_DATA_DIR", str(tmp_path_factory.mktemp(name)))
        mp.setenv("CSP_RECORD_KEY_SECRET", "test-record-key-secret")  # the same noise every run
        mp.setenv("CSP_COOKIE_KEY", "test-cookie-key-9f3Kq2LmZ7xW4vB8nR1pY6dH0sJ5gTcE")
        mp.delenv("CSP_DEMO", raising=False)
        queries.clear_cache()
        demo_mod.publish_demo()
        users.ensure_demo_users()
        yield
        queries.clear_cache()


# The incident dashboards draw one section at a time, in tabs bound to ?view= (pages/dashboards/
# incident.py); the tests open each section as a person clicking its tab would.
def views(at: AppTest) -> list[str]:
    """The labels of the page's section tabs (the first tab row of the page), or [] if none."""
    def first(node):
        if getattr(node, "type", None) == "tab_container":
            return node
        for child in (node.children.values() if isinstance(getattr(node, "children", None), dict) else ()):
            found = first(child)
            if found is not None:
                return found
        return None
    tabs = first(at.main)
    return [t.label for t in tabs.children.values()] if tabs is not None else []


def open_view(at: AppTest, label: str) -> AppTest:
    """Open one section tab as a link to it does (?view=<label>; the tabs are bound to the URL).
    AppTest cannot click a tab; the browser tests click them. Two AppTest quirks: a URL naming
    the first (default) tab is ignored, so that one is set through session state; and setting
    session state goes astray once another page's tabs have used the key, so the others go by
    the URL."""
    if label == views(at)[0]:
        at.query_params.pop("view", None)
        at.session_state["view"] = label
    else:
        at.query_params["view"] = label
    return at.run()


def each_view(at: AppTest):
    """Open every section tab in turn, yielding the app with that section drawn (once, with the
    page as it is, when the page has no section tabs)."""
    labels = views(at)
    if not labels:
        yield at
        return
    for label in labels:
        yield open_view(at, label)


def across_views(at: AppTest, kind: str) -> list:
    """Every element of a kind ('dataframe', 'plotly_chart', 'info' ...) over all the page's
    section tabs."""
    return [e for view in each_view(at) for e in view.get(kind)]


def table_with(at: AppTest, column: str):
    """The first table with this column, opening the page's section tabs in turn to find it."""
    for view in each_view(at):
        for d in view.dataframe:
            if column in d.value.columns:
                return d.value
    raise AssertionError(f"no table with a {column} column in any section")
