"""Plotly figure builders shared by the dashboard pages and the board pack (no Streamlit here).

Each builder takes frames computed by :mod:`csp.indicators` from named-query results and draws
them; none reads data itself. Maps are drawn from the boundary GeoJSON in
``<data_dir>/boundaries/`` with no tile server, so they work offline and in the board pack.
Colours: the Okabe-Ito palette for categories and Viridis for rates (both colour-blind safe);
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
PURPLE, INK = "#CC79A7", "#3b3b3b"  # Okabe-Ito reddish purple; near-black for a plain series
# Series and bars that carry no judgement avoid the judgement colours (blue = better, orange and
# vermillion = worse), and anything that reads like them (sky blue, amber): ink, green, purple,
# then Paul Tol's indigo, olive and wine, each at least 3:1 against white. Bars are slate.
SERIES = [INK, GREEN, PURPLE, "#332288", "#999933", "#882255", "#117733", "#AA4499"]
BAR = "#5b6b7a"
SUPPRESSED_FILL = "#d9d9d9"
# Viridis, reversed: darker = higher rate, as readers expect. Not Cividis: its middle classes
# are grey, and read as the grey of a withheld area.
RATE_SCALE = "viridis_r"
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
        dragmode=False,  # a drag (a finger on a phone) scrolls the page, never zooms the chart
    )
    return fig


def count_ticks(values) -> dict:
    """Axis settings for counts: whole numbers only. Plotly put ticks at 0.5 and 1.5 on a chart
    of counts of 0 to 2, as if half an incident could happen."""
    top = max((v for v in values if v is not None), default=0)
    return {"tickformat": ",d", **({"dtick": 1} if top <= 6 else {})}


def monthly_chart(series: pl.DataFrame, count_col: str, label: str, title: str | None = None,
                  height: int = 400, polarity: str = "lower_is_better") -> go.Figure:
    """Monthly counts with the 12-month rolling average and the control chart by phase
    (csp.control_charts): centre line and limits per phase with a marked start for each
    documented change; exceptional months as diamonds, vermillion where worse and blue where
    better by ``polarity`` (grey for a measure with none), months outside the limits but like
    last year as hollow circles, runs that suggest a shift as triangles. Hover text says what
    each month shows."""
    months = series["month"].to_list()
    counts = series[count_col].to_list()
    signals = series["signal"].to_list() if "signal" in series.columns else [None] * len(months)
    fig = go.Figure()
    label, title = _text(label), title and _text(title)
    # Colours keep the app's one language: blue = better, vermillion = worse (by the measure's
    # polarity), grey = no judgement. So the series is ink, its rolling average purple, and
    # only a month that is exceptional carries blue or vermillion.
    fig.add_trace(go.Scatter(
        x=months, y=counts, name=label, mode="lines+markers", line=dict(color=INK, width=2),
        marker=dict(size=5), customdata=[s or "" for s in signals],
        hovertemplate="%{x|%b %Y}: %{y:,}<br>%{customdata}<extra></extra>",
    ))
    rolling = series["rolling_12_months"].to_list()
    if any(v is not None for v in rolling):
        # The rolling total is ~12x a month: shown as its monthly average so both share one axis.
        avg = [None if v is None else v / 12 for v in rolling]
        fig.add_trace(go.Scatter(
            x=months, y=avg, name="12-month rolling average", mode="lines",
            line=dict(color=PURPLE, width=3), customdata=rolling,
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
        above = (pl.col(count_col) > pl.col("centre_line")).fill_null(False)
        high, low = {"lower_is_better": (VERMILLION, BLUE), "higher_is_better": (BLUE, VERMILLION)}.get(
            polarity, (GREY, GREY))
        for key, where, name, marker in (
                ("exceptional", above, "Exceptionally high (unlike last year)",
                 dict(symbol="diamond", size=12, color=high, line=dict(color="black", width=1))),
                ("exceptional", ~above, "Exceptionally low (unlike last year)",
                 dict(symbol="diamond-tall", size=12, color=low, line=dict(color="black", width=1))),
                ("seasonal", pl.lit(True), "Outside the limits, as a year before",
                 dict(symbol="circle-open", size=12, color=INK, line=dict(width=2))),
                ("shift_run", pl.lit(True), "Part of a run: a possible shift",
                 dict(symbol="triangle-up", size=9, color=GREY, line=dict(color="black", width=1)))):
            if key not in series.columns:
                continue
            hit = series.filter(pl.col(key).fill_null(False) & where)
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
    fig.update_yaxes(title_text=label, rangemode="tozero", **count_ticks(counts))
    fig.update_xaxes(title_text=None)
    return _layout(fig, height, title)


def bar_chart(frame: pl.DataFrame, category_col: str, count_col: str, label: str,
              title: str | None = None, height: int | None = None,
              withheld: str = "suppressed", order: tuple | None = None) -> go.Figure:
    """Horizontal bars, largest at the top, or in ``order`` (top first) where the categories have
    a natural one (age bands, times of day). Withheld categories (null counts) are not drawn
    as bars but listed in the axis label as ``withheld`` ('suppressed' or 'low') so they are not
    mistaken for zero."""
    rows = frame.select(category_col, count_col).to_dicts()
    if order:
        rank = {v: i for i, v in enumerate(order)}
        key = lambda r: -rank.get(r[category_col], len(rank))  # noqa: E731 (Plotly draws bottom-up)
    else:
        key = lambda r: r[count_col]  # noqa: E731
    shown = sorted((r for r in rows if r[count_col] is not None), key=key)
    hidden = [r[category_col] for r in rows if r[count_col] is None]
    # Plotly draws the first category at the bottom: suppressed ones go below the smallest bar.
    cats = [f"{_text(c)} ({withheld})" for c in hidden] + [_text(r[category_col]) for r in shown]
    label, title = _text(label), title and _text(title)
    vals = [None] * len(hidden) + [r[count_col] for r in shown]
    fig = go.Figure(go.Bar(
        x=vals, y=cats, orientation="h", marker_color=BAR,
        # Inside a bar long enough for it, else just outside: the longest bar's figure is never cut
        # off at the edge of a phone's narrow chart.
        text=[None if v is None else f"{v:,}" for v in vals], textposition="auto",
        cliponaxis=False, hovertemplate="%{y}: %{x:,}<extra></extra>",
    ))
    fig.update_xaxes(title_text=label, rangemode="tozero", **count_ticks(vals))
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


# ---- simplified outlines, for the zoom a map is drawn at --------------------------------------

MAP_PIXELS = 900  # about the widest a map is drawn; finer detail than a pixel is never seen
_simple_lock = threading.Lock()
_simple: dict = {"source": None, "shapes": {}}  # one boundary file's simplified rings at a time


def _bounds(features: list[dict]) -> tuple[float, float, float, float]:
    xs, ys = [], []
    for f in features:
        for ring in _rings(f["geometry"]):
            xs += [p[0] for p in ring]
            ys += [p[1] for p in ring]
    return (min(xs), min(ys), max(xs), max(ys)) if xs else (0.0, 0.0, 1.0, 1.0)


def _tolerance(bounds: tuple) -> float:
    """A simplification tolerance of about a pixel of a map spanning ``bounds``, rounded to one
    significant figure so maps drawn at about the same zoom share simplified outlines."""
    extent = max(bounds[2] - bounds[0], bounds[3] - bounds[1]) or 1e-6
    raw = extent / MAP_PIXELS
    return float(f"{raw:.0e}")


def simplified(geojson: dict, feature: dict, tolerance: float) -> tuple[list[list], tuple[float, float]]:
    """The outer rings of an area simplified to ``tolerance`` degrees (Douglas-Peucker keeping
    topology valid, shapely) with coordinates rounded to match, and a point inside the area (for
    its label). Remembered per boundary file, area and tolerance: the same outline is reused by
    every map drawn at that zoom."""
    from shapely.geometry import shape

    key = (feature["properties"]["code"], tolerance)
    with _simple_lock:
        if _simple["source"] is not geojson:  # holding it keeps its id from being reused
            _simple["source"], _simple["shapes"] = geojson, {}
        hit = _simple["shapes"].get(key)
    if hit is not None:
        return hit
    geom = shape(feature["geometry"])
    inner = geom.representative_point()
    small = geom.simplify(tolerance, preserve_topology=True) if tolerance > 0 else geom
    digits = max(0, min(7, 1 - int(math.floor(math.log10(tolerance))))) if tolerance > 0 else 7
    polys = list(getattr(small, "geoms", [small]))
    rings = [[(round(x, digits), round(y, digits)) for x, y in p.exterior.coords]
             for p in polys if not p.is_empty and hasattr(p, "exterior")]
    out = (rings or _rings(feature["geometry"]), (inner.x, inner.y))
    with _simple_lock:
        if _simple["source"] is geojson:
            _simple["shapes"][key] = out
    return out


def rate_classes(rates: list[float], k: int = 5) -> list[float]:
    """Class breaks (k+1 edges, rising) for the map's rates: quantiles, so each class holds about
    as many areas, with repeated edges merged (fewer classes when few rates differ)."""
    vals = sorted(rates)
    if not vals:
        return []
    distinct = sorted(set(vals))
    if 1 < len(distinct) <= k:
        # As many rates as classes or fewer (an officer's two wards): one class each. Quantiles
        # of two rates put 78 and 173 in one colour.
        return distinct + [distinct[-1]]
    edges = [vals[0]] + [vals[min(len(vals) - 1, int(round(q * (len(vals) - 1) / k)))] for q in range(1, k)] + [vals[-1]]
    out = []
    for e in edges:
        if not out or e > out[-1]:
            out.append(e)
    return out if len(out) > 1 else [vals[0], vals[0]]


def _class_of(rate: float, edges: list[float]) -> int:
    for i in range(1, len(edges) - 1):
        if rate < edges[i]:
            return i - 1
    return len(edges) - 2


def _dark(hex_or_rgb: str) -> bool:
    """Whether a fill is dark enough to need white label text."""
    s = hex_or_rgb.strip()
    if s.startswith("rgb"):
        r, g, b = (float(v) for v in s[s.index("(") + 1:s.index(")")].split(",")[:3])
    else:
        r, g, b = (int(s.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 128


LABEL_WIDTH_PX = 330  # labels are placed so they do not overlap on a map this wide (a phone)


def _label_fits(bounds: tuple, height: int):
    """A function giving a label's box (in map degrees) at a point, for a map drawn
    LABEL_WIDTH_PX wide or ``height`` tall, whichever binds: about 7 px a character, 14 px high."""
    mid = math.radians((bounds[1] + bounds[3]) / 2)
    w = (bounds[2] - bounds[0]) * math.cos(mid)  # x spans shrink by cos(latitude) on screen
    h = bounds[3] - bounds[1]
    per_px = max(w / LABEL_WIDTH_PX, h / max(1, height - 40), 1e-9)  # screen-scaled degrees a pixel

    def box(x, y, chars):
        half_w = (3.6 * chars + 2) * per_px / math.cos(mid)
        half_h = 7.5 * per_px
        return (x - half_w, y - half_h, x + half_w, y + half_h)
    return box


def free(box: tuple, placed: list[tuple]) -> bool:
    """Whether a label's box (x0, y0, x1, y1) overlaps none already placed."""
    return not any(box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3] for o in placed)


