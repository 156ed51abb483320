"""The incident dashboard, one layout for every events dataset with a dashboard in its contract
(crime, ASB, fires ...): 12-month headline with an exact Poisson test, monthly control chart with
a rolling 12-month line, breakdown by category, ward and LSOA maps and ranked tables (rates per
1,000 residents a year with 95% intervals against the partnership), and any finer breakdowns.

Pages are modules with a render() function, run only through app.py's navigation: executed as a
script on its own (Streamlit's legacy pages/ mode) this file draws nothing."""
from __future__ import annotations

import streamlit as st

from csp import access, catalog, indicators
from csp.ui import common as ui
from csp.ui import sections
from csp.ui.auth import current_user


def render(dataset: str) -> None:
    c = catalog.contract(dataset)
    d = c.dashboard
    st.title(d.get("title", c.title), anchor=False)
    definition, caveats = d.get("definition", c.description), d.get("caveats", "")
    noun, label = d.get("noun", dataset), d.get("label", "Count")
    count = label.lower().replace(" ", "_")

    facets = ui.run(f"{dataset}_facets")
    if facets is None or facets.frame.height == 0:
        st.info(f"No {d.get('title', c.title).lower()} data is available to you yet.")
        return
    months = ui.months_held(facets.frame["first_month"], facets.frame["last_month"])
    cat = c.categories[0] if c.categories else None
    with st.container(horizontal=True):
        start, end, _ = ui.period_filter(dataset)
        area = ui.area_filter(dataset)
        chosen = None
        if cat:
            chosen = st.multiselect(d.get("category_label", "Category"), options=facets.frame[cat].to_list(),
                                    placeholder=f"All {d.get('category_label', 'categories').lower()}s",
                                    key="type", bind="query-params") or None

    params = {"from": start, "to": end, "area": area, **({cat: chosen} if cat else {})}
    sections.headline(f"{dataset}_headline", {"to": indicators.headline_end(end, dataset), "area": area,
                                              **({cat: chosen} if cat else {})}, noun,
                      polarity=d.get("polarity", "lower_is_better"))
    sections.trend_section(f"{dataset}_monthly_total", params, months[0], count, label, dataset,
                           definition, caveats, dataset, shifts=indicators.documented_shifts(dataset, chosen))
    if cat:
        sections.breakdown_section(f"{dataset}_by_type", params, cat, count, label,
                                   f"{label} by {d.get('category_label', cat).lower()}", dataset,
                                   definition + f" {d.get('category_label', cat)}s are as published.",
                                   caveats, f"{dataset}_by_type")
    else:
        st.caption(f"No breakdown by category: the data holds none. {caveats}")
    bench_params = {k: v for k, v in params.items() if k != "area"}
    for level in ("ward", "lsoa"):
        sections.areas_section(level, f"{dataset}_by_{level}", f"{dataset}_benchmark", params, bench_params,
                               count, label, dataset, definition, caveats, f"{dataset}_by_{level}", noun=noun)
    for b in c.breakdowns:
        title = (d.get("breakdown_labels") or {}).get(b, b.replace("_", " ").capitalize())
        if not access.shares_field(current_user(), dataset, b):
            st.header(title, anchor=False)
            st.info(f"{title} are not shared with you: under your sharing agreement these figures come "
                    f"from one protected table of counts by month, area and "
                    f"{d.get('category_label', 'category').lower()}, and this would split it finer.")
            continue
        sections.breakdown_section(f"{dataset}_by_{b}", params, b, count, label, title, dataset,
                                   *indicators.NOTES.get(f"{dataset}_{b}", indicators.NOTES.get("outcomes")),
                                   f"{dataset}_by_{b}",
                                   empty=f"The {noun} you may see hold no {title.lower()} for these filters.")
