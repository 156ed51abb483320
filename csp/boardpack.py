"""The board pack: one self-contained HTML file a chair can take into a meeting, printed to at
most ten A4 landscape pages for a typical partner.

Page 1 is the cover: the partnership's name and the period, who it was prepared for, the area,
the summary of every theme (latest 12 months, its 95% interval, the 12 before, the change and
the judgement: significantly better, significantly worse or no significant change) and the data's
as-at dates and protection. Then one or two pages per theme, charts side by side, and an
appendix with the detailed tables and the notes and definitions.

Every number comes from a named query run as the user through csp.queries.run, so the pack
carries exactly the scope, geography and protection of the screen. Plotly's JavaScript is
embedded once, inline, so the file opens offline; print CSS lays it out for A4 landscape PDF.
Labels are for people: no column names or codes from the data model (HUMAN, _human_value).
No Streamlit here (csp.ui.boardpack puts the download button on screen).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import logging
from dataclasses import dataclass
from decimal import Decimal

import plotly.graph_objects as go
import plotly.offline
import polars as pl

from . import access, catalog, disclosure, figures, indicators, partnership, queries, safety, stats, store, supply

log = logging.getLogger(__name__)
# The datasets the pack's sections read (the partners' other datasets have their own dashboards
# and appear in the pack's data supply table).
PACK_DATASETS = ("crime", "asb", "reoffending", "substance_misuse", "alcohol_admissions")
PERIOD_MONTHS = 24  # the pages' default period, so the pack matches what a board member saw
TOP_LSOAS = 10  # the rest are in the page's download
SHOWN_WARDS = 5  # highest and lowest rates named in the theme pages; all of them in the appendix


def _e(value) -> str:
    """Every value placed in the pack's HTML (the figures escape their own labels)."""
    return safety.label(value)


def _month(d: dt.date) -> str:
    return d.strftime("%b %Y")


def _add_months(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return dt.date(y, m + 1, 1)


# Values from the data model as people say them (table cells; categories from data are shown as
# published, escaped).
HUMAN = {
    "custody": "Released from custody", "court_order": "Court order", "caution": "Caution",
    "adult": "Adults", "juvenile": "Juveniles (10–17)",  # as csp.themes.REOFFENDING_AGES
    "IOM": "Integrated offender management",
    "other": "Other offenders", "all": "All", "age group": "By age",
    "age group and cohort group": "By age and cohort group", "cohort group": "By cohort group",
    "cohort type": "By how they entered the cohort", "better": "Better", "worse": "Worse",
    "similar": "Similar", "lower": "Lower", "higher": "Higher",
    "opiate": "Opiates", "non-opiate": "Non-opiates", "alcohol": "Alcohol only",
    "alcohol and non-opiate": "Alcohol and non-opiates",
}
HUMAN_COLUMNS = {"split", "age_group", "cohort_type", "cohort_group", "vs_benchmark", "substance_group"}


def _human_value(col: str, value):
    if col in HUMAN_COLUMNS and isinstance(value, str):
        return HUMAN.get(value, value)
    return value


# ---- building blocks ----------------------------------------------------------------------

class _Figures:
    """Turns figures into <div>s that share the one inline copy of plotly.js."""

    def __init__(self):
        self.n = 0

    def __call__(self, fig: go.Figure | None, alt: str, height: int | None = None) -> str:
        if fig is None:
            return ""
        self.n += 1
        fig.update_layout(width=None, autosize=True)
        if height:
            fig.update_layout(height=height)
        div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig{self.n}",
                          config={"displayModeBar": False, "responsive": True, "staticPlot": False})
        return f'<figure class="chart" role="img" aria-label="{_e(alt)}">{div}</figure>'


def _count(value) -> str:
    return disclosure.SUPPRESSED_LABEL if value is None else f"{value:,}"


def _cell(value) -> str:
    if value is None:
        return "<td></td>"
    if value in disclosure.WITHHELD_LABELS:
        return f'<td class="supp">{value}</td>'
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, int) or (isinstance(value, Decimal) and value == int(value)):
        return f'<td class="num">{int(value):,}</td>'
    if isinstance(value, (float, Decimal)):
        return f'<td class="num">{float(value):,.1f}</td>'  # one decimal: a board reads trends
    if isinstance(value, dt.date):
        return f"<td>{_e(_month(value))}</td>"
    if isinstance(value, str) and value.startswith("≥"):
        return f'<td class="num">{_e(value)}</td>'
    return f"<td>{_e(value)}</td>"


