"""The board pack: one self-contained HTML file with every theme the user may see, its charts,
tables and notes, the user's scope and the as-at dates on the cover.

Every number comes from a named query run as the user through csp.queries.run, so the pack
carries exactly the scope, geography and suppression of the screen. Plotly's JavaScript is
embedded once, inline, so the file opens offline; print CSS lays it out for A4 landscape PDF.
No Streamlit here (csp.ui.boardpack puts the download button on screen).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
import importlib
import logging
from dataclasses import dataclass

import plotly.graph_objects as go
import plotly.offline
import polars as pl

from . import access, catalog, disclosure, figures, indicators, queries, safety, store, supply

log = logging.getLogger(__name__)
PERIOD_MONTHS = 24  # the pages' default period, so the pack matches what a board member saw
TOP_LSOAS = 15


def _e(value) -> str:
    """Every value placed in the pack's HTML (the figures escape their own labels)."""
    return safety.label(value)


def _month(d: dt.date) -> str:
    return d.strftime("%b %Y")


def _add_months(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return dt.date(y, m + 1, 1)


# ---- building blocks ----------------------------------------------------------------------

class _Figures:
    """Turns figures into <div>s that share the one inline copy of plotly.js."""

    def __init__(self):
        self.n = 0

    def __call__(self, fig: go.Figure | None, alt: str) -> str:
        if fig is None:
            return ""
        self.n += 1
        fig.update_layout(width=None, autosize=True)
        div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig{self.n}",
                          config={"displayModeBar": False, "responsive": True})
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
        return f'<td class="num">{float(value):,.2f}</td>'
    if isinstance(value, dt.date):
        return f"<td>{_e(_month(value))}</td>"
    return f"<td>{_e(value)}</td>"


def _table(result, labels: dict[str, str], caption: str = "", max_rows: int | None = None,
           collapsed: bool = False) -> str:
    """An HTML table of the listed columns of a result, suppressed cells reading 'suppressed'."""
    frame = disclosure.display(result)
    cols = [c for c in labels if c in frame.columns]
    rows = frame.select(cols).rows()
    more = ""
    if max_rows is not None and len(rows) > max_rows:
        more = f"<p class='small'>First {max_rows} of {len(rows)} rows.</p>"
        rows = rows[:max_rows]
    head = "".join(f"<th scope='col'>{_e(labels[c])}</th>" for c in cols)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    table = (f"<table><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead>"
             f"<tbody>{body}</tbody></table>{more}")
    note = disclosure.protection_note(result)
    if note:
        table += f"<p class='small'>{_e(note)}</p>"
    if collapsed:
        return f"<details><summary>Table of these figures</summary>{table}</details>"
    return table


def _note(dataset: str, definition: str, caveats: str = "") -> str:
    v = store.current(dataset)
    source = ""
    if v is not None:
        cov = v.meta.get("coverage") or {}
        source = (f" <b>Source:</b> {_e(v.meta['owner'])} ({_e(v.meta['source'])}). "
                  f"<b>Data held:</b> {_e(cov.get('first', '?'))} to {_e(cov.get('last', '?'))}. "
                  f"<b>Published:</b> {_e(v.meta['published_at'][:10])} (version {_e(v.version)}).")
    return (f"<div class='note'><b>What this shows:</b> {_e(definition)}{source}"
            + (f" <b>Caveats:</b> {_e(caveats)}" if caveats else "") + "</div>")


def _try(user, name: str, params: dict | None = None) -> tuple[queries.Result | None, str]:
    """Run a query as the user; an access refusal becomes the message to print instead."""
    try:
        return queries.run(user, name, params), ""
    except access.AccessDenied as e:
        return None, str(e)


def _refused(message: str) -> str:
    return f"<p class='refused'>{_e(message)}</p>"


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
    benchmark: str
    breakdowns: tuple[tuple[str, str, str, str], ...]  # (query, category column, heading, note key)


CRIME = CountTheme("crime", "Crime", "crime", "crimes", "Crimes", "crimes", "crime_facets",
                   "crime_headline", "crime_monthly_total", "crime_benchmark",
                   (("crime_by_type", "crime_type", "Crimes by type", "crime"),
                    ("crime_by_outcome", "outcome", "Outcomes", "outcomes")))
