"""Explore: any dataset the user is granted, a measure, up to two breakdowns, filters, a named
period and an area, as a chart, a table and a CSV, with the protection of their grant
(csp.explore builds the query; csp.queries runs it as for every page). The view lives in the URL
(short keys: ds, m, b1, b2, f, p, a), so a link reproduces it; views can be saved, shared and
pinned to My dashboard (csp.saved_views).

Pages are modules with a render() function, run only through app.py's navigation."""
from __future__ import annotations

import streamlit as st

from csp import access, areas, catalog, explore, explore_chart, queries, saved_views
from csp.ui import charts
from csp.ui import common as ui
from csp.ui.auth import current_user, real_user

NONE = ""  # the pickers' value for 'no breakdown'
DEFAULT_AREA = ui.DEFAULT_AREA
KEY = {"ds": "x_ds", "m": "x_m", "b1": "x_b1", "b2": "x_b2", "p": "x_p", "a": "x_a"}
SHARING_LABELS = {"private": "Only me", "partner": "Everyone at {partner}", "partnership": "The whole partnership"}


def page() -> st.Page:
    """This page as a link target (st.page_link / st.switch_page match pages by url_path)."""
    return st.Page(render, title="Explore", icon=":material/explore:", url_path="explore")


def url_params() -> dict[str, tuple[str, ...]]:
    return {k: tuple(st.query_params.get_all(k)) for k in explore.URL_KEYS if st.query_params.get_all(k)}


def normal(params: dict) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) if isinstance(v, (list, tuple)) else (v,) for k, v in params.items() if v}


def render() -> None:
    user = current_user()
    st.title("Explore", anchor=False)
    st.caption("Pick a dataset shared with you, what to count, up to two breakdowns, filters, a "
               "period and an area. The figures are protected as on every page; the link in your "
               "browser's address bar reproduces the view.")
    offered = explore.datasets(user)
    if not offered:
        st.info("No dataset Explore can show is shared with you yet.")
        return
    url = url_params()
    arrived = st.session_state.get("x_url") != url
    if arrived:
        # A link, back/forward or a first visit: the URL leads and the pickers follow it.
        _seed(user, url, offered)
    spec = _pickers(user, offered)
    params = normal(spec.to_params())
    if params != url or arrived:
        # Also when it came in unchanged: a page link to this same page runs it with the link's
        # query string but leaves the browser's address bar as it was until the app sets it.
        st.query_params.from_dict({k: list(v) if len(v) > 1 else v[0] for k, v in params.items()})
    st.session_state["x_url"] = params
    if real_user() == user:
        saved_views.remember(user, explore=spec.to_params())
    _view(user, spec)
    _saved(user, spec)


# ---- pickers ---------------------------------------------------------------------------------


def _seed(user, url: dict, offered) -> None:
    """Set the pickers from the URL, or, with none, from where the user left Explore."""
    raw = {k: list(v) for k, v in url.items()}
    if not raw:
        raw = saved_views.layout(user).get("explore") or {}
    try:
        spec = explore.Spec.from_params(raw) if raw else None
    except explore.SpecError as e:
        st.warning(f"This link cannot be shown: {e}")
        spec = None
    if spec is not None:
        try:
            explore.plan(user, spec)
        except (access.AccessDenied, queries.QueryError) as e:
            st.info(f"This link asks for a view that is not available to you: {e} The pickers "
                    "below show what you may choose instead.")
    names = [c.name for c in offered]
    ds = spec.dataset if spec is not None and spec.dataset in names else names[0]
    st.session_state[KEY["ds"]] = ds
    st.session_state[KEY["m"]] = spec.measure if spec else None
    bs = list(spec.breakdowns) if spec else []
    st.session_state[KEY["b1"]] = bs[0] if bs else NONE
    st.session_state[KEY["b2"]] = bs[1] if len(bs) > 1 else NONE
    st.session_state[KEY["p"]] = (spec.period if spec else None) or explore.DEFAULT_PERIOD
    st.session_state[KEY["a"]] = (spec.area if spec else None) or DEFAULT_AREA
    for k in [k for k in st.session_state if str(k).startswith("x_f_")]:
        del st.session_state[k]
    for name, values in (spec.filters if spec else ()):
        st.session_state[f"x_f_{name}"] = list(values)


