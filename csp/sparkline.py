"""Sparklines as small inline SVG images with a text alternative (no Streamlit, no Plotly).

Streamlit's metric sparkline draws unlabelled SVG marks (axe: svg-img-alt) and a Plotly figure
per tile costs a chart's drawing time; this is one <svg role="img"> with an accessible name
that says what the line shows in words, drawn in the tile's significance colour."""
from __future__ import annotations

import datetime as dt
import html
import math

WIDTH, HEIGHT, PAD = 300, 56, 4


def _fmt(v: float, unit: str) -> str:
    if unit == "%":
        return f"{v:.1f}%"
    return f"{v:,.0f}" if float(v).is_integer() or abs(v) >= 100 else f"{v:,.1f}"


def _when(x) -> str:
    return x.strftime("%b %Y") if isinstance(x, (dt.date, dt.datetime)) else str(x)


def describe(x: list, y: list, label: str, unit: str = "") -> str:
    """One sentence on a series: its span, first and last value, lowest and highest."""
    pts = [(a, b) for a, b in zip(x, y) if b is not None and not (isinstance(b, float) and math.isnan(b))]
    if not pts:
        return f"{label}: no values to show."
    (x0, y0), (x1, y1) = pts[0], pts[-1]
    lo = min(pts, key=lambda p: p[1])
    hi = max(pts, key=lambda p: p[1])
    if len(pts) == 1:
        return f"{label}, {_when(x0)}: {_fmt(y0, unit)}."
    return (f"{label}, {_when(x0)} to {_when(x1)}: from {_fmt(y0, unit)} to {_fmt(y1, unit)}; "
            f"lowest {_fmt(lo[1], unit)} ({_when(lo[0])}), highest {_fmt(hi[1], unit)} ({_when(hi[0])}).")


def svg(x: list, y: list, colour: str, label: str, unit: str = "") -> str:
    """The sparkline as an SVG string: a line in ``colour`` and a dot on the latest value, with
    role="img", an aria-label and a <title> carrying :func:`describe`'s sentence."""
    text = html.escape(describe(x, y, label, unit), quote=True)
    vals = [v for v in y if v is not None and not (isinstance(v, float) and math.isnan(v))]
    colour = html.escape(colour, quote=True)
    if len(vals) < 2:
        return (f'<svg role="img" aria-label="{text}" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
                f'height="{HEIGHT}"><title>{text}</title></svg>')
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    step = (WIDTH - 2 * PAD) / (len(vals) - 1)
    pts = [(PAD + i * step, PAD + (HEIGHT - 2 * PAD) * (1 - (v - lo) / span)) for i, v in enumerate(vals)]
    line = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
    cx, cy = pts[-1]
    # preserveAspectRatio="none" stretches the line to the tile's width; the stroke keeps its
    # width (non-scaling-stroke). The dot is a short round-capped segment, so it stays round.
    return (f'<svg role="img" aria-label="{text}" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
            f'height="{HEIGHT}" preserveAspectRatio="none" style="display:block">'
            f'<title>{text}</title>'
            f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2" '
            f'stroke-linejoin="round" vector-effect="non-scaling-stroke"/>'
            f'<line x1="{cx:.1f}" y1="{cy:.1f}" x2="{cx:.1f}" y2="{cy:.1f}" stroke="{colour}" '
            f'stroke-width="7" stroke-linecap="round" vector-effect="non-scaling-stroke"/></svg>')
