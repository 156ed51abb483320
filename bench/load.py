"""Bounded concurrency test: N simultaneous sessions clicking through the dashboards.

`python -m bench.load [--client browser|ws] [--sessions 20] [--seconds 120] [--rows 1000000] [--data-dir DIR]`

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

`--client ws` measures the server instead: each session is a websocket client speaking
Streamlit's own protocol (bench/wsclient.py), costing the machine almost nothing. Each bench
user logs in ONCE through the real form in one Chromium; the re-login cookie the app set in that
browser is then sent on every ws session's handshake, where the app checks it (accounts.cookie_login)
exactly as for a returning browser. A page time is BackMsg(rerun_script) sent -> script_finished.
A view is an error when an exception or st.error is drawn, the page's title is not drawn, the
login form is drawn instead, or the run times out or the socket closes.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deploy.local import free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
PAGE_ORDER = ("crime", "asb", "overview")


class Round:
    """The pages one session clicks, in turn, starting at a page that depends on the session
    (so sessions spread over pages) and skipping the page it is on (a click there runs nothing)."""

    def __init__(self, titles: dict, n: int):
        self.titles, self.order = titles, [p for p in PAGE_ORDER if p in titles]
        self.i = (n + 1) % len(self.order)
        self.current = ""  # the heading on screen

    def next(self) -> str:
        name = self.order[self.i % len(self.order)]
        self.i += 1
        if self.current.startswith(self.titles[name]):
            name = self.order[self.i % len(self.order)]
            self.i += 1
        self.current = self.titles[name]
        return name


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


def stop_server(server) -> None:
    server.stop()


def start_server(data_dir: Path, port: int, cookie_key: str | None = None):
    """One server as ``make run`` serves the app (deploy.local's Replica: serve.py, the app
    behind its download guard), healthy; its log in the data directory."""
    from deploy.local import Replica, wait_http

    env = {**os.environ, "CSP_DATA_DIR": str(data_dir), "CSP_COOKIE_KEY": cookie_key or secrets.token_urlsafe(48)}
    env.pop("CSP_DEMO", None)
    server = Replica("bench", port, env, data_dir / "server.log")
    try:
        wait_http(f"{server.url}/_stcore/health", 60, server.proc, "the Streamlit server")
    except RuntimeError:
        server.stop()
        raise
    return server


def start_stack(data_dir: Path | None, replicas: int, cookie_key: str):
    """PostgreSQL for the app state (a private cluster), ready for prepare() to add the bench
    users to; the replicas and HAProxy start after (Stack.start)."""
    from deploy.local import Stack, ensure_packages

    ensure_packages()
    work = Path(tempfile.mkdtemp(prefix="csp-load-stack-"))
    os.chmod(work, 0o711)  # the private cluster's server runs as the postgres user
    stack = Stack(data_dir or work / "data", replicas=replicas, workdir=work, cookie_key=cookie_key)
    stack.start_database()
    for k in ("CSP_DATABASE_URL", "CSP_COOKIE_KEY"):
        os.environ[k] = stack.env[k]  # prepare() adds the bench users to this database
    return stack


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


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


async def form_login(page, base: str, username: str, password: str, timeout_s: float) -> None:
    """Log in through the app's form, as a person would, and wait for the logged-in app."""
    await page.goto(base, timeout=timeout_s * 1000)
    await page.get_by_role("textbox", name="Username").wait_for()
    await page.wait_for_function(SETTLED, polling=50)  # the form is final (cookie check done)
    await page.get_by_role("textbox", name="Username").fill(username)
    await page.get_by_role("textbox", name="Password").fill(password)
    await page.evaluate(WATCH_RUN)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_function("() => window.__benchRunEnded === true", polling=50)
    await page.wait_for_function(WAIT_LOGGED_IN, timeout=timeout_s * 1000, polling=50)


async def session(browser, base: str, username: str, password: str, titles: dict[str, str],
                  deadline: float, timeout_s: float, log: list, n: int, delay: float) -> None:
    await asyncio.sleep(delay)  # ramp up: people do not all arrive in the same second
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await ctx.new_page()
    page.set_default_timeout(timeout_s * 1000)
    try:
        t0 = time.perf_counter()
        await form_login(page, base, username, password, timeout_s)
        log.append({"session": n, "page": "login", "s": time.perf_counter() - t0, "error": None})
        pages = Round(titles, n)
        pages.current = await page.evaluate("() => document.querySelector('h1')?.innerText.trim() || ''")
        while time.time() < deadline:
            name = pages.next()
            t0 = time.perf_counter()
            error = None
            try:
                await page.evaluate(WATCH_RUN)
                await page.locator('.st-key-csp_nav').get_by_role("link", name=titles[name]).click()
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


