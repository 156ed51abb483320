"""Two app replicas behind HAProxy (cookie affinity) sharing one PostgreSQL and one data
directory, as deploy/local.py starts them: what one replica does, the other knows.

- a login on one replica and a logout on the other ends the session on both (and the cookie
  is refused everywhere);
- failed logins on both replicas count towards one lockout;
- the audit chain stays one verified chain while both replicas and this process append at once;
- data published through one replica's Upload page is served by the other (not restarted).

Each browser context is pinned to a replica by setting HAProxy's affinity cookie (CSP_REPLICA)
as a browser that had been there before would hold it; the X-CSP-Replica response header
confirms which replica answered."""
from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import re
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .e2e_helpers import (NAV, COOKIE, choose, file_input, new_context, heading, logged_in, login, login_form, logout,
                          open_page, rerun, submit_login)
from .server import ARTIFACTS, PASSWORD, ROOT

AFFINITY = "CSP_REPLICA"


@pytest.fixture(scope="module")
def stack(postgres):
    """Demo data and users published into a shared data directory and a PostgreSQL database,
    then two replicas and HAProxy over them."""
    from deploy.local import Stack

    work = Path(tempfile.mkdtemp(prefix="csp-replicas-"))
    data = work / "data"
    stack = Stack(data, replicas=2, database_url=postgres.create_database("replicas"),
                  workdir=ARTIFACTS / "replicas", cookie_key=secrets.token_urlsafe(48),
                  audit_key=secrets.token_urlsafe(48))
    stack.workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "csp", "demo"], cwd=ROOT, env=stack.env, check=True,
                   capture_output=True, timeout=300)
    stack.start()
    try:
        with pytest.MonkeyPatch.context() as mp:  # this process reads the same state
            for k in ("CSP_DATA_DIR", "CSP_DATABASE_URL", "CSP_COOKIE_KEY", "CSP_AUDIT_KEY"):
                mp.setenv(k, stack.env[k])
            from csp import queries, state

            queries.clear_cache()
            yield stack
            state.reset()
            queries.clear_cache()
    finally:
        stack.stop()


def pinned(browser, stack, replica: str, cookies: list[dict] = ()):
    ctx = new_context(browser, viewport={"width": 1280, "height": 800})
    ctx.add_cookies([{"name": AFFINITY, "value": replica, "url": stack.url}, *cookies])
    return ctx


def goto_on(page, url: str, replica: str) -> None:
    response = page.goto(url)
    assert response.headers.get("x-csp-replica") == replica


def auth_cookie(ctx) -> dict:
    return next(c for c in ctx.cookies() if c["name"] == COOKIE)


def test_logout_on_one_replica_ends_the_session_on_both(browser, stack):
    user = "board.police"
    one = pinned(browser, stack, "r1")
    a = one.new_page()
    goto_on(a, stack.url + "/", "r1")
    login(a, stack.url, user)
    open_page(a, "Crime")
    token = auth_cookie(one)

    two = pinned(browser, stack, "r2", [token])  # the same browser's cookie, answered by r2
    b = two.new_page()
    goto_on(b, stack.url + "/asb", "r2")
    logged_in(b)  # r2 accepted the cookie r1 issued: the session is in the shared database
    expect(heading(b, "Anti-social behaviour")).to_be_visible()
    logout(b)

    # r1's open tab: its next click finds the session ended.
    nav = a.locator(NAV).get_by_role("link", name="Anti-social behaviour", exact=True)
    rerun(a, nav.click)
    login_form(a)
    expect(a.get_by_text("Your session has ended")).to_be_visible()
    # And the cookie is refused by both replicas.
    for replica in ("r1", "r2"):
        ctx = pinned(browser, stack, replica, [token])
        page = ctx.new_page()
        goto_on(page, stack.url + "/crime", replica)
        login_form(page)
        expect(page.get_by_role("button", name="Log out")).to_have_count(0)
        ctx.close()
    one.close()
    two.close()


def test_failed_logins_on_both_replicas_lock_the_account(browser, stack):
    from csp import accounts, audit

    user = "analyst.health"  # no other test logs in as this user
    pages = {}
    for replica in ("r1", "r2"):
        ctx = pinned(browser, stack, replica)
        pages[replica] = ctx.new_page()
        goto_on(pages[replica], stack.url + "/", replica)
        login_form(pages[replica])
    for i, replica in enumerate(["r1", "r2", "r1", "r2", "r1"]):
        submit_login(pages[replica], user, f"wrong-password-{i}")
        expect(pages[replica].get_by_text("Username or password is incorrect.")).to_be_visible()
    assert accounts.locked_until(user) is not None
    submit_login(pages["r2"], user, PASSWORD)  # the right password, on the other replica
    expect(pages["r2"].get_by_text("Username or password is incorrect.")).to_be_visible()
    expect(pages["r2"].get_by_role("button", name="Log out")).to_have_count(0)
    reasons = [r["details"] for r in audit.search(actor=user, action="login_failed")]
    assert len(reasons) == 6 and sum("locked_now" in r for r in reasons) == 1 and '"locked"' in reasons[0]
    for page in pages.values():
        page.context.close()


