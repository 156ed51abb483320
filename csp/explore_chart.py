"""The chart of an Explore view (no Streamlit here): a line over time when the view is broken
down by a period, horizontal bars for one other breakdown, a heatmap for two. Drawn from the
published figures only; withheld figures are gaps (lines), listed as 'low'/'suppressed' (bars)
or labelled in their cell (heatmap), never drawn as zero. Every label goes through
csp.safety.label (Plotly renders markup in labels)."""
from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from . import disclosure, figures
from .safety import label as _text

MAX_BARS = 40
MAX_SERIES = 10
MAX_ROWS, MAX_COLS = 60, 25


def figure(result, plan) -> tuple[go.Figure | None, str]:
    """(figure, note on what the chart leaves out); no figure for a single total."""
    dims = plan.dims
    frame, count = result.frame, plan.count
    word = disclosure.withheld_label(result)
    if not dims or frame.height == 0:
        return None, ""
    label = plan.measure.label
    period = next((d for d in dims if d.kind == "period"), None)
    if period is not None:
        other = next((d for d in dims if d is not period), None)
        return _lines(frame, period, other, count, label, word)
    if len(dims) == 1:
        return _bars(frame, dims[0], count, label, word)
    return _heatmap(frame, dims[0], dims[1], count, label, word)


def _lines(frame: pl.DataFrame, period, other, count: str, label: str, word: str):
    x = period.shown
    note = ""
    fig = go.Figure()
    if other is None:
        series = [(label, frame)]
    else:
        totals = (frame.group_by(other.shown).agg(pl.col(count).sum().alias("__t"))
                  .sort(["__t", other.shown], descending=[True, False], nulls_last=True))
        keep = totals[other.shown].to_list()
        if len(keep) > MAX_SERIES:
            note = (f"The chart shows the {MAX_SERIES} {other.label.lower()} values with the most "
                    f"{label.lower()}; the table and the CSV have all {len(keep)}.")
            keep = keep[:MAX_SERIES]
        series = [(str(k), frame.filter(pl.col(other.shown) == k)) for k in keep]
    for i, (name, part) in enumerate(series):
        part = part.sort(x)
        fig.add_trace(go.Scatter(
            x=[_text(v) if isinstance(v, str) else v for v in part[x].to_list()],
            y=part[count].to_list(), name=_text(name), mode="lines+markers", connectgaps=False,
            line=dict(color=_colour(i), width=2), marker=dict(size=5),
            hovertemplate=f"%{{x}}: %{{y:,}}<extra>{_text(name)}</extra>",
        ))
    if frame[count].null_count():
        note = (note + " " if note else "") + f"Gaps are figures that read '{word}'."
    fig.update_yaxes(title_text=_text(label), rangemode="tozero")
    fig.update_xaxes(title_text=None, type="date" if period.key == "month" else "category")
    fig.update_layout(showlegend=other is not None)
    return figures._layout(fig, 420), note


def _bars(frame: pl.DataFrame, dim, count: str, label: str, word: str):
    note = ""
    if frame.height > MAX_BARS:
        shown = frame.filter(pl.col(count).is_not_null()).sort(count, descending=True).head(MAX_BARS)
        note = (f"The chart shows the {MAX_BARS} largest of {frame.height}; the table and the CSV "
                "have them all.")
        frame = shown
    return figures.bar_chart(frame, dim.shown, count, label, withheld=word), note


def _heatmap(frame: pl.DataFrame, rows_dim, cols_dim, count: str, label: str, word: str):
    note = ""
    ranked = lambda col: (frame.group_by(col).agg(pl.col(count).sum().alias("__t"))  # noqa: E731
                          .sort(["__t", col], descending=[True, False], nulls_last=True)[col].to_list())
    rows, cols = ranked(rows_dim.shown), ranked(cols_dim.shown)
    if len(rows) > MAX_ROWS or len(cols) > MAX_COLS:
        note = (f"The chart shows the {min(len(rows), MAX_ROWS)} × {min(len(cols), MAX_COLS)} largest; "
                "the table and the CSV have them all.")
        rows, cols = rows[:MAX_ROWS], cols[:MAX_COLS]
    rows = sorted(rows, key=lambda v: (v is None, str(v)))
    cols = sorted(cols, key=lambda v: (v is None, str(v)))
    cell = {(r[rows_dim.shown], r[cols_dim.shown]): r[count] for r in frame.iter_rows(named=True)}
    present = set(cell)
    z = [[cell.get((r, c)) for c in cols] for r in rows]
    text = [[(f"{v:,}" if v is not None else (word if (r, c) in present else ""))
             for v, c in zip(zr, cols)] for zr, r in zip(z, rows)]
    fig = go.Figure(go.Heatmap(
        z=z, x=[_text(c) for c in cols], y=[_text(r) for r in rows], text=text,
        texttemplate="%{text}", colorscale=figures.RATE_SCALE, hoverongaps=False,
        colorbar=dict(title=dict(text=_text(label))),
        hovertemplate="%{y} · %{x}: %{text}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(tickangle=-30, automargin=True)
    if any(v is None for (k, v) in cell.items()):
        note = (note + " " if note else "") + f"Cells reading '{word}' are withheld; blank cells have none."
    else:
        note = (note + " " if note else "") + "Blank cells have none."
    return figures._layout(fig, max(300, 26 * len(rows) + 140)), note


PALETTE = figures.SERIES


def _colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]