def _table(result, labels: dict[str, str], caption: str = "", max_rows: int | None = None,
           note: bool = True) -> str:
    """An HTML table of the listed columns of a result, withheld cells reading 'low' or
    'suppressed', values in people's words."""
    frame = disclosure.display(result)
    cols = [c for c in labels if c in frame.columns]
    rows = frame.select(cols).rows()
    more = ""
    if max_rows is not None and len(rows) > max_rows:
        more = f"<p class='small'>The first {max_rows} of {len(rows)} rows.</p>"
        rows = rows[:max_rows]
    head = "".join(f"<th scope='col'>{_e(labels[c])}</th>" for c in cols)
    body = "".join("<tr>" + "".join(_cell(_human_value(c, v)) for c, v in zip(cols, row)) + "</tr>"
                   for row in rows)
    table = (f"<table><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead>"
             f"<tbody>{body}</tbody></table>{more}")
    protection = disclosure.protection_note(result)
    if note and protection:
        table += f"<p class='small'>{_e(protection)}</p>"
    return f"<div class='tablebox'>{table}</div>"


def _with_ci(result, lower: str, upper: str, name: str = "ci_95"):
    """The result with one '12.3–15.6' column for an interval (withheld where either end is):
    two columns of bounds made the appendix tables too wide for half a page."""
    from .themes import derived_result

    if lower not in result.frame.columns or upper not in result.frame.columns:
        return result
    text = [None if a is None or b is None else f"{a:,.1f}–{b:,.1f}"
            for a, b in zip(result.frame[lower].to_list(), result.frame[upper].to_list())]
    frame = result.frame.with_columns(pl.Series(name, text, pl.String))
    mask = result.suppressed
    if lower in mask.columns:
        mask = mask.with_columns(pl.col(lower).alias(name))
        result = dataclasses.replace(result, suppressed=mask)
    return derived_result(result, frame, {name: [c for c in (lower, upper) if c in mask.columns]})


def _held_words(cov: dict, dataset: str) -> str:
    """A dataset's coverage as months a person reads: 'Oct 2022 to Sep 2026'."""
    if not cov.get("first"):
        return "not dated"
    return supply.held_words(cov["first"], cov["last"], catalog.contract(dataset).grain_months)


def _day(stamp: str) -> str:
    """An ISO timestamp's day, '2 December 2026'."""
    try:
        d = dt.date.fromisoformat(str(stamp)[:10])
    except ValueError:
        return str(stamp)[:10]
    return f"{d.day} {d:%B %Y}"


def _definition(dataset: str, definition: str, caveats: str = "") -> str:
    """A dataset's 'what this shows' for the appendix: definition, source, as-at, caveats."""
    v = store.current(dataset)
    source = ""
    if v is not None:
        cov = v.meta.get("coverage") or {}
        source = (f" <b>Source:</b> {_e(access.partner_name(v.meta['owner']))} ({_e(v.meta['source'])}). "
                  f"<b>Data held:</b> {_e(_held_words(cov, dataset))}. "
                  f"<b>Published:</b> {_e(_day(v.meta['published_at']))}.")
    return (f"<div class='note'><b>{_e(catalog.contract(dataset).title)}.</b> {_e(definition)}{source}"
            + (f" <b>Caveats:</b> {_e(caveats)}" if caveats else "") + "</div>")


def _try(user, name: str, params: dict | None = None) -> tuple[queries.Result | None, str]:
    """Run a query as the user; an access refusal becomes the message to print instead."""
    try:
        return queries.run(user, name, params), ""
    except access.AccessDenied as e:
        return None, str(e)
    except queries.QueryError as e:
        return None, str(e)


def _refused(message: str) -> str:
    return f"<p class='refused'>{_e(message)}</p>"


def _grid(*cells: str) -> str:
    shown = [c for c in cells if c]
    if not shown:
        return ""
    return "<div class='grid'>" + "".join(f"<div>{c}</div>" for c in shown) + "</div>"


# ---- crime and ASB -------------------------------------------------------------------------

@dataclass(frozen=True)
class CountTheme:
    key: str
    title: str
    dataset: str
    noun: str  # for sentences: "crimes"
    label: str  # count column heading: "Crimes"
    count_col: str
    facets: str
    headline: str
    monthly: str
    breakdowns: tuple[tuple[str, str, str, str], ...]  # (query, category column, heading, note key)


CRIME = CountTheme("crime", "Crime", "crime", "crimes", "Crimes", "crimes", "crime_facets",
                   "crime_headline", "crime_monthly_total",
                   (("crime_by_type", "crime_type", "Crimes by type", "crime"),
                    ("crime_by_outcome", "outcome", "Outcomes", "outcomes")))
ASB = CountTheme("asb", "Anti-social behaviour", "asb", "ASB incidents", "Incidents", "incidents",
                 "asb_facets", "asb_headline", "asb_monthly_total", ())


@dataclass
class Section:
    body: str  # the theme's pages
    appendix: list = dataclasses.field(default_factory=list)  # its detailed tables, one block each
    notes: str = ""  # its definitions


