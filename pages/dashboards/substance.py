"""Substance misuse: adults in treatment, successful completions and non-representation by
substance group; drug offences recorded by the police; alcohol-related hospital admissions
against England."""
import polars as pl
import streamlit as st

from csp import figures_themes as fig
from csp import chart_text, figures, indicators, themes
from csp.ui import charts
from csp.ui import common as ui
from csp.ui.auth import current_user

GROUP_ORDER = ["all", "opiate", "non-opiate", "alcohol", "alcohol and non-opiate"]


def _treatment(summary: themes.SubstanceSummary) -> None:
    st.header("Drug and alcohol treatment", anchor=False)
    q = summary.quarterly
    latest = q.frame.filter(pl.col("quarter") == summary.latest_quarter)
    alls = latest.filter(pl.col("substance_group") == "all").to_dicts()
    row = alls[0] if alls else {}
    tile = summary.tile
    st.caption(f"The 12 months to {themes.month_label(themes.add_months(summary.latest_quarter, 2))}, "
               "all substance groups.")
    c1, c2, c3 = st.columns(3)
    c1.metric("Adults in treatment", ui.fmt_count(row.get("in_treatment")), border=True)
    c2.metric("Successful completions", tile.value_label or "suppressed",
              delta=f"{tile.change_label} · {indicators.JUDGEMENT_WORDS[tile.colour]}"
              if tile.available else None, delta_color=tile.metric_colour, border=True,
              help="Successful completions as % of adults in treatment. Change in percentage points "
                   "against the 12 months to the same quarter a year before.")
    c3.metric("Completed, no re-presentation", "suppressed" if row.get("non_rep_pct") is None
              else f"{row['non_rep_pct']:.1f}%", border=True,
              help="Completed successfully and did not return to treatment within 6 months, as % of "
                   "adults in treatment.")
    if tile.sentence:
        st.markdown(ui.md_escape(tile.sentence))
    elif tile.reason:
        st.caption(ui.md_escape(tile.reason))

    groups = st.multiselect("Substance groups on the chart", options=GROUP_ORDER, default=GROUP_ORDER,
                            format_func=lambda g: themes.SUBSTANCE_GROUPS.get(g, g),
                            key="substance_group", bind="query-params")
    # People's words for the groups, and each point dated by the end of its 12 months (the
    # tiles say "12 months to Sep 2026"; the quarter's first month read as "Jul 2026").
    shown = q.frame.filter(pl.col("substance_group").is_in(groups or GROUP_ORDER)).with_columns(
        pl.col("substance_group").replace(themes.SUBSTANCE_GROUPS),
        pl.col("quarter").dt.offset_by("2mo"))
    order = [themes.SUBSTANCE_GROUPS[g] for g in GROUP_ORDER if g in (groups or GROUP_ORDER)]
    charts.chart(fig.rate_lines(shown, "quarter", "completion_pct", "completion_lower", "completion_upper",
                                "substance_group", "Successful completions, % (95% CI shaded)", order=order),
                 "completion_chart", *chart_text.lines(shown, "quarter", "completion_pct", "substance_group",
                                                       "successful completions, %", order=order, unit="%",
                                                       when=lambda d: f"the 12 months to {d:%b %Y}"))
    groups_now = latest.filter(pl.col("substance_group") != "all").with_columns(
        pl.col("substance_group").replace(themes.SUBSTANCE_GROUPS))
    charts.chart(fig.bars(groups_now, "substance_group", "in_treatment", "Adults in treatment (12 months)",
                          horizontal=True),
                 "in_treatment_chart", *chart_text.bars(groups_now, "substance_group", "in_treatment",
                                                        "Adults in treatment"))
    with st.expander("Table: treatment by quarter and substance group"):
        ui.table(q)
    ui.download(q, "Download treatment figures (Excel)", "substance_treatment.xlsx", key="dl_treatment")
    ui.dataset_note(
        "substance_misuse",
        "Adults in structured drug and alcohol treatment in the 12 months to each quarter end, by "
        "substance group (opiate, non-opiate, alcohol, alcohol and non-opiate). **Successful "
        "completion**: left treatment free of dependence. **Non-representation**: completions not "
        "followed by a return to treatment within 6 months (completions minus re-presentations).",
        "Each quarter's figures cover the 12 months to its end, so neighbouring quarters overlap; "
        "compare a quarter with the same quarter a year earlier. Intervals are Wilson 95%.",
    )


def _drug_offences() -> None:
    st.header("Drug offences recorded by the police", anchor=False)
    st.caption("police.uk publishes a single 'Drugs' crime type: it does not split possession "
               "from supply, so this chart shows all drug offences together.")
    result = ui.run("substance_drug_offences")
    if result is None:
        return
    if result.frame.height == 0:
        st.info("No crime data is available to you yet.")
        return
    # The same control chart, marks and text as the Crime page's trend (one visual language).
    series, note = indicators.monthly_series(result, "drug_offences",
                                             shifts=indicators.documented_shifts("crime", ["Drugs"]))
    label = "Drug offences"
    figure = indicators.per_result(series, ("monthly_chart", label),
                                   lambda: figures.monthly_chart(series.frame, "drug_offences", label))
    charts.chart(figure, "drugs_chart", *indicators.per_result(
        series, ("trend_text", label), lambda: chart_text.monthly(series.frame, "drug_offences", label)))
    if note:
        st.caption(note)
    with st.expander("Table: drug offences by month"):
        ui.table(result)
    ui.download(result, "Download drug offences (Excel)", "drug_offences.xlsx", key="dl_drugs")
    ui.dataset_note(
        "crime",
        "Crimes of the police.uk type 'Drugs' (possession, supply and production together), by "
        "the month recorded.",
        "Drug offences are mostly found by police activity (stop and search, warrants), so the "
        "count reflects enforcement as much as drug use. Locations are snapped to anonymous points.",
    )


def _alcohol() -> None:
    st.header("Alcohol-related hospital admissions", anchor=False)
    result = ui.run("alcohol_admissions")
    if result is None:
        return
    if result.frame.height == 0:
        st.info("No alcohol admissions data has been published yet.")
        return
    charts.chart(fig.benchmark_lines(result.frame, "period", "value", "area_name",
                                     "Admissions per 100,000 (age-standardised)"),
                 "alcohol_chart", *chart_text.lines(result.frame, "period", "value", "area_name",
                                                    "alcohol-related admissions per 100,000"))
    if "E92000001" not in result.frame["area_code"].to_list():
        st.caption("The England benchmark is outside your area scope, so only your district is shown; "
                   "the 'significance' column gives Fingertips' own comparison with England.")
    with st.expander("Table: admissions by year"):
        ui.table(result)
    ui.download(result, "Download alcohol admissions (Excel)", "alcohol_admissions.xlsx", key="dl_alcohol")
    ui.dataset_note(
        "alcohol_admissions",
        "OHID Fingertips indicator: admission episodes for alcohol-related conditions (narrow "
        "definition: alcohol the main reason for admission), directly age-standardised rate per "
        "100,000, by financial year. 'Significance' is Fingertips' comparison with England (95% CI).",
        "Counts admissions, not people: one person admitted several times counts each time.",
    )


def render() -> None:
    st.title("Substance misuse", anchor=False)
    summary = themes.substance_summary(current_user())
    if summary.quarterly is not None and summary.latest_quarter is not None:
        _treatment(summary)
    else:
        st.header("Drug and alcohol treatment", anchor=False)
        st.caption(ui.md_escape(summary.tile.reason))
    _drug_offences()
    _alcohol()
