"""Data quality: per dataset and period, records, share with a valid geography (flagged under
85%), duplicate identifiers, periods missing or late against the schedule, category changes."""
import dataclasses

import plotly.express as px
import polars as pl
import streamlit as st

from csp import access, catalog, disclosure, figures, quality, supply
from csp.ui import common as ui
from csp.ui.auth import current_user

LABELS = {"month": "Period", "records": "Records", "located": "With valid geography",
          "pct_located": "Valid geography %", "with_id": "With identifier",
          "duplicate_ids": "Duplicate identifiers", "categories": "Categories",
          "low_geography": "Below 85%", "offenders": "Offenders", "in_treatment": "In treatment",
          "in_partnership": "In the partnership area"}

COUNTS_LABELS = {"records": "Table rows", "located": "Rows with valid geography",
                 "pct_located": "Rows with valid geography %", "duplicate_ids": "Repeated rows"}


def queries_for_owner(dataset: str):
    """The owner-only identifier checks, or None for anyone else (said in a caption)."""
    g = access.grant(current_user(), dataset)
    return ui.run(quality.ID_QUERIES[dataset]) if g is not None and g.owner else None


def render() -> None:
    st.title("Data quality", anchor=False)
    user = current_user()
    checks = quality.quality_queries()
    options = [d for d in checks if access.grant(user, d)]
    # An analyst checks their own partner's data first (every analyst landed on police crime).
    options.sort(key=lambda d: catalog.contract(d).owner != user.partner)
    # Say so where the user's own partner's data has no checks here yet, rather than leave them
    # on another partner's dataset wondering where theirs is.
    unchecked = [catalog.contract(d).title for d, c in catalog.contracts().items()
                 if c.owner == user.partner and c.kind != "reference" and d not in checks]
    if unchecked:
        # Named as not in the list, so it does not read as a note on the dataset chosen below.
        it, its = ("it", "its") if len(unchecked) == 1 else ("them", "their")
        st.caption("Not in this list: " + ui.md_escape(", ".join(unchecked)) + ". No period-by-period "
                   f"checks are built here for {it} yet; every upload is checked on the Upload page, and "
                   f"{its} supply is on Data supply.")
    if not options:
        st.info("No dataset with quality checks is shared with you.")
        return
    dataset = st.selectbox("Dataset", options, format_func=lambda d: catalog.contract(d).title, key="dq_dataset",
                           bind="query-params")
    result = ui.run(checks[dataset])
    if result is None:
        return
    if result.frame.height == 0:
        st.info("Nothing has been published for this dataset yet.")
        return
    frame = quality.flag_geography(result.frame)
    # A counts dataset's rows are table cells (district × cohort breakdown), not people or
    # incidents: "Records 48" beside "Offenders 1,200" read as a contradiction.
    labels = LABELS | (COUNTS_LABELS if catalog.contract(dataset).kind == "counts" else {})
    sched = quality.schedule(dataset, frame["month"].to_list())
    low = frame.filter(pl.col("low_geography")) if "low_geography" in frame.columns else frame.clear()

    c1, c2, c3, c4 = st.columns([1.5, 1, 1, 1])  # "Jul–Sep 2026" fits beside the counts
    # Rows are labelled by the data's own grain (fires are monthly though supplied quarterly),
    # not by the supply schedule's: monthly rows read "2022 Q4" three times over.
    grain = catalog.contract(dataset).grain_months
    label = lambda d: supply.period_words(quality.period_label(d, grain))  # noqa: E731
    months = [m for m in frame["month"].to_list() if m is not None]
    c1.metric("Latest period", label(max(months)) if months else "-")
    owed = supply.dataset_supply(dataset)
    if owed.tracked:
        # The Data supply page's own judgement, so the two pages never disagree on what is
        # missing (due and not supplied) and what arrived late (supplied after its due date).
        c2.metric("Periods missing", len(owed.missing), help="Due by now and not supplied (as on Data supply).")
        c3.metric("Periods late", len(owed.late), help="Supplied after their due date.")
        (st.warning if owed.missing or owed.late else st.caption)(ui.md_escape(owed.sentence))
    else:
        c2.metric("Periods behind", sched.periods_late, help=f"Expected by now: {sched.expected_latest}")
        c3.metric("Gaps", len(sched.missing), help="Periods between the first and the latest held with no data.")
        if sched.periods_late:
            n = sched.periods_late
            st.warning(f"The latest period held is {supply.period_words(sched.latest)}; "
                       f"{supply.period_words(sched.expected_latest)} was expected by now "
                       f"({n} period{'' if n == 1 else 's'} behind).")
        if sched.missing:
            n = len(sched.missing)
            st.warning(f"{n} period{'' if n == 1 else 's'} with no data: " + "; ".join(sched.missing_runs) + ".")
    c4.metric(f"Under {quality.VALID_GEOGRAPHY_MIN:.0f}% located", low.height,
              help=f"Periods where under {quality.VALID_GEOGRAPHY_MIN:.0f}% of records have a valid geography.")
    if low.height:
        st.warning("Share of records with a valid geography is below "
                   f"{quality.VALID_GEOGRAPHY_MIN:.0f}% in: "
                   + ", ".join(label(d) for d in low["month"]))

    fig = px.bar(frame.to_pandas(), x="month", y="records", labels=labels,
                 color="low_geography" if "low_geography" in frame.columns else None,
                 color_discrete_map={False: figures.BAR, True: figures.VERMILLION})
    fig.update_layout(height=300, margin=dict(t=10), showlegend=False)
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False},
                    alt=f"Bar chart: {labels['records'].lower()} per period, {frame.height} periods; the figures are in the table below")

    st.header("By period", anchor=False)
    # "Below 85%" as a word, not a checkbox a reader may think they can tick.
    if "low_geography" in frame.columns:
        frame = frame.with_columns(pl.when(pl.col("low_geography")).then(pl.lit("Yes")).otherwise(pl.lit(""))
                                   .alias("low_geography"))
    display = frame.rename({k: v for k, v in labels.items() if k in frame.columns})
    mask = result.suppressed.rename({k: v for k, v in labels.items() if k in result.suppressed.columns})
    partial = result.partial.rename({k: v for k, v in labels.items() if k in result.partial.columns})
    # Newest first, as on Data supply: the period a person checks after an upload is the latest.
    shown = disclosure.display_frame(display, mask, partial, disclosure.withheld_label(result)).reverse()
    if grain == 3:  # a quarter as its months ("Jul–Sep 2026"), as everywhere else
        shown = shown.with_columns(pl.Series("Period", [label(d) for d in shown["Period"]], pl.String))
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        # Months, not midnight timestamps.
        "Period": st.column_config.DateColumn("Period", format="MMM YYYY") if grain != 3 else "Period"})
    ui.protection_caption(result)
    if dataset in quality.ID_QUERIES:
        ids = queries_for_owner(dataset)
        if ids is None:
            st.caption("Identifiers are restricted to the owning partner, so duplicate identifiers are shown only to them.")
        elif ids.frame.height:
            st.header("Identifiers", anchor=False)
            # Newest first, as the table above (masks reversed with the rows).
            ids = dataclasses.replace(ids, frame=ids.frame.reverse(), suppressed=ids.suppressed.reverse(),
                                      partial=ids.partial.reverse())
            ui.table(ids, column_config={"month": st.column_config.DateColumn("Period", format="MMM YYYY"),
                                         "with_id": "With identifier", "duplicate_ids": "Duplicate identifiers"})

    if dataset in quality.CATEGORY_QUERIES:
        cats = ui.run(quality.CATEGORY_QUERIES[dataset])
        if cats is not None and cats.frame.height:
            st.header("Category changes over time", anchor=False)
            changes = quality.category_changes(cats.frame)
            st.caption(quality.changes_summary(changes))
            month = "MMM YYYY"
            st.dataframe(changes.drop("span_months"), hide_index=True, width="stretch",
                         column_config={"crime_type": "Crime type",
                                        "first_month": st.column_config.DateColumn("First used", format=month),
                                        "last_month": st.column_config.DateColumn("Last used", format=month),
                                        "months": "Months used", "change": "Change"})
