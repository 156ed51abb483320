"""What the journeys do in the browser: log in, wait for the app to finish a run, open pages,
save screenshots. Every wait is on something visible (or the app's own run state), never a
fixed time."""
from __future__ import annotations

import re
from urllib.parse import urljoin
from pathlib import Path

from playwright.sync_api import Page, expect

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
_shot: set[str] = set()
COOKIE = "csp_insight_auth"  # config.cookie_settings() default name
# The sidebar navigation app.py draws itself (st.container key="csp_nav"), not Streamlit's.
NAV = ".st-key-csp_nav"


def settle(page: Page) -> None:
    """Wait until Streamlit has finished the current script run (its own test hook: the app root
    carries the run state) and the 'Running...' status widget is gone."""
    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED")
    expect(app).to_have_attribute("data-test-script-state", "notRunning")
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()


# Counts the app's finished runs as they arrive: each ForwardMsg from the server is a protobuf,
# and a run's end is the one with top-level field 6 (script_finished). The run-state attribute
# alone is not enough: on a loaded machine the browser can take a run's start and end in one
# React batch, so 'running' never reaches the DOM and a wait on it never ends (CI lost the
# admin's Access log -> next page click and an analyst's Publish that way). But a message is
# counted on arrival, before the app has drawn it, so it is only the fallback (see rerun).
RUN_COUNTER = """(() => {
  if (window.__cspRunsFinished !== undefined) return;
  window.__cspRunsFinished = 0;
  const finished = (buf) => {
    const b = new Uint8Array(buf);
    let i = 0;
    const varint = () => {
      let v = 0, s = 0, x;
      do { x = b[i++]; v += (x & 0x7f) * 2 ** s; s += 7; } while ((x & 0x80) && i < b.length);
      return v;
    };
    while (i < b.length) {
      const tag = varint(), wire = tag % 8;
      if (Math.floor(tag / 8) === 6) return true;
      if (wire === 0) varint();
      else if (wire === 2) i += varint();
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else return false;
    }
    return false;
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        if (e.data instanceof ArrayBuffer && finished(e.data)) {
          window.__cspRunsFinished += 1;
          window.__cspFinishedAt = performance.now();
        }
      });
    }
  };
})()"""


def new_context(browser, **options):
    """A browser context whose pages count the app's finished runs (RUN_COUNTER), with the
    suite's patient timeout."""
    ctx = browser.new_context(**options)
    ctx.set_default_timeout(45_000)
    ctx.add_init_script(RUN_COUNTER)
    return ctx