def _period(user, t: CountTheme) -> tuple[dict, dt.date, dt.date, str] | None:
    facets, _ = _try(user, t.facets)
    if facets is None or facets.frame.height == 0:
        return None
    last = max(d for d in facets.frame["last_month"].to_list() if d is not None)
    first_held = min(d for d in facets.frame["first_month"].to_list() if d is not None)
    start = max(first_held, _add_months(last, -(PERIOD_MONTHS - 1)))
    params = {"from": start.strftime("%Y-%m"), "to": last.strftime("%Y-%m")}
    return params, start, last, first_held.strftime("%Y-%m")


def _ranked_words(ranked, name_col: str, n: int) -> str:
    """The areas with the highest and lowest rates, and how many are better or worse than the
    comparator, in words (the whole table is in the appendix)."""
    rows = [r for r in ranked.frame.to_dicts() if r.get("rate_per_1000") is not None]
    if not rows:
        return ""
    worse = [r[name_col] for r in rows if r.get("vs_benchmark") == "worse"]
    better = [r[name_col] for r in rows if r.get("vs_benchmark") == "better"]
    def listed(rs):
        return _e(", ".join(f"{r[name_col]} ({r['rate_per_1000']:.1f})" for r in rs))
    items = [f"<li><b>Highest rates:</b> {listed(rows[:n])}.</li>",
             f"<li><b>Lowest rates:</b> {listed(rows[-n:][::-1])}.</li>"]
    if worse or better:
        items.append(f"<li><b>Significantly higher than the comparator:</b> {_e(', '.join(worse) or 'none')}. "
                     f"<b>Significantly lower:</b> {_e(', '.join(better) or 'none')}.</li>")
    return "<ul class='areas'>" + "".join(items) + "</ul>"


def _count_theme(user: access.User, t: CountTheme, fig: _Figures) -> Section:
    head_html = f"<section id='{t.key}'><h2>{_e(t.title)}</h2>"
    facets, refused = _try(user, t.facets)
    if facets is None:
        return Section(head_html + _refused(refused) + "</section>")
    got = _period(user, t)
    if got is None:
        return Section(head_html + "<p>No data has been published yet.</p></section>")
    params, start, last, first_held = got
    definition, caveats = indicators.NOTES[t.key]
    out = [head_html, f"<p class='period'>Period: {_month(start)} to {_month(last)} (the latest "
                      f"{PERIOD_MONTHS} months held); area: {_e(_area_words(user))}.</p>"]
    appendix: list[str] = []

    head, _ = _try(user, t.headline, {"to": params["to"]})
    shown = indicators.headline_comparison(head)
    if shown is not None:
        row, gap, test = shown["row"], shown["why"], shown["test"]
        floor = {k: "≥" if shown["lower"][k] and row[k] is not None else "" for k in ("current", "previous")}
        tiles = ((f"{t.label}, 12 months to {_month(row['last_month'])}", floor["current"] + _count(row["current"])),
                 ("Previous 12 months", floor["previous"] + _count(row["previous"])),
                 ("Change", "n/a" if test is None or test["pct_change"] is None else f"{test['pct_change']:+.1f}%"))
        out.append("<div class='tiles'>" + "".join(
            f"<div class='tile'><div class='k'>{_e(k)}</div><div class='v'>{_e(v)}</div></div>"
            for k, v in tiles) + "</div>")
        out.append(f"<p class='sentence'>{_e(gap or indicators.change_sentence(test, t.noun))}</p>")

    trend = ""
    history = params | {"from": indicators.history_start(params["from"], first_held)}
    monthly, _ = _try(user, t.monthly, history)
    if monthly is not None:
        series, note = indicators.monthly_series(monthly, t.count_col, params["from"], params["to"],
                                                 indicators.documented_shifts(t.dataset, None))
        trend = ("<h3>Monthly trend</h3>"
                 + fig(figures.monthly_chart(series.frame, t.count_col, t.label, height=300,
                                             polarity=catalog.contract(t.dataset).dashboard.get(
                                                 "polarity", "lower_is_better")),
                       f"Monthly {t.noun} with control limits, {_month(start)} to {_month(last)}")
                 + (f"<p class='small'>{_e(note)}</p>" if note else ""))
    cells = [trend]
    for name, cat, heading, note_key in t.breakdowns[:1]:  # the main breakdown beside the trend
        cells.append(_breakdown(user, t, name, cat, heading, params, fig, appendix))

    bench_res, _ = _try(user, indicators.benchmark_query(user, t.dataset), params)
    bench = indicators.benchmark_rate(bench_res, t.count_col)
    bench_words = indicators.benchmark_label(user.areas, bench)
    maps = []
    for level in ("ward", "lsoa"):
        res, refused = _try(user, f"{t.key}_by_{level}", params)
        unit = "ward" if level == "ward" else "LSOA"
        if res is None:
            if level == "ward":  # say once why there are no maps
                maps.append(f"<h3>By area</h3>{_refused(refused)}")
            continue
        ranked, note = indicators.ranked_areas(res, t.count_col, bench)
        name_col = f"{level}_name"
        geo = figures.load_boundaries(level)
        part = f"<h3>{_e(t.label)} by {unit}, rate {indicators.RATE_UNIT}</h3>"
        if geo is not None and (level == "ward" or t.breakdowns):  # one map per theme without a breakdown
            part += fig(figures.choropleth(ranked.frame, geo, f"{level}_code", name_col, t.count_col,
                                           t.label, height=360 if t.breakdowns else 300,
                                           withheld=disclosure.withheld_label(ranked)),
                        f"Map of {t.noun} per 1,000 residents a year by {unit}")
        if level == "ward":
            part += _ranked_words(ranked, name_col, SHOWN_WARDS)
        if note:
            part += f"<p class='small'>{_e(note)}</p>"
        if level == "ward" or t.breakdowns:
            maps.append(part)
        labels = {name_col: "LSOA" if level == "lsoa" else "Ward"}
        if level == "lsoa":
            labels["ward_name"] = "Ward"
        labels |= {t.count_col: t.label, "population": "Residents", "rate_per_1000": "Rate per 1,000 a year",
                   "ci_95": "95% CI", "vs_benchmark": f"Against {bench_words}"}
        appendix.append(_table(_with_ci(ranked, "lower_95", "upper_95"), labels, note=False, caption=f"{t.title}: {t.label.lower()} by {unit}, ranked by rate ({_month(start)} to "
                                                       f"{_month(last)})",
                               max_rows=TOP_LSOAS if level == "lsoa" else None))
    words = ""
    if bench is not None:
        words = (f"<p class='small'>Rate for {_e(bench_words)}: {bench['rate']:.1f} {indicators.RATE_UNIT} "
                 f"(95% CI {bench['lower']:.1f} to {bench['upper']:.1f}). "
                 f"{_e(indicators.population_note(bench))}</p>")
    if len(cells) == 1 and maps:
        # No breakdown to set beside the trend: the ward map goes there, the rest of the areas
        # (and the LSOA table) are in the appendix.
        out.append(_grid(trend, maps[0] + words))
    else:
        out.append(_grid(*cells))
        if maps:
            out.append("<div class='page'>" + _grid(*maps) + words + "</div>")
    for name, cat, heading, note_key in t.breakdowns[1:]:  # further breakdowns: appendix tables
        res, refused = _try(user, name, params)
        if res is not None and res.frame.height:
            appendix.append(_table(res, {cat: heading, t.count_col: t.label},
                                   caption=f"{t.title}: {heading.lower()}", note=False))
        elif res is None:
            appendix.append(f"<p class='small'><b>{_e(heading)}:</b> {_e(refused)}</p>")
    notes = _definition(t.dataset, definition, caveats)
    if t.breakdowns[1:]:
        notes += _definition(t.dataset, *indicators.NOTES["outcomes"])
    return Section("\n".join(out) + "</section>", appendix, notes)