async def browser_cookies(port: int, users: list[str], password: str, cookie_name: str,
                          timeout_s: float) -> dict[str, dict[str, str]]:
    """Each user's browser cookies after one real form login (one Chromium, a context each).

    The app writes its re-login cookie from the browser on the run after the login, so wait for
    it. The contexts are closed without logging out: Log out would revoke the cookie."""
    from playwright.async_api import async_playwright

    jars = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for username in users:
                for attempt in range(3):  # set-up, not measured: a browser starved of CPU may stall
                    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
                    page = await ctx.new_page()
                    page.set_default_timeout(timeout_s * 1000)
                    try:
                        await form_login(page, f"http://127.0.0.1:{port}/", username, password, timeout_s)
                        until = time.time() + timeout_s
                        while cookie_name not in (jar := {c["name"]: c["value"] for c in await ctx.cookies()}):
                            if time.time() > until:
                                raise RuntimeError(f"the app set no {cookie_name} cookie after logging in")
                            await asyncio.sleep(0.1)
                        jars[username] = jar
                        break
                    except Exception as e:  # noqa: BLE001 - retried, then reported
                        print(f"{username}: form login attempt {attempt + 1} failed: {str(e).splitlines()[0][:150]}",
                              file=sys.stderr)
                        if attempt == 2:
                            raise RuntimeError(f"{username} could not log in through the form: {e}") from e
                    finally:
                        await ctx.close()
        finally:
            await browser.close()
    return jars


def judge(run, title: str | None) -> tuple[str | None, str | None]:
    """(kind, detail) of what is wrong with a page run, or (None, None) if it drew the page."""
    if run.compile_error:
        return "compile error", "script finished with a compile error"
    if run.exceptions:
        return "exception", run.exceptions[0]
    if run.login_form:
        return "not logged in", "the login form was drawn"
    if run.error_alerts:
        return "error message", run.error_alerts[0]
    if title is not None and not any(h.strip().startswith(title) for h in run.headings):
        return "wrong page", f"no '{title}' heading (headings: {run.headings[:3]})"
    return None, None


async def ws_session(port: int, username: str, cookies: dict[str, str], titles: dict[str, str],
                     urls: dict[str, str], deadline: float, timeout_s: float, log: list, n: int,
                     delay: float, think: float = 0) -> None:
    """One simulated user over the websocket protocol: open the app at / with the user's cookies
    (logged in by the re-login cookie, or not: then stop), then visit the pages in turn. After a
    timeout or a lost socket, start again with a new connection, as a person reloading would.
    ``think``: seconds spent looking at each page before the next click."""
    from websockets.exceptions import WebSocketException

    from .wsclient import SessionError, StreamlitSession

    await asyncio.sleep(delay)
    pages = Round(titles, n)
    while time.time() < deadline:
        try:
            async with StreamlitSession("127.0.0.1", port, cookies) as s:
                run = await s.visit("", timeout=timeout_s)  # a fresh tab at /: the landing page
                kind, detail = judge(run, None)
                if kind is None and not all(titles[p] in run.pages for p in pages.order):
                    kind, detail = "not logged in", f"navigation lists {sorted(run.pages)[:6]}"
                log.append({"session": n, "page": "login", "s": run.seconds, "kind": kind,
                            "error": f"{username} at login: {kind}: {detail}" if kind else None,
                            "charts": run.charts})
                if kind == "not logged in":
                    return  # a session that is not logged in has no pages to click
                pages.current = run.headings[0] if run.headings else ""
                while time.time() < deadline:
                    name = pages.next()
                    t0 = time.perf_counter()
                    try:
                        run = await s.visit(urls[name], title=titles[name], timeout=timeout_s)
                    except SessionError as e:
                        log.append({"session": n, "page": name, "s": time.perf_counter() - t0,
                                    "kind": e.kind, "error": str(e)})
                        break  # the stream is out of step (or gone): reconnect
                    kind, detail = judge(run, titles[name])
                    log.append({"session": n, "page": name, "s": run.seconds, "kind": kind,
                                "error": f"{kind}: {detail}" if kind else None, "charts": run.charts,
                                "t": time.time()})
                    if think:
                        await asyncio.sleep(min(think, max(0.0, deadline - time.time())))
        except (SessionError, OSError, WebSocketException) as e:  # at connect or at the first page
            log.append({"session": n, "page": "login", "s": None, "kind": getattr(e, "kind", "connect"),
                        "error": f"{username} at login: {type(e).__name__}: {str(e)[:150]}"})
            await asyncio.sleep(1)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))], 3)


