"""What every dashboard page shares: running a named query as the current user, tables that
show suppression, downloads, and the 'what this shows' note. Pages draw; this module asks."""
from __future__ import annotations

import datetime as dt

import streamlit as st

import polars as pl

from .. import access, disclosure, export, indicators, queries, safety, store
from .. import areas as areas_mod
from ..protection import periods
from .auth import current_user



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
    st.dataframe(table_data(result), hide_index=True, width="stretch", **kwargs)
    protection_caption(result)


def protection_caption(result) -> None:
    """How the figures were protected, under a table (nothing when they are exact)."""
    note = disclosure.protection_note(result)
    if note:
        st.caption(note)


def download(result: queries.Result, label: str, filename: str, key: str) -> None:
    """A CSV download of exactly what the table shows (same scope and suppression, formula-safe),
    recorded in the audit trail (who, which query and versions, whose data): as the file is
    served under serve.py's guard, which also refuses it to a session that has ended; when
    clicked otherwise (csp.ui.downloads).

    The CSV is built with the page rather than deferred (data=callable): a deferred file is
    dropped by the next run, and the cookie component and filters start runs often enough
    that a click could land on a dropped file (seen in the browser tests). Built once per
    result and remembered on it (csv_bytes), so a rerun over a cached result costs nothing."""
    from .. import audit
    from . import downloads

    downloads.offer(label, csv_bytes(result), filename, "text/csv", key,
                    {"query": result.query.name, "versions": dict(result.versions), "rows": result.frame.height},
                    data_owner=audit.owners_of(result.versions))


def _display(result: queries.Result):
    # Not remembered itself: only what is built from it is (memory: a national LSOA table's
    # remembered Arrow table and CSV are about 5 MB and 3 MB).
    return disclosure.display(result)


def table_data(result: queries.Result):
    """What a table shows (suppressed cells read 'suppressed') as an Arrow table, built once per
    result and remembered on it (csp.indicators.per_result: never shared between scopes).
    Arrow goes to the browser as it is; a Polars frame would go through pandas on every run."""
    return indicators.per_result(result, ("table_arrow",), lambda: _display(result).to_arrow(
        compat_level=pl.CompatLevel.oldest()))


def csv_bytes(result: queries.Result) -> bytes:
    """The download's CSV: export.to_csv's bytes (same scope and suppression, formula-safe),
    built once per result and remembered on it."""
    return indicators.per_result(result, ("csv",), lambda: _csv(result).encode("utf-8"))


def _csv(result: queries.Result) -> str:
    # export.to_csv defuses every text cell with a Python call per cell (0.2 s for a national
    # LSOA table). When no text cell starts with a formula trigger, defusing changes nothing and
    # the display frame's CSV is the same text; any cell that might need it takes export's path.
    frame = _display(result)
    text = [c for c, t in frame.schema.items() if t == pl.String]
    if _TRIGGER is None or any(frame[c].str.contains(_TRIGGER).any() for c in text):
        return export.to_csv(result)
    return frame.write_csv()


# A text cell export.defuse would change: optional spaces, then one of its trigger characters.
_TRIGGER = ("^ *[" + "".join(f"\\x{{{ord(ch):X}}}" for ch in export._FORMULA_START) + "]"
            if all(len(ch) == 1 for ch in export._FORMULA_START) else None)


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
            + f"\n\n**How these figures are protected:** "
            + md_escape(disclosure.how_protected(access.grant(current_user(), dataset)))
        )


def md_escape(text: object) -> str:
    """Escape text that came from data (file names, categories) before it meets st.markdown,
    so uploaded content can never inject links, images or HTML into someone else's screen
    (csp.safety.markdown; csp.safety.label is its counterpart for figures and HTML)."""
    return safety.markdown(text)


def month_label(d: dt.date) -> str:
    return d.strftime("%b %Y")


# Okabe-Ito plus Paul Tol's 'muted' set: distinguishable under the common colour-vision deficiencies.
PALETTE = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
    "#332288", "#88CCEE", "#117733", "#999933", "#AA4499", "#882255",
]


def months_held(*columns) -> list[str]:
    """Every month (YYYY-MM) from the earliest to the latest date in the given columns."""
    dates = [d for col in columns for d in col.to_list() if d is not None]
    if not dates:
        return []
    first, last = min(dates), max(dates)
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def label_month(value: str) -> str:
    return dt.date(int(value[:4]), int(value[5:7]), 1).strftime("%b %Y")