def _breakdown(user, t: CountTheme, name: str, cat: str, heading: str, params: dict, fig: _Figures,
               appendix: list[str]) -> str:
    res, refused = _try(user, name, params)
    if res is None:
        return f"<h3>{_e(heading)}</h3>{_refused(refused)}"
    if res.frame.height == 0:
        return f"<h3>{_e(heading)}</h3><p>None in this period.</p>"
    appendix.append(_table(res, {cat: heading.split(" by ")[-1].capitalize(), t.count_col: t.label},
                           caption=f"{t.title}: {heading.lower()}", note=False))
    return (f"<h3>{_e(heading)}</h3>"
            + fig(figures.bar_chart(res.frame, cat, t.count_col, t.label,
                                    withheld=disclosure.withheld_label(res)), heading,
                  height=max(240, min(420, 22 * res.frame.height + 70))))


# ---- themes built by csp.themes (reoffending, substance misuse) ------------------------------

def _themes():
    try:
        return importlib.import_module("csp.themes"), importlib.import_module("csp.figures_themes")
    except ImportError:
        return None, None


_FAILED = "This section could not be produced from the current data; see the dashboard."


def _guarded(fn, user):
    # These sections come from csp.themes (another module's computations); a failure there
    # must cost the pack one section, not the whole pack. The error is logged for developers.
    try:
        return fn(user)
    except access.AccessDenied:
        raise
    except Exception:  # noqa: BLE001 - reported in the pack and the log
        log.exception("board pack: %s failed", getattr(fn, "__name__", fn))
        return None


def _not_available(key: str, title: str, why: str) -> str:
    return f"<div id='{key}' class='half'><h2>{_e(title)}</h2>{_refused(why)}</div>"


