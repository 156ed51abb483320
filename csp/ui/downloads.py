"""Download files: audited when they are served, and only to a session that may still have them.

Streamlit serves a download button's file at ``/media/<id>.<ext>``, to anyone holding the URL,
for as long as the file is in its media store: after the person has logged out, and with no
audit entry. ``serve.py`` runs the app with :class:`MediaGuard` in front of Streamlit's routes
(``st.App`` middleware). Every file offered through :func:`offer` is registered with who asked
for it and when their session began; when the file is requested the guard serves it only if
that session may still act (not logged out, revoked, disabled or locked since:
``accounts.session_ok``) and the person has not been idle longer than the idle limit, and records
the download in the audit trail as it is served. A downloadable file nobody registered is
refused. Under a server without the guard (``streamlit run app.py``, or AppTest) the click is
audited instead, as before; SECURITY.md says what that leaves open.
"""
from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import streamlit as st

GUARDED = False  # set when MediaGuard is installed in this process (serve.py)
MAX_GRANTS = 10_000
_MEDIA = re.compile(r"/media/([0-9A-Za-z_-]+)(?:\.[0-9A-Za-z]+)?$")


@dataclass(frozen=True)
class Grant:
    username: str  # the real user (an administrator viewing as someone is named as themselves)
    login_at: float  # when their session began (accounts.session_ok)
    offered_at: float
    target: str  # the file name, as the audit trail names it
    details: dict = field(default_factory=dict)
    data_owner: tuple = ()
    audit: bool = True  # False when the file was audited as it was made (the board pack)


_grants: OrderedDict[tuple[str, str], Grant] = OrderedDict()
_lock = threading.Lock()


def _key(filename: str, data: bytes) -> tuple[str, str]:
    return filename, hashlib.sha256(data).hexdigest()


def register(filename: str, data: bytes, grant: Grant) -> None:
    """Note that this session may download these bytes under this name."""
    with _lock:
        _grants[_key(filename, data)] = grant
        _grants.move_to_end(_key(filename, data))
        while len(_grants) > MAX_GRANTS:
            _grants.popitem(last=False)


def offer(label: str, data: bytes, filename: str, mime: str, key: str, details: dict,
          data_owner=(), target: str | None = None, **button) -> None:
    """A download button whose file is audited when served (under MediaGuard), or when clicked."""
    from .. import audit
    from .auth import current_user, real_user

    real, user = real_user(), current_user()
    details = dict(details)
    if user is not None and real is not None and user != real:
        details["view_as"] = user.username
    target = target or filename
    if GUARDED and real is not None:
        register(filename, data, Grant(real.username, float(st.session_state.get("csp_login_at") or 0),
                                       time.time(), target, details, tuple(data_owner)))
        st.download_button(label, data=data, file_name=filename, mime=mime, key=key, on_click="ignore", **button)
        return

    def clicked() -> None:
        audit.record(real.username if real else None, "download", target=target, details=details,
                     data_owner=list(data_owner))

    st.download_button(label, data=data, file_name=filename, mime=mime, key=key, on_click=clicked, **button)


# ---- the guard ----------------------------------------------------------------------------------


def check(file_id: str, method: str, probe: bool = False) -> tuple[str | None, bool]:
    """(why it is refused, or None; whether the file is a download we guard). A download that
    passes is audited here unless the request is a probe (is_probe), which is not given it."""
    from streamlit.runtime import Runtime
    from streamlit.runtime.media_file_storage import MediaFileKind

    from .. import accounts, audit

    if not Runtime.exists():
        return None, False
    media = Runtime.instance().media_file_mgr.read_file(file_id)
    if media is None or media.kind != MediaFileKind.DOWNLOADABLE:
        return None, False  # not a download (images ...), or gone: Streamlit answers 404
    with _lock:
        grant = _grants.get(_key(media.filename or "", media.content))
    if grant is None:
        return "This download was not offered through the app.", True
    now = time.time()
    if not accounts.session_ok(grant.username, grant.login_at, now) or now - grant.offered_at > accounts.idle_seconds():
        return "This download has expired: log in and open the page again.", True
    if not probe and method == "GET" and grant.audit:  # HEAD and OPTIONS probes fetch nothing
        audit.record(grant.username, "download", target=grant.target,
                     details={**grant.details, "served": True}, data_owner=list(grant.data_owner))
    return None, True


def is_probe(headers) -> bool:
    """A script's fetch of the file rather than the person's download.

    Streamlit's download button fetches its file as soon as it is drawn, only to see that the
    URL answers (``checkSourceUrlResponse``); recording that as a download filled the audit trail
    with downloads nobody made. A browser marks every request with ``Sec-Fetch-Mode``, which a
    page's script cannot set: a click on the download link is a navigation ("navigate"), a
    script's fetch is not. A client that sends no such header (curl, a script outside a
    browser) is given the file and audited as before."""
    for name, value in headers:
        if name.lower() == b"sec-fetch-mode":
            return value.decode("latin-1").strip().lower() != "navigate"
    return False


class MediaGuard:
    """ASGI middleware in front of Streamlit's /media route (see the module docstring). A
    probe (is_probe) is checked like a download but answered with an empty 200: it is told
    the URL works, is not given the file, and is not audited."""

    def __init__(self, app):
        global GUARDED
        self.app = app
        GUARDED = True

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and (m := _MEDIA.search(scope.get("path", ""))):
            from starlette.concurrency import run_in_threadpool
            from starlette.responses import PlainTextResponse

            from starlette.responses import Response

            probe = is_probe(scope.get("headers") or [])
            why, download = await run_in_threadpool(check, m.group(1), scope.get("method", "GET"), probe)
            if why is not None:
                await PlainTextResponse(why, status_code=403)(scope, receive, send)
                return
            if probe and download:
                await Response(b"", status_code=200, headers={"Cache-Control": "no-store"})(scope, receive, send)
                return
        await self.app(scope, receive, send)