async def drive(port: int, sessions: int, seconds: float, timeout_s: float, ramp: float) -> list[dict]:
    from playwright.async_api import async_playwright

    from pages import PAGES

    from .__main__ import PASSWORD, USERS

    # Pages by their URL path ("crime", "asb"): the incident dashboards share one module.
    titles = {p.url_path: p.title for p in PAGES}
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


async def drive_ws(port: int, sessions: int, seconds: float, timeout_s: float, ramp: float,
                   cookie_name: str, jars: dict[str, dict[str, str]] | None = None, think: float = 0) -> list[dict]:
    """N websocket sessions, half each bench user, logged in by cookies from ``jars`` (each
    user's browser cookies; by default from one real form login each, browser_cookies)."""
    from pages import PAGES

    from .__main__ import PASSWORD, USERS

    specs = {p.url_path: p for p in PAGES}
    titles = {k: specs[k].title for k in PAGE_ORDER if k in specs}
    urls = {k: specs[k].url_path for k in titles}
    # Half each user, in the order U W W U U W W U ...: a load balancer dealing sessions to two
    # replicas in turn then gives each replica both kinds (U W U W would put all whole-area
    # sessions, the heavier pages, on one replica).
    users = [USERS["unscoped"] if (i + i // 2) % 2 == 0 else USERS["ward"] for i in range(sessions)]
    if jars is None:
        jars = await browser_cookies(port, sorted(set(users)), PASSWORD, cookie_name, timeout_s)
    # Behind the load balancer: each simulated user is a browser of its own, so none carries the
    # affinity cookie the login browser got; HAProxy assigns each new session a replica.
    jars = {u: {k: v for k, v in jar.items() if k != "CSP_REPLICA"} for u, jar in jars.items()}
    log: list[dict] = []
    deadline = time.time() + ramp + seconds
    await asyncio.gather(*(ws_session(port, u, jars[u], titles, urls, deadline, timeout_s, log, i,
                                      ramp * i / max(1, sessions), think)
                           for i, u in enumerate(users)))
    return log


def error_kind(r: dict) -> str:
    if r.get("kind"):
        return r["kind"]
    e = r["error"]  # browser mode: classify its message
    return "timeout" if "Timeout" in e else "exception" if "exception" in e else "other"


def summarise(log: list[dict], sessions: int, seconds: float, ramp: float, server_rss: float | None,
              client: str = "browser") -> dict:
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
    kinds: dict[str, int] = {}
    for e in errors:
        kinds[error_kind(e)] = kinds.get(error_kind(e), 0) + 1
    return {
        "client": client,
        "method": METHODS[client],
        "sessions": sessions, "seconds": seconds, "ramp_s": ramp, "page_views": len(clicks),
        # sessions that logged in, and that drew at least one page without an error
        "sessions_logged_in": len({r["session"] for r in log if r["page"].startswith("login") and not r["error"]}),
        "sessions_with_views": len({r["session"] for r in clicks if not r["error"]}),
        "errors": len(errors), "errors_by_kind": kinds, "error_examples": sorted({e["error"] for e in errors})[:5],
        "p50_s": pct(ok, 0.5) if ok else None, "p95_s": pct(ok, 0.95) if ok else None,
        "max_s": round(max(ok), 3) if ok else None,
        "login_p95_s": pct(logins, 0.95) if logins else None,
        "pages": by_page, "server_peak_rss_mb": server_rss, "cpus": os.cpu_count(),
    }


METHODS = {
    "browser": "Playwright: one headless Chromium, one browser context (own cookies, own Streamlit "
               "websocket session) per simulated user, loopback",
    "ws": "Streamlit websocket protocol (bench/wsclient.py): one websocket session per simulated user, "
          "logged in by the re-login cookie a real form login set in Chromium; page time = rerun "
          "request sent -> script finished; loopback",
}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--client", choices=("browser", "ws"), default="browser",
                   help="browser: real Chromium sessions (default); ws: websocket protocol clients")
    p.add_argument("--sessions", type=int, default=20, help="simultaneous sessions (default 20)")
    p.add_argument("--seconds", type=float, default=120, help="how long the sessions click (default 120)")
    p.add_argument("--rows", type=int, default=1_000_000, help="rows to publish when --data-dir has none (default 1M)")
    p.add_argument("--data-dir", type=Path, help="a benchmark data directory (e.g. one kept by python -m bench --data-dir)")
    p.add_argument("--ramp", type=float, default=30, help="seconds over which the sessions arrive (default 30)")
    p.add_argument("--timeout", type=float, default=60, help="seconds before a page view counts as an error (default 60)")
    p.add_argument("--think", type=float, default=0,
                   help="ws only: seconds each session looks at a page before the next click (default 0: click on at once)")
    p.add_argument("--replicas", type=int, default=0,
                   help="N > 0: run N app replicas behind HAProxy with the app state in a private PostgreSQL "
                        "(deploy/local.py) and send every session through the load balancer (default 0: one "
                        "server, SQLite, no load balancer)")
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "load.json")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    cookie_key = secrets.token_urlsafe(48)
    stack = None
    if args.replicas > 0:
        stack = start_stack(args.data_dir, args.replicas, cookie_key)
    data_dir = prepare(args.data_dir.resolve() if args.data_dir else None, args.rows)
    if stack is not None:
        stack.data_dir = data_dir
        stack.start()
        port, pids = stack.port, [r.proc.pid for r in stack.replicas]
        server = None
    else:
        port = free_port()
        server = start_server(data_dir, port, cookie_key)
        pids = [server.proc.pid]
    load_before = os.getloadavg()
    try:
        print(f"{'haproxy' if stack else 'server'} on 127.0.0.1:{port}; {args.sessions} {args.client} sessions "
              f"for {args.seconds:.0f} s ...", file=sys.stderr)
        cpu0, server_cpu0 = time.process_time(), [cpu_seconds(pid) for pid in pids]
        started = time.time()
        if args.client == "ws":
            os.environ["CSP_COOKIE_KEY"] = cookie_key  # the server's settings, to learn the cookie's name
            from csp import config

            log = asyncio.run(drive_ws(port, args.sessions, args.seconds, args.timeout, args.ramp,
                                       config.cookie_settings().name, think=args.think))
        else:
            log = asyncio.run(drive(port, args.sessions, args.seconds, args.timeout, args.ramp))
        client_cpu, server_cpu = time.process_time() - cpu0, [cpu_seconds(pid) for pid in pids]
        rss_each = [peak_rss_mb(pid) for pid in pids]
        rss = max((r for r in rss_each if r is not None), default=None)
    finally:
        if stack is not None:
            stack.stop()
        else:
            stop_server(server)
        if args.data_dir is None:  # a dataset made just for this run
            shutil.rmtree(data_dir, ignore_errors=True)
    res = summarise(log, args.sessions, args.seconds, args.ramp, rss, args.client)
    if args.client == "ws":
        res["think_s"] = args.think
    # CPU seconds over the run: the driving process (for ws, nearly all of the client side; for
    # browser, Chromium runs in other processes and is not counted) and the server.
    res["client_cpu_s"] = round(client_cpu, 1)
    res["server_cpu_s"] = (round(sum(b - a for a, b in zip(server_cpu0, server_cpu)), 1)
                           if None not in server_cpu0 + server_cpu else None)
    res["replicas"] = args.replicas
    # Throughput once everyone has arrived: page views finished after the ramp, per second.
    steady = [r for r in log if "t" in r and not r["error"] and r["t"] >= started + args.ramp]
    res["steady_views_per_s"] = round(len(steady) / args.seconds, 2) if args.client == "ws" else None
    if stack is not None:  # per replica: peak RSS and CPU seconds over the run
        res["method"] += f"; through HAProxy (cookie affinity) to {args.replicas} replica(s), app state in PostgreSQL"
        res["replica_peak_rss_mb"] = rss_each
        res["replica_cpu_s"] = [round(b - a, 1) if None not in (a, b) else None for a, b in zip(server_cpu0, server_cpu)]
    res["load_average"] = {"before": [round(x, 2) for x in load_before],
                           "after": [round(x, 2) for x in os.getloadavg()]}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2))
    print(f"{res['sessions']} {res['client']} sessions, {res['seconds']:.0f} s: {res['page_views']} page views, "
          f"{res['errors']} errors {res['errors_by_kind'] or ''}; page time p50 {res['p50_s']} s, p95 {res['p95_s']} s, "
          f"max {res['max_s']} s; login p95 {res['login_p95_s']} s; server peak RSS {res['server_peak_rss_mb']} MB; "
          f"CPU s client {res['client_cpu_s']} server {res['server_cpu_s']}; load average {res['load_average']}")
    if res.get("steady_views_per_s") is not None:
        print(f"  after the ramp: {res['steady_views_per_s']} page views/s; replicas {args.replicas or 'none (direct)'}; "
              f"peak RSS per replica {res.get('replica_peak_rss_mb', [res['server_peak_rss_mb']])} MB")
    for name, v in res["pages"].items():
        print(f"  {name:9} views {v['views']:4}  errors {v['errors']:3}  p50 {v.get('p50_s')}  p95 {v.get('p95_s')}  max {v.get('max_s')}")
    for e in res["error_examples"]:
        print(f"  error: {e}")
    return res


if __name__ == "__main__":
    main()