ASB = CountTheme("asb", "Anti-social behaviour", "asb", "ASB incidents", "Incidents", "incidents",
                 "asb_facets", "asb_headline", "asb_monthly_total", "asb_benchmark", ())


def _count_theme(user: access.User, t: CountTheme, fig: _Figures) -> str:
    out = [f"<section id='{t.key}'><h2>{_e(t.title)}</h2>"]
    facets, refused = _try(user, t.facets)
    if facets is None:
        return out[0] + _refused(refused) + "</section>"
    if facets.frame.height == 0:
        return out[0] + "<p>No data has been published yet.</p></section>"
    last = max(d for d in facets.frame["last_month"].to_list() if d is not None)
    first_held = min(d for d in facets.frame["first_month"].to_list() if d is not None)
    start = max(first_held, _add_months(last, -(PERIOD_MONTHS - 1)))
    params = {"from": start.strftime("%Y-%m"), "to": last.strftime("%Y-%m")}
    definition, caveats = indicators.NOTES[t.key]
    out.append(f"<p class='period'>Period: {_month(start)} to {_month(last)}.</p>")

    head, _ = _try(user, t.headline, {"to": params["to"]})
    if head is not None and head.frame.height:
        row = head.frame.row(0, named=True)
        test = indicators.change_test(row["current"], row["previous"])
        tiles = ((f"{t.label}, 12 months to {_month(row['last_month'])}", row["current"]),
                 ("Previous 12 months", row["previous"]))
        out.append("<div class='tiles'>" + "".join(
            f"<div class='tile'><div class='k'>{_e(k)}</div><div class='v'>{_e(_count(v))}</div></div>"
            for k, v in tiles) + "</div>")
        out.append(f"<p class='sentence'>{_e(indicators.change_sentence(test, t.noun))}</p>")

    history = params | {"from": indicators.history_start(params["from"], first_held.strftime("%Y-%m"))}
    monthly, refused = _try(user, t.monthly, history)
    if monthly is not None:
        series, note = indicators.monthly_series(monthly, t.count_col, params["from"], params["to"],
                                                 indicators.documented_shifts(t.dataset, None))
        out.append("<h3>Monthly trend</h3>")
        out.append(fig(figures.monthly_chart(series.frame, t.count_col, t.label, height=360),
                       f"Monthly {t.noun} with control limits"))
        if note:
            out.append(f"<p class='small'>{_e(note)}</p>")
        out.append(_table(series, {"month": "Month", t.count_col: t.label,
                                   "rolling_12_months": "Rolling 12 months",
                                   "outside_limits": "Outside limits"}, collapsed=True))
        out.append(_note(t.dataset, definition + " " + indicators.CONTROL_NOTE, caveats))

    for name, cat, heading, note_key in t.breakdowns:
        res, refused = _try(user, name, params)
        out.append(f"<h3>{_e(heading)}</h3>")
        if res is None:
            out.append(_refused(refused))
            continue
        if res.frame.height == 0:
            out.append("<p>None in this period.</p>")
            continue
        out.append(fig(figures.bar_chart(res.frame, cat, t.count_col, t.label,
                                         withheld=disclosure.withheld_label(res)), heading))
        out.append(_table(res, {cat: heading.split(" by ")[-1].capitalize(), t.count_col: t.label},
                          collapsed=True))
        out.append(_note(t.dataset, *indicators.NOTES[note_key]))

    bench_res, _ = _try(user, t.benchmark, params)
    bench = indicators.benchmark_rate(bench_res, t.count_col)
    bench_words = indicators.benchmark_label(user.areas, bench)
    for level in ("ward", "lsoa"):
        res, refused = _try(user, f"{t.key}_by_{level}", params)
        unit = "ward" if level == "ward" else "LSOA"
        if res is None:
            if level == "ward":  # say once why there are no maps
                out.append(f"<h3>By area</h3>{_refused(refused)}")
            continue
        out.append(f"<h3>{_e(t.label)} by {unit}, rate {indicators.RATE_UNIT}</h3>")
        ranked, note = indicators.ranked_areas(res, t.count_col, bench)
        name_col = f"{level}_name"
        geo = figures.load_boundaries(level)
        if geo is not None:
            out.append(fig(figures.choropleth(ranked.frame, geo, f"{level}_code", name_col,
                                              t.count_col, t.label, height=420,
                                              withheld=disclosure.withheld_label(ranked)),
                           f"Map of {t.noun} per 1,000 residents by {unit}"))
        if bench is not None:
            out.append(f"<p class='small'>Rate for {_e(bench_words)}: {bench['rate']:.1f} "
                       f"{indicators.RATE_UNIT} (95% CI {bench['lower']:.1f} to {bench['upper']:.1f}). "
                       f"{_e(indicators.population_note(bench))}</p>")
        if note:
            out.append(f"<p class='small'>{_e(note)}</p>")
        labels = {name_col: "LSOA" if level == "lsoa" else "Ward"}
        if level == "lsoa":
            labels["ward_name"] = "Ward"
        labels |= {t.count_col: t.label, "population": "Residents", "rate_per_1000": f"Rate {indicators.RATE_UNIT}",
                   "lower_95": "95% CI from", "upper_95": "95% CI to", "vs_benchmark": f"vs {bench_words}"}
        out.append(_table(ranked, labels, caption=f"{unit.capitalize()}s ranked by rate",
                          max_rows=TOP_LSOAS if level == "lsoa" else None))
        out.append(_note(t.dataset, definition + " " + indicators.RATE_NOTE.format(bench=bench_words),
                         caveats))
    return "\n".join(out) + "</section>"


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
    return f"<section id='{key}'><h2>{_e(title)}</h2>{_refused(why)}</section>"


