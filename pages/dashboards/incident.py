"""The incident dashboard, one layout for every dataset whose contract asks for it (crime, ASB,
fires, council and housing ASB, A&E and ambulance assaults, first-time entrants ...): headline
(12 months against the 12 before, exact Poisson test), then one section at a time in tabs:
trend (monthly control chart with a rolling 12-month line; quarterly data by quarter),
breakdown by the main category and by each extra filter, ward and LSOA maps and ranked tables
where the data has them (rates per 1,000 residents a year with 95% intervals against the
partnership), and any finer breakdowns. Which sections appear follows from the contract: data
held by district has no ward or LSOA view.

Pages are modules with a render() function, run only through app.py's navigation: executed as a
script on its own (Streamlit's legacy pages/ mode) this file draws nothing."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from csp import access, catalog, incidents, indicators
from csp.ui import common as ui
from csp.ui import sections
from csp.ui.auth import current_user

LEVEL_WORDS = {"lsoa": "LSOA", "ward": "ward", "district": "district"}


def render(dataset: str) -> None:
    c = catalog.contract(dataset)
    d = c.dashboard
    user = current_user()
    st.title(d.get("title", c.title), anchor=False)
    noun = d.get("noun", dataset)

    facets = ui.run(f"{dataset}_facets")
    if facets is None or facets.frame.height == 0:
        st.info(f"No {incidents.in_sentence(d.get('title', c.title))} data is available to you yet.")
        return
    months = ui.months_held(facets.frame["first_month"], facets.frame["last_month"])
    cat = c.categories[0] if c.categories else None
    cat_label = incidents.label_of(c, cat) if cat else ""
    extra = [f for f in incidents.filters(c) if access.shares_field(user, dataset, f)]
    defaults = d.get("defaults") or {}
    # Every dashboard's widgets share their keys (so ?view=, ?type= work on each), and Streamlit
    # keeps a widget's value across pages: a tab or category chosen on one dashboard opened the
    # next one there, and an empty category list overrode the page's own default (Housing ASB
    # counted cases opened and closed together). Arriving on another dashboard starts its
    # section and categories afresh, unless the URL names them; the period and area carry on.
    if st.session_state.get("csp_view_page") != dataset:
        st.session_state["csp_view_page"] = dataset
        for key in ("view", "type", *incidents.filters(c)):
            if key not in st.query_params:
                st.session_state.pop(key, None)
    with st.container(horizontal=True):
        start, end = _period(dataset, c)
        area = ui.area_filter(dataset)
        chosen = None
        if cat:
            options = facets.frame[cat].drop_nulls().to_list()
            chosen = st.multiselect(cat_label, options=options,
                                    default=[v for v in defaults.get(cat, []) if v in options] or None,
                                    placeholder=_all_of(cat_label), key="type",
                                    bind="query-params") or None
        picked = {}
        if extra:
            # The flags in a "More filters" panel: five filter boxes filled a phone's first screen
            # before any figure. The button says how many are in use, so none is hidden unseen.
            on = sum(1 for f in extra if st.query_params.get_all(f) or st.session_state.get(f))
            with st.popover("More filters" + (f" ({on} in use)" if on else ""), width="content", key="more_filters"):
                for f in extra:
                    values = list(c.field(f).values or ())
                    picked[f] = st.multiselect(incidents.label_of(c, f), options=values,
                                               placeholder="All", key=f, bind="query-params") or None
    cats = {**({cat: chosen} if cat else {}), **{f: v for f, v in picked.items()}}
    params = {"from": start, "to": end, "area": area, **cats}
    sections.headline(f"{dataset}_headline", {"to": indicators.headline_end(end, dataset), "area": area,
                                              **cats}, noun, polarity=d.get("polarity", "lower_is_better"))
    views = _views(Page(c, user, params, months[0], chosen, tuple(extra)))
    # One section at a time, in tabs bound to the URL (?view=...): a filter change redraws the
    # headline and the open section, not every chart of the page (issue 17: the browser's
    # drawing of all of them was most of a filter change's time). A shared link opens the same
    # section.
    tabs = st.tabs(list(views), key="view", bind="query-params", on_change="rerun")
    for (title, draw), tab in zip(views.items(), tabs):
        if tab.open:
            with tab:
                draw()


@dataclass(frozen=True)
class Page:
    """What the sections of one dashboard share: its contract, the reader, the filters chosen."""
    c: catalog.Contract
    user: object
    params: dict
    first_held: str
    chosen: list | None  # categories picked (None: all)
    extra: tuple  # the flag filters this user may use

    @property
    def d(self) -> dict:
        return self.c.dashboard

    @property
    def dataset(self) -> str:
        return self.c.name


def _views(p: Page) -> dict:
    """The page's sections in order, tab label -> function drawing it; which appear follows
    from the contract and the user's grant."""
    c, d, dataset, user, params = p.c, p.d, p.dataset, p.user, p.params
    first_held, chosen, extra = p.first_held, p.chosen, p.extra
    count = incidents.count_column(c)
    definition, caveats = d.get("definition", c.description), d.get("caveats", "")
    noun, label = d.get("noun", dataset), d.get("label", "Count")
    cat = c.categories[0] if c.categories else None
    cat_label = incidents.label_of(c, cat) if cat else ""
    # A section the user may not see gets no tab (a tab that could only refuse is a dead end);
    # the Trend section says once what is withheld and why. Ward and LSOA tabs appear as far down
    # as the grant goes.
    granted = access.grant(user, dataset).geography
    held = [lv for lv in ("ward", "lsoa") if incidents.query_name(dataset, f"by_{lv}")]
    levels = [lv for lv in held if catalog.GEO_LEVELS.index(lv) >= catalog.GEO_LEVELS.index(granted)]
    withheld: list[str] = []  # sections finer than the user's protected table
    views = {}

    def trend():
        sections.trend_section(f"{dataset}_monthly_total", params, first_held, count, label, dataset,
                               definition, caveats, dataset,
                               shifts=indicators.documented_shifts(dataset, chosen),
                               quarterly=c.grain_months != 1)
        if not cat:
            st.caption(f"No breakdown by category: the data holds none. {caveats}")
        if not held:
            st.caption(f"{d.get('title', c.title)} is held by {LEVEL_WORDS[c.finest_geo or 'district']} "
                       "only, so there is no ward or LSOA view.")
        note = _withheld_note(withheld, granted if held and not levels else None, d, user)
        if note:
            st.info(note)
    views["Trend"] = trend
    if cat:
        cat_words = incidents.in_sentence(cat_label)
        views[f"By {cat_words}"] = lambda: sections.breakdown_section(
            f"{dataset}_by_type", params, cat, count, label, f"{label} by {cat_words}", dataset,
            definition + f" {cat_label}s are as published.", caveats, f"{dataset}_by_type",
            category_label=cat_label)
    for f in incidents.filters(c):
        words = incidents.in_sentence(incidents.label_of(c, f))
        title = f"{label} by {words}"
        if f not in extra:
            withheld.append(f"the {words}")
            continue
        views[f"By {words}"] = lambda f=f, words=words, title=title: sections.breakdown_section(
            f"{dataset}_by_{f}", params, f, count, label, title, dataset, definition, caveats,
            f"{dataset}_by_{f}", category_label=incidents.label_of(c, f), order=_order(c, f),
            empty=f"The {noun} you may see carry no {words} for these filters (not every extract "
                  "records it).")
    bench_params = {k: v for k, v in params.items() if k != "area"}
    for level in levels:
        views[f"By {LEVEL_WORDS[level]}"] = lambda level=level: sections.areas_section(
            level, f"{dataset}_by_{level}", indicators.benchmark_query(user, dataset), params, bench_params,
            count, label, dataset, definition, caveats, f"{dataset}_by_{level}", noun=noun)
    for b in c.breakdowns:
        title = incidents.label_of(c, b)
        if not access.shares_field(user, dataset, b):
            withheld.append(incidents.in_sentence(title))
            continue
        notes = indicators.NOTES.get(f"{dataset}_{b}") or (
            indicators.NOTES["outcomes"] if b == "outcome" else (definition, caveats))
        views[title] = lambda b=b, title=title, notes=notes: sections.breakdown_section(
            f"{dataset}_by_{b}", params, b, count, label, title, dataset, *notes, f"{dataset}_by_{b}",
            category_label=title, order=_order(c, b),
            empty=f"The {noun} you may see hold no {incidents.in_sentence(title)} for these filters.")
    return views


