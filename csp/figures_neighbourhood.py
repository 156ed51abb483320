"""Figures for the Neighbourhood page (and anything else showing one ward): the monthly trend
against the same month a year before, and a labelled map of the ward with its LSOA hotspots.
No Streamlit here. Names from data go in through csp.safety.label (Plotly renders markup)."""
from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from shapely.geometry import shape

from . import figures
from .safety import label as _text

BLUE, VERMILLION, GREY = figures.BLUE, figures.VERMILLION, "#6b6b6b"
# Hotspots are outlined in ink: vermillion means "significantly worse", and a hotspot (more crime
# per resident than the ward as a whole) need not be.
HOT = figures.INK


def year_on_year_chart(series: pl.DataFrame, count_col: str, label: str, height: int = 340) -> go.Figure:
    """Monthly counts (solid ink) with the same month a year before (dashed grey); months
    significantly higher than a year before are marked with an upward vermillion triangle, lower
    with a downward blue one (shape as well as colour). Withheld months are gaps, never zeros."""
    months = series["month"].to_list()
    now = series[count_col].to_list()
    before = series["same_month_last_year"].to_list()
    vs = series["vs_last_year"].to_list() if "vs_last_year" in series.columns else [None] * len(months)
    words = [{"higher": "significantly higher than a year before",
              "lower": "significantly lower than a year before",
              "similar": "similar to a year before"}.get(v or "", "not compared with a year before")
             for v in vs]
    label = _text(label)
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=months, y=before, name="Same month a year before", mode="lines",
        line=dict(color=GREY, width=2, dash="dash"), connectgaps=False,
        hovertemplate="%{x|%b}, a year before: %{y:,}<extra></extra>",
    ))
    fig.add_trace(go.Scatter(
        x=months, y=now, name=label, mode="lines+markers", line=dict(color=figures.INK, width=2.5),
        marker=dict(size=5), connectgaps=False, customdata=words,
        hovertemplate="%{x|%b %Y}: %{y:,}<br>%{customdata}<extra></extra>",
    ))
    for key, name, symbol, colour in (("higher", "Significantly higher than a year before", "triangle-up", VERMILLION),
                                      ("lower", "Significantly lower than a year before", "triangle-down", BLUE)):
        pts = [(m, v) for m, v, w in zip(months, now, vs) if w == key and v is not None]
        if pts:
            fig.add_trace(go.Scatter(
                x=[m for m, _ in pts], y=[v for _, v in pts], name=name, mode="markers",
                marker=dict(symbol=symbol, size=13, color=colour, line=dict(color="black", width=1)),
                hovertemplate="%{x|%b %Y}: %{y:,}<extra></extra>",
            ))
    fig.update_yaxes(title_text=label, rangemode="tozero", **figures.count_ticks([*now, *before]))
    fig.update_xaxes(title_text=None, dtick="M6", tickformat="%b %Y")  # one line: two were cut off on a phone
    fig = figures._layout(fig, height)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.15, x=0))
    return fig


def _features(geojson: dict | None, codes: set[str]) -> dict[str, dict]:
    if not geojson:
        return {}
    return {f["properties"]["code"]: f for f in geojson.get("features", [])
            if f.get("properties", {}).get("code") in codes}


def _outline(fig: go.Figure, feature: dict, colour: str, width: float, name: str) -> None:
    xs, ys = [], []
    for ring in figures._rings(feature["geometry"]):
        xs += [p[0] for p in ring] + [None]
        ys += [p[1] for p in ring] + [None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=colour, width=width),
                             hoverinfo="skip", showlegend=False, name=_text(name)))


