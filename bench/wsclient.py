"""A Streamlit session without a browser: speaks the app's own websocket protocol.

What a browser tab does, minus drawing: open ``/_stcore/stream`` (subprotocol ``streamlit``,
the tab's cookies on the handshake, so the app's ``st.context.cookies`` sees them), send a
``BackMsg(rerun_script=ClientState(...))`` for each page visit, and read the ``ForwardMsg``s
until the run's ``script_finished``. The first visit names the page by URL path (as a fresh
tab does); later visits name it by the page script hash the app's navigation message gave (as a
sidebar click does). A run that ends early for ``st.rerun()`` is followed into the next run.

So a load test can hold many sessions open at almost no client cost and measure the server.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

STREAM_PATH = "/_stcore/stream"  # streamlit/web/server/starlette/starlette_websocket.py
_DONE = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
         ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}


@dataclass
class PageRun:
    """What one script run drew, as far as a load test needs to judge it."""

    seconds: float
    headings: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # widget labels (e.g. the login form's "Username")
    texts: list[str] = field(default_factory=list)  # markdown and caption bodies
    exceptions: list[str] = field(default_factory=list)  # uncaught exceptions Streamlit drew
    error_alerts: list[str] = field(default_factory=list)  # st.error messages
    charts: int = 0
    elements: int = 0
    compile_error: bool = False
    pages: dict[str, str] = field(default_factory=dict)  # the navigation this run sent: title -> url path

    @property
    def login_form(self) -> bool:
        return "Username" in self.labels and "Password" in self.labels


class SessionError(Exception):
    """The run did not finish: timed out or the websocket closed."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


class StreamlitSession:
    """One websocket session of a Streamlit app at ``http://host:port``."""

    def __init__(self, host: str, port: int, cookies: dict[str, str] | None = None):
        self.host, self.port = host, port
        self.cookies = dict(cookies or {})
        self.ws = None
        # From the latest navigation message: url path -> page script hash, title -> hash.
        self.urls: dict[str, str] = {}
        self.titles: dict[str, str] = {}

    async def __aenter__(self) -> StreamlitSession:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else None
        # Same-origin Origin header, as a browser sends; no proxy on loopback; page deltas can
        # exceed the library's 1 MiB default frame limit.
        self.ws = await connect(f"ws://{self.host}:{self.port}{STREAM_PATH}", subprotocols=["streamlit"],
                                origin=f"http://{self.host}:{self.port}", additional_headers=headers,
                                proxy=None, max_size=256 * 2**20, open_timeout=30)
        return self

    async def __aexit__(self, *exc) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def visit(self, url_path: str = "", title: str | None = None, timeout: float = 60.0,
                    query_string: str = "") -> PageRun:
        """Run a page and wait for the run to end. Once the app has sent its navigation, the page
        is found by ``title`` (else ``url_path``) as a sidebar click would; before that, or when
        the navigation lists no such page, it is asked for by URL path as a fresh tab at
        ``/url_path`` would ("" = the app's default page).

        Raises SessionError("timeout" | "closed") when no finished run arrives in time."""
        back = BackMsg()
        state = back.rerun_script
        state.query_string = query_string
        page_hash = self.titles.get(title) if title else None
        page_hash = page_hash or self.urls.get(url_path)
        if page_hash:
            state.page_script_hash = page_hash
        else:
            state.page_name = url_path
        state.context_info.url = f"http://{self.host}:{self.port}/{url_path}"
        state.context_info.timezone = "Europe/London"
        state.context_info.locale = "en-GB"
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                await self.ws.send(back.SerializeToString())
                run = PageRun(0.0)
                while True:
                    msg = ForwardMsg()
                    msg.ParseFromString(await self.ws.recv())
                    kind = msg.WhichOneof("type")
                    if kind == "new_session":  # a run started (again, after st.rerun): start over
                        run = PageRun(0.0)
                    elif kind == "navigation":
                        run.pages = {p.page_name: p.url_pathname for p in msg.navigation.app_pages}
                        self.urls = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages}
                        self.titles = {p.page_name: p.page_script_hash for p in msg.navigation.app_pages}
                    elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                        _note_element(run, msg.delta.new_element)
                    elif kind == "script_finished" and msg.script_finished in _DONE:
                        run.compile_error = msg.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR
                        run.seconds = time.perf_counter() - t0
                        return run
        except TimeoutError:
            raise SessionError("timeout", f"no finished run within {timeout:.0f} s") from None
        except ConnectionClosed as e:
            raise SessionError("closed", str(e)[:150]) from None


def _note_element(run: PageRun, el) -> None:
    kind = el.WhichOneof("type")
    run.elements += 1
    if kind == "heading":
        run.headings.append(el.heading.body)
    elif kind == "exception":
        run.exceptions.append(f"{el.exception.type}: {el.exception.message}"[:200])
    elif kind == "alert" and el.alert.format == Alert.ERROR:
        run.error_alerts.append(el.alert.body[:200])
    elif kind == "markdown":
        run.texts.append(el.markdown.body)
    elif kind in ("plotly_chart", "vega_lite_chart", "deck_gl_json_chart"):
        run.charts += 1
    else:
        sub = getattr(el, kind, None) if kind else None
        label = getattr(sub, "label", None)
        if isinstance(label, str) and label:
            run.labels.append(label)