# Filters are bound to the URL query string (Streamlit's bind="query-params"), so a link
# reproduces the view and back/forward/reload keep it; values not among the options are
# dropped by Streamlit before they reach any query.

def period_filter(dataset: str, key: str = "period") -> tuple[str, str, str]:
    """The period of the page's totals, from the named periods (csp.protection.periods: the
    windows totals may cover under the sharing agreement), built from the months the dataset
    holds: the same list for everyone. The URL holds the period's key (latest12, fy2025,
    2026q3, 2026-08), which means the same window after new data arrives only where it should
    (the latest 12 months move on; a financial year does not). Returns (from, to, label) with
    months as YYYY-MM."""
    first, last = periods.held([dataset])
    options = {p.key: p for p in periods.named_periods(first, last)}
    default = "latest24" if "latest24" in options else "latest12"
    wanted = st.query_params.get(key)
    if wanted not in options:  # an unknown key, or a label from an older link
        wanted = next((k for k, p in options.items() if p.label == wanted), default)
    if key not in st.session_state or st.session_state[key] not in options:
        st.session_state[key] = wanted
    choice = st.selectbox("Period", options=list(options), format_func=lambda k: options[k].label, key=key)
    if st.query_params.get(key) != choice:
        st.query_params[key] = choice
    p = options[choice]
    return p.start.strftime("%Y-%m"), p.end.strftime("%Y-%m"), p.label


DEFAULT_AREA = "partnership"  # the picker's value for the default area (None is 'nothing chosen')


def area_filter(dataset: str, key: str = "area") -> str | None:
    """The area of the page's views (csp.areas.choices: at or above the user's geography, names
    told apart). The URL holds the area's code, so a link says exactly which area; an old link
    that names an area resolves when the name is unambiguous. Returns the code, or None for the
    default (the partnership, or the user's own wards)."""
    options = areas_mod.choices(current_user(), dataset)
    if not options:
        st.info("No area is shared with you for this data.")
        return None
    codes = [o.code or DEFAULT_AREA for o in options]
    labels = {o.code or DEFAULT_AREA: o.label for o in options}
    wanted = areas_mod.resolve(st.query_params.get(key), options) or DEFAULT_AREA
    if key not in st.session_state or st.session_state[key] not in codes:
        st.session_state[key] = wanted if wanted in codes else DEFAULT_AREA
    choice = st.selectbox("Area", options=codes, format_func=labels.get, key=key)
    if choice == DEFAULT_AREA:
        st.query_params.pop(key, None)
        return None
    if st.query_params.get(key) != choice:
        st.query_params[key] = choice
    return choice


def ward_filter(dataset: str, key: str = "ward") -> tuple[str | None, str]:
    """One ward of those the user may pick for a dataset (the neighbourhood view), by code in the
    URL; opens on the user's first ward. (None, '') with a message when wards are not shared."""
    options = [o for o in areas_mod.choices(current_user(), dataset) if o.level == "ward"]
    user = current_user()
    if user is not None and len(user.areas) == 1:  # a one-ward scope is offered no list
        frame = queries.run(user, "areas").frame
        label = dict(zip(frame["ward_code"].to_list(), frame["ward_name"].to_list())).get(user.areas[0], user.areas[0])
        options = [areas_mod.Choice(user.areas[0], label, "ward")]
    if not options:
        st.info("Under the sharing agreement you see this data by district, not by ward, so there is "
                "no neighbourhood view for you.")
        return None, ""
    codes = [o.code for o in options]
    labels = {o.code: o.label for o in options}
    wanted = areas_mod.resolve(st.query_params.get(key), options)
    if key not in st.session_state or st.session_state[key] not in codes:
        st.session_state[key] = wanted if wanted in codes else codes[0]
    choice = st.selectbox("Ward", options=codes, format_func=labels.get, key=key)
    if st.query_params.get(key) != choice:
        st.query_params[key] = choice
    return choice, labels[choice]


def fmt_count(value, partial: bool = False, label: str = disclosure.SUPPRESSED_LABEL) -> str:
    """A count as shown: withheld reads its label, a total leaving out suppressed cells '≥ N'."""
    if value is None:
        return label
    return f"≥{value:,}" if partial else f"{value:,}"
