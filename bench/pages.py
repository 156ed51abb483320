"""Full page runs through Streamlit's AppTest, logged in through the real form, app.py's gate
running on every run (as tests/conftest.py's shim arranges for the tests).

For each page: *first view* (query cache cleared, a full script run), *filter change* (another
of the named periods chosen, e.g. the latest 12 months instead of 24: the page's data queries
miss the cache, the filter choices hit it) and *revisit* (the first period chosen again: every
query hits the cache).
"""
from __future__ import annotations

import importlib
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
BENCH_PAGES = ("crime", "asb", "overview")  # the pages issue 6 names, where they exist


@contextmanager
def server_like_pages():
    """AppTest resets Streamlit's legacy pages/ flag before each run; the real server leaves that
    mode once app.py calls st.navigation. Same idea as tests/conftest.py: keep the server's
    setting, so every run goes through app.py's login gate and navigation."""
    from streamlit.runtime import pages_manager
    from streamlit.testing.v1 import app_test

    original = app_test.PagesManager

    class ServerLikePagesManager(pages_manager.PagesManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            pages_manager.PagesManager.uses_pages_directory = False

    app_test.PagesManager = ServerLikePagesManager
    try:
        yield
    finally:
        app_test.PagesManager = original


@contextmanager
def recording(calls: list):
    """Record every (query, params) a page runs through csp.queries.run, in order."""
    from csp import queries

    original = queries.run

    def run(user, name, params=None):
        calls.append((name, dict(params or {})))
        return original(user, name, params)

    queries.run = run
    try:
        yield calls
    finally:
        queries.run = original


def login(username: str, password: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=300).run()
    inputs = {t.label: t for t in at.text_input}
    inputs["Username"].input(username)
    inputs["Password"].input(password)
    at.button[0].click()
    at.run()
    # The landing page may itself fail; that is reported per page by measure(), not here.
    if not [i for i in at._registered_pages.values() if i.get("page_name") != "Log in"]:
        raise RuntimeError(f"bench could not log in as {username}")
    return at


def goto(at, url_path: str, title: str = "") -> None:
    """Select a page registered by st.navigation. Pages here are callables (module.render), which
    AppTest.switch_page cannot address by file, so pick the page's hash by its URL path."""
    for page_hash, info in at._registered_pages.items():
        # The default (first) page is registered with an empty URL path.
        if info.get("url_pathname") == url_path or (title and info.get("page_name") == title):
            at._page_hash = page_hash
            return
    raise KeyError(url_path)


class PageError(RuntimeError):
    pass


def _timed_run(at) -> float:
    t0 = time.perf_counter()
    at.run()
    secs = time.perf_counter() - t0
    if at.exception:
        # Streamlit redacts the message shown in the page; the traceback is in the log (stderr).
        raise PageError(f"page raised an exception (traceback in the log): {at.exception[0].message}")
    return secs


def measure(username: str, password: str, repeat: int) -> tuple[dict, dict]:
    """For one user: ({page: {"first_view": [s...], "filter_change": [...], "revisit": [...]}
    or {"error": message}}, {page: [(query, params), ...] run on first view})."""
    from pages import PAGES

    out: dict[str, dict[str, list[float]]] = {}
    calls: dict[str, list] = {}
    with server_like_pages():
        at = login(username, password)
        for spec in PAGES:
            if spec.url_path not in BENCH_PAGES:
                continue
            try:
                goto(at, spec.url_path, spec.title)
            except KeyError:  # not in this user's navigation
                continue
            importlib.import_module(f"pages.{spec.module}")
            with recording([]) as seen:
                at.run()  # land on the page once (imports, first Plotly render) before timing
            calls[spec.url_path] = list({(n, repr(sorted(p.items()))): (n, p) for n, p in seen}.values())
            times = {"first_view": [], "filter_change": [], "revisit": []}
            try:
                _repeat_runs(at, times, repeat)
            except PageError as e:
                out[spec.url_path] = {"error": str(e)[:500]}
                continue
            out[spec.url_path] = {k: v for k, v in times.items() if v}
    return out, calls


def _repeat_runs(at, times: dict, repeat: int) -> None:
    from csp import queries

    for _ in range(repeat):
        queries.clear_cache()
        times["first_view"].append(_timed_run(at))
        # The shared period filter: a choice of named periods (csp.protection.periods).
        boxes = [b for b in at.selectbox if b.key == "period"]
        if not boxes or len(boxes[0].options) < 2:  # no period filter: first view only
            continue
        first = boxes[0].index
        boxes[0].select_index(1 if first == 0 else 0)
        times["filter_change"].append(_timed_run(at))
        [b for b in at.selectbox if b.key == "period"][0].select_index(first)
        times["revisit"].append(_timed_run(at))