def _reoffending(user: access.User, fig: _Figures) -> Section:
    themes, ft = _themes()
    title = "Proven reoffending"
    if themes is None or not hasattr(themes, "reoffending_summary"):
        return Section(_not_available("reoffending", title, "This section is not available in this version."))
    s = _guarded(themes.reoffending_summary, user)
    if s is None:
        return Section(_not_available("reoffending", title, _FAILED))
    if not s.tile.available:
        return Section(_not_available("reoffending", title, s.tile.reason or "Not available."))
    out = [f"<div id='reoffending' class='half'><h2>{title}</h2>",
           f"<p class='sentence'>{_e(s.tile.sentence)}</p>"]
    appendix = []
    if s.quarterly is not None and s.quarterly.frame.height:
        q = s.quarterly.frame.with_columns(pl.col("age_group").replace(HUMAN))
        out.append(fig(ft.rate_lines(q, "cohort_quarter", "rate_pct", "rate_lower", "rate_upper",
                                     "age_group", "Reoffending rate, %"),
                       "Proven reoffending rate by quarterly cohort", height=300))
        if s.quarterly.n_suppressed:  # withheld quarters are gaps in the lines, listed in the appendix
            out.append("<p class='small'>Quarters with withheld figures are gaps in the lines; they are "
                       "listed in the appendix.</p>")
            appendix.append(_table(dataclass_replace(s.quarterly, s.quarterly.suppressed.select(
                pl.any_horizontal(pl.all())).to_series()), {
                "cohort_quarter": "Cohort quarter", "age_group": "Age group", "offenders": "Offenders",
                "reoffenders": "Reoffenders", "rate_pct": "Rate %"}, caption="Proven reoffending: quarters with withheld figures",
                note=False))
    if s.age:
        out.append(f"<p class='small'>{_e(s.age.get('text', ''))}</p>")
    if s.breakdown is not None and s.breakdown.frame.height:
        b = themes.reoffending_groups(s.breakdown)  # the web page's labels and order
        appendix.append(_table(_with_ci(b, "rate_lower", "rate_upper"), {
            "group": "Offenders", "offenders": "Number", "reoffenders": "Reoffenders",
            "rate_pct": "Rate %", "ci_95": "95% CI", "per_reoffender": "Reoffences per reoffender"},
            caption="Proven reoffending: the latest year of cohorts, by group", note=False))
    notes = _definition("reoffending", "Ministry of Justice proven-reoffending measure: offenders "
                        "released from custody, given a non-custodial conviction or cautioned, "
                        "followed for 12 months plus a 6-month waiting period. Rates with Wilson 95% "
                        "intervals.", getattr(themes, "WAITING", ""))
    return Section("\n".join(out) + "</div>", appendix, notes)


def _substance(user: access.User, fig: _Figures) -> Section:
    themes, ft = _themes()
    title = "Substance misuse treatment"
    if themes is None or not hasattr(themes, "substance_summary"):
        return Section(_not_available("substance", title, "This section is not available in this version."))
    s = _guarded(themes.substance_summary, user)
    if s is None:
        return Section(_not_available("substance", title, _FAILED))
    if s.quarterly is None:
        return Section(_not_available("substance", title, s.tile.reason or "Not available."))
    out = [f"<div id='substance' class='half'><h2>{title}</h2>",
           f"<p class='sentence'>{_e(s.tile.sentence or s.tile.reason)}</p>"]
    appendix = []
    if s.quarterly.frame.height and "completion_lower" in s.quarterly.frame.columns:
        q = s.quarterly.frame.with_columns(pl.col("substance_group").replace(HUMAN))
        out.append(fig(ft.rate_lines(q, "quarter", "completion_pct", "completion_lower",
                                     "completion_upper", "substance_group", "Successful completions, %"),
                       "Successful completions by substance group", height=300))
        latest = dataclass_replace(s.quarterly, s.quarterly.frame["quarter"] == s.latest_quarter)
        appendix.append(_table(
            _with_ci(latest, "completion_lower", "completion_upper"), {
            "substance_group": "Substance group", "in_treatment": "In treatment",
            "successful_completions": "Successful completions", "completion_pct": "Completions %",
            "ci_95": "95% CI", "non_rep_pct": "Not re-presenting %"},
            caption=f"Substance misuse treatment: the 12 months to {_month(_add_months(s.latest_quarter, 2))}",
            note=False))
    notes = _definition("substance_misuse", "Adults in structured drug and alcohol treatment; "
                        "successful completions as a share of those in treatment, with Wilson 95% "
                        "intervals.")
    return Section("\n".join(out) + "</div>", appendix, notes)


def dataclass_replace(result, keep: pl.Series):
    """The rows of a result (frame and suppression mask together) where ``keep`` is true."""
    mask = result.suppressed.filter(keep) if result.suppressed.width else result.suppressed
    partial = getattr(result, "partial", None)
    extra = {}
    if partial is not None and partial.width and partial.height == result.frame.height:
        extra["partial"] = partial.filter(keep)
    return dataclasses.replace(result, frame=result.frame.filter(keep), suppressed=mask, **extra)


# ---- the summary -----------------------------------------------------------------------------