def _reoffending(user: access.User, fig: _Figures) -> str:
    themes, ft = _themes()
    title = "Proven reoffending"
    if themes is None or not hasattr(themes, "reoffending_summary"):
        return _not_available("reoffending", title, "This section is not available in this version.")
    s = _guarded(themes.reoffending_summary, user)
    if s is None:
        return _not_available("reoffending", title, _FAILED)
    if not s.tile.available:
        return _not_available("reoffending", title, s.tile.reason or "Not available.")
    out = [f"<section id='reoffending'><h2>{title}</h2>",
           f"<p class='sentence'>{_e(s.tile.sentence)}</p>"]
    if s.age:
        out.append(f"<p class='small'>{_e(s.age.get('text', ''))}</p>")
    if s.quarterly is not None and s.quarterly.frame.height:
        out.append("<h3>Reoffending rate by quarterly cohort</h3>")
        out.append(fig(ft.rate_lines(s.quarterly.frame, "cohort_quarter", "rate_pct", "rate_lower",
                                     "rate_upper", "age_group", "Reoffending rate, %"),
                       "Proven reoffending rate by quarterly cohort"))
        out.append(_table(s.quarterly, {"cohort_quarter": "Cohort quarter", "age_group": "Age group",
                                        "offenders": "Offenders", "reoffenders": "Reoffenders",
                                        "rate_pct": "Rate %", "rate_lower": "95% CI from",
                                        "rate_upper": "95% CI to"}, collapsed=True))
    if s.breakdown is not None and s.breakdown.frame.height:
        out.append("<h3>Latest year of cohorts, by group</h3>")
        out.append(_table(s.breakdown, {"split": "Split", "age_group": "Age group",
                                        "cohort_type": "Cohort type", "cohort_group": "Cohort group",
                                        "offenders": "Offenders", "reoffenders": "Reoffenders",
                                        "rate_pct": "Rate %", "rate_lower": "95% CI from",
                                        "rate_upper": "95% CI to", "per_reoffender": "Reoffences per reoffender"}))
    out.append(_note("reoffending", "Ministry of Justice proven-reoffending measure: offenders "
                     "released from custody, given a non-custodial conviction or cautioned, "
                     "followed for 12 months plus a 6-month waiting period. Rates with Wilson 95% "
                     "intervals.", getattr(themes, "WAITING", "")))
    return "\n".join(out) + "</section>"


