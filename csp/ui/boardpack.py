"""The board pack download button (the pack itself is built by csp.boardpack)."""
from __future__ import annotations

import datetime as dt
import time

import streamlit as st

from .. import access, accounts, audit, boardpack, queries
from . import downloads
from .auth import current_user, real_user


def boardpack_button(key: str = "board_pack") -> None:
    """A 'Download board pack' button for users whose role may produce one; draws nothing for
    others. The pack is built only when clicked (it runs every theme's queries)."""
    user = current_user()
    if user is None or not access.can(user, "board_pack"):
        return
    real = real_user() or user
    login_at = float(st.session_state.get("csp_login_at") or 0)
    filename = f"board-pack-{dt.date.today():%Y-%m-%d}.html"

    def build() -> bytes:
        # Runs only on click, outside the script: the session may have ended since the button
        # was drawn. Every board pack is an export of partners' data, so it is audited here.
        if not accounts.session_ok(real.username, login_at):
            raise PermissionError("session ended")  # Streamlit shows a plain failure, builds nothing
        # Recorded against the datasets the pack actually read, not all the user may see.
        with queries.tracking_reads() as read:
            html = boardpack.build(user)
        used = sorted(read)
        audit.record(user.username, "board_pack", target="board pack",
                     details={"datasets": used}, data_owner=audit.owners_of(used, uses=True))
        data = html.encode("utf-8")
        # Served only to this session (csp.ui.downloads); already audited, so not again on serving.
        downloads.register(filename, data, downloads.Grant(real.username, login_at, time.time(), filename,
                                                           audit=False))
        return data

    # The user is captured now: the callable runs outside the script, without session state.
    st.download_button(
        "Download board pack", data=build, file_name=filename, mime="text/html",
        key=key, on_click="ignore", icon=":material/description:",
        help="One HTML file with every theme you may see; opens offline and prints to PDF.",
    )