def _judgement(tile) -> str:
    words = "Not tested (figures inside the total are withheld)" if getattr(tile, "lower_bound", False) else {
        "good": "Significantly better", "bad": "Significantly worse", "neutral": "No significant change"}[tile.colour]
    return f"<td class='j {tile.colour}'>{tile.arrow} {words}</td>"


def _summary(user: access.User) -> str:
    themes, _ = _themes()
    if themes is None or not hasattr(themes, "overview_tiles"):
        return ""
    tiles = _guarded(themes.overview_tiles, user)
    if tiles is None:
        return f"<div id='summary'><h2>Summary</h2>{_refused(_FAILED)}</div>"
    rows = []
    for t in tiles:
        if not t.available:
            rows.append(f"<tr><th scope='row'>{_e(t.title)}</th><td colspan='6' class='muted'>{_e(t.reason)}</td></tr>")
            continue
        rows.append(
            f"<tr><th scope='row'>{_e(t.title)}</th><td>{_e(t.period_label)}</td>"
            f"<td class='num'>{_e(t.value_label)}</td><td class='num'>{_e(t.ci_label)}</td>"
            f"<td class='num'>{_e(t.previous_label)}</td><td class='num'>{_e(t.change_label)}</td>"
            + _judgement(t) + "</tr>")
    sentences = "".join(f"<li>{_e(t.sentence)}</li>" for t in tiles if t.available and t.sentence)
    return ("<div id='summary'><h2>Summary</h2>"
            "<table class='summary'><thead><tr><th scope='col'>Theme</th><th scope='col'>Period</th>"
            "<th scope='col'>Latest</th><th scope='col'>95% interval</th><th scope='col'>The 12 months before</th>"
            "<th scope='col'>Change</th><th scope='col'>Judgement</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            "<p class='small'>Judgement: the change on the 12 months before, tested at the 5% level "
            "(exact Poisson test for counts, two-proportion test for rates). Blue ▼▲ = significantly "
            "better, orange = significantly worse, grey ● = no significant change. 95% interval: "
            "exact Poisson for counts, Wilson for rates.</p>"
            + (f"<ul class='messages'>{sentences}</ul>" if sentences else "") + "</div>")


# ---- data supply ---------------------------------------------------------------------------------

def supply_section(user: access.User, as_at: dt.datetime | None = None) -> str:
    """Data supply (csp.supply) as at the pack's date: per partner and dataset, the last period
    supplied and when, the status in words on a colour-blind-safe colour, what is missing and
    what is due next. Supply is metadata, so every declared dataset is listed for every ``user``
    who may produce a pack."""
    today = (as_at or dt.datetime.now(dt.timezone.utc)).date()
    tracked = [s for s in supply.all_supply(today) if s.tracked]
    out = ["<section id='supply'><h2>Data supply</h2>",
           f"<p class='small'>As at {_e(today.strftime('%d %B %Y'))}. The Crime and Disorder (Prescribed "
           "Information) Regulations 2007 require prescribed information to be shared quarterly, by the "
           "end of the following quarter; each dataset's contract says when its periods are due.</p>"]
    if not tracked:
        return "\n".join(out) + "<p>No dataset is declared with periods to supply.</p></section>"
    head = "".join(f"<th scope='col'>{h}</th>" for h in (
        "Partner", "Dataset", "Cadence", "Due by", "Last period supplied", "Supplied on", "Status", "Missing",
        "Next due"))
    body = []
    for s, row in zip(tracked, supply.table_rows(tracked)):
        colour = supply.STATUS_COLOURS.get(s.status)
        style = f" style='background:{colour};color:#000;font-weight:600'" if colour else ""
        body.append("<tr>" + "".join(f"<td>{_e(row[k])}</td>" for k in (
            "partner", "dataset", "cadence", "due", "last_period", "supplied_on"))
            + f"<td{style}>{_e(row['status'])}</td><td>{_e(row['missing'])}</td><td>{_e(row['next_due'])}</td></tr>")
    out.append(f"<table class='supply'><caption>Supply by partner and dataset</caption><thead><tr>{head}</tr></thead>"
               f"<tbody>{''.join(body)}</tbody></table>")
    # (What is missing or late is in the table's own columns: one page for every partner's data.)
    out.append("<p class='small'>" + _e(" ".join(f"{k.capitalize()}: {v}." for k, v in supply.MEANING.items()))
               + "</p>")
    return "\n".join(out) + "</section>"


# ---- cover and page ---------------------------------------------------------------------------

def _area_words(user: access.User) -> str:
    if user.areas:
        return indicators.scope_label(user)
    return partnership.describe()


def _protection_words(g: access.Grant) -> str:
    if g.owner:
        return "exact (your own data)"
    if g.protection == "perturb":
        return f"perturbed; under {g.threshold} shown as 'low'"
    if g.protection == "suppress":
        return f"1 to {g.threshold - 1} suppressed"
    return "none (public)"