def _substance(user: access.User, fig: _Figures) -> str:
    themes, ft = _themes()
    title = "Substance misuse treatment"
    if themes is None or not hasattr(themes, "substance_summary"):
        return _not_available("substance", title, "This section is not available in this version.")
    s = _guarded(themes.substance_summary, user)
    if s is None:
        return _not_available("substance", title, _FAILED)
    if s.quarterly is None:
        return _not_available("substance", title, s.tile.reason or "Not available.")
    out = [f"<section id='substance'><h2>{title}</h2>",
           f"<p class='sentence'>{_e(s.tile.sentence or s.tile.reason)}</p>"]
    if s.quarterly.frame.height and "completion_lower" in s.quarterly.frame.columns:
        out.append("<h3>Successful completions, % of adults in treatment</h3>")
        out.append(fig(ft.rate_lines(s.quarterly.frame, "quarter", "completion_pct", "completion_lower",
                                     "completion_upper", "substance_group", "Successful completions, %"),
                       "Successful completions by substance group"))
        latest = dataclass_replace(s.quarterly, s.quarterly.frame["quarter"] == s.latest_quarter)
        out.append(_table(latest, {"substance_group": "Substance group", "in_treatment": "In treatment",
                                   "successful_completions": "Successful completions",
                                   "completion_pct": "Completions %", "completion_lower": "95% CI from",
                                   "completion_upper": "95% CI to", "non_rep_pct": "Not re-presenting %"},
                          caption=f"12 months to the quarter starting {_month(s.latest_quarter)}"))
    out.append(_note("substance_misuse", "Adults in structured drug and alcohol treatment; "
                     "successful completions as a share of those in treatment, with Wilson 95% "
                     "intervals."))
    return "\n".join(out) + "</section>"


def dataclass_replace(result, keep: pl.Series):
    """The rows of a result (frame and suppression mask together) where ``keep`` is true."""
    import dataclasses
    mask = result.suppressed.filter(keep) if result.suppressed.width else result.suppressed
    partial = getattr(result, "partial", None)
    extra = {}
    if partial is not None and partial.width and partial.height == result.frame.height:
        extra["partial"] = partial.filter(keep)
    return dataclasses.replace(result, frame=result.frame.filter(keep), suppressed=mask, **extra)


def _summary(user: access.User) -> str:
    themes, _ = _themes()
    if themes is None or not hasattr(themes, "overview_tiles"):
        return ""
    tiles = _guarded(themes.overview_tiles, user)
    if tiles is None:
        return _not_available("summary", "Summary", _FAILED)
    table = themes.tiles_table(tiles)
    return ("<section id='summary'><h2>Summary</h2>"
            + _table(table, {"theme": "Theme", "period": "Period", "latest_12_months": "Latest",
                             "previous": "Previous", "change": "Change", "significant": "Significant",
                             "summary": "In words"})
            + "<p class='small'>Significance: exact Poisson test for counts, two-proportion test for "
              "rates, at the 5% level.</p></section>")


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
    out.append(f"<table><caption>Supply by partner and dataset</caption><thead><tr>{head}</tr></thead>"
               f"<tbody>{''.join(body)}</tbody></table>")
    behind = [s for s in tracked if s.status in (supply.MISSING, supply.LATE)]
    if behind:
        out.append("<ul>" + "".join(f"<li><b>{_e(s.title)}</b> ({_e(s.owner)}): {_e(s.sentence)}</li>"
                                    for s in behind) + "</ul>")
    out.append("<p class='small'>" + _e(" ".join(f"{k.capitalize()}: {v}." for k, v in supply.MEANING.items()))
               + "</p>")
    return "\n".join(out) + "</section>"


# ---- cover and page ---------------------------------------------------------------------------

def _held(cov: dict) -> str:
    return f"{cov['first']} to {cov['last']}" if cov.get("first") else "not dated"