def run_async(coro):
    # On a thread of its own: sync Playwright keeps an event loop on this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_audit_chain_stays_one_chain_with_both_replicas_writing(browser, stack):
    from bench.wsclient import StreamlitSession
    from csp import audit

    user = "board.council"
    ctx = pinned(browser, stack, "r1")
    page = ctx.new_page()
    login(page, stack.url, user)
    jar = {c["name"]: c["value"] for c in ctx.cookies() if c["name"] == COOKIE}
    ctx.close()
    visits = 15

    async def views(replica: str):
        async with StreamlitSession("127.0.0.1", stack.port, {**jar, AFFINITY: replica}) as s:
            first = await s.visit("", timeout=90)
            assert not first.login_form, "the re-login cookie did not log in on " + replica
            for i in range(visits):  # a new filter value each time: each is a new audited view
                run = await s.visit("crime", title="Crime", query_string=f"probe={replica}-{i}", timeout=90)
                assert run.headings and run.headings[0] == "Crime"

    async def cli_records():
        for i in range(visits):
            await asyncio.to_thread(audit.record, "replica.test", "probe", target=str(i))

    async def all_at_once():
        await asyncio.gather(views("r1"), views("r2"), cli_records())

    run_async(all_at_once())
    v = audit.verify()
    assert v.intact, str(v)
    probes = [r for r in audit.search(actor=user, action="view", limit=100_000) if "probe" in r["details"]]
    for replica in ("r1", "r2"):
        assert sum(f'"{replica}-' in r["details"] for r in probes) == visits
    assert len(audit.search(actor="replica.test", action="probe")) == visits


HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
          "Crime type,Last outcome category,Context")


def street_csv(month: str) -> str:
    lines = [HEADER]
    for i in range(40):
        lines.append(f"{i + 1:064x},{month},Fenmouth Constabulary,Fenmouth Constabulary,0.01,52.9,"
                     f"On or near High Street,E01999{i % 30 + 1:03d},Fenmouth {i % 30 + 1:03d}A,Burglary,,")
    return "\n".join(lines) + "\n"


def crime_page_on(stack, replica: str, jar: dict) -> list[str]:
    """What a new session on ``replica`` draws as text on the Crime page (the 'What this shows'
    note names the data held and the version served)."""
    from bench.wsclient import StreamlitSession

    async def visit():
        async with StreamlitSession("127.0.0.1", stack.port, {**jar, AFFINITY: replica}) as s:
            first = await s.visit("", timeout=90)
            assert not first.login_form
            run = await s.visit("crime", title="Crime", timeout=90)
            assert run.headings and run.headings[0] == "Crime" and not run.exceptions
            return run.texts

    return run_async(visit())


def test_a_publish_through_one_replica_is_served_by_the_other(browser, stack, tmp_path):
    from csp import store

    user = "analyst.police"
    before = store.current("crime")
    last = dt.date.fromisoformat(before.meta["coverage"]["last"][:7] + "-01")
    new = (last.replace(day=28) + dt.timedelta(days=4)).strftime("%Y-%m")

    writer_ctx = pinned(browser, stack, "r1")
    writer = writer_ctx.new_page()
    login(writer, stack.url, user)
    jar = {c["name"]: c["value"] for c in writer_ctx.cookies() if c["name"] == COOKIE}
    # r2 serves (and caches) the current version first.
    assert any(f"({store.version_words(before.version)})" in t for t in crime_page_on(stack, "r2", jar))

    open_page(writer, "Upload", "Upload data")
    choose(writer, "Dataset", re.compile(r"^Police recorded crime"))
    f = tmp_path / f"{new}-fenmouth-street.csv"
    f.write_text(street_csv(new))
    uploader = file_input(writer)
    rerun(writer, lambda: uploader.set_input_files(f))
    expect(writer.get_by_text("Validation passed")).to_be_visible()
    rerun(writer, writer.get_by_role("button", name="Publish", exact=True).click)
    expect(writer.get_by_text(re.compile(r"^Published .*crime"))).to_be_visible()
    after = store.current("crime")
    assert after.version != before.version and after.meta["published_by"] == user

    # r2, not restarted, serves the version r1 published, with the new month in it.
    texts = crime_page_on(stack, "r2", jar)
    assert any(f"({store.version_words(after.version)})" in t for t in texts)
    new_words = dt.date.fromisoformat(new + "-01").strftime("%b %Y")  # as the note says months
    assert any(f"to {new_words}" in t for t in texts if "Data held" in t)
    writer_ctx.close()
