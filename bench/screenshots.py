"""Screenshots of every page for every persona, on a desktop and a phone, for a person to read.

`python -m bench.screenshots --out DIR [--users a,b] [--data-dir DIR] [--deep]`

Starts the app (serve.py, bench.feel's start_server) over a data directory (default: a fresh
temporary one with `python -m csp demo` published into it, as the browser tests set theirs up),
opens one headless Chromium (Debian's) and, for each demo persona (password `fenmouth-demo`), in a
desktop context (1280x800) and a phone context (390x844, mobile, touch):

- logs in through the form (bench.feel.login);
- visits every page listed in the user's sidebar navigation, discovered from the sidebar itself,
  by clicking its link (on the phone: opening the collapsed sidebar first, as a person would);
- waits for the script run to end, every chart to draw (bench.feel's DONE) and no widget to be
  a loading skeleton, then saves a full-page PNG `<user>__<page-slug>__<desk|phone>.png`;
- also saves the login page, the phone's open navigation (`<user>__nav__phone.png`), the phone
  just after a page was tapped in that menu (`<user>__nav-after-tap__phone.png`: the app's own
  navigation leaves the sidebar open over the page, so the script closes it before each phone
  shot) and one page the user may not open, reached by its URL
  (`<user>__refused-<slug>__<viewport>.png`).

Full page: Streamlit's page does not scroll the document; its main container (stMain) scrolls
inside a viewport-high app, so Playwright's full_page=True alone captures one screen. Before each
shot the viewport is made as tall as stMain's content (measured until it stops changing, then
redrawn) and set back afterwards, so the layout is the real one at the real width.

A page drawn in section tabs (the incident dashboards' "view" tabs, bound to ?view=) shows one
section at a time, so each further section is shot too: `<user>__<slug>+view-<section>__<vp>.png`.
`--deep [USERS]` also shoots, within each section, every tab of its other tab groups
(`...+tabs<N>-<label>`, N counting those groups from the top) and the section with every expander
opened (`...+open`), for every user or only those named. Writes index.html (a contact sheet) and shots.json (each
shot's page heading, seconds from click to last chart, and text that may read badly: error
boxes, "Page not found", snake_case words, 00:00:00 and ISO timestamps, raw JSON, widgets still
loading; the text of closed expanders counts too), which are hints for the reviewer, never a
verdict. One browser, one page at a time. The temporary demo data directory is removed at the
end unless --keep-data.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.feel import CHROMIUM, CHROMIUM_ARGS, DONE, START, free_port, login, settle, start_server

USERS = ("board.police", "board.council", "board.health", "analyst.police", "analyst.probation",
         "analyst.health", "analyst.fire", "analyst.council", "analyst.housing", "analyst.youth",
         "officer.housing", "officer.fire", "admin")
PASSWORD = "fenmouth-demo"
VIEWPORTS = {
    "desk": dict(viewport={"width": 1280, "height": 800}),
    "phone": dict(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                  device_scale_factor=1),
}
NAV = ".st-key-csp_nav"  # the sidebar navigation app.py draws (st.container key="csp_nav")

# The sidebar's links in order, with the section caption above each.
NAV_LINKS = """(sel) => {
  const out = []; let section = '';
  const nav = document.querySelector(sel);
  if (!nav) return out;
  for (const el of nav.querySelectorAll('[data-testid="stCaptionContainer"], a')) {
    if (el.tagName !== 'A') { section = el.innerText.trim(); continue; }
    const lines = el.innerText.trim().split('\\n').map(s => s.trim()).filter(Boolean);
    out.push({href: el.getAttribute('href') || '', label: lines[lines.length - 1] || '', section,
              current: el.getAttribute('aria-current') === 'page'});
  }
  return out;
}"""

# What is drawn: the page's h1, the main container's content height, whether every chart drew.
FACTS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const h1 = main && main.querySelector('h1');
  let charts = true;
  for (const c of document.querySelectorAll('[data-testid="stPlotlyChart"]'))
    if (!c.querySelector('.main-svg')) charts = false;
  return {h1: h1 ? h1.innerText.trim() : '', height: main ? main.scrollHeight : 0,
          overflow: main ? main.scrollHeight - main.clientHeight : 0, charts, title: document.title};
}"""

