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


def table(result: queries.Result, note: bool = True, **kwargs) -> None:
    """The result as a table (withheld cells read 'low'/'suppressed'), with the protection note
    under it unless ``note`` is False (a page showing several tables says it once)."""
    kwargs["column_config"] = _count_columns(result, kwargs.get("column_config"))
    st.dataframe(table_data(result), hide_index=True, width="stretch", **kwargs)
    if note:
        protection_caption(result)


def _count_columns(result: queries.Result, config: dict | None) -> dict:
    """Counts read '12,345' whether or not a withheld cell made their column text (which would
    otherwise sit left-aligned, beside numbers without separators); a page's own column settings
    win. Display only: the values, their sorting and the downloads are unchanged."""
    config = dict(config or {})
    shown = result.frame
    named = getattr(getattr(result, "query", None), "count_columns", None)
    mask = getattr(result, "suppressed", None)
    # A table built from queries (csp.themes.TableResult) names its counts by its mask.
    part = getattr(result, "partial", None)
    counts = [c for c in (named if named is not None else
                          [m for m in (mask.columns if mask is not None else []) if shown[m].dtype.is_integer()])
              if c in shown.columns]
    # A floor-marked total that is not a query count (a rolling 12 months '≥1,234') likewise.
    counts += [c for c in (part.columns if part is not None and part.width else [])
               if c in shown.columns and c not in counts and shown[c].dtype.is_integer()]
    for c in counts + [c for c in ("population",) if c in shown.columns]:
        label = config.get(c, None) if c in config else c
        own = label if isinstance(label, dict) else None
        if own is not None and (own.get("type_config") or {}).get("type") == "number" \
                and not own["type_config"].get("format") and shown[c].dtype.is_integer():
            # A page's own number column with no format of its own: separators too.
            config[c] = {**own, "type_config": {**own["type_config"], "format": "localized"}}
            continue
        if c in config and not isinstance(label, str):
            continue  # a page's own column (or None: hidden)
        texts = any(m is not None and m.width and c in m.columns and m[c].any() for m in (mask, part))
        config[c] = (st.column_config.TextColumn(label, alignment="right") if texts
                     else st.column_config.NumberColumn(label, format="localized")
                     if shown[c].dtype.is_integer() else label)
    return config


def protection_caption(result) -> None:
    """How the figures were protected, under a table (nothing when they are exact)."""
    note = disclosure.protection_note(result)
    if note:
        st.caption(note)


def download(result: queries.Result, label: str, filename: str, key: str,
             context: dict | None = None, fmt: str = "xlsx") -> None:
    """Download exactly what the table shows (same scope and protection) as an Excel workbook:
    the table on its first sheet and, on a second, what the file needs to travel with: the
    filters (the page's, from the URL, plus ``context``), the source and as-at dates of each
    dataset, and how its figures were protected (csp.export.about). Recorded in the audit trail
    (who, which query and versions, whose data) as it is served (csp.ui.downloads).

    The file is built with the page rather than deferred (data=callable): a deferred file is
    dropped by the next run, and the cookie component and filters start runs often enough that
    a click could land on a dropped file (seen in the browser tests). Built once per result,
    user and filters and remembered on the result, so a rerun over a cached result costs nothing."""
    from .. import audit
    from . import downloads

    user = current_user()
    filters = page_filters() | {k: str(v) for k, v in (context or {}).items() if v is not None}
    stem = filename.rsplit(".", 1)[0]
    memo = (fmt, user.username if user else None, tuple(sorted(filters.items())))
    if fmt == "csv":  # the table alone, for other tools (formula-safe); the workbook carries the context
        data = indicators.per_result(result, memo, lambda: export.to_csv(result).encode())
        mime = "text/csv"
    else:
        data = indicators.per_result(
            result, memo, lambda: export.to_xlsx(result, export.about(result, user=user, filters=filters)))
        mime = export.XLSX_MIME
    downloads.offer(
        label, data, f"{stem}.{fmt}", mime, key,
        {"query": result.query.name, "versions": dict(result.versions), "rows": result.frame.height,
         "filters": filters},
        data_owner=audit.owners_of(result.versions, uses=True), icon=":material/download:")


# What the filters bound to the URL are called on screen (csp.ui.common's own widgets).
FILTER_NAMES = {"period": "Period", "area": "Area", "ward": "Ward", "type": "Type"}


