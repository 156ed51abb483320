"""Real-browser fixtures: one app server for the whole run (demo area in a temporary data
directory, a fixed cookie key, not demo mode), one headless Debian chromium, and a fresh browser
context (own cookies) per test. Screenshots go to tests/artifacts/ (git-ignored): every page
once per run under pages/, and every open tab of a failing test under failures/."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .server import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LOCKOUT_USER, Server, run_cli


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the test item so fixture teardown can tell whether it failed.
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@pytest.fixture(scope="session")
def artifacts() -> Path:
    for sub in ("pages", "failures"):
        shutil.rmtree(ARTIFACTS / sub, ignore_errors=True)
        (ARTIFACTS / sub).mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def e2e_data(tmp_path_factory) -> Path:
    """The demo area and demo users, plus the lockout journey's own user."""
    d = tmp_path_factory.mktemp("e2e") / "data"
    env = {k: v for k, v in os.environ.items() if k != "CSP_DEMO"}
    env["CSP_DATA_DIR"] = str(d)
    run_cli(env, "demo")
    name, pw = LOCKOUT_USER
    run_cli(env, "users", "add", name, "--role", "board", "--partner", "council",
             "--password-stdin", stdin=pw + "\n")
    return d


@pytest.fixture(scope="session")
def server(e2e_data, artifacts):
    srv = Server(e2e_data, artifacts / "server.log")
    try:
        srv.wait_healthy()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test does)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=45_000)  # a loaded 2-core CI box renders slowly
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def base_url(server, browser) -> str:
    """The running app, warmed up by one visit to its root (see test_first_visit_* for why)."""
    from .e2e_helpers import login_form

    ctx = browser.new_context()
    ctx.set_default_timeout(45_000)
    page = ctx.new_page()
    page.goto(server.url + "/")
    login_form(page)
    ctx.close()
    return server.url


@pytest.fixture
def context(browser, request, artifacts):
    """A fresh browser context (own cookies and storage) per test; on failure every open tab
    is screenshotted into tests/artifacts/failures/."""
    from .e2e_helpers import new_context

    ctx = new_context(browser, viewport={"width": 1280, "height": 800}, accept_downloads=True)
    yield ctx
    failed = any(getattr(request.node, f"rep_{w}", None) and getattr(request.node, f"rep_{w}").failed
                 for w in ("setup", "call"))
    if failed:
        stem = re.sub(r"[^\w.-]+", "_", request.node.name)
        for i, page in enumerate(ctx.pages):
            try:
                page.screenshot(path=str(artifacts / "failures" / f"{stem}-tab{i}.png"), full_page=True)
            except Exception as e:  # a crashed tab must not hide the test's own failure
                print(f"screenshot of tab {i} failed: {e}", file=sys.stderr)
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def app_data(e2e_data, monkeypatch):
    """Point this test process at the server's data directory, so a test can ask the query layer
    (as a given user) what the browser should be showing."""
    from csp import queries

    monkeypatch.setenv("CSP_DATA_DIR", str(e2e_data))
    queries.clear_cache()
    yield e2e_data
    queries.clear_cache()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, from the npm package pinned in tests/e2e/package.json. `make test`
    installs it; run directly, the tests install it here (npm ci) when it is missing."""
    here = Path(__file__).parent
    script = here / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is missing: install Debian's npm (make test does), then npm ci in tests/e2e")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(here)], check=True,
                       capture_output=True, timeout=300)
    return script.read_text()
