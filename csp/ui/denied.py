"""Pages a user cannot open, said plainly: a deep link to one shows "You don't have access to this
page" with the reason, instead of Streamlit's "Page not found" over someone else's page. The
navigation still lists only the pages the user may open; these are hidden pages at the same URLs.
"""
from __future__ import annotations

import streamlit as st

from .. import access, catalog

ACTION_WORDS = {
    "view_dashboards": "viewing dashboards",
    "board_pack": "producing board packs",
    "upload": "uploading data",
    "data_quality": "checking data quality",
    "manage_users": "managing users and the partnership's settings",
    "audit": "reading the audit trail",
    "access_log": "seeing who used your partner's data",
}


def _role(user: access.User) -> str:
    return access.role_name(user.role)


def _partner(user: access.User) -> str:
    return access.partner_name(user.partner)


def reason(user: access.User, spec) -> str:
    """Why this user may not open this page, in plain words (no internal names)."""
    if not access.can(user, spec.action):
        return (f"Your role ({_role(user)}) does not include {ACTION_WORDS.get(spec.action, 'this page')}. "
                "An administrator can change your role if you need it.")
    granted = [d for d in spec.datasets if access.grant(user, d) is not None]
    if granted and getattr(spec, "geography", None):
        level = access.grant(user, granted[0]).geography
        return (f"It shows figures by {spec.geography}, and the sharing agreement shares this data with "
                f"the {_partner(user)} partner only by {level}. The dashboards in the menu show what "
                "you may see.")
    titles = []
    for d in spec.datasets:
        try:
            titles.append(catalog.in_sentence(catalog.contract(d).title))
        except (KeyError, ValueError):
            continue
    shown = ", ".join(titles[:-1]) + (" or " if len(titles) > 1 else "") + titles[-1] if titles else "its data"
    return (f"The sharing agreement does not share {shown} with the {_partner(user)} partner, so "
            "this page has nothing it may show you.")


def page(user: access.User, spec):
    """A hidden page at ``spec``'s URL that says the user cannot open it, and why."""
    def render() -> None:
        st.set_page_config(page_title=f"No access: {spec.title} · CSP Insight")
        st.title("You don't have access to this page", anchor=False)
        st.markdown(f"**{spec.title}** is not available to you. " + reason(user, spec))
        st.markdown("The pages you may open are listed in the menu.")
    render.__name__ = f"denied_{spec.url_path.replace('-', '_')}"
    return st.Page(render, title=spec.title, url_path=spec.url_path, visibility="hidden")
