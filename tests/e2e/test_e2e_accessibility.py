"""WCAG 2.2 AA checks in the real browser, on every page each persona can open: axe-core (npm,
installed into tests/e2e/node_modules by `make test` or the axe_source fixture) injected into the
page, with no serious or critical violation allowed; one title per page; headings that never jump
a level; every Plotly chart with an accessible name; and the login form reached by Tab before
anything else that takes focus."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from .e2e_helpers import NAV, login, new_context, login_form, open_view, rerun, settle, snap, view_names

# One login per role: board (whole-area, perturbed), analyst (data tools), practitioner (two
# wards only) and admin (the admin pages).
PERSONAS = ("board.council", "analyst.police", "officer.housing", "admin")
# Neighbourhood is being rebuilt on another branch (ux1): its h1 → h3 sections are that
# branch's to fix, so only its heading order is not checked here (axe still is). Remove on merge.
HEADINGS_NOT_CHECKED: set[str] = set()
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

# The page's headings in document order (levels), and each chart's accessible name.
PAGE_FACTS = """() => ({
  title: document.title,
  headings: [...document.querySelectorAll('[data-testid="stMain"] h1, [data-testid="stMain"] h2, '
            + '[data-testid="stMain"] h3, [data-testid="stMain"] h4, [data-testid="stMain"] h5, '
            + '[data-testid="stMain"] h6')].map(h => [Number(h.tagName[1]), h.innerText.trim()]),
  // Streamlit names a chart drawn with alt= as a figure on its own container (the mode bar's
  // buttons inside carry aria-labels too, so those must not count).
  charts: [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].map(c =>
    c.getAttribute('role') === 'figure' ? (c.getAttribute('aria-label') || '') : ''),
})"""

# Serious and critical violations only (the bar); iframes are Streamlit's own hidden
# components (the cookie writer), titled by the app but not tested inside.
AXE_RUN = """async (tags) => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, iframes: false,
                                     resultTypes: ['violations']});
  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}));
}"""


FOCUSED = """() => { const e = document.activeElement;
  return [e.tagName, e.getAttribute('autocomplete') || '', (e.innerText || e.getAttribute('aria-label') || '').trim(),
          !!e.closest('h1, h2, h3, h4, h5, h6')]; }"""


def axe_violations(page, axe_source: str) -> list[dict]:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source)
    return page.evaluate(AXE_RUN, TAGS)


def heading_jumps(headings: list[list]) -> list[str]:
    """Where a heading goes more than one level deeper than the one before (h1 → h3), or the
    first heading is not an h1."""
    out, prev = [], 0
    for level, text in headings:
        if level > prev + 1:
            out.append(f"h{prev} → h{level} ({text!r})")
        prev = level
    return out


def nav_titles(page) -> list[str]:
    links = page.locator(NAV).get_by_role("link")
    expect(links.first).to_be_visible()
    # The inner text starts with the icon's ligature name ('dashboard'); the label is the last line.
    return [t.strip().splitlines()[-1].strip() for t in links.all_inner_texts()]


def check_page(page, axe_source: str, where: str) -> tuple[str, list[str]]:
    """The page's problems (empty when it passes) and its title."""
    facts = page.evaluate(PAGE_FACTS)
    problems = [f"{where}: axe {v['impact']} {v['id']} ({v['help']}): {v['nodes']}"
                for v in axe_violations(page, axe_source)]
    if not any(where.endswith(f" on {p}") for p in HEADINGS_NOT_CHECKED):
        problems += [f"{where}: heading jump {j}" for j in heading_jumps(facts["headings"])]
    problems += [f"{where}: chart {i + 1} has no accessible name" for i, n in enumerate(facts["charts"])
                 if not n.strip()]
    return facts["title"], problems


def test_login_page_is_accessible_and_tab_reaches_the_form_first(base_url, page, axe_source):
    page.goto(base_url + "/")
    login_form(page)
    title, problems = check_page(page, axe_source, "login")
    assert problems == [], "\n".join(problems)
    assert title == "Log in · CSP Insight"
    # Tab from the top of the page: the username box comes before any frame or link.
    page.locator("body").focus()
    seen = []
    for _ in range(12):
        page.keyboard.press("Tab")
        el = page.evaluate(FOCUSED)
        seen.append(el)
        if el[0] == "INPUT" and el[1] == "username":
            break
    assert seen and seen[-1][:2] == ["INPUT", "username"], f"Tab order before the username box: {seen}"
    # Before it only Streamlit's skip link and main menu: no frame, no heading anchor.
    early = seen[:-1]
    assert not any(tag == "IFRAME" or in_heading for tag, _, _, in_heading in early), f"focus passed {early} first"


