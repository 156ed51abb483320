"""Plotly figures for the Overview, Reoffending, Substance misuse and Neighbourhood pages.
No Streamlit: the board pack draws the same figures. Colours are colour-blind safe
(Okabe-Ito); suppressed points are simply absent, never drawn as zero. Names from data go in
through csp.safety.label (Plotly renders links and styling in labels)."""
from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from .figures import BAR, SERIES
from .safety import label as _text

OKABE_ITO = SERIES  # the categorical order (csp.figures: judgement colours kept for judgements)
FONT = dict(family="Source Sans Pro, Helvetica, Arial, sans-serif", size=13)


def _layout(fig: go.Figure, height: int, y_title: str = "", x_title: str = "") -> go.Figure:
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=30, b=10), font=FONT, plot_bgcolor="white",
        legend=dict(orientation="h", y=-0.18, x=0), hovermode="x unified",
        yaxis_title=_text(y_title), xaxis_title=_text(x_title),
        dragmode=False,  # a drag (a finger on a phone) scrolls the page, never zooms the chart
    )
    fig.update_xaxes(showgrid=False, linecolor="#999")
    fig.update_yaxes(gridcolor="#eee", zeroline=False, rangemode="tozero")
    return fig


def sparkline(x: list, y: list, colour: str = OKABE_ITO[0], label: str = "") -> go.Figure:
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines", line=dict(color=colour, width=2), name=_text(label),
                               hovertemplate="%{x|%b %Y}: %{y:,}<extra></extra>"))
    fig.update_layout(height=70, margin=dict(l=0, r=0, t=0, b=0), showlegend=False,
                      plot_bgcolor="white", xaxis=dict(visible=False), yaxis=dict(visible=False))
    return fig


def rate_lines(frame: pl.DataFrame, x: str, y: str, lower: str, upper: str, group: str,
               y_title: str, order: list[str] | None = None) -> go.Figure:
    """One line per group with a shaded 95% interval. A suppressed value leaves a gap in the
    line and its band (never a zero, never a line bridging the gap)."""
    fig = go.Figure()
    groups = order or sorted(set(frame[group].to_list()))
    for i, g in enumerate(groups):
        part = frame.filter(pl.col(group) == g).sort(x)
        if part.height == 0 or part[y].is_null().all():
            continue
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        for seg in _segments(part, y):
            xs = seg[x].to_list()
            fig.add_trace(go.Scatter(
                x=xs + xs[::-1], y=seg[upper].to_list() + seg[lower].to_list()[::-1], fill="toself",
                mode="lines", fillcolor=_rgba(colour, 0.15), line=dict(width=0), hoverinfo="skip",
                showlegend=False, legendgroup=_text(g),
            ))
        fig.add_trace(go.Scatter(x=part[x].to_list(), y=part[y].to_list(), mode="lines+markers",
                                 name=_text(g), legendgroup=_text(g), connectgaps=False,
                                 line=dict(color=colour, width=2), marker=dict(size=5)))
    fig = _layout(fig, 380, y_title)
    if len([g for g in groups if frame.filter(pl.col(group) == g)[y].drop_nulls().len()]) < 2:
        fig.update_layout(showlegend=False)  # one line needs no key (it read "all")
    return fig


def _segments(part: pl.DataFrame, y: str) -> list[pl.DataFrame]:
    """Runs of consecutive rows where y is present."""
    out, start = [], None
    present = part[y].is_not_null().to_list()
    for i, ok in enumerate(present + [False]):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            out.append(part.slice(start, i - start))
            start = None
    return out


def bars(frame: pl.DataFrame, x: str, y: str, y_title: str, colour: str = BAR,
         horizontal: bool = False, error: tuple[str, str] | None = None) -> go.Figure:
    part = frame.filter(pl.col(y).is_not_null())
    kwargs = {}
    if error:
        lo, hi = error
        kwargs["error_x" if horizontal else "error_y"] = dict(
            type="data", symmetric=False, array=(part[hi] - part[y]).to_list(),
            arrayminus=(part[y] - part[lo]).to_list(), color="#444",
        )
    cats = _labels(part[x])
    if horizontal:
        fig = go.Figure(go.Bar(y=cats, x=part[y].to_list(), orientation="h",
                               marker_color=colour, **kwargs))
        fig.update_yaxes(autorange="reversed")
        fig = _layout(fig, max(220, 40 * part.height + 60), "")
        fig.update_xaxes(title=_text(y_title))
        return fig
    fig = go.Figure(go.Bar(x=cats, y=part[y].to_list(), marker_color=colour, **kwargs))
    return _layout(fig, 340, y_title)


def _labels(col: pl.Series) -> list:
    """Category names escaped; numbers and dates left as they are (axes treat them as such)."""
    return [_text(v) for v in col.to_list()] if col.dtype == pl.String else col.to_list()


def benchmark_lines(frame: pl.DataFrame, x: str, y: str, group: str, y_title: str) -> go.Figure:
    fig = go.Figure()
    for i, g in enumerate(dict.fromkeys(frame[group].to_list())):
        part = frame.filter(pl.col(group) == g)
        fig.add_trace(go.Scatter(x=part[x].to_list(), y=part[y].to_list(), mode="lines+markers",
                                 name=_text(g), line=dict(color=OKABE_ITO[i % len(OKABE_ITO)], width=2,
                                                        dash="solid" if i == 0 else "dash")))
    return _layout(fig, 340, y_title)


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"