def rate_decimals(edges: list) -> int:
    """The fewest decimals (0 to 2) at which every class edge of a map's legend reads differently:
    rates of 1.6 and 2.4 per 1,000 rounded to whole numbers gave a class "2–2 per 1,000". Rates
    under 10 keep one decimal, as the sentence beside the map gives them (a ward's 2.6 read "3")."""
    start = 1 if edges and max(abs(e) for e in edges) < 10 else 0
    for dp in range(start, 3):
        shown = [f"{e:,.{dp}f}" for e in edges]
        if len(set(shown)) == len(set(edges)):
            return dp
    return 2


def choropleth(frame: pl.DataFrame, geojson: dict, code_col: str, name_col: str, count_col: str,
               label: str, title: str | None = None, height: int = 460,
               withheld: str = "suppressed", comparator: str = "the comparator") -> go.Figure | None:
    """Rate per 1,000 residents by area in up to five classes (quantiles, Viridis: darker =
    higher; a legend gives each class's range and count of areas), with the rate written on every
    area where it fits (highest rates first, never overlapping, even on a phone), withheld areas
    hatched and grey, and areas significantly worse than ``comparator`` outlined in bold: what
    colour shows is also in words, lines and patterns. ``frame`` is a ranked-areas frame
    (csp.indicators.ranked_areas); None when no area has a boundary.

    Outlines are simplified to about a pixel at the zoom they are drawn at, and each class is one
    trace (not one per area), which is what makes a map quick to draw in the browser.

    Drawn as filled polygons on plain axes rather than a Plotly geo map: plotly.js fetches a
    world topojson from its CDN for every geo map, which fails offline and leaves the map blank."""
    rows = {r[code_col]: r for r in frame.to_dicts() if r.get(code_col)}
    label, title = _text(label), title and _text(title)
    features = _only(geojson, set(rows))["features"]
    if not features:
        return None
    b = _bounds(features)
    tol = _tolerance(b)
    shapes = [(rows[f["properties"]["code"]], *simplified(geojson, f, tol)) for f in features]
    edges = rate_classes([r["rate_per_1000"] for r, _, _ in shapes if r.get("rate_per_1000") is not None])
    n_classes = max(1, len(edges) - 1)
    colours = sample_colorscale(RATE_SCALE, [i / (n_classes - 1) for i in range(n_classes)] if n_classes > 1 else [0.5])
    groups: dict = {}  # class index, 'withheld' or 'norate' -> {"xs", "ys", "n"}
    bold = ([], [])  # outlines of the areas significantly worse than the comparator
    points = []  # (x, y, hover text, rate, fill colour): one point inside each area
    for r, rings, (px, py) in shapes:
        rate, name = r.get("rate_per_1000"), _text(r[name_col])
        if rate is None:
            key = "withheld" if r.get(count_col) is None else "norate"
            tip, colour = f"{name}: {withheld if key == 'withheld' else 'no rate'}", SUPPRESSED_FILL
        else:
            key = _class_of(rate, edges) if len(edges) > 1 else 0
            colour = colours[key]
            verdict = r.get("vs_benchmark")
            tip = (f"{name}<br>{rate:,.1f} per 1,000 residents<br>{label}: {r[count_col]:,}"
                   + (f"<br>{_text(verdict)} than {_text(comparator)}" if verdict in ("better", "worse")
                      else f"<br>{_text(verdict)}" if verdict else ""))
        g = groups.setdefault(key, {"xs": [], "ys": [], "n": 0, "rates": []})
        g["n"] += 1
        if rate is not None:
            g["rates"].append(rate)
        for ring in rings:
            xs, ys = [q[0] for q in ring] + [None], [q[1] for q in ring] + [None]
            g["xs"] += xs
            g["ys"] += ys
            if r.get("vs_benchmark") == "worse":
                bold[0].extend(xs)
                bold[1].extend(ys)
        points.append((px, py, tip, rate, colour))
    # A class reads as the lowest to the highest rate of its own areas: shared edges ("2–3.5",
    # "3.5–5") left a reader unsure which class an area of 3.5 was in.
    ranges = {k: (min(g["rates"]), max(g["rates"])) for k, g in groups.items() if g["rates"]}
    dp = rate_decimals(sorted({v for pair in ranges.values() for v in pair}))
    traces = []
    for key in [k for k in range(n_classes) if k in groups] + [k for k in ("withheld", "norate") if k in groups]:
        g, pattern = groups[key], None
        if key == "withheld":
            name, fill, pattern = f"{withheld} ({g['n']})", SUPPRESSED_FILL, dict(shape="/", fgcolor="#595959", size=6)
        elif key == "norate":
            name, fill, pattern = f"no rate ({g['n']})", "#ffffff", dict(shape=".", fgcolor="#595959", size=5)
        else:
            lo, hi = ranges[key]
            name, fill = (f"{lo:,.{dp}f}–{hi:,.{dp}f}" if hi != lo else f"{lo:,.{dp}f}") + f" per 1,000 ({g['n']})", colours[key]
        traces.append(dict(type="scatter", x=g["xs"], y=g["ys"], mode="lines", fill="toself", fillcolor=fill,
                           line=dict(color="white", width=0.8), hoverinfo="skip", name=name, showlegend=True,
                           **({"fillpattern": pattern} if pattern else {})))
    if bold[0]:
        traces.append(dict(type="scatter", x=bold[0], y=bold[1], mode="lines", hoverinfo="skip",
                           name=f"significantly worse than {_text(comparator)}: bold outline",
                           line=dict(color="black", width=2.4), showlegend=True))
    # Each area's rate written on it where it fits, highest rates first; every area has hover text.
    box_at = _label_fits(b, height)
    placed: list[tuple] = []
    texts: dict[int, str] = {}
    # A rate written on the map never reads 0 when it is not (Castle's 0.2 read "0").
    small = [q[3] for q in points if q[3] is not None and 0 < q[3] < 0.5 * 10 ** -dp]
    label_dp = max(dp, max((min(2, -math.floor(math.log10(v))) for v in small), default=0))
    for i in sorted((i for i, q in enumerate(points) if q[3] is not None), key=lambda i: -points[i][3]):
        text = f"{points[i][3]:,.{label_dp}f}"
        box = box_at(points[i][0], points[i][1], len(text))
        if free(box, placed):
            placed.append(box)
            texts[i] = text
    traces.append(dict(
        type="scatter", x=[q[0] for q in points], y=[q[1] for q in points], mode="markers+text",
        marker=dict(size=6, color="rgba(0,0,0,0)"), hovertext=[q[2] for q in points], hoverinfo="text",
        text=[texts.get(i, "") for i in range(len(points))], textposition="middle center",
        textfont=dict(size=11, color=["white" if q[3] is not None and _dark(q[4]) else "black" for q in points]),
        showlegend=False, name="areas",
    ))
    fig = go.Figure(data=traces)  # all at once: adding traces one by one re-checks the figure each time
    # Equal-area-ish aspect: a degree of longitude is cos(latitude) of a degree of latitude.
    mid = (b[1] + b[3]) / 2
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1 / math.cos(math.radians(mid)))
    fig = _layout(fig, height, title)
    fig.update_layout(margin=dict(l=0, r=0, t=40 if title else 0, b=0), plot_bgcolor="white",
                      hoverlabel=dict(bgcolor="white"),
                      legend=dict(orientation="h", yanchor="top", y=-0.02, x=0,
                                  title=dict(text=f"{label} per 1,000 residents a year (number of areas)")))
    return fig