def _cover(user: access.User, produced: dt.datetime) -> str:
    name = partnership.name() or "Community Safety Partnership"
    period = ""
    got = _period(user, CRIME) or _period(user, ASB)
    if got is not None:
        _, start, last, _ = got
        period = (f"<p class='lede'>Board pack · {_month(start)} to {_month(last)}<br>"
                  f"<span class='small'>12-month comparisons: the 12 months to {_month(last)} against the "
                  f"12 before.</span></p>")
    rows = []
    for d in access.visible_datasets(user):
        if d not in PACK_DATASETS:  # the cover lists what this pack's pages rest on
            continue
        v, g = store.current(d), access.grant(user, d)
        if v is None or g is None or not catalog.contract(d).protected:
            continue
        cov = v.meta.get("coverage") or {}
        held = _held_words(cov, d)
        rows.append(
            f"<tr><td>{_e(catalog.contract(d).title)}</td><td>{_e(access.partner_name(v.meta['owner']))}</td>"
            f"<td>{_e(held)}</td><td>{_e(_day(v.meta['published_at']))}</td>"
            f"<td>{_e({'lsoa': 'LSOA', 'ward': 'Ward', 'district': 'District'}[g.geography])}</td>"
            f"<td>{_e(_protection_words(g))}</td></tr>")
    role = access.role_name(user.role)
    return (
        "<section id='cover' class='cover'>"
        f"<h1>{_e(name)}</h1>{period}"
        f"<p class='who'>Prepared for <b>{_e(user.name)}</b> ({_e(role)}, "
        f"{_e(access.partner_name(user.partner))}) on {_e(produced.strftime('%d %B %Y at %H:%M UTC'))}. "
        f"<b>Area:</b> {_e(_area_words(user) if user.areas else 'the whole partnership area: ' + partnership.describe())}.</p>"
        + _summary(user)
        + "<table class='asat'><caption>Data in this pack: as at, and how it is protected</caption>"
          "<thead><tr><th scope='col'>Data</th><th scope='col'>Owner</th><th scope='col'>Data held</th>"
          "<th scope='col'>Published</th><th scope='col'>Finest area</th><th scope='col'>Small numbers</th>"
          f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        "<p class='small'>Everything in this pack is what the sharing agreement lets you see: your "
        "area, at the finest geography you may see, with small numbers protected. Do not forward it "
        "to anyone with a different agreement. Detailed tables and definitions are in the appendix.</p>"
        "</section>"
    )


CSS = """
:root { --ink:#1b1b1b; --muted:#4a4a4a; --rule:#cfcfcf; --accent:#0072B2; --bad:#D55E00; --good:#0072B2; }
* { box-sizing: border-box; }
body { font-family: "Source Sans Pro", Helvetica, Arial, sans-serif; color: var(--ink);
       max-width: 1040px; margin: 0 auto; padding: 24px; line-height: 1.4; font-size: 14px; }
h1 { font-size: 30px; margin: 0 0 4px; color: var(--accent); }
h2 { font-size: 21px; border-bottom: 2px solid var(--accent); padding-bottom: 3px; margin: 18px 0 8px; }
h3 { font-size: 15px; margin: 10px 0 4px; }
.lede { font-size: 18px; margin: 0 0 8px; }
nav ul { columns: 2; padding-left: 18px; }
.small, .period { color: var(--muted); font-size: 12px; }
.sentence { font-size: 14px; margin: 4px 0; }
.refused { background: #f3f3f3; border-left: 4px solid #999; padding: 6px 10px; }
.note { font-size: 11.5px; color: var(--muted); border-left: 3px solid var(--rule);
        padding: 3px 8px; margin: 4px 0 8px; }
.tiles { display: flex; gap: 12px; margin: 6px 0; }
.tile { border: 1px solid var(--rule); border-radius: 6px; padding: 4px 12px; min-width: 200px; }
.tile .k { font-size: 12px; color: var(--muted); }
.tile .v { font-size: 22px; font-weight: 600; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; align-items: start; }
.grid > div { min-width: 0; }
.half { break-inside: avoid; page-break-inside: avoid; }
table { border-collapse: collapse; width: 100%; font-size: 12px; margin: 4px 0; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border-bottom: 1px solid var(--rule); padding: 2px 5px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.supp, td.muted { color: var(--muted); font-style: italic; }
table.summary td, table.summary th { font-size: 13px; padding: 4px 6px; }
table.supply td, table.supply th { font-size: 11px; padding: 1px 4px; }
td.j { font-weight: 600; white-space: nowrap; }
td.j.good { color: var(--good); } td.j.bad { color: var(--bad); } td.j.neutral { color: #595959; }
ul.messages, ul.areas { margin: 4px 0; padding-left: 20px; }
ul.messages li, ul.areas li { margin: 2px 0; }
.appendix .cols { columns: 2; column-gap: 24px; }
.appendix .note { break-inside: avoid; page-break-inside: avoid; }
.appendix table { font-size: 11px; }
.stacks { display: flex; gap: 20px; align-items: flex-start; }
.stacks > div { flex: 1 1 0; min-width: 0; }
.appendix td.num, .appendix td { white-space: nowrap; }
.appendix td:first-child { white-space: normal; }
.appendix h2 + .small { margin-top: 0; }
figure.chart { margin: 0; width: 100%; break-inside: avoid; page-break-inside: avoid; }
@page { size: A4 landscape; margin: 10mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 12.5px; }
  section { break-before: page; page-break-before: always; }
  section#cover { break-before: avoid; page-break-before: avoid; }
  .page { break-before: page; page-break-before: always; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  tr, .note, .tiles { break-inside: avoid; page-break-inside: avoid; }
  nav { display: none; }
}
"""


