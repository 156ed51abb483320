"""Speed a person feels, in a real browser: click to last chart, and filter change.

`python -m bench.feel --data-dir DIR --user NAME [--password-stdin] [--repeat 5]`

Starts the app (serve.py) on a free loopback port over DIR (a data directory already set up:
`python -m csp demo`, or the Lincolnshire import of docs/geography.md), opens one headless
Chromium at 1280x800 (Playwright, Debian's chromium), logs in through the form and then:

- **click to last chart**: clicks each dashboard's sidebar link in turn (from the page before),
  and times from the click (the click event's own time) until the new page's script run has ended, no element is stale, every
  Plotly chart on the page has drawn its SVG, and two animation frames have passed (so the
  browser has painted what it drew);
- **filter change**: on each incident dashboard (Crime, ASB), switches the Period between the
  latest 12 and the latest 24 months, timed the same way from the click on the option (the list
  is opened first, untimed).

Prints the median (and min/max) of --repeat rounds per page; no timing is asserted anywhere.
`--url` measures an app already running (e.g. an older checkout, for a before/after figure).
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import sys
from pathlib import Path

from deploy.local import free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CSP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
DASHBOARDS = ("Overview", "Crime", "Anti-social behaviour", "Reoffending", "Substance misuse",
              "Neighbourhood")
FILTERED = ("Crime", "Anti-social behaviour")  # pages whose Period filter change is timed

# Note the time of the action, and the app's run state leaving 'running' after it (as
# tests/e2e/e2e_helpers.rerun does), so the wait cannot pass before the run has started.
START = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__feelRunEnded = false;
  window.__feelPending = false;
  window.__feelDone = null;
  if (window.__feelObserver) window.__feelObserver.disconnect();
  window.__feelObserver = new MutationObserver((records) => {
    for (const r of records) if (r.oldValue === 'running') window.__feelRunEnded = true;
  });
  window.__feelObserver.observe(app, {attributes: true, attributeOldValue: true,
                                      attributeFilter: ['data-test-script-state']});
  window.__feelT0 = performance.now();
  // The clock starts at the click a person makes (its event time), not when the test driver
  // started looking for the element to click.
  document.addEventListener('click', (e) => { window.__feelT0 = e.timeStamp; }, {capture: true, once: true});
}"""

# Done: the run has ended, nothing is stale, the page's heading is the one asked for, every chart
# has drawn (Plotly's SVG, or a Vega chart's SVG/canvas); then two frames for the paint.
# Returns the milliseconds from the action.
DONE = """([title]) => {
  if (window.__feelDone !== null) return window.__feelDone;
  const app = document.querySelector('[data-testid="stApp"]');
  if (!window.__feelRunEnded || !app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  const h1 = document.querySelector('h1');
  if (title && !(h1 && h1.innerText.trim().startsWith(title))) return false;
  for (const c of document.querySelectorAll('[data-testid="stPlotlyChart"]'))
    if (!c.querySelector('.main-svg')) return false;
  for (const c of document.querySelectorAll('.vega-embed'))
    if (!c.querySelector('svg, canvas')) return false;
  if (!window.__feelPending) {
    window.__feelPending = true;
    requestAnimationFrame(() => requestAnimationFrame(() => {
      window.__feelDone = performance.now() - window.__feelT0;
    }));
  }
  return false;
}"""