_WATCH_RUN = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__cspRunEnded = false;
  if (window.__cspRunObserver) window.__cspRunObserver.disconnect();
  window.__cspRunObserver = new MutationObserver((records) => {
    for (const r of records) if (r.oldValue === 'running') window.__cspRunEnded = true;
  });
  window.__cspRunObserver.observe(app, {attributes: true, attributeOldValue: true,
                                        attributeFilter: ['data-test-script-state']});
  return window.__cspRunsFinished === undefined ? -1 : window.__cspRunsFinished;
}"""

_RUN_ENDED = """(before) => window.__cspRunEnded === true
  || (before >= 0 && window.__cspRunsFinished > before
      && performance.now() - window.__cspFinishedAt > 2000)"""


def rerun(page: Page, action) -> None:
    """Do something that makes the app run again (a click, a key) and wait for that run to end.

    Waiting only for 'not running' could pass before the new run has even started, so this
    waits for the app's run state to leave 'running' after the action; or, where the page was
    opened by new_context and the browser never showed 'running' (RUN_COUNTER), for a run's end
    to have arrived from the server 2 s ago, time for the app to draw it."""
    before = page.evaluate(_WATCH_RUN)
    action()
    page.wait_for_function(_RUN_ENDED, arg=before)
    settle(page)


def login_form(page: Page) -> None:
    # While a run replaces the page, the old and new form can both be in the DOM for a moment.
    expect(page.get_by_role("textbox", name="Username").first).to_be_visible()
    settle(page)
    expect(page.get_by_role("textbox", name="Username")).to_have_count(1)
    expect(page.get_by_role("textbox", name="Password")).to_have_count(1)
    expect(page.get_by_role("textbox", name="Password")).to_be_visible()


def submit_login(page: Page, username: str, password: str) -> None:
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    rerun(page, page.get_by_role("button", name="Log in").click)


def login(page: Page, base_url: str, username: str, password: str = "fenmouth-demo",
          path: str = "/") -> None:
    """Log in through the form and wait for the logged-in sidebar (the Log out button), then for
    the re-login cookie: a component writes it after the login run and that triggers one more
    run, in which a click (a page link, a deferred download) can be lost."""
    page.goto(base_url + path)
    login_form(page)
    submit_login(page, username, password)
    logged_in(page)
    has_login_cookie(page)
    settle(page)


def logged_in(page: Page) -> None:
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    settle(page)


def has_login_cookie(page: Page) -> None:
    """Wait for the re-login cookie: the browser writes it from a component after the login
    run, so a reload or new tab before it lands would (rightly) show the login form."""
    page.wait_for_function(f"() => document.cookie.split('; ').some(c => c.startsWith('{COOKIE}='))")


def login_cookie_gone(page: Page) -> None:
    """Wait for logging out to delete the re-login cookie (also written from a component)."""
    page.wait_for_function(f"() => !document.cookie.split('; ').some(c => c.startsWith('{COOKIE}='))")


def logout(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    login_form(page)


def heading(page: Page, text: str):
    return page.get_by_role("heading", name=text, exact=True)


def open_page(page: Page, title: str, page_heading: str | None = None) -> None:
    """Open a page from the sidebar navigation, as a person would, and wait for its heading
    (the link title unless the page's own title differs)."""
    link = page.locator(NAV).get_by_role("link", name=title, exact=True)
    # The default page's link is the app root; st.page_link's href may be relative.
    href = urljoin(page.url, link.get_attribute("href"))
    here = re.compile(rf"^{re.escape(href)}(\?.*)?$")
    if not here.match(page.url):  # clicking the page you are on starts no run
        rerun(page, link.click)
    expect(page).to_have_url(here)
    expect(heading(page, page_heading or title)).to_be_visible()


def data_elements(page: Page):
    """Anything that shows figures: metrics, tables, charts."""
    return page.locator(
        '[data-testid="stMetric"], [data-testid="stDataFrame"], [data-testid="stTable"], '
        '[data-testid="stPlotlyChart"], .js-plotly-plot'
    )


def snap(page: Page, name: str) -> None:
    """Screenshot of a page, once per run (the first time a journey reaches it)."""
    if name in _shot:
        return
    _shot.add(name)
    (ARTIFACTS / "pages").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "pages" / f"{name}.png"), full_page=True)


def in_navigation(page: Page, title: str) -> bool:
    nav = page.locator(NAV)
    return nav.get_by_role("link", name=title, exact=True).count() > 0


def choose(page: Page, combobox: str, option: "re.Pattern[str]") -> None:
    """Pick an option of a select box (no run starts when it is already picked)."""
    box = page.get_by_role("combobox", name=combobox)
    if option.search(box.input_value()):
        return
    box.click()
    rerun(page, page.get_by_role("option", name=option).click)
    expect(box).to_have_value(option)


# The incident dashboards' section tabs (st.tabs(key="view"), so Streamlit's st-key-view class).
VIEWS = ".st-key-view"


def _view_tabs(page: Page):
    # The first tab list inside: each section holds its own Chart/Table tabs further in.
    return page.locator(VIEWS).first.get_by_role("tablist").first


def view_names(page: Page) -> list[str]:
    """The labels of the page's section tabs ([] on a page without them)."""
    return [t.strip() for t in _view_tabs(page).get_by_role("tab").all_inner_texts()] \
        if page.locator(VIEWS).count() else []


def open_view(page: Page, name: str) -> None:
    """Click a section tab, as a person would, and wait for the page's rerun to end."""
    tab = _view_tabs(page).get_by_role("tab", name=name, exact=True)
    if tab.get_attribute("aria-selected") != "true":
        rerun(page, tab.click)
    settle(page)


def file_input(page: Page):
    """The Upload page's file input, once the uploader has really been drawn. Streamlit draws a
    lazily loaded widget as a grey skeleton first; a file set on the page before the real
    uploader replaced it was never uploaded (seen under CI load: the page just sat there)."""
    uploader = page.get_by_test_id("stFileUploader").first
    expect(uploader.get_by_test_id("stFileUploaderDropzone")).to_be_visible()
    expect(page.get_by_test_id("stMain").get_by_test_id("stSkeleton")).to_have_count(0)
    return uploader.locator("input[type=file]")
