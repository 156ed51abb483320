"""The board pack download button (the pack itself is built by csp.boardpack)."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from .. import access, audit, boardpack
from .auth import current_user


def boardpack_button(key: str = "board_pack") -> None:
    """A 'Download board pack' button for users whose role may produce one; draws nothing for
    others. The pack is built only when clicked (it runs every theme's queries)."""
    user = current_user()
    if user is None or not access.can(user, "board_pack"):
        return
    def build() -> bytes:
        # Runs only on click; every board pack is an export of partners' data, so it is audited.
        html = boardpack.build(user)
        visible = access.visible_datasets(user)
        audit.record(user.username, "board_pack", target="board pack",
                     details={"datasets": visible}, data_owner=audit.owners_of(visible))
        return html.encode("utf-8")

    # The user is captured now: the callable runs outside the script, without session state.
    st.download_button(
        "Download board pack", data=build,
        file_name=f"board-pack-{dt.date.today():%Y-%m-%d}.html", mime="text/html",
        key=key, on_click="ignore", icon=":material/description:",
        help="One HTML file with every theme you may see; opens offline and prints to PDF.",
    )