@pytest.mark.parametrize("username", PERSONAS)
def test_every_page_passes_axe_for_each_persona(base_url, page, axe_source, username):
    login(page, base_url, username)
    titles = nav_titles(page)
    assert len(titles) >= 2, f"{username} sees only {titles}"
    page_titles, problems = {}, []
    for name in titles:
        link = page.locator(NAV).get_by_role("link", name=name, exact=True)
        if link.get_attribute("aria-current") != "page":
            rerun(page, link.click)
        settle(page)
        expect(page.get_by_test_id("stMain").locator("h1").first).to_be_visible()
        expect(page).to_have_title(re.compile("^" + re.escape(name)))  # the new page is drawn
        page_title, found = check_page(page, axe_source, f"{username} on {name}")
        page_titles[name] = page_title
        problems += found
        snap(page, f"a11y-{username}-{name}")
        # A dashboard's other sections (its tabs: breakdowns, maps, tables) are checked too.
        for view in view_names(page)[1:]:
            open_view(page, view)
            problems += check_page(page, axe_source, f"{username} on {name}, {view}")[1]
    assert problems == [], "\n".join(problems)
    # One title per page, naming the page (WCAG 2.4.2), never just the app's name.
    assert len(set(page_titles.values())) == len(page_titles), json.dumps(page_titles, indent=1)
    for name, page_title in page_titles.items():
        assert page_title.startswith(name), f"{name!r} is titled {page_title!r}"


def test_phone_charts_have_no_covering_toolbar(base_url, browser):
    """At 390×844 (a phone): the charts draw, and no Plotly mode bar sits over any of them."""
    ctx = new_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = ctx.new_page()
        login(page, base_url, "board.police", path="/crime")
        charts = page.get_by_test_id("stPlotlyChart")
        drawn = 0
        for view in view_names(page):  # the trend, each breakdown, the maps
            open_view(page, view)
            if charts.count():
                expect(charts.first.locator(".main-svg").first).to_be_attached()
                drawn += charts.count()
            assert page.locator(".modebar-container .modebar-btn").count() == 0, view
            snap(page, f"phone-board.police-Crime-{view}")
        assert drawn >= 3
    finally:
        ctx.close()


def test_phone_menu_closes_after_a_tap(base_url, browser):
    """At 390×844 the sidebar lies over the page: after a tap on a page in the menu, the new
    page opens with the menu closed, as Streamlit's own navigation does."""
    ctx = new_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = ctx.new_page()
        login(page, base_url, "officer.housing")
        sidebar = page.get_by_test_id("stSidebar")
        for name in ("Crime", "Neighbourhood"):
            if sidebar.get_attribute("data-collapsed") != "false":
                page.get_by_test_id("stExpandSidebarButton").click()
            expect(sidebar).to_have_attribute("data-collapsed", "false")
            link = page.locator(NAV).get_by_role("link", name=name, exact=True)
            rerun(page, link.tap)
            snap(page, f"phone-officer.housing-menu-after-tap-{name}")
            expect(page).to_have_title(re.compile("^" + re.escape(name)))
            expect(sidebar).to_have_attribute("data-collapsed", "true")
            expect(page.get_by_test_id("stMain").locator("h1").first).to_be_in_viewport()
            snap(page, f"phone-officer.housing-menu-closed-{name}")
    finally:
        ctx.close()


def test_phone_shows_the_open_section_tab(base_url, browser):
    """A link to a section far along the strip (?view=By+LSOA) opens with that tab in sight."""
    ctx = new_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = ctx.new_page()
        login(page, base_url, "board.police", path="/crime?view=By+LSOA")
        tab = page.locator(".st-key-view").get_by_role("tab", name="By LSOA", exact=True)
        expect(tab).to_have_attribute("aria-selected", "true")
        expect(tab).to_be_in_viewport(ratio=1)
        snap(page, "phone-board.police-Crime-open-tab-in-sight")
    finally:
        ctx.close()