def _stacks(blocks: list[str]) -> str:
    """Tables in two side-by-side stacks of about equal length (by table rows), in order, each
    stack flowing across pages: pairs of tables in rows left most of each printed page empty."""
    sizes = [max(1, b.count("<tr>")) for b in blocks]
    total, run, cut = sum(sizes), 0, len(blocks)
    for i, n in enumerate(sizes):
        if run + n / 2 > total / 2:
            cut = i
            break
        run += n
    left, right = blocks[:cut], blocks[cut:]
    return ("<div class='stacks'><div>" + "".join(left) + "</div><div>" + "".join(right)
            + "</div></div>")


def _methods() -> str:
    """The methods every theme shares, said once."""
    return ("<div class='note'><b>Trend charts.</b> " + _e(indicators.CONTROL_NOTE) + "</div>"
            "<div class='note'><b>Rates and comparisons.</b> "
            + _e(indicators.RATE_NOTE.format(bench="the comparator")) + "</div>")


def _result_notes(user: access.User) -> list[str]:
    """How the figures in the appendix's tables were protected, once for all of them."""
    from types import SimpleNamespace

    from .protection import cells

    out, rules = [], {}
    for d in access.visible_datasets(user):
        g = access.grant(user, d)
        if g is None or not catalog.contract(d).protected or store.current(d) is None:
            continue
        out.append(f"{catalog.contract(d).title}: {_protection_words(g)}.")
        rules[d] = cells.Rule(d, "none" if g.owner else g.protection, 0 if g.owner else g.threshold, g.ptable)
    if not out:
        return []
    return ["How the figures are protected: " + " ".join(out) + " "
            + disclosure.protection_note(SimpleNamespace(rules=rules)) + " Withheld figures are not zero."]


def build(user: access.User, now: dt.datetime | None = None) -> str:
    """The whole board pack for this user, as one HTML document."""
    if not access.can(user, "board_pack"):
        raise access.AccessDenied("Your role does not include producing board packs.")
    produced = now or dt.datetime.now(dt.timezone.utc)
    fig = _Figures()
    crime, asb = _count_theme(user, CRIME, fig), _count_theme(user, ASB, fig)
    reoff, subst = _reoffending(user, fig), _substance(user, fig)
    others = f"<section id='other'>{_grid(reoff.body, subst.body)}</section>"
    parts = [crime, asb, reoff, subst]
    notes = list(dict.fromkeys(n for n in (_result_notes(user)) if n))
    tables = [b for p in parts for b in p.appendix]
    appendix = ("<section id='appendix' class='appendix'><h2>Appendix: detailed tables</h2>"
                + "".join(f"<p class='small'>{_e(n)}</p>" for n in notes)
                + _stacks(tables)
                + "<h2>Appendix: notes and definitions</h2><div class='cols'>"
                + "".join(p.notes for p in parts if p.notes) + _methods() + "</div></section>")
    # Data supply (who has supplied what, and what is due) before the appendix: a chair asks it.
    body = [crime.body, asb.body, others, supply_section(user, produced), appendix]
    toc = "".join(
        f"<li><a href='#{k}'>{_e(t)}</a></li>" for k, t in (
            ("summary", "Summary"), ("crime", "Crime"), ("asb", "Anti-social behaviour"),
            ("reoffending", "Proven reoffending"), ("substance", "Substance misuse treatment"),
            ("supply", "Data supply"), ("appendix", "Appendix"))
        if f"id='{k}'" in "".join(body) or k == "summary"
    )
    name = partnership.name() or "Community Safety Partnership"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(name)}: board pack, {_e(produced.strftime('%d %B %Y'))}</title>"
        f"<style>{CSS}</style>"
        # plotly.js once, inline: the pack must open with no network.
        f"<script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script>"
        "</head><body>"
        + _cover(user, produced)
        + f"<nav><h2>Contents</h2><ul>{toc}</ul></nav>"
        + "\n".join(body)
        + "</body></html>"
    )