def _choose(label: str, options: list, key: str, default, fmt, **kwargs):
    """A selectbox whose remembered value falls back to ``default`` when no longer offered."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default if default in options else options[0]
    return st.selectbox(label, options=options, key=key, format_func=fmt, **kwargs)


def _pickers(user, offered) -> explore.Spec:
    titles = {c.name: explore.title(c) for c in offered}
    with st.container(horizontal=True):
        ds = _choose("Dataset", list(titles), KEY["ds"], list(titles)[0], titles.get)
        contract = catalog.contract(ds)
        ms = {o.key: o.label for o in explore.measures(contract)}
        measure = _choose("Measure", list(ms), KEY["m"], list(ms)[0], ms.get,
                          help="; ".join(f"{o.label}: {_describe_field(contract, o.key)}"
                                         for o in explore.measures(contract)) or None)
        periods = {p.key: p.label for p in explore.period_options(ds)}
        if not periods:
            st.info(f"No {titles[ds].lower()} data has been published yet.")
            return explore.Spec(ds, measure)
        period = _choose("Period", list(periods), KEY["p"], explore.DEFAULT_PERIOD, periods.get,
                         help="Totals cover months, quarters, financial years, the latest 12 or 24 "
                              "months or everything held: under the sharing agreement other windows "
                              "could be subtracted from these to uncover protected figures.")
        area_opts = _areas(user, ds)
        area = _choose("Area", list(area_opts), KEY["a"], DEFAULT_AREA, area_opts.get)
    offered_b, held = explore.breakdowns(user, ds)
    labels = {NONE: "None", **{o.key: o.label for o in offered_b}}
    kinds = {o.key: o.kind for o in offered_b}
    with st.container(horizontal=True):
        b1 = _choose("Breakdown", list(labels), KEY["b1"], NONE, labels.get)
        # One period and one geography at most: the second picker offers what combines.
        second = [k for k in labels if k == NONE or (k != b1 and not (
            b1 and kinds.get(k) == kinds.get(b1) and kinds.get(k) in ("period", "geo")))]
        b2 = _choose("Second breakdown", second, KEY["b2"], NONE, labels.get,
                     disabled=b1 == NONE) if b1 != NONE else NONE
    if held:
        st.caption("Not offered to you: " + " ".join(
            f"**{ui.md_escape(h.label)}**: {ui.md_escape(h.why)}" for h in held))
    filters = _filters(user, ds)
    return explore.Spec(ds, None if measure == list(ms)[0] else measure,
                        tuple(b for b in (b1, b2) if b), filters,
                        None if period == explore.DEFAULT_PERIOD else period,
                        None if area == DEFAULT_AREA else area)


def _describe_field(contract, name: str) -> str:
    try:
        return contract.field(name).description
    except KeyError:
        return "records counted"


def _areas(user, dataset: str) -> dict[str, str]:
    """Areas the user may pick for this dataset (csp.areas), without wards for data held only
    by district (a ward would match nothing and read as a false zero)."""
    has_ward = bool(catalog.contract(dataset).geo_field("ward"))
    out = {}
    for o in areas.choices(user, dataset):
        if o.level == "ward" and not has_ward:
            continue
        out[o.code or DEFAULT_AREA] = o.label
    return out or {DEFAULT_AREA: "Your area"}


def _filters(user, ds: str) -> tuple:
    fields = explore.filter_fields(user, ds)
    if not fields:
        return ()
    one = explore.one_value_filters(user, ds)
    chosen, dropped = {}, False
    active = sum(bool(st.session_state.get(f"x_f_{o.key}")) for o in fields)
    with st.expander(f"Filters ({active} set)" if active else "Filters", expanded=bool(active)):
        if one:
            st.caption("Under the sharing agreement each filter takes one value at a time (or none, "
                       "for all): a few values together could be subtracted from the whole to "
                       "uncover protected figures.")
        with st.container(horizontal=True):
            for o in fields:
                key = f"x_f_{o.key}"
                try:
                    values = explore.values(user, ds, o.key)
                except (access.AccessDenied, queries.QueryError):
                    continue
                if key in st.session_state:
                    kept = [v for v in st.session_state[key] if v in values]
                    kept = kept[:1] if one else kept
                    dropped = dropped or kept != list(st.session_state[key])
                    st.session_state[key] = kept
                picked = st.multiselect(o.label, options=values, key=key, max_selections=1 if one else None,
                                        placeholder=f"All {o.label.lower()}")
                if picked:
                    chosen[o.key] = tuple(picked)
    if dropped:
        st.info("A filter value in the link is not one you may choose here (not among the values "
                "held, or more than one where one is allowed), so it was left out.")
    return tuple(sorted(chosen.items()))


# ---- the view --------------------------------------------------------------------------------


def _view(user, spec: explore.Spec) -> None:
    try:
        plan, result = explore.run(user, spec)
    except access.AccessDenied as e:
        st.info(str(e))
        return
    except queries.QueryError as e:
        st.warning(str(e))
        return
    area_label = _areas(user, spec.dataset).get(spec.area or DEFAULT_AREA)
    st.header(ui.md_escape(plan.describe(area_label)), anchor=False)
    if plan.note:
        st.caption(plan.note)
    draw(plan, result, key="x")
    c = plan.contract
    d = c.dashboard or {}
    ui.dataset_note(c.name, d.get("definition", c.description), d.get("caveats", ""))


def draw(plan, result, key: str, mode: str = "both") -> None:
    """The chart and table of a view (also used by My dashboard's tiles), with the protection
    note and the CSV download."""
    if result.frame.height == 0:
        st.info("Nothing matches this view: no records in the period and area chosen, or none "
                "you may see.")
        return
    if not plan.dims:
        value = result.frame[plan.count][0]
        partial = bool(result.partial[plan.count][0]) if result.partial.width else False
        st.metric(plan.measure.label, ui.fmt_count(value, partial, explore_label(result)))
        ui.protection_caption(result)
    else:
        fig, note = explore_chart.figure(result, plan)
        if mode == "table" or fig is None:
            ui.table(result)
        elif mode == "chart":
            charts.chart(fig, f"{key}_chart", f"Chart: {plan.describe()}")
            ui.protection_caption(result)
        else:
            chart, table = st.tabs(["Chart", "Table"])
            with chart:
                charts.chart(fig, f"{key}_chart", f"Chart: {plan.describe()}")
            with table:
                ui.table(result)
        if note and mode != "table":
            st.caption(note)
    left, right = st.columns(2)
    with left:
        ui.download(result, "Download this view (Excel, with its filters and protection)",
                    f"explore_{plan.dataset}.xlsx", key=f"{key}_dl")
    with right:
        ui.download(result, "Download this view (CSV)", f"explore_{plan.dataset}.csv", key=f"{key}_csv",
                    fmt="csv")


def explore_label(result) -> str:
    from csp import disclosure

    return disclosure.withheld_label(result)


# ---- saved views -----------------------------------------------------------------------------


def _saved(user, spec: explore.Spec) -> None:
    st.divider()
    st.header("Saved views", anchor=False)
    writable = real_user() == user
    if not writable:
        st.caption("Saved views cannot be changed while viewing as someone else.")
    else:
        sharing_labels = {k: v.format(partner=access.partner_name(user.partner)) for k, v in SHARING_LABELS.items()}
        with st.form("x_save", clear_on_submit=True, border=True):
            with st.container(horizontal=True):
                name = st.text_input("Name this view", max_chars=saved_views.MAX_NAME, key="x_save_name")
                sharing = st.radio("Share with", options=list(sharing_labels), format_func=sharing_labels.get,
                                   horizontal=True, key="x_save_sharing")
            pin = st.checkbox("Pin to My dashboard", key="x_save_pin")
            if st.form_submit_button("Save this view"):
                try:
                    view = saved_views.save(user, name, spec, sharing)
                    if pin:
                        saved_views.pin(view.id, user)
                    st.success(f"Saved “{ui.md_escape(view.name)}”.")
                except (saved_views.ViewError, access.AccessDenied, queries.QueryError) as e:
                    st.warning(str(e))
    views_list(user, writable, key="x")


def views_list(user, writable: bool, key: str) -> None:
    """Every view the user may see: theirs, then those shared with them."""
    views = saved_views.list_visible(user)
    if not views:
        st.caption("No saved views yet.")
        return
    pins = saved_views.pinned_ids(user)
    target = page()
    for v in views:
        with st.container(border=True, horizontal=True, vertical_alignment="center"):
            who = "yours" if v.mine(user) else f"shared by {v.owner}"
            shared = {"private": "private", "partner": f"shared with {v.partner.replace('_', ' ')}",
                      "partnership": "shared with the partnership"}[v.sharing]
            st.markdown(f"**{ui.md_escape(v.name)}**  \n"
                        f"{ui.md_escape(_dataset_title(v.dataset))} · "
                        f"{ui.md_escape(shared if v.mine(user) else who)}")
            st.page_link(target, label="Open", icon=":material/open_in_new:",
                         query_params={k: val for k, val in v.params.items()})
            if writable:
                if v.id in pins:
                    if st.button("Unpin", key=f"{key}_unpin_{v.id}", icon=":material/keep_off:"):
                        saved_views.unpin(v.id, user)
                        st.rerun()
                elif st.button("Pin", key=f"{key}_pin_{v.id}", icon=":material/keep:"):
                    saved_views.pin(v.id, user)
                    st.rerun()
                if v.mine(user) and st.button("Delete", key=f"{key}_del_{v.id}", icon=":material/delete:"):
                    saved_views.delete(v.id, user)
                    st.rerun()


def _dataset_title(name: str) -> str:
    try:
        return explore.title(catalog.contract(name))
    except KeyError:
        return name