# Text a reviewer should look at (hints only): error boxes and exceptions, Streamlit's "Page not
# found", snake_case words, midnight timestamps, raw JSON.
SUSPECTS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const parts = [];  // the main area's text, leaving out icon ligatures ('keyboard_arrow_down')
  if (main) {
    const walk = document.createTreeWalker(main, NodeFilter.SHOW_TEXT, {acceptNode: n =>
      n.parentElement.closest('[data-testid="stIconMaterial"]') ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
    while (walk.nextNode()) parts.push(walk.currentNode.nodeValue);
  }
  const text = parts.join(' ');
  const errors = [...document.querySelectorAll('[data-testid="stException"], [data-testid="stAlertContentError"]')]
      .map(e => e.innerText.trim().slice(0, 200));
  const notFound = /Page not found/i.test(document.body.innerText);
  const snake = [...new Set(text.match(/\\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\\b/g) || [])].slice(0, 20);
  const midnight = (text.match(/\\b00:00:00\\b/g) || []).length;
  const iso = (text.match(/\\b\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d/g) || []).length;
  const json = (text.match(/\\{"[a-z_]+":/g) || []).length;
  const skeletons = document.querySelectorAll('[data-testid="stSkeleton"]').length;
  return {errors, notFound, snake, midnight, iso, json, skeletons};
}"""

# After an action that may or may not start a script run (a tab: lazy tabs rerun, plain ones do
# not; an expander), the run (if any) has ended and the charts have drawn.
QUIET = """([ms]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (!window.__feelRunEnded && performance.now() - window.__feelT0 < ms) return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  for (const c of document.querySelectorAll('[data-testid="stPlotlyChart"]'))
    if (!c.querySelector('.main-svg')) return false;
  return true;
}"""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "root"


def demo_data() -> Path:
    """A fresh temporary data directory with the demo area and users, made as the browser
    tests make theirs (tests/e2e/conftest.py's e2e_data, through tests.e2e.server.run_cli).
    Its parent is the temporary directory to remove afterwards."""
    from tests.e2e.server import run_cli

    d = Path(tempfile.mkdtemp(prefix="csp-shots-")) / "data"
    env = {k: v for k, v in os.environ.items() if k != "CSP_DEMO"}
    env["CSP_DATA_DIR"] = str(d)
    run_cli(env, "demo")
    return d


# Streamlit draws a widget whose code is loaded on first use (the file uploader, a number box,
# even a select box in a fresh browser) as a grey skeleton until its chunk arrives.
NO_SKELETON = """() => !document.querySelector('[data-testid="stSkeleton"]')"""


def drawn(page, timeout_s: float = 90) -> None:
    """Wait, with no action to time from, for the current run to be over, its charts drawn
    (bench.feel's DONE, told that the run has ended) and no widget still a skeleton."""
    settle(page, timeout_s)
    page.evaluate(START)
    page.evaluate("() => { window.__feelRunEnded = true; }")
    page.wait_for_function(DONE, arg=[None], polling="raf", timeout=timeout_s * 1000)
    page.wait_for_function(NO_SKELETON, polling=50, timeout=timeout_s * 1000)


def after(page, action, timeout_s: float = 90, grace_ms: int = 1500) -> float:
    """Do something that may start a run; wait until it is over and drawn (when no run has
    started within grace_ms, there is none). Seconds taken."""
    page.evaluate(START)
    t0 = time.monotonic()
    action()
    page.wait_for_function(QUIET, arg=[grace_ms], polling=50, timeout=timeout_s * 1000)
    settle(page, timeout_s)
    drawn(page, timeout_s)
    return time.monotonic() - t0


def full_shot(page, path: Path, base: dict) -> dict:
    """Make the viewport as tall as the main container's content, shoot, and set it back."""
    w, h0 = base["width"], base["height"]
    height = h0
    for _ in range(4):  # taller viewports can reflow (charts resize); stop when it stops growing
        f = page.evaluate(FACTS)
        if f["overflow"] <= 1 or height >= 30000:  # the main container no longer scrolls
            break
        height = min(height + int(f["overflow"]), 30000)
        page.set_viewport_size({"width": w, "height": height})
        page.wait_for_function("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))")
        drawn(page)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": w, "height": h0})
    return {"height": height}


def open_nav(page) -> None:
    """On the phone the sidebar starts collapsed: open it as a person would."""
    btn = page.get_by_test_id("stExpandSidebarButton")
    if btn.count() and btn.first.is_visible():
        btn.first.click()
        page.locator(NAV).get_by_role("link").first.wait_for(state="visible")
        page.wait_for_timeout(400)  # the sidebar slides in (CSS transition), so shoot it in place


def close_nav(page) -> bool:
    """Collapse the sidebar if it is open over the page (the app's own navigation links, unlike
    Streamlit's, leave it open on a phone after a page is chosen). True if it was open."""
    btn = page.get_by_role("button", name="Collapse sidebar")
    if btn.count() and btn.first.is_visible():
        btn.first.click()
        page.get_by_test_id("stExpandSidebarButton").first.wait_for(state="visible")
        page.wait_for_timeout(400)  # the sidebar's slide-out transition
        return True
    return False


def visit(page, link: dict, phone: bool) -> float:
    """Open a page from the sidebar by tapping its link; seconds from tap to last chart."""
    loc = page.locator(NAV).locator(f'a[href="{link["href"]}"]').first
    if phone:
        open_nav(page)
    return after(page, loc.click)


# The incident dashboards' section tabs (st.tabs(key="view"), bound to ?view=): the page's content
# is one section at a time, so each section is shot. The first tab list inside is theirs; each
# section holds its own Chart/Table tabs further in (as tests/e2e/e2e_helpers.VIEWS reads them).
VIEWS = ".st-key-view"


def view_tabs(page):
    return page.locator(VIEWS).first.get_by_role("tablist").first.get_by_role("tab")


# Mark the section tabs' list so the other tab groups can be told from it.
MARK_VIEWS = """(sel) => { const v = document.querySelector(sel + ' [role="tablist"]');
  if (v) v.setAttribute('data-shots-views', '1'); }"""


def shoot(page, out: Path, name: str, base: dict, log, **facts) -> dict:
    full_shot(page, out / name, base)
    secs = facts.get("seconds")
    log(f"  {name}" + (f" ({secs:.1f} s)" if secs else ""))
    return {"file": name, **facts, **page.evaluate(SUSPECTS)}


def deep_shots(page, stem: str, vp: str, out: Path, base: dict, log) -> list[dict]:
    """Every tab of each tab group other than the section tabs, then every expander open.
    ``stem`` is the file name so far (user, page and section)."""
    shots = []

    def groups():
        page.evaluate(MARK_VIEWS, VIEWS)  # again after each run: a rerun may redraw the list
        return page.locator('[data-testid="stMain"] [role="tablist"]:not([data-shots-views])')

    g = 0
    while g < groups().count():
        t = 0
        while t < groups().nth(g).get_by_role("tab").count():
            tab = groups().nth(g).get_by_role("tab").nth(t)
            t += 1
            if tab.get_attribute("aria-selected") == "true":
                continue
            label = tab.inner_text().strip()
            secs = after(page, tab.click, grace_ms=800)  # lazy tabs rerun the page, plain ones do not
            shots.append(shoot(page, out, f"{stem}+tabs{g + 1}-{slug(label)}__{vp}.png", base, log,
                               extra=f"tab group {g + 1}: {label}", seconds=round(secs, 2)))
            if g >= groups().count():  # the rerun drew fewer groups
                break
        g += 1
    closed = page.locator('[data-testid="stExpander"] details:not([open]) > summary')
    if closed.count():
        while closed.count():  # an expander opens without a run
            closed.first.click()
        drawn(page)
        shots.append(shoot(page, out, f"{stem}+open__{vp}.png", base, log, extra="expanders open"))
    return shots


def section_shots(page, user: str, page_slug: str, vp: str, out: Path, base: dict, deep: bool,
                  log) -> list[dict]:
    """The page's other sections (its section tabs, when it has them), each shot; with deep,
    each section's own tabs and expanders too."""
    shots = []
    labels = [x.strip() for x in view_tabs(page).all_inner_texts()] if page.locator(VIEWS).count() else []
    if deep:
        shots += [dict(s, section_tab=labels[0] if labels else "")
                  for s in deep_shots(page, f"{user}__{page_slug}" + (f"+view-{slug(labels[0])}" if labels else ""),
                                      vp, out, base, log)]
    for label in labels[1:]:
        tab = page.locator(VIEWS).first.get_by_role("tablist").first.get_by_role("tab", name=label, exact=True)
        secs = after(page, tab.click)
        stem = f"{user}__{page_slug}+view-{slug(label)}"
        shots.append(shoot(page, out, f"{stem}__{vp}.png", base, log, extra=f"section {label}",
                           seconds=round(secs, 2)))
        if deep:
            shots += [dict(s, extra=f"section {label}: {s['extra']}")
                      for s in deep_shots(page, stem, vp, out, base, log)]
    return shots


def shoot_user(browser, base_url: str, user: str, vp: str, out: Path, deep: bool, refusable: list,
               log) -> list[dict]:
    opts = VIEWPORTS[vp]
    ctx = browser.new_context(**opts)
    ctx.set_default_timeout(90_000)
    page = ctx.new_page()
    shots: list[dict] = []
    try:
        login(page, base_url, user, PASSWORD, timeout_s=90)
        drawn(page)
        links = [x for x in page.evaluate(NAV_LINKS, NAV) if x["href"]]
        if vp == "phone":
            open_nav(page)
            name = f"{user}__nav__phone.png"
            page.screenshot(path=str(out / name), full_page=True)
            shots.append({"file": name, "page": "navigation (sidebar open)", "section": "",
                          "slug": "nav"})
            close_nav(page)
        seen = set()
        for link in links:
            page_slug = slug(link["href"].rstrip("/").rsplit("/", 1)[-1])
            if page_slug in seen:
                continue
            seen.add(page_slug)
            current = page.evaluate(NAV_LINKS, NAV)
            here = any(x["href"] == link["href"] and x["current"] for x in current)
            secs = None if here else visit(page, link, vp == "phone")
            if vp == "phone" and not here:
                if not any(s["slug"] == "nav-after-tap" for s in shots):
                    # What a person sees after tapping a page in the menu (once per persona).
                    name = f"{user}__nav-after-tap__phone.png"
                    page.screenshot(path=str(out / name))
                    shots.append({"file": name, "page": f"after tapping {link['label']} in the menu",
                                  "section": "", "slug": "nav-after-tap"})
                close_nav(page)
            name = f"{user}__{page_slug}__{vp}.png"
            size = full_shot(page, out / name, opts["viewport"])
            facts = page.evaluate(FACTS)
            shots.append({"file": name, "page": link["label"], "section": link["section"],
                          "slug": page_slug, "h1": facts["h1"], "title": facts["title"],
                          "seconds": secs and round(secs, 2), **size, **page.evaluate(SUSPECTS)})
            log(f"{name}" + (f" ({secs:.1f} s)" if secs else ""))
            shots += [dict(s, page=link["label"], section=link["section"], slug=page_slug)
                      for s in section_shots(page, user, page_slug, vp, out, opts["viewport"], deep, log)]
        # One page the user may not open, by its URL (as a shared link would reach it).
        nav_slugs = {slug(x["href"].rstrip("/").rsplit("/", 1)[-1]) for x in links}
        refused = next((p for p in refusable if slug(p) not in nav_slugs), None)
        if refused:
            page.goto(f"{base_url}/{refused}")
            drawn(page)
            name = f"{user}__refused-{slug(refused)}__{vp}.png"
            full_shot(page, out / name, opts["viewport"])
            facts = page.evaluate(FACTS)
            shots.append({"file": name, "page": f"(no access) /{refused}", "section": "refused",
                          "slug": f"refused-{slug(refused)}", "h1": facts["h1"], "title": facts["title"],
                          **page.evaluate(SUSPECTS)})
            log(name)
    except Exception as e:  # one persona's failure is reported and shot, and the run goes on
        name = f"{user}__FAILED__{vp}.png"
        try:
            page.screenshot(path=str(out / name), full_page=True)
        except Exception:
            name = ""
        shots.append({"file": name, "page": "FAILED", "section": "", "slug": "failed",
                      "errors": [f"{type(e).__name__}: {str(e)[:300]}"]})
        log(f"{user} {vp} FAILED: {type(e).__name__}: {str(e)[:300]}")
    finally:
        ctx.close()
    return shots


def login_shots(browser, base_url: str, out: Path) -> list[dict]:
    shots = []
    for vp, opts in VIEWPORTS.items():
        ctx = browser.new_context(**opts)
        page = ctx.new_page()
        page.goto(base_url + "/")
        page.get_by_role("textbox", name="Username").wait_for()
        drawn(page)
        name = f"login__login__{vp}.png"
        full_shot(page, out / name, opts["viewport"])
        shots.append({"user": "(logged out)", "vp": vp, "file": name, "page": "Log in", "section": "",
                      "slug": "login", **page.evaluate(SUSPECTS)})
        ctx.close()
    return shots


def flags(s: dict) -> list[str]:
    out = [f"error: {e}" for e in s.get("errors", [])]
    if s.get("notFound"):
        out.append("Page not found")
    if s.get("snake"):
        out.append("snake_case: " + ", ".join(s["snake"]))
    if s.get("midnight"):
        out.append(f"00:00:00 x{s['midnight']}")
    if s.get("iso"):
        out.append(f"ISO timestamp x{s['iso']}")
    if s.get("json"):
        out.append(f"raw JSON x{s['json']}")
    if s.get("skeletons"):
        out.append(f"{s['skeletons']} widget(s) still loading")
    return out


def contact_sheet(shots: list[dict], out: Path, note: str) -> None:
    """index.html: per user, a row per page with the desktop and phone shots side by side."""
    rows: dict = {}
    for s in shots:
        key = (s["user"], s.get("slug", ""), s.get("extra", ""))
        rows.setdefault(key, {})[s["vp"]] = s
    users = list(dict.fromkeys(s["user"] for s in shots))
    parts = ["<!doctype html><html lang='en'><meta charset='utf-8'><title>CSP Insight screenshots</title>",
             "<style>body{font:14px system-ui,sans-serif;margin:1em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px;vertical-align:top}img{border:1px solid #999}"
             ".d{width:320px}.p{width:120px}.f{color:#a00;font-size:12px;max-width:320px}"
             "nav a{margin-right:1em}</style>",
             f"<h1>CSP Insight screenshots</h1><p>{html.escape(note)}</p><nav>"]
    parts += [f"<a href='#{slug(u)}'>{html.escape(u)}</a>" for u in users]
    parts.append("</nav>")
    for u in users:
        parts.append(f"<h2 id='{slug(u)}'>{html.escape(u)}</h2><table><tr><th>page</th><th>desktop 1280</th>"
                     "<th>phone 390</th><th>hints</th></tr>")
        for (user, _, extra), by_vp in rows.items():
            if user != u:
                continue
            any_s = next(iter(by_vp.values()))
            label = html.escape(f"{any_s.get('section', '')} › {any_s.get('page', '')}" + (f" ({extra})" if extra else ""))
            cells = []
            for vp, cls in (("desk", "d"), ("phone", "p")):
                s = by_vp.get(vp)
                if s and s.get("file"):
                    f = html.escape(s["file"])
                    t = f"<br>{s['seconds']} s" if s.get("seconds") else ""
                    cells.append(f"<td><a href='{f}'><img class='{cls}' loading='lazy' src='{f}' alt='{f}'></a>{t}</td>")
                else:
                    cells.append("<td>–</td>")
            hints = sorted({h for s in by_vp.values() for h in flags(s)})
            parts.append(f"<tr><td>{label}<br><small>{html.escape(any_s.get('h1', '') or '')}</small></td>"
                         + "".join(cells) + f"<td class='f'>{'<br>'.join(html.escape(h) for h in hints)}</td></tr>")
        parts.append("</table>")
    (out / "index.html").write_text("\n".join(parts) + "</html>\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.screenshots", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="directory for the PNGs and index.html")
    p.add_argument("--users", help="comma-separated usernames (default: every demo persona)")
    p.add_argument("--data-dir", type=Path, help="a data directory already set up (default: a fresh "
                   "temporary one with the demo area published into it)")
    p.add_argument("--keep-data", action="store_true", help="keep the temporary demo data "
                   "directory (its audit trail records the run) instead of removing it")
    p.add_argument("--viewports", default="desk,phone", help="desk, phone or both (default)")
    p.add_argument("--deep", nargs="?", const="*", default="", metavar="USERS",
                   help="also shoot every tab, and every expander opened: for every user, or only "
                   "for these (comma-separated)")
    args = p.parse_args(argv)
    users = [u.strip() for u in args.users.split(",")] if args.users else list(USERS)
    deep = set(users) if args.deep == "*" else {u.strip() for u in args.deep.split(",") if u.strip()}
    vps = [v.strip() for v in args.viewports.split(",")]
    if bad := [v for v in vps if v not in VIEWPORTS]:
        p.error(f"unknown viewport(s): {', '.join(bad)}")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out.resolve()
    t0 = time.monotonic()
    data_dir = args.data_dir.resolve() if args.data_dir else demo_data()
    from pages import PAGES

    refusable = [s.url_path for s in PAGES]  # the registry's URLs; the first one not in a user's menu
    from playwright.sync_api import sync_playwright

    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    port = free_port()
    proc = start_server(data_dir, port)
    base_url = f"http://127.0.0.1:{port}"
    shots: list[dict] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            shots += login_shots(browser, base_url, out)
            for user in users:
                for vp in vps:
                    shots += [dict(s, user=user, vp=vp)
                              for s in shoot_user(browser, base_url, user, vp, out, user in deep, refusable, log)]
            browser.close()
    finally:
        proc.stop()
        if not args.data_dir:
            if args.keep_data:
                print(f"demo data kept in {data_dir}")
            else:
                shutil.rmtree(data_dir.parent, ignore_errors=True)
    took = time.monotonic() - t0
    note = (f"{sum(1 for s in shots if s.get('file'))} screenshots of {len(users)} users over "
            f"{data_dir} in {took:.0f} s ({time.strftime('%Y-%m-%d %H:%M')}); hints are text "
            "patterns worth a look, not verdicts.")
    (out / "shots.json").write_text(json.dumps(shots, indent=1))
    contact_sheet(shots, out, note)
    print(note)
    print(f"contact sheet: {out / 'index.html'}")
    failed = [s for s in shots if s.get("page") == "FAILED"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
