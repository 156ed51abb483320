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
