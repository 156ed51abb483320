"""Reoffending: Ministry of Justice proven-reoffending measures by quarterly cohort, split
adult/juvenile, by cohort type and by cohort group (IOM), with Wilson 95% intervals."""
import polars as pl
import streamlit as st

from csp import figures_themes as fig
from csp import chart_text, indicators, themes
from csp.ui import charts
from csp.ui import common as ui
from csp.ui.auth import current_user

TYPES = themes.REOFFENDING_TYPES
GROUPS = {"": "All offenders", "IOM": "IOM (integrated offender management)", "other": "Not IOM"}


def render() -> None:
    st.title("Reoffending", anchor=False)
    with st.container(horizontal=True):
        types = st.multiselect("Cohort type", options=list(TYPES), format_func=TYPES.get,
                               placeholder="All cohort types", key="cohort_type", bind="query-params")
        group = st.selectbox("Cohort group", options=list(GROUPS), format_func=GROUPS.get,
                             key="cohort_group", bind="query-params")
    summary = themes.reoffending_summary(current_user(), params={"cohort_type": types or None,
                                                                  "cohort_group": group or None})
    if summary.quarterly is None:
        ui.run("reoffending_breakdown")  # shows the access message
        return
    if summary.age is None:
        st.info(summary.tile.reason)
        return
    st.info(summary.age["text"])

    rows = summary.breakdown.frame.to_dicts()
    total = next(r for r in rows if r["split"] == "all")
    tile = summary.tile
    c1, c2, c3 = st.columns(3)
    c1.metric("Reoffending rate, latest year",
              tile.value_label or ui.fmt_count(None),
              delta=f"{tile.change_label} · {indicators.JUDGEMENT_WORDS[tile.colour]}"
              if tile.available else None,
              delta_color=tile.metric_colour, border=True,
              help="Binary rate for all offenders in the latest four quarterly cohorts: those who "
                   "reoffended as % of the cohort. Change: percentage points against the four before.")
    # A ratio of two perturbed counts says how far protection alone can move it.
    moved = {k: themes.ratio_noise_words(summary.breakdown, total.get("reoffences"), total.get(den))
             if total[k] is not None else "" for k, den in (("per_offender", "offenders"),
                                                             ("per_reoffender", "reoffenders"))}
    c2.metric("Reoffences per offender", "suppressed" if total["per_offender"] is None
              else f"{total['per_offender']:.2f}" + (" (approx.)" if moved["per_offender"] else ""),
              border=True, help=moved["per_offender"] or None)
    c3.metric("Reoffences per reoffender", "suppressed" if total["per_reoffender"] is None
              else f"{total['per_reoffender']:.2f}" + (" (approx.)" if moved["per_reoffender"] else ""),
              border=True, help=moved["per_reoffender"] or None)
    if moved["per_reoffender"]:
        st.caption("Reoffences per reoffender: " + moved["per_reoffender"])
    if tile.sentence:
        st.markdown(ui.md_escape(tile.sentence))

    st.header("Reoffending rate by quarterly cohort", anchor=False)
    q = summary.quarterly
    # People's words in the legend ("All offenders", not "all").
    lines = q.frame.with_columns(pl.col("age_group").replace(themes.REOFFENDING_AGES))
    order = list(themes.REOFFENDING_AGES.values())
    charts.chart(fig.rate_lines(lines, "cohort_quarter", "rate_pct", "rate_lower", "rate_upper", "age_group",
                                "Reoffending rate, % (95% CI shaded)", order=order),
                 "reoff_chart", *chart_text.lines(lines, "cohort_quarter", "rate_pct", "age_group",
                                                  "reoffending rate by quarterly cohort, %",
                                                  order=order, unit="%", when=themes.cohorts_words))
    st.caption("Filtered by the cohort type and group chosen above. Quarters where a count is "
               "suppressed are left out of the chart, not drawn as zero.")
    with st.expander("Table: rate and frequency by quarter"):
        ui.table(q)
    ui.download(q, "Download quarterly figures (Excel)", "reoffending_quarterly.xlsx", key="dl_reoff_q")

    st.header(f"Latest year of cohorts ({themes.month_label(total['first_quarter'])} to "
              f"{themes.month_label(themes.add_months(total['last_quarter'], 2))}), by group", anchor=False)
    b = summary.breakdown
    labelled = themes.reoffending_groups(b)
    charts.chart(fig.bars(labelled.frame, "group", "rate_pct", "Reoffending rate, % (95% CI)",
                          horizontal=True, error=("rate_lower", "rate_upper")),
                 "reoff_groups", *chart_text.bars(labelled.frame, "group", "rate_pct", "Reoffending rate, %"))
    st.caption("IOM: offenders managed under integrated offender management.")
    with st.expander("Table: latest year by age group, cohort type and cohort group"):
        ui.table(labelled, column_config={"group": st.column_config.Column("Group", pinned=True)})
    ui.download(labelled, "Download the breakdown (Excel)", "reoffending_breakdown.xlsx", key="dl_reoff_b")

    ui.dataset_note(
        "reoffending",
        "Proven reoffending as the Ministry of Justice defines it. A cohort is the offenders "
        "released from custody, given a non-custodial conviction or cautioned in a quarter. "
        "**Binary rate**: % of the cohort who commit an offence in the 12 months after entering "
        "it that is proven by a court conviction or caution (within a further 6 months). "
        "**Frequency**: proven reoffences per offender and per reoffender. "
        "**IOM**: offenders managed under integrated offender management.",
        "Intervals are Wilson 95% score intervals. Cohorts differ in their mix of offenders, so "
        "a change in rate can reflect who entered the cohort as well as what happened to them. "
        + themes.WAITING,
    )
