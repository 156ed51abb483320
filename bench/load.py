"""Bounded concurrency test: N simultaneous sessions clicking through the dashboards.

`python -m bench.load [--sessions 20] [--seconds 120] [--rows 1000000] [--data-dir DIR]`

Starts its own Streamlit server on a free loopback port over a published benchmark dataset,
then drives N *real browser sessions*, arriving evenly over --ramp seconds: one headless
Chromium (Playwright) with N isolated browser contexts, each with its own cookies and its own
Streamlit websocket session, as N people would have. Each session logs in through the form (half as a whole-area council board
member, half as a ward-scoped practitioner) and then clicks the sidebar links Crime -> ASB ->
Overview -> Crime ... until the time is up. A page time is click -> the new page's title is
drawn and the script has finished (Streamlit's `data-test-script-state` leaves "running").

Reports page-time percentiles per page, errors (exceptions drawn on a page, timeouts, lost
connections) and the server's peak RSS. On 2 cores the browsers compete with the server for
CPU, so these times are an upper bound on what remote users would see.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
PAGE_ORDER = ("crime", "asb", "overview")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(data_dir: Path | None, rows: int) -> Path:
    """A published dataset with the bench users in it (reused if data_dir already has one)."""
    from .__main__ import PASSWORD, USERS

    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="csp-load-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    if not (data_dir / "bench-dataset.json").exists():
        print(f"publishing {rows:,} rows into {data_dir} ...", file=sys.stderr)
        out = subprocess.run([sys.executable, "-m", "bench.dataset", str(data_dir), str(rows), "36"],
                             cwd=ROOT, check=True, capture_output=True, text=True,
                             env={**os.environ, "CSP_DATA_DIR": str(data_dir)})
        (data_dir / "bench-dataset.json").write_text(out.stdout.strip().splitlines()[-1])
    os.environ["CSP_DATA_DIR"] = str(data_dir)
    from csp import store, users

    cur = store.cursor()
    ward = cur.execute("SELECT ward_code FROM read_parquet($f) WHERE ward_code IS NOT NULL GROUP BY 1 "
                       "ORDER BY count(*) DESC, 1 LIMIT 1", {"f": store.current("crime").files}).fetchone()[0]
    cur.close()
    users.add_user(USERS["unscoped"], PASSWORD, role="board", partner="council", replace=True)
    users.add_user(USERS["ward"], PASSWORD, role="practitioner", partner="housing", areas=[ward], replace=True)
    return data_dir


def start_server(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "CSP_DATA_DIR": str(data_dir), "CSP_COOKIE_KEY": secrets.token_urlsafe(48)}
    env.pop("CSP_DEMO", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the Streamlit server did not become healthy within 60 s")


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


SETTLED = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app && app.getAttribute('data-test-connection-state') === 'CONNECTED'
      && app.getAttribute('data-test-script-state') === 'notRunning';
}"""

# As tests/e2e/e2e_helpers.py does: note the app's run state leaving 'running' after an action,
# so a wait cannot pass before the run the action started has even begun.
WATCH_RUN = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__benchRunEnded = false;
  window.__benchActionAt = performance.now();
  if (window.__benchObserver) window.__benchObserver.disconnect();
  window.__benchObserver = new MutationObserver((records) => {
    for (const r of records) if (r.oldValue === 'running') window.__benchRunEnded = true;
  });
  window.__benchObserver.observe(app, {attributes: true, attributeOldValue: true,
                                       attributeFilter: ['data-test-script-state']});
}"""

WAIT_LOGGED_IN = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app && [...document.querySelectorAll('button')].some(b => b.innerText.trim() === 'Log out')
      && app.getAttribute('data-test-script-state') !== 'running';
}"""

# The run the click started has ended; or, should its 'running' state have been too brief to
# see, the page asked for is drawn and idle 2 s after the click.
RUN_ENDED = """([title]) => {
  if (window.__benchRunEnded === true) return true;
  const app = document.querySelector('[data-testid="stApp"]');
  const h1 = document.querySelector('h1');
  return performance.now() - window.__benchActionAt > 2000 && app && h1
      && h1.innerText.trim().startsWith(title) && app.getAttribute('data-test-script-state') === 'notRunning';
}"""

WAIT_DONE = """([title]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const h1 = document.querySelector('h1');
  return app && h1 && h1.innerText.trim().startsWith(title)
      && app.getAttribute('data-test-script-state') !== 'running';
}"""