SETTLED = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app && app.getAttribute('data-test-connection-state') === 'CONNECTED'
      && app.getAttribute('data-test-script-state') === 'notRunning'
      && !document.querySelector('[data-stale="true"]');
}"""


def timed(page, action, title: str | None = None, timeout_s: float = 60) -> float:
    """Seconds from the action to the last chart drawn (see DONE). Starts only once the page is
    idle (a run that follows the last one, e.g. the URL catching up, would swallow the click)."""
    settle(page, timeout_s)
    page.evaluate(START)
    action()
    ms = page.wait_for_function(DONE, arg=[title], polling="raf", timeout=timeout_s * 1000).json_value()
    return ms / 1000


def nav_link(page, title: str):
    return page.get_by_test_id("stSidebar").get_by_role("link", name=title, exact=True)


def settle(page, timeout_s: float = 60) -> None:
    page.wait_for_function(SETTLED, polling=50, timeout=timeout_s * 1000)


def login(page, base: str, username: str, password: str, timeout_s: float = 60) -> None:
    """Log in through the form and wait for the logged-in app and its re-login cookie (written
    from the browser after the login run, which starts one more run)."""
    page.goto(base + "/")
    page.get_by_role("textbox", name="Username").wait_for()
    settle(page, timeout_s)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Log out").wait_for(timeout=timeout_s * 1000)
    page.wait_for_function("() => document.cookie.includes('csp_insight_auth=')", timeout=timeout_s * 1000)
    settle(page, timeout_s)


def other_period(page) -> str:
    """The option to switch to: the latest 12 months, or the latest 24 when 12 are shown."""
    now = page.get_by_role("combobox", name="Period").input_value()
    return r"^Latest 24 months" if now.startswith("Latest 12 months") else r"^Latest 12 months"


def choose_period(page, pattern: str):
    """Open the Period list and return the click on the option (the timed action: opening
    the list changes nothing on the page)."""
    page.get_by_role("combobox", name="Period").click()
    option = page.get_by_role("option", name=re.compile(pattern)).first
    option.wait_for()
    return option.click


def measure(page, repeat: int, log=print) -> dict[str, list[float]]:
    """Times (seconds) per measurement: 'open <page>' and 'filter <page>', ``repeat`` of each.
    The page must be logged in; dashboards missing from its navigation are skipped."""
    titles = [t for t in DASHBOARDS if nav_link(page, t).count()]
    out: dict[str, list[float]] = {}
    for r in range(repeat):
        for title in titles:
            s = timed(page, nav_link(page, title).click, title)
            out.setdefault(f"open {title}", []).append(s)
            log(f"round {r + 1}: open {title}: {s:.2f} s")
            if title in FILTERED:
                for _ in range(2):
                    pattern = other_period(page)
                    s = timed(page, choose_period(page, pattern), title)
                    out.setdefault(f"filter {title}", []).append(s)
                    log(f"round {r + 1}: filter {title} ({pattern[1:]}): {s:.2f} s")
    return out


def summary(times: dict[str, list[float]]) -> list[str]:
    return [f"{k:<36} median {statistics.median(v):5.2f} s   min {min(v):5.2f}   max {max(v):5.2f}   (n={len(v)})"
            for k, v in times.items()]


def start_server(data_dir: Path, port: int):
    """The app as ``make run`` serves it (bench.load.start_server: deploy.local's Replica)."""
    from bench.load import start_server as start

    return start(data_dir, port, secrets.token_urlsafe(48))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.feel", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin "
                   "(default: the demo password)")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--url", help="measure an app already running here instead of starting one")
    args = p.parse_args(argv)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else "fenmouth-demo"
    from playwright.sync_api import sync_playwright

    proc = None
    if args.url:
        base = args.url.rstrip("/")
    else:
        port = free_port()
        proc = start_server(args.data_dir.resolve(), port)
        base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            ctx = browser.new_context(viewport={"width": 1280, "height": 800})
            ctx.set_default_timeout(60_000)
            page = ctx.new_page()
            login(page, base, args.user, password)
            # One unmeasured round: the first visit of each page loads its code chunks (Plotly's
            # is megabytes) and fills the server's caches, which a person pays once a session.
            measure(page, 1, log=lambda s: None)
            times = measure(page, args.repeat, log=lambda s: print(s, file=sys.stderr))
            browser.close()
    finally:
        if proc is not None:
            proc.stop()
    print("\n".join(summary(times)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
