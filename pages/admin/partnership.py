"""Admin -> Partnership: the districts the partnership covers (the default area of every view,
the denominator of every rate, what maps draw) and a wider comparator area (the force, the
county). Every change is audited."""
from __future__ import annotations

import streamlit as st

from csp import partnership
from csp.ui import common as ui
from csp.ui.auth import real_user


def render() -> None:
    st.title("Partnership", anchor=False)
    st.write(f"The partnership is **{ui.md_escape(partnership.describe())}**.")
    if not partnership.districts():
        st.warning("No partnership area is set, so every view covers every district held and rates "
                   "divide by all their residents. Choose the districts the partnership covers.")
    districts = ui.run("districts")
    if districts is None or districts.frame.height == 0:
        st.info("Publish a geography lookup first (Data -> Upload, or python -m csp import lookup).")
        return
    names = {r["district_code"]: f"{r['district_name']} ({r['district_code']})"
             for r in districts.frame.iter_rows(named=True)}
    with st.form("partnership"):
        chosen = st.multiselect("Districts the partnership covers", list(names), format_func=names.get,
                                default=[c for c in partnership.districts() or [] if c in names])
        label = st.text_input("The partnership's name", value=partnership.name() or "",
                              placeholder="e.g. Lincoln Community Safety Partnership")
        st.divider()
        wider = st.multiselect("Comparator area (optional): a wider area to compare with, such as the "
                               "police force area or the county", list(names), format_func=names.get,
                               default=[c for c in partnership.comparator_districts() or [] if c in names])
        wider_label = st.text_input("Its name", value=partnership.comparator_name() or "",
                                    placeholder="e.g. Lincolnshire")
        saved = st.form_submit_button("Save")
    if saved:
        by = real_user().username
        try:
            partnership.set_area(chosen, by=by, label=label)
            if wider:
                partnership.set_area(wider, by=by, label=wider_label, comparator=True)
        except partnership.PartnershipError as e:
            st.error(str(e))
            return
        st.success(f"Saved: the partnership is {partnership.describe()}. Every view uses it from now on.")