async def session(browser, base: str, username: str, password: str, titles: dict[str, str],
                  deadline: float, timeout_s: float, log: list, n: int, delay: float) -> None:
    await asyncio.sleep(delay)  # ramp up: people do not all arrive in the same second
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await ctx.new_page()
    page.set_default_timeout(timeout_s * 1000)
    try:
        t0 = time.perf_counter()
        await page.goto(base, timeout=timeout_s * 1000)
        await page.get_by_role("textbox", name="Username").wait_for()
        await page.wait_for_function(SETTLED, polling=50)  # the form is final (cookie check done)
        await page.get_by_role("textbox", name="Username").fill(username)
        await page.get_by_role("textbox", name="Password").fill(password)
        await page.evaluate(WATCH_RUN)
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_function("() => window.__benchRunEnded === true", polling=50)
        await page.wait_for_function(WAIT_LOGGED_IN, timeout=timeout_s * 1000, polling=50)
        log.append({"session": n, "page": "login", "s": time.perf_counter() - t0, "error": None})
        order = [p for p in PAGE_ORDER if p in titles]
        i = (n + 1) % len(order)  # sessions start at different pages
        current = await page.evaluate("() => document.querySelector('h1')?.innerText.trim() || ''")
        while time.time() < deadline:
            name = order[i % len(order)]
            i += 1
            if current.startswith(titles[name]):  # already there: a click would not run anything
                current = ""
                continue
            current = titles[name]
            t0 = time.perf_counter()
            error = None
            try:
                await page.evaluate(WATCH_RUN)
                await page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=titles[name]).click()
                await page.wait_for_function(RUN_ENDED, arg=[titles[name]], polling=50)
                await page.wait_for_function(WAIT_DONE, arg=[titles[name]], polling=50)
                if await page.locator('[data-testid="stException"]').count():
                    error = "exception drawn on the page"
            except Exception as e:  # noqa: BLE001 - a timeout or a lost connection is a result here
                error = type(e).__name__ + ": " + str(e).splitlines()[0][:150]
            log.append({"session": n, "page": name, "s": time.perf_counter() - t0, "error": error})
            if error and "Timeout" not in error and "exception" not in error:
                break
    except Exception as e:  # noqa: BLE001
        log.append({"session": n, "page": "login", "s": None,
                    "error": f"{username} at login: " + type(e).__name__ + ": " + str(e).splitlines()[0][:150]})
    finally:
        await ctx.close()


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))], 3)


async def drive(port: int, sessions: int, seconds: float, timeout_s: float, ramp: float) -> list[dict]:
    from playwright.async_api import async_playwright

    from pages import PAGES

    from .__main__ import PASSWORD, USERS

    titles = {p.module: p.title for p in PAGES if p.module in PAGE_ORDER}
    titles = {k: titles[k] for k in PAGE_ORDER if k in titles}
    log: list[dict] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            deadline = time.time() + ramp + seconds
            users = [USERS["unscoped"] if i % 2 == 0 else USERS["ward"] for i in range(sessions)]
            await asyncio.gather(*(session(browser, f"http://127.0.0.1:{port}/", u, PASSWORD, titles,
                                           deadline, timeout_s, log, i, ramp * i / max(1, sessions))
                                   for i, u in enumerate(users)))
        finally:
            await browser.close()
    return log


def summarise(log: list[dict], sessions: int, seconds: float, ramp: float, server_rss: float | None) -> dict:
    clicks = [r for r in log if not r["page"].startswith("login")]
    ok = [r["s"] for r in clicks if not r["error"]]
    by_page = {}
    for name in dict.fromkeys(r["page"] for r in clicks):
        xs = [r["s"] for r in clicks if r["page"] == name and not r["error"]]
        by_page[name] = {"views": len([r for r in clicks if r["page"] == name]),
                         "errors": len([r for r in clicks if r["page"] == name and r["error"]]),
                         **({"p50_s": pct(xs, 0.5), "p95_s": pct(xs, 0.95), "max_s": round(max(xs), 3)} if xs else {})}
    logins = [r["s"] for r in log if r["page"].startswith("login") and r["s"] is not None]
    errors = [r for r in log if r["error"]]
    return {
        "method": "Playwright: one headless Chromium, one browser context (own cookies, own Streamlit "
                  "websocket session) per simulated user, loopback",
        "sessions": sessions, "seconds": seconds, "ramp_s": ramp, "page_views": len(clicks),
        "errors": len(errors), "error_examples": sorted({e["error"] for e in errors})[:5],
        "p50_s": pct(ok, 0.5) if ok else None, "p95_s": pct(ok, 0.95) if ok else None,
        "login_p95_s": pct(logins, 0.95) if logins else None,
        "pages": by_page, "server_peak_rss_mb": server_rss, "cpus": os.cpu_count(),
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=20, help="simultaneous browser sessions (default 20)")
    p.add_argument("--seconds", type=float, default=120, help="how long the sessions click (default 120)")
    p.add_argument("--rows", type=int, default=1_000_000, help="rows to publish when --data-dir has none (default 1M)")
    p.add_argument("--data-dir", type=Path, help="a benchmark data directory (e.g. one kept by python -m bench --data-dir)")
    p.add_argument("--ramp", type=float, default=30, help="seconds over which the sessions arrive (default 30)")
    p.add_argument("--timeout", type=float, default=60, help="seconds before a page view counts as an error (default 60)")
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "load.json")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    data_dir = prepare(args.data_dir.resolve() if args.data_dir else None, args.rows)
    port = free_port()
    server = start_server(data_dir, port)
    try:
        print(f"server on 127.0.0.1:{port}; {args.sessions} sessions for {args.seconds:.0f} s ...", file=sys.stderr)
        log = asyncio.run(drive(port, args.sessions, args.seconds, args.timeout, args.ramp))
        rss = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        if args.data_dir is None:  # a dataset made just for this run
            shutil.rmtree(data_dir, ignore_errors=True)
    res = summarise(log, args.sessions, args.seconds, args.ramp, rss)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2))
    print(f"{res['sessions']} sessions, {res['seconds']:.0f} s: {res['page_views']} page views, {res['errors']} errors; "
          f"page time p50 {res['p50_s']} s, p95 {res['p95_s']} s; login p95 {res['login_p95_s']} s; "
          f"server peak RSS {res['server_peak_rss_mb']} MB")
    for name, v in res["pages"].items():
        print(f"  {name:9} views {v['views']:4}  errors {v['errors']:3}  p50 {v.get('p50_s')}  p95 {v.get('p95_s')}  max {v.get('max_s')}")
    for e in res["error_examples"]:
        print(f"  error: {e}")
    return res


if __name__ == "__main__":
    main()