def _order(c, name: str) -> tuple | None:
    """A field's categories in their natural order, where the contract says they have one."""
    f = c.field(name)
    return f.values if f.ordered else None


def _all_of(label: str) -> str:
    """The empty category box's words: "All crime types", but just "All" where adding an s
    would not make a plural ("Cases opened or closed")."""
    words = incidents.in_sentence(label)
    return f"All {words}s" if words and (" " not in words or words.split()[-1] in (
        "type", "category", "group", "band", "disposal", "outcome")) else "All"


def _withheld_note(withheld: list[str], level: str | None, d: dict, user) -> str:
    """What this page leaves out for this user and why, in one plain note ('' when nothing)."""
    parts = []
    if level:
        parts.append(f"Figures by ward and LSOA are not shared with you: the sharing agreement shares "
                     f"this data with the {access.partner_name(user.partner)} partner by {LEVEL_WORDS[level]}.")
    if withheld:
        names = withheld[0] if len(withheld) == 1 else ", ".join(withheld[:-1]) + " and " + withheld[-1]
        names = names[:1].upper() + names[1:]
        parts.append(f"{names} {'is' if len(withheld) == 1 else 'are'} not shared with you: under your "
                     "sharing agreement your figures are protected as one table of counts by period, "
                     f"area and {incidents.in_sentence(d.get('category_label', 'category'))}, and a "
                     "further split would make counts too small to protect.")
    return " ".join(parts)


def _period(dataset: str, c: catalog.Contract) -> tuple[str, str]:
    """The period of the page's totals: the named periods (csp.protection.periods), shown in
    quarters for quarterly data."""
    choices = None if c.grain_months == 1 else incidents.period_options(dataset)
    start, end, _ = ui.period_filter(dataset, choices=choices)
    return start, end