def ward_map(ward: str, ward_name: str, lsoas: pl.DataFrame | None, count_col: str, label: str,
             ward_rate: float | None = None, hot: list[str] = (), height: int = 440,
             withheld: str = "suppressed") -> go.Figure | None:
    """The ward drawn from the boundary files: with ``lsoas`` (a ranked-areas frame of its
    LSOAs) each LSOA filled by its rate and labelled with its name and rate, the ``hot`` LSOAs
    (hotspots, highest first) numbered and outlined thickly; without, the ward alone, labelled
    with its name and rate. None when the boundaries are not held."""
    ward_geo = _features(figures.load_boundaries("ward"), {ward}).get(ward)
    if lsoas is not None and lsoas.height:
        geo = figures.load_boundaries("lsoa")
        if geo is None:
            return None
        fig = figures.choropleth(lsoas, geo, "lsoa_code", "lsoa_name", count_col, label,
                                 height=height, withheld=withheld)
        if fig is None:
            return None
        # Each area is labelled with its rate, so the colour bar only takes room (on a phone).
        for t in fig.data:
            if getattr(t.marker, "showscale", None):
                t.marker.showscale = False
        feats = _features(geo, set(lsoas["lsoa_code"].to_list()))
        rank = {code: i + 1 for i, code in enumerate(hot)}
        # The labels say the rate, so the choropleth's own rate texts would sit under them.
        for t in fig.data:
            if t.name == "areas":
                t.text = None
        # Hotspots first, then the highest rates; a label that would cover one already placed
        # is shortened to the name (a hotspot keeps its number), else left to the hover and table.
        rows = sorted((r for r in lsoas.to_dicts() if feats.get(r["lsoa_code"]) is not None),
                      key=lambda r: (rank.get(r["lsoa_code"], len(rank) + 1), -(r.get("rate_per_1000") or 0)))
        box_at = figures._label_fits(figures._bounds(list(feats.values())), height)
        placed: list[tuple] = []
        for r in rows:
            f = feats[r["lsoa_code"]]
            pt = shape(f["geometry"]).representative_point()
            rate = r.get("rate_per_1000")
            n = rank.get(r["lsoa_code"])
            num = f"<b>{n}</b> " if n else ""
            value = f"{rate:,.1f} per 1,000" if rate is not None else _text(withheld)
            name = _text(r["lsoa_name"])
            for lines, chars in (((num + name, value), max(len(name) + (2 if n else 0), len(value))),
                                 ((num + name,), len(name) + (2 if n else 0)),
                                 ((num.strip(),), 2) if n else ((), 0)):
                if not lines:
                    break
                x0, y0, x1, y1 = box_at(pt.x, pt.y, chars)
                grow = (y1 - y0) * (len(lines) - 1) / 2
                box = (x0, y0 - grow, x1, y1 + grow)
                if figures.free(box, placed):
                    placed.append(box)
                    fig.add_annotation(x=pt.x, y=pt.y, text="<br>".join(lines), showarrow=False,
                                       font=dict(size=11, color="black"), bgcolor="rgba(255,255,255,0.82)",
                                       borderpad=2, bordercolor=HOT if n else "rgba(0,0,0,0)",
                                       borderwidth=2 if n else 0)
                    break
            if n:
                _outline(fig, f, HOT, 3.5, f"Hotspot {n}")
        if ward_geo is not None:
            _outline(fig, ward_geo, "black", 2.5, f"{ward_name} boundary")
        return fig
    if ward_geo is None:
        return None
    fig = go.Figure()
    _outline(fig, ward_geo, "black", 2.5, f"{ward_name} boundary")
    fig.data[0].update(fill="toself", fillcolor="rgba(0,114,178,0.15)")
    pt = shape(ward_geo["geometry"]).representative_point()
    text = f"<b>{_text(ward_name)}</b>" + (f"<br>{ward_rate:,.1f} {_text(label.lower())} per 1,000" if ward_rate is not None else "")
    fig.add_annotation(x=pt.x, y=pt.y, text=text, showarrow=False, font=dict(size=13, color="black"),
                       bgcolor="rgba(255,255,255,0.85)", borderpad=3)
    lats = [p[1] for ring in figures._rings(ward_geo["geometry"]) for p in ring]
    import math
    mid = sum(lats) / len(lats)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1 / math.cos(math.radians(mid)))
    fig = figures._layout(fig, height)
    fig.update_layout(margin=dict(l=0, r=0, t=0, b=0), plot_bgcolor="white", showlegend=False)
    return fig
