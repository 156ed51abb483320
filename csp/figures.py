"""Plotly figure builders shared by the dashboard pages and the board pack (no Streamlit here).

Each builder takes frames computed by :mod:`csp.indicators` from named-query results and draws
them; none reads data itself. Maps are drawn from the boundary GeoJSON in
``<data_dir>/boundaries/`` with no tile server, so they work offline and in the board pack.
Colours: the Okabe-Ito palette for categories and Cividis for rates (both colour-blind safe);
points outside control limits are marked by shape as well as colour.

Plotly renders <a href>, <b> and <span style> in labels, legends and hover text, so every string
a builder is given (category and area names above all) goes in through csp.safety.label.
"""
from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import sample_colorscale
import polars as pl

from . import config
from .safety import label as _text

# Okabe-Ito (as csp.ui.common.PALETTE, repeated here so this module does not import Streamlit).
BLUE, ORANGE, GREEN, VERMILLION, GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#7f7f7f"
SUPPRESSED_FILL = "#d9d9d9"
CIVIDIS = "cividis_r"  # reversed: darker = higher rate, as readers expect
FONT = dict(family="Source Sans Pro, Helvetica, Arial, sans-serif", size=13)


def _white_template() -> str:
    """Plotly's 'plotly_white' cut to what these figures use: the layout parts that style 2-D
    axes, fonts, colours and hover labels, and the trace defaults for bar and scatter (the only
    trace types drawn here; no annotations, shapes or colour axes either). It draws these figures
    as 'plotly_white' does. Profiled: the whole template was validated and copied into every
    figure; this one costs a quarter of that and sends a sixth of the template's bytes."""
    if TEMPLATE not in pio.templates:
        white = pio.templates["plotly_white"]
        layout = white.layout.to_plotly_json()
        pio.templates[TEMPLATE] = go.layout.Template(
            layout={k: layout[k] for k in _TEMPLATE_LAYOUT if k in layout},
            data={"bar": white.data.bar, "scatter": white.data.scatter})
    return TEMPLATE


TEMPLATE = "csp_white"
_TEMPLATE_LAYOUT = ("autotypenumbers", "colorway", "font", "hoverlabel", "hovermode",
                    "paper_bgcolor", "plot_bgcolor", "title", "xaxis", "yaxis")


def _layout(fig: go.Figure, height: int, title: str | None = None) -> go.Figure:
    fig.update_layout(
        height=height, font=FONT, template=_white_template(),
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        title=dict(text=title, x=0, font=dict(size=15)) if title else None,
        legend=dict(orientation="h", yanchor="top", y=-0.12, x=0),
    )
    return fig


