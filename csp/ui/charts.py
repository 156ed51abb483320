"""Drawing a chart the same way on every page: an accessible name (the chart's ``alt``, read by
screen readers), a sentence under it saying what it shows (csp.chart_text), and no Plotly mode
bar (on a phone it covers the chart; the page's own downloads and tables replace its tools)."""
from __future__ import annotations

import streamlit as st

from .common import md_escape

# No mode bar, no scroll-wheel zoom (the page scrolls instead), no Plotly logo link.
CONFIG = {"displayModeBar": False, "scrollZoom": False, "displaylogo": False}


def chart(fig, key: str, name: str, summary: str | None = None) -> None:
    """Draw a Plotly figure with its accessible name and, when given, its summary sentence."""
    st.plotly_chart(fig, width="stretch", key=key, config=CONFIG, alt=name)
    if summary:
        st.caption(md_escape(summary))


def lazy_tabs(labels: list[str], key: str):
    """Tabs whose hidden panels are not drawn: only the open tab's content is sent and drawn
    (switching tabs reruns the page, which is cheap over cached results). Returns the tab
    containers and the open label."""
    tabs = st.tabs(labels, key=key, on_change="rerun")
    open_label = next((lbl for lbl, t in zip(labels, tabs) if t.open), labels[0])
    return tabs, open_label
