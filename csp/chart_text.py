"""What each chart shows, in words (WCAG 1.1.1): a short accessible name for the chart and one
or two sentences summarising its data, written from the same frames the figures are drawn
from. No Streamlit here (the board pack can use them too). The full figures are always in the
chart's table (the 'Table' tab or expander) and its download."""
from __future__ import annotations

import datetime as dt
import math

import polars as pl


def _num(v) -> str:
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.1f}"
    return f"{int(v):,}"


def _month(d) -> str:
    return d.strftime("%b %Y") if isinstance(d, (dt.date, dt.datetime)) else str(d)


def _in(when: str) -> str:
    """'in Sep 2026'; 'for the Oct–Dec 2024 cohorts', 'for the 12 months to Sep 2026'."""
    return f"for {when}" if when.startswith("the ") else f"in {when}"


def _ok(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def monthly(series: pl.DataFrame, count_col: str, label: str) -> tuple[str, str]:
    """(name, summary) of a monthly control chart (csp.figures.monthly_chart's frame)."""
    months = series["month"].to_list()
    counts = series[count_col].to_list()
    span = f"{_month(months[0])} to {_month(months[-1])}" if months else ""
    limits = "centre_line" in series.columns and series["centre_line"].drop_nulls().len() > 0
    name = f"Line chart: {label.lower()} by month, {span}" + (", with control limits" if limits else "")
    pts = [(m, v) for m, v in zip(months, counts) if _ok(v)]
    if not pts:
        return name, f"Every month from {span} is withheld, so the chart has no line."
    lo = min(pts, key=lambda p: p[1])
    hi = max(pts, key=lambda p: p[1])
    text = (f"{label} by month, {span}: latest {_num(pts[-1][1])} ({_month(pts[-1][0])}); lowest "
            f"{_num(lo[1])} ({_month(lo[0])}), highest {_num(hi[1])} ({_month(hi[0])}).")
    withheld = len(counts) - len(pts)
    if withheld:
        text += f" {withheld} month{'s are' if withheld > 1 else ' is'} withheld (gaps in the line)."
    flags = []
    for col, words in (("exceptional", "exceptional"), ("seasonal", "outside the limits as a year before"),
                       ("shift_run", "part of a run")):
        if col in series.columns:
            hit = [m for m, f in zip(months, series[col].to_list()) if f]
            if hit:
                flags.append(f"{len(hit)} {words} ({', '.join(_month(m) for m in hit[:3])}"
                             + (" …" if len(hit) > 3 else "") + ")")
    text += (" Months marked: " + "; ".join(flags) + ".") if flags else " No month is marked as unusual."
    return name, text


def bars(frame: pl.DataFrame, category_col: str, count_col: str, label: str,
         withheld: str = "suppressed", top: int = 3) -> tuple[str, str]:
    """(name, summary) of a bar chart of counts by category, largest first."""
    rows = [r for r in frame.select(category_col, count_col).to_dicts()]
    shown = sorted((r for r in rows if _ok(r[count_col])), key=lambda r: -r[count_col])
    hidden = len(rows) - len(shown)
    name = f"Bar chart: {label.lower()} by {category_col.replace('_', ' ')}, {len(rows)} bars"
    if not shown:
        return name, f"Every figure is {withheld}."
    # Semicolons: a group can have a comma in its name ("Adults, not IOM").
    lead = "; ".join(f"{r[category_col]} {_num(r[count_col])}" for r in shown[:top])
    text = f"Largest: {lead}." + (f" Smallest: {shown[-1][category_col]} {_num(shown[-1][count_col])}."
                                  if len(shown) > top else "")
    if hidden:
        # Named, as the cohort breakdown names them ('Not drawn: 10-14'), up to a few.
        names = [str(r[category_col]) for r in rows if not _ok(r[count_col])]
        text += (f" Not drawn, as {withheld}: {'; '.join(names)}." if hidden <= 5 else
                 f" {hidden} are {withheld} (not drawn).")
    return name, text


def areas(ranked: pl.DataFrame, name_col: str, count_col: str, unit: str, label: str,
          bench_words: str | None, withheld: str = "suppressed") -> tuple[str, str]:
    """(name, summary) of a map of rates per 1,000 by area (csp.indicators.ranked_areas frame)."""
    rows = [r for r in ranked.to_dicts() if r.get(name_col)]
    rated = [r for r in rows if _ok(r.get("rate_per_1000"))]
    name = f"Map: {label.lower()} per 1,000 residents a year by {unit}, {len(rated)} {unit}s shaded"
    if not rated:
        return name, f"No {unit} has a rate to show."
    rated.sort(key=lambda r: -r["rate_per_1000"])
    hi, lo = rated[0], rated[-1]
    # One area has a rate, not a highest and a lowest ('Highest: Eastfield 85.5; lowest: Eastfield').
    text = (f"{hi[name_col]}: {hi['rate_per_1000']:,.1f} per 1,000." if len(rated) == 1 else
            f"Highest rate: {hi[name_col]} {hi['rate_per_1000']:,.1f} per 1,000; lowest: "
            f"{lo[name_col]} {lo['rate_per_1000']:,.1f}.")
    verdicts = [r.get("vs_benchmark") for r in rated]
    # Only where areas were compared: a single ward is not compared with itself, and the page
    # says so; 'Against your wards: 0 higher, 0 lower, 1 similar' beside it contradicted that.
    if bench_words and any(verdicts):
        worse, better = verdicts.count("worse"), verdicts.count("better")
        text += (f" Against {bench_words}: {worse} {unit}{'s' if worse != 1 else ''} significantly "
                 f"higher, {better} significantly lower, {len(rated) - worse - better} similar.")
    hidden = sum(1 for r in rows if r.get(count_col) is None)
    if hidden:
        text += f" {hidden} {unit}{'s' if hidden > 1 else ''} {withheld} (hatched)."
    return name, text


def lines(frame: pl.DataFrame, x: str, y: str, group: str, y_title: str,
          order: list | None = None, unit: str = "", when=None) -> tuple[str, str]:
    """(name, summary) of one line per group: each group's latest value and its change from the
    first. ``when`` names a point's x in words ('the Oct–Dec 2024 cohorts'; default its month):
    a quarterly cohort is not 'Oct 2024'."""
    label = when or _month
    groups = order or list(dict.fromkeys(frame[group].to_list()))
    xs = [v for v in frame[x].to_list() if v is not None]
    span = f"{_month(min(xs))} to {_month(max(xs))}" if xs else ""
    name = f"Line chart: {y_title}, {span}, {len(groups)} line{'s' if len(groups) != 1 else ''}"
    parts = []
    for g in groups:
        part = frame.filter(pl.col(group) == g).sort(x)
        pts = [(a, b) for a, b in zip(part[x].to_list(), part[y].to_list()) if _ok(b)]
        if pts:
            first, last = pts[0], pts[-1]
            parts.append(f"{g}: {_num(last[1])}{unit} {_in(label(last[0]))}"
                         + (f" (from {_num(first[1])}{unit} {_in(label(first[0]))})" if len(pts) > 1 else ""))
    return name, ("; ".join(parts) + ".") if parts else "No values to show."