def _cover(user: access.User, produced: dt.datetime) -> str:
    if user.areas:
        scope = indicators.scope_label(user)
    else:
        scope = "the whole partnership area"
    rows = []
    for d in access.visible_datasets(user):
        v, g = store.current(d), access.grant(user, d)
        if v is None or g is None:
            continue
        cov = v.meta.get("coverage") or {}
        rows.append(
            f"<tr><td>{_e(catalog.contract(d).title)}</td><td>{_e(v.meta['owner'])}</td>"
            f"<td>{_e(_held(cov))}</td>"
            f"<td>{_e(v.meta['published_at'][:10])}</td><td>{_e(g.geography)}</td>"
            f"<td>{'none' if g.threshold <= 0 else f'1 to {g.threshold - 1}'}</td></tr>"
        )
    return (
        "<section id='cover' class='cover'><h1>Community Safety Partnership board pack</h1>"
        f"<p class='who'>Prepared for <b>{_e(user.name)}</b> ({_e(user.role)}, {_e(user.partner)}) on "
        f"{_e(produced.strftime('%d %B %Y at %H:%M UTC'))}.</p>"
        f"<p><b>Area scope:</b> {_e(scope)}.</p>"
        "<p>Everything in this pack is what the sharing agreement lets you see: your area scope, "
        "at the finest geography you may see, with small counts shown as 'suppressed'. Do not "
        "forward it to anyone with a different agreement.</p>"
        "<table><caption>Data in this pack (as at)</caption><thead><tr><th>Dataset</th><th>Owner</th>"
        "<th>Data held</th><th>Published</th><th>Finest geography</th><th>Suppressed counts</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


CSS = """
:root { --ink:#1b1b1b; --muted:#555; --rule:#d0d0d0; --accent:#0072B2; }
* { box-sizing: border-box; }
body { font-family: "Source Sans Pro", Helvetica, Arial, sans-serif; color: var(--ink);
       max-width: 1000px; margin: 0 auto; padding: 24px; line-height: 1.45; }
h1 { font-size: 28px; margin: 0 0 12px; color: var(--accent); }
h2 { font-size: 22px; border-bottom: 2px solid var(--accent); padding-bottom: 4px; margin-top: 36px; }
h3 { font-size: 17px; margin: 24px 0 6px; }
nav ul { columns: 2; padding-left: 18px; }
.small, .period { color: var(--muted); font-size: 13px; }
.sentence { font-size: 15px; }
.refused { background: #f3f3f3; border-left: 4px solid #999; padding: 8px 12px; }
.note { font-size: 12.5px; color: var(--muted); border-left: 3px solid var(--rule);
        padding: 4px 10px; margin: 8px 0 16px; }
.tiles { display: flex; gap: 16px; margin: 8px 0; }
.tile { border: 1px solid var(--rule); border-radius: 6px; padding: 8px 14px; min-width: 220px; }
.tile .k { font-size: 13px; color: var(--muted); }
.tile .v { font-size: 26px; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border-bottom: 1px solid var(--rule); padding: 3px 6px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.supp { color: var(--muted); font-style: italic; }
figure.chart { margin: 0; width: 100%; break-inside: avoid; page-break-inside: avoid; }
details summary { cursor: pointer; color: var(--accent); font-size: 13px; margin: 4px 0; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { max-width: none; padding: 0; }
  section { break-before: page; page-break-before: always; }
  section#cover { break-before: avoid; page-break-before: avoid; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  tr, .note, .tiles { break-inside: avoid; page-break-inside: avoid; }
  nav, details summary { display: none; }
  details > table { display: none; }
}
"""


def build(user: access.User, now: dt.datetime | None = None) -> str:
    """The whole board pack for this user, as one HTML document."""
    if not access.can(user, "board_pack"):
        raise access.AccessDenied("Your role does not include producing board packs.")
    produced = now or dt.datetime.now(dt.timezone.utc)
    fig = _Figures()
    sections = [_summary(user), _count_theme(user, CRIME, fig), _count_theme(user, ASB, fig),
                _reoffending(user, fig), _substance(user, fig), supply_section(user, produced)]
    toc = "".join(
        f"<li><a href='#{k}'>{_e(t)}</a></li>" for k, t in (
            ("summary", "Summary"), ("crime", "Crime"), ("asb", "Anti-social behaviour"),
            ("reoffending", "Proven reoffending"), ("substance", "Substance misuse treatment"),
            ("supply", "Data supply"))
        if f"id='{k}'" in "".join(sections)
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>CSP board pack, {_e(produced.strftime('%d %B %Y'))}</title>"
        f"<style>{CSS}</style>"
        # plotly.js once, inline: the pack must open with no network.
        f"<script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script>"
        "</head><body>"
        + _cover(user, produced)
        + f"<nav><h2>Contents</h2><ul>{toc}</ul></nav>"
        + "\n".join(s for s in sections if s)
        + "</body></html>"
    )
