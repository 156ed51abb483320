"""My dashboard: the saved Explore views a user pinned, each run as the user now (so a view whose
data they may no longer see shows a plain refusal in its tile, never figures), opening as they
left it: the order of the tiles, one or two columns, chart or table per tile
(csp.saved_views keeps it).

Pages are modules with a render() function, run only through app.py's navigation."""
from __future__ import annotations

import streamlit as st

from csp import access, explore, queries, saved_views
from csp.ui import common as ui
from csp.ui.auth import current_user, real_user
from pages.dashboards import explore as explore_page

MODES = {"chart": "Chart", "table": "Table"}


def render() -> None:
    user = current_user()
    st.title("My dashboard", anchor=False)
    writable = real_user() == user
    layout = saved_views.layout(user)
    pins = saved_views.pinned(user)
    if not pins:
        st.info("Nothing is pinned yet. Build a view in Explore, save it and pin it here, or pin a "
                "view someone has shared with you (below).")
        st.page_link(explore_page.page(), label="Go to Explore", icon=":material/explore:")
    else:
        _grid(user, pins, layout, writable)
    with st.expander("Saved views you can pin", expanded=not pins):
        if not writable:
            st.caption("Pins cannot be changed while viewing as someone else.")
        explore_page.views_list(user, writable, key="dv")


def _grid(user, pins, layout: dict, writable: bool) -> None:
    columns = layout.get("columns") if layout.get("columns") in (1, 2) else 2
    if "d_columns" not in st.session_state:
        st.session_state["d_columns"] = columns
    chosen = st.segmented_control("Layout", options=[1, 2], key="d_columns", required=True,
                                  format_func=lambda n: "One column" if n == 1 else "Two columns")
    if writable and chosen != layout.get("columns"):
        saved_views.remember(user, columns=chosen)
        layout = {**layout, "columns": chosen}
    cols = st.columns(chosen or columns)
    modes = dict(layout.get("modes") or {})
    for i, pin in enumerate(pins):
        with cols[i % len(cols)].container(border=True):
            _tile(user, pin, i, len(pins), modes, writable)
    if writable and modes != (layout.get("modes") or {}):
        saved_views.remember(user, modes=modes)


def _tile(user, pin: saved_views.Pin, index: int, count: int, modes: dict, writable: bool) -> None:
    view = pin.view
    if view is None:
        st.info("This view was deleted, or is no longer shared with you.")
        if writable and st.button("Unpin", key=f"d_unpin_{pin.view_id}", icon=":material/keep_off:"):
            saved_views.unpin(pin.view_id, user)
            st.rerun()
        return
    st.markdown(f"**{ui.md_escape(view.name)}**")
    try:
        plan, result = explore.run(user, view.spec())
    except access.AccessDenied as e:
        # Shared with someone who may not (or no longer) see this data: a plain refusal, no data.
        st.info(str(e))
        plan = result = None
    except queries.QueryError as e:
        st.warning(str(e))
        plan = result = None
    key = str(view.id)
    if plan is not None:
        st.caption(ui.md_escape(plan.describe()) + ("" if view.mine(user) else
                                                     f" · shared by {ui.md_escape(view.owner)}"))
        if plan.note:
            st.caption(plan.note)
        mode = "chart"
        if plan.dims:
            state_key = f"d_mode_{view.id}"
            if state_key not in st.session_state:
                st.session_state[state_key] = modes.get(key, "chart") if modes.get(key) in MODES else "chart"
            mode = st.segmented_control("Show", options=list(MODES), format_func=MODES.get, key=state_key,
                                        required=True, label_visibility="collapsed") or "chart"
            modes[key] = mode
        explore_page.draw(plan, result, key=f"d_{view.id}", mode=mode)
    with st.container(horizontal=True):
        st.page_link(explore_page.page(), label="Open in Explore", icon=":material/open_in_new:",
                     query_params=dict(view.params))
        if writable:
            if index > 0 and st.button("Move up", key=f"d_up_{view.id}", icon=":material/arrow_upward:"):
                saved_views.move(view.id, user, -1)
                st.rerun()
            if index < count - 1 and st.button("Move down", key=f"d_down_{view.id}",
                                                icon=":material/arrow_downward:"):
                saved_views.move(view.id, user, +1)
                st.rerun()
            if st.button("Unpin", key=f"d_unpin_{view.id}", icon=":material/keep_off:"):
                saved_views.unpin(view.id, user)
                st.rerun()