def monthly_chart(series: pl.DataFrame, count_col: str, label: str, title: str | None = None,
                  height: int = 400) -> go.Figure:
    """Monthly counts with the 12-month rolling average and the control chart by phase
    (csp.control_charts): centre line and limits per phase with a marked start for each
    documented change; exceptional months as vermillion diamonds, months outside the limits but
    like last year as hollow circles, runs that suggest a shift as triangles. Hover text says what
    each month shows."""
    months = series["month"].to_list()
    counts = series[count_col].to_list()
    signals = series["signal"].to_list() if "signal" in series.columns else [None] * len(months)
    fig = go.Figure()
    label, title = _text(label), title and _text(title)
    fig.add_trace(go.Scatter(
        x=months, y=counts, name=label, mode="lines+markers", line=dict(color=BLUE, width=2),
        marker=dict(size=5), customdata=[s or "" for s in signals],
        hovertemplate="%{x|%b %Y}: %{y:,}<br>%{customdata}<extra></extra>",
    ))
    rolling = series["rolling_12_months"].to_list()
    if any(v is not None for v in rolling):
        # The rolling total is ~12x a month: shown as its monthly average so both share one axis.
        avg = [None if v is None else v / 12 for v in rolling]
        fig.add_trace(go.Scatter(
            x=months, y=avg, name="12-month rolling average", mode="lines",
            line=dict(color=ORANGE, width=3), customdata=rolling,
            hovertemplate="%{x|%b %Y}: average %{y:,.1f} a month "
                          "(12-month total %{customdata:,})<extra></extra>",
        ))
    if series["upper_limit"].null_count() < series.height:
        phase = series["phase"].to_list() if "phase" in series.columns else [0] * len(months)

        def broken(col):  # a gap between phases, so each phase's line stands on its own
            ys, xs = [], []
            for i, (m, v) in enumerate(zip(months, series[col].to_list())):
                if i and phase[i] != phase[i - 1]:
                    xs.append(None)
                    ys.append(None)
                xs.append(m)
                ys.append(v)
            return xs, ys
        for col, name, dash in (("centre_line", "Average (centre line)", "dot"),
                                ("upper_limit", "Control limits", "dash"),
                                ("lower_limit", "Control limits", "dash")):
            xs, ys = broken(col)
            fig.add_trace(go.Scatter(
                x=xs, y=ys, name=name, mode="lines", line=dict(color=GREY, width=1.5, dash=dash),
                hoverinfo="skip", showlegend=col != "lower_limit", legendgroup=name,
            ))
        for key, name, marker in (
                ("exceptional", "Exceptional (outside the limits and unlike last year)",
                 dict(symbol="diamond", size=12, color=VERMILLION, line=dict(color="black", width=1))),
                ("seasonal", "Outside the limits, as a year before",
                 dict(symbol="circle-open", size=12, color=VERMILLION, line=dict(width=2))),
                ("shift_run", "Part of a run: a possible shift",
                 dict(symbol="triangle-up", size=9, color=BLUE, line=dict(color="black", width=1)))):
            if key not in series.columns:
                continue
            hit = series.filter(pl.col(key).fill_null(False))
            if hit.height:
                fig.add_trace(go.Scatter(
                    x=hit["month"].to_list(), y=hit[count_col].to_list(), name=name, mode="markers",
                    marker=marker, customdata=[s or "" for s in hit["signal"].to_list()]
                    if "signal" in hit.columns else None,
                    hovertemplate="%{x|%b %Y}: %{y:,}<br>%{customdata}<extra></extra>",
                ))
    if "phase_start" in series.columns:
        for m, reason in zip(months, series["phase_start"].to_list()):
            if reason:
                fig.add_vline(x=m, line=dict(color=GREY, width=1, dash="dashdot"))
                fig.add_annotation(x=m, y=1, yref="paper", text=_text(f"New phase: {reason}"),
                                   showarrow=False, xanchor="left", yanchor="top", font=dict(size=11))
    fig.update_yaxes(title_text=label, rangemode="tozero")
    fig.update_xaxes(title_text=None)
    return _layout(fig, height, title)


def bar_chart(frame: pl.DataFrame, category_col: str, count_col: str, label: str,
              title: str | None = None, height: int | None = None,
              withheld: str = "suppressed") -> go.Figure:
    """Horizontal bars, largest at the top. Withheld categories (null counts) are not drawn
    as bars but listed in the axis label as ``withheld`` ('suppressed' or 'low') so they are not
    mistaken for zero."""
    rows = frame.select(category_col, count_col).to_dicts()
    shown = sorted((r for r in rows if r[count_col] is not None), key=lambda r: r[count_col])
    hidden = [r[category_col] for r in rows if r[count_col] is None]
    # Plotly draws the first category at the bottom: suppressed ones go below the smallest bar.
    cats = [f"{_text(c)} ({withheld})" for c in hidden] + [_text(r[category_col]) for r in shown]
    label, title = _text(label), title and _text(title)
    vals = [None] * len(hidden) + [r[count_col] for r in shown]
    fig = go.Figure(go.Bar(
        x=vals, y=cats, orientation="h", marker_color=BLUE,
        text=[None if v is None else f"{v:,}" for v in vals], textposition="outside",
        cliponaxis=False, hovertemplate="%{y}: %{x:,}<extra></extra>",
    ))
    fig.update_xaxes(title_text=label, rangemode="tozero")
    fig.update_yaxes(automargin=True)
    return _layout(fig, height or max(220, 28 * len(cats) + 80), title)


def load_boundaries(level: str) -> dict | None:
    """The boundary GeoJSON for 'ward' or 'lsoa' from the data directory, or None if absent."""
    if level not in ("ward", "lsoa"):
        raise ValueError(f"unknown boundary level {level!r}")
    path = Path(config.data_dir()) / "boundaries" / f"{level}.geojson"
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    # Parsed once per file version: a national LSOA file is tens of megabytes. The same dict
    # comes back until the file changes; callers must not change it. Boundaries are public
    # geography, the same for every user (a map keeps only the areas of its own result).
    stamp = (str(path), stat.st_mtime_ns, stat.st_size)
    with _boundaries_lock:
        hit = _boundaries.get(level)
        if hit is not None and hit[0] == stamp:
            return hit[1]
    try:
        geojson = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    with _boundaries_lock:
        _boundaries[level] = (stamp, geojson)
    return geojson


