"""What every dashboard page shares: running a named query as the current user, tables that
show suppression, downloads, and the 'what this shows' note. Pages draw; this module asks."""
from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from .. import access, disclosure, export, queries, store
from .auth import current_user

SUPPRESSION_NOTE = (
    "Counts from 1 to {t} are shown as *suppressed* under the sharing agreement (never as zero)."
)


def run(name: str, params: dict | None = None) -> queries.Result | None:
    """Run a named query as the logged-in user. Access or parameter problems are shown as a
    plain message (never a stack trace) and return None."""
    try:
        return queries.run(current_user(), name, params)
    except access.AccessDenied as e:
        st.info(str(e))
    except queries.QueryError as e:
        st.warning(str(e))
    return None


def table(result: queries.Result, **kwargs) -> None:
    frame = disclosure.display_frame(result.frame, result.suppressed)
    st.dataframe(frame, hide_index=True, width="stretch", **kwargs)
    if result.n_suppressed:
        st.caption(SUPPRESSION_NOTE.format(t=result.threshold - 1))


def download(result: queries.Result, label: str, filename: str, key: str) -> None:
    st.download_button(
        label, data=export.to_csv(result), file_name=filename, mime="text/csv", key=key,
        on_click="ignore",
    )


def dataset_note(dataset: str, definition: str, caveats: str = "") -> None:
    """The 'what this shows' note: definition, source partner, as-at date and caveats."""
    v = store.current(dataset)
    if v is None:
        st.caption(f"No {dataset} data has been published yet.")
        return
    cov = v.meta.get("coverage") or {}
    published = v.meta["published_at"][:10]
    with st.expander("What this shows"):
        st.markdown(
            f"{definition}\n\n**Source:** {md_escape(v.meta['owner'])} ({md_escape(v.meta['source'])}). "
            f"**Data held:** {cov.get('first', '?')} to {cov.get('last', '?')}. "
            f"**Published:** {published} (version {v.version})."
            + (f"\n\n**Caveats:** {caveats}" if caveats else "")
        )


def md_escape(text: object) -> str:
    """Escape text that came from data (file names, categories) before it meets st.markdown,
    so uploaded content can never inject links, images or HTML into someone else's screen."""
    out = []
    for ch in str(text):
        out.append("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~$:" else ch)
    return "".join(out)


def month_label(d: dt.date) -> str:
    return d.strftime("%b %Y")


def month_param(d: dt.date | None) -> str | None:
    return d.strftime("%Y-%m") if d else None


# Okabe-Ito plus Paul Tol's 'muted' set: distinguishable under the common colour-vision deficiencies.
PALETTE = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
    "#332288", "#88CCEE", "#117733", "#999933", "#AA4499", "#882255",
]


def month_range(first: dt.date, last: dt.date) -> list[dt.date]:
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(dt.date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def fmt_count(value) -> str:
    return disclosure.SUPPRESSED_LABEL if value is None else f"{value:,}"
