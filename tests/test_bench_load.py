"""The load test's websocket client (python -m bench.load --client ws) against a real server at a
tiny size: sessions log in by the re-login cookie a real form login set, click through the
pages and see them drawn; a session without a valid cookie sees only the login form and is not
counted as a page view. No timing is asserted (timings on a shared 2-core machine are not a test)."""
from __future__ import annotations

import asyncio
import concurrent.futures
import secrets
import time

import pytest

def run_async(coro):
    """asyncio.run on a thread of its own: the browser tests' sync Playwright may have left an
    event loop running on this one, where asyncio.run refuses to start."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


ROWS = 20_000
PAGES = {"crime": "Crime", "asb": "Anti-social behaviour", "overview": "Overview"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from csp import config, queries, users

    from bench import load
    from bench.__main__ import PASSWORD, USERS

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(users, "BCRYPT_ROUNDS", 4)
        for var in ("CSP_DATA_DIR", "CSP_COOKIE_KEY", "CSP_DEMO"):  # prepare() sets some; put them back after
            mp.setenv(var, "")
        queries.clear_cache()
        data = load.prepare(tmp_path_factory.mktemp("load") / "data", ROWS)
        port, key = load.free_port(), secrets.token_urlsafe(48)
        proc = load.start_server(data, port, key)
        try:
            mp.setenv("CSP_COOKIE_KEY", key)
            cookie = config.cookie_settings()
            jars = run_async(load.browser_cookies(port, sorted(USERS.values()), PASSWORD, cookie.name, 60))
            log = run_async(load.drive_ws(port, 2, 6, 60, 0, cookie.name, jars))
            yield {"port": port, "key": key, "cookie": cookie, "jars": jars, "log": log}
        finally:
            load.stop_server(proc)
            queries.clear_cache()


def test_ws_sessions_click_through_the_pages_logged_in(server):
    from bench.load import summarise

    log = server["log"]
    logins = [r for r in log if r["page"] == "login"]
    views = [r for r in log if r["page"] != "login"]
    assert [r["error"] for r in log if r["error"]] == []
    assert sorted(r["session"] for r in logins) == [0, 1]  # each logged in once, by cookie
    assert {r["session"] for r in views} == {0, 1} and {r["page"] for r in views} == set(PAGES)
    # judge() found each page's title drawn and no login form; the Crime page drew its charts.
    assert all(r["charts"] > 0 for r in views if r["page"] == "crime")
    res = summarise(log, 2, 6, 0, None, "ws")
    assert res["client"] == "ws" and res["errors"] == 0 and res["errors_by_kind"] == {}
    assert res["sessions_logged_in"] == res["sessions_with_views"] == 2
    assert res["page_views"] == len(views) == sum(p["views"] for p in res["pages"].values())
    assert res["p50_s"] <= res["p95_s"] <= res["max_s"]


def test_cookie_session_sees_the_crime_page_and_each_user_their_own_scope(server):
    from bench.__main__ import USERS
    from bench.wsclient import StreamlitSession

    async def crime(jar):
        async with StreamlitSession("127.0.0.1", server["port"], jar) as s:
            await s.visit("")
            return await s.visit("crime", title="Crime", timeout=60)

    board = run_async(crime(server["jars"][USERS["unscoped"]]))
    ward = run_async(crime(server["jars"][USERS["ward"]]))
    for run in (board, ward):
        assert run.headings[0] == "Crime" and "Monthly trend" in run.headings and run.charts >= 1
        assert "Log out" in run.labels and not run.login_form and not run.exceptions
    # Each cookie logged in its own user: only the ward-scoped practitioner's sidebar names a scope.
    assert any(t.startswith("Your ward") for t in ward.texts)
    assert not any(t.startswith("Your ward") for t in board.texts)


def forged(username: str, key: str) -> str:
    """A re-login cookie with valid claims (a session the server has started), signed with ``key``
    as the app signs its cookies."""
    from csp import accounts

    return accounts.issue_cookie(username, accounts.start_session(username), key, 1)


@pytest.mark.parametrize("case", ["none", "junk", "wrong key"])
def test_without_a_valid_cookie_only_the_login_form_and_no_page_views(server, case):
    from bench.__main__ import USERS
    from bench.load import judge, summarise, ws_session
    from bench.wsclient import StreamlitSession

    name = server["cookie"].name
    jar = {"none": {}, "junk": {name: "not-a-token"},
           "wrong key": {name: forged(USERS["unscoped"], secrets.token_urlsafe(48))}}[case]
    log: list = []
    run_async(ws_session(server["port"], USERS["unscoped"], jar, PAGES, {k: k for k in PAGES},
                           time.time() + 10, 30, log, 0, 0))
    assert [(r["page"], r["kind"]) for r in log] == [("login", "not logged in")]
    res = summarise(log, 1, 10, 0, None, "ws")
    assert res["page_views"] == 0 and res["errors_by_kind"] == {"not logged in": 1}
    assert res["sessions_logged_in"] == res["sessions_with_views"] == 0

    async def crime():
        async with StreamlitSession("127.0.0.1", server["port"], jar) as s:
            return await s.visit("crime", title="Crime", timeout=30)

    run = run_async(crime())
    assert run.login_form and "Crime" not in run.headings and run.charts == 0
    assert judge(run, "Crime")[0] == "not logged in"


def test_a_cookie_signed_with_the_servers_key_logs_in(server):
    """The control for the case above: the same forged claims with the right key do log in, so
    the refusals are the signature check, not a broken client."""
    from bench.__main__ import USERS
    from bench.wsclient import StreamlitSession

    async def crime():
        async with StreamlitSession("127.0.0.1", server["port"],
                                    {server["cookie"].name: forged(USERS["ward"], server["key"])}) as s:
            await s.visit("")
            return await s.visit("crime", title="Crime", timeout=60)

    run = run_async(crime())
    assert not run.login_form and run.headings[0] == "Crime"