_boundaries_lock = threading.Lock()
_boundaries: dict[str, tuple[tuple, dict]] = {}


def _only(geojson: dict, codes: set[str]) -> dict:
    # Keep just the areas in the result and only their code: a map (and the board pack that
    # embeds it) must carry no name or shape of an area outside the user's scope.
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": f["properties"]["code"]}, "geometry": f["geometry"]}
        for f in geojson.get("features", []) if f.get("properties", {}).get("code") in codes
    ]}


def _rings(geometry: dict) -> list[list]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"][0]]
    if geometry["type"] == "MultiPolygon":
        return [poly[0] for poly in geometry["coordinates"]]
    return []


def choropleth(frame: pl.DataFrame, geojson: dict, code_col: str, name_col: str, count_col: str,
               label: str, title: str | None = None, height: int = 460,
               withheld: str = "suppressed") -> go.Figure | None:
    """Rate per 1,000 residents by area (Cividis, darker = higher), suppressed areas in light
    grey. ``frame`` is a ranked-areas frame (csp.indicators.ranked_areas); None when no area of
    the frame has a boundary.

    Drawn as filled polygons on plain axes rather than a Plotly geo map: plotly.js fetches a
    world topojson from its CDN for every geo map, which fails offline and leaves the map blank."""
    rows = {r[code_col]: r for r in frame.to_dicts() if r.get(code_col)}
    label, title = _text(label), title and _text(title)
    gj = _only(geojson, set(rows))
    if not gj["features"]:
        return None
    rates = [r["rate_per_1000"] for r in rows.values() if r.get("rate_per_1000") is not None]
    lo, hi = (min(rates), max(rates)) if rates else (0.0, 1.0)
    hi = hi if hi > lo else lo + 1.0
    varied = len(set(rates)) > 1
    features = gj["features"]
    area_rows = [rows[f["properties"]["code"]] for f in features]
    # One colour-scale lookup for every area (a lookup per area was most of a map's cost).
    points = [(r["rate_per_1000"] - lo) / (hi - lo) if varied else 0.5
              for r in area_rows if r.get("rate_per_1000") is not None]
    colours = iter(sample_colorscale(CIVIDIS, points) if points else [])
    traces, lats = [], []
    for f, r in zip(features, area_rows):
        rate = r.get("rate_per_1000")
        xs, ys = [], []
        for ring in _rings(f["geometry"]):
            xs += [p[0] for p in ring] + [None]
            ys += [p[1] for p in ring] + [None]
        lats += [y for y in ys if y is not None]
        name = _text(r[name_col])
        if rate is None:
            colour = SUPPRESSED_FILL
            tip = f"{name}: {withheld}" if r.get(count_col) is None else f"{name}: no rate"
        else:
            colour = next(colours)
            tip = (f"{name}<br>{rate:,.1f} per 1,000 residents<br>{label}: {r[count_col]:,}"
                   + (f"<br>{_text(r['vs_benchmark'])}" if r.get("vs_benchmark") else ""))
        traces.append(dict(
            type="scatter", x=xs, y=ys, mode="lines", fill="toself", fillcolor=colour,
            hoveron="fills", line=dict(color="white", width=0.8), text=tip, hoverinfo="text",
            name=name, showlegend=False,
        ))
    fig = go.Figure(data=traces)  # all at once: adding traces one by one re-checks the figure each time
    if len(set(rates)) > 1:  # an invisible point carries the colour bar (none for one value)
        fig.add_trace(go.Scatter(
            x=[None], y=[None], mode="markers", hoverinfo="skip", showlegend=False,
            marker=dict(colorscale=CIVIDIS, cmin=lo, cmax=hi, color=[lo], showscale=True,
                        colorbar=dict(title=dict(text="per 1,000", side="right"), thickness=14,
                                      len=0.8)),
        ))
    # Equal-area-ish aspect: a degree of longitude is cos(latitude) of a degree of latitude.
    mid = sum(lats) / len(lats)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1 / math.cos(math.radians(mid)))
    fig = _layout(fig, height, title)
    fig.update_layout(margin=dict(l=0, r=0, t=40 if title else 0, b=0), plot_bgcolor="white",
                      hoverlabel=dict(bgcolor="white"))
    return fig