def page_filters() -> dict[str, str]:
    """The page's filters as a reader would name them: the URL query string the filter widgets
    are bound to, with period keys and area codes turned into their labels."""
    out = {}
    try:
        params = {k: st.query_params.get_all(k) for k in st.query_params}
    except Exception:  # noqa: BLE001 - no script run (a test calling this directly)
        return out
    for k, values in params.items():
        if not values:
            continue
        words = [w for w in (_filter_words(k, v) for v in values) if w]
        if words:
            out[FILTER_NAMES.get(k, k.replace("_", " ").capitalize())] = ", ".join(words)
    return out


def _filter_words(key: str, value: str) -> str | None:
    """The filter value as the page names it; None for an area the user may not choose (the
    page dropped it, so the file must not name it)."""
    if key == "period":
        for ds in ("crime", "asb"):
            span = periods.held([ds])
            if span:
                match = {p.key: p.label for p in periods.named_periods(*span)}.get(value)
                if match:
                    return match
    if key in ("area", "ward") and value:
        try:
            frame = queries.run(current_user(), "areas").frame
        except (access.AccessDenied, queries.QueryError):
            return None
        codes = dict(zip(frame["area_code"].to_list(), frame["label"].to_list()))
        code = value if value in codes else {v: k for k, v in codes.items()}.get(value)  # code or label
        if code is None:
            return "All data held" if value == "all" else None
        return f"{codes[code]} ({code})"
    return value


def _display(result: queries.Result):
    # Not remembered itself: only what is built from it is (memory: a national LSOA table's
    # remembered Arrow table and CSV are about 5 MB and 3 MB).
    shown = disclosure.display(result)
    # A count column holding 'low' or '≥' is text, which the table would show as '12345' beside
    # numeric columns' '12,345': give it the separators the numbers have (on screen only;
    # downloads keep plain digits for spreadsheets).
    texts = [c for c in shown.columns if shown[c].dtype == pl.String and c in result.frame.columns
             and result.frame[c].dtype.is_integer()]
    if not texts:
        return shown
    return shown.with_columns(
        pl.col(c).map_elements(_separated, return_dtype=pl.String) for c in texts)


def _separated(text: str) -> str:
    head = "≥" if text.startswith("≥") else ""
    digits = text[len(head):]
    return f"{head}{int(digits):,}" if digits.lstrip("-").isdigit() else text


def table_data(result: queries.Result):
    """What a table shows (suppressed cells read 'suppressed') as an Arrow table, built once per
    result and remembered on it (csp.indicators.per_result: never shared between scopes).
    Arrow goes to the browser as it is; a Polars frame would go through pandas on every run."""
    return indicators.per_result(result, ("table_arrow",), lambda: _display(result).to_arrow(
        compat_level=pl.CompatLevel.oldest()))


def dataset_note(dataset: str, definition: str, caveats: str = "", about: str = "") -> None:
    """The 'what this shows' note: definition, source partner, as-at date and caveats. ``about``
    names what it is about where a page has more than one ('What this shows: recorded crime')."""
    from .. import catalog, supply

    v = store.current(dataset)
    if v is None:
        st.caption(f"No {catalog.in_sentence(catalog.contract(dataset).title)} data has been published yet.")
        return
    cov = v.meta.get("coverage") or {}
    held = (supply.held_words(cov["first"], cov["last"], catalog.contract(dataset).grain_months)
            if cov.get("first") else "?")
    published = dt.date.fromisoformat(v.meta["published_at"][:10])
    with st.expander("What this shows" + (f": {about}" if about else "")):
        st.markdown(
            f"{definition}\n\n**Source:** {md_escape(access.partner_name(v.meta['owner']))} ({md_escape(v.meta['source'])}). "
            f"**Data held:** {held}. "
            f"**Published:** {published.day} {published:%b %Y} ({store.version_words(v.version)})."
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

def period_filter(dataset: str, key: str = "period", choices: list | None = None) -> tuple[str, str, str]:
    """The period of the page's totals, from the named periods (csp.protection.periods: the
    windows totals may cover under the sharing agreement), built from the months the dataset
    holds: the same list for everyone. The URL holds the period's key (latest12, fy2025,
    2026q3, 2026-08), which means the same window after new data arrives only where it should
    (the latest 12 months move on; a financial year does not). ``choices``: the periods to offer
    instead (anything with key, label, start and end: quarterly data's, csp.incidents). Returns
    (from, to, label) with months as YYYY-MM."""
    if choices is None:
        first, last = periods.held([dataset])
        choices = periods.named_periods(first, last)
    options = {p.key: p for p in choices}
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
