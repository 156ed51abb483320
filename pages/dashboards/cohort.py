"""The cohort dashboard, for every dataset whose contract asks for layout = "cohort" (proven youth
reoffending): a rate of a quarterly cohort (who had the outcome, as % of the cohort) for the latest
year of cohorts against the year before (Wilson 95% intervals, two-proportion test), the rate by
cohort quarter, and the latest year by each category. The same for any cohort measure declared
as data: its size, outcome and events fields are named in the contract.

Pages are modules with a render() function, run only through app.py's navigation."""
from __future__ import annotations

import polars as pl
import streamlit as st

from csp import access, catalog, incidents, indicators, stats, themes
from csp import figures_themes as fig
from csp.ui import charts
from csp.ui import common as ui
from csp.ui.auth import current_user

ALL = ""


def render(dataset: str) -> None:
    c = catalog.contract(dataset)
    d = c.dashboard
    cohort = d["cohort"]
    size, outcome, events = cohort["size"], cohort["outcome"], cohort.get("events")
    rate_label = d.get("rate_label", "Rate")
    user = current_user()
    st.title(d.get("title", c.title))
    facets = ui.run(f"{dataset}_facets")
    if facets is None or facets.frame.height == 0:
        st.info(f"No {catalog.in_sentence(d.get('title', c.title))} data is available to you yet.")
        return
    shared = [f for f in incidents.filters(c) if access.shares_field(user, dataset, f)]
    picked = {}
    with st.container(horizontal=True):
        for f in shared:
            values = [ALL, *(c.field(f).values or ())]
            picked[f] = st.selectbox(incidents.label_of(c, f), options=values,
                                     format_func=lambda v: v or "All", key=f, bind="query-params") or None
    params = {k: v for k, v in picked.items() if v}

    head = ui.run(f"{dataset}_headline", params)
    if head is None or head.frame.height == 0:
        return
    row = head.frame.row(0, named=True)
    test = incidents.cohort_change(row, outcome, size, head)
    first, last = row["first_quarter"], row["last_quarter"]
    period = f"the cohorts of {themes.month_label(first)} to {themes.month_label(themes.add_months(last, 2))}"
    c1, c2, c3 = st.columns(3)
    if test is None:
        c1.metric(f"{rate_label}, latest year", ui.fmt_count(None), border=True)
    else:
        lo, hi = test["current_ci"]
        # The Overview's colours: blue/orange only when significant, by the measure's polarity.
        judged = stats.polarity_colour(test["direction"], d.get("polarity", "lower_is_better"))
        unclear = test.get("unclear")  # protection can move it more than it moved: no arrow
        c1.metric(f"{rate_label}, latest year", f"{100 * test['current']:.1f}%",
                  delta=(f"{test['change_points']:+.1f} points · direction unclear" if unclear
                         else f"{test['change_points']:+.1f} points · {indicators.JUDGEMENT_WORDS[judged]}"),
                  delta_color=indicators.METRIC_COLOURS[judged],
                  delta_arrow="off" if unclear or not test["change_points"] else
                  ("up" if test["change_points"] > 0 else "down"),
                  border=True,
                  help=f"{period}; 95% interval {100 * lo:.1f}% to {100 * hi:.1f}% (Wilson"
                       + (", widened for the perturbation of your figures" if test.get("noise") else "")
                       + "). Change: percentage points against the four cohort quarters before.")
    c2.metric(f"{incidents.label_of(c, size)}, latest year", ui.fmt_count(row[size]), border=True)
    if events:
        per = row.get("per_outcome")
        moved = themes.ratio_noise_words(head, row.get(events), row.get(outcome)) if per is not None else ""
        c3.metric(f"{c.field(events).description} per reoffender" if "reoffen" in outcome else
                  f"{c.field(events).description} per {c.field(outcome).description.lower()}",
                  ui.fmt_count(None) if per is None else f"{per:.2f}" + (" (approx.)" if moved else ""),
                  border=True, help=moved or None)
        if moved:
            st.caption(moved)
    st.markdown(ui.md_escape(themes.proportion_sentence(f"The {rate_label.lower()}", test, period)))

    quarterly = ui.run(f"{dataset}_quarterly", params)
    if quarterly is not None and quarterly.frame.height:
        st.header(f"{rate_label} by cohort quarter", anchor=False)
        with_ci = incidents.with_wilson(quarterly, outcome, size)
        q = with_ci.frame.with_columns(pl.lit("all").alias("group"))
        if q["rate_pct"].drop_nulls().len():
            charts.chart(fig.rate_lines(q, c.period_field, "rate_pct", "rate_lower", "rate_upper", "group",
                                        f"{rate_label}, % (95% CI shaded)"),
                         f"{dataset}_quarterly_chart", f"{rate_label} by cohort quarter, with its 95% interval")
        else:  # an empty chart with a meaningless axis says nothing
            st.info("No single quarter's rate can be given to you: each quarter's cohort is too small "
                    "for its figures to be shown safely. The latest year together is above.")
        st.caption("Quarters where a count is withheld (small numbers), or is so near the threshold that "
                   "perturbation may have raised it from a smaller one, are left out of the chart, not drawn "
                   "as zero. Cohorts are small: read the latest year together.")
        with st.expander("Table: by cohort quarter"):
            ui.table(with_ci)
        ui.download(with_ci, "Download quarterly figures (Excel)", f"{dataset}_quarterly.xlsx",
                    key=f"dl_{dataset}_quarterly")

    for f in incidents.filters(c):
        title = f"Latest year of cohorts by {incidents.label_of(c, f).lower()}"
        st.header(title, anchor=False)
        if f not in shared:
            st.info(f"{incidents.label_of(c, f)} is not shared with you under your sharing agreement.")
            continue
        result = ui.run(f"{dataset}_by_{f}")
        if result is None or result.frame.height == 0:
            st.info("Nothing to show.")
            continue
        b = incidents.with_wilson(result, outcome, size)
        if not b.frame["rate_pct"].drop_nulls().len():
            st.info("No group's rate can be given to you: each group is too small for its figures "
                    "to be shown safely.")
            continue
        # In the contract's order (caution before custody), not the alphabet's.
        values = list(c.field(f).values or ())
        shown = b.frame.sort(pl.col(f).replace_strict({v: i for i, v in enumerate(values)}, default=len(values),
                                                      return_dtype=pl.Int64)) if values else b.frame
        charts.chart(fig.bars(shown, f, "rate_pct", f"{rate_label}, % (95% CI)", horizontal=True,
                              error=("rate_lower", "rate_upper")),
                     f"{dataset}_by_{f}_chart", f"Bar chart: {title.lower()}, with 95% intervals")
        # Say which groups are not drawn: a chart of "15-17" alone reads as if there were no others.
        gone = [str(v) for v, r in zip(shown[f].to_list(), shown["rate_pct"].to_list()) if r is None]
        if gone:
            st.caption("Not drawn, as too few to show safely: " + ui.md_escape(", ".join(gone)) + ".")
        with st.expander(f"Table: {title.lower()}"):
            ui.table(b)
        ui.download(b, "Download this breakdown (Excel)", f"{dataset}_by_{f}.xlsx", key=f"dl_{dataset}_by_{f}")
    ui.dataset_note(dataset, d.get("definition", c.description), d.get("caveats", ""))

