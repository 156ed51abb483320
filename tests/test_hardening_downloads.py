"""Issue 14, finding 4, without a browser (tests/e2e/test_e2e_hardening.py drives the real
server): the built-in table export is off in the app's own settings as Streamlit reads them;
``make run`` starts serve.py, which Streamlit runs as an app with the download guard in front."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_streamlit_reads_data_export_off_and_the_upload_limit_from_the_app_settings():
    code = ("from streamlit import config; config._main_script_path = 'serve.py'; "
            "config.get_config_options(force_reparse=True); "
            "print(config.get_option('client.disableDataExport'), config.get_option('server.maxUploadSize'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "100"]


def test_serve_py_is_what_make_run_starts_and_streamlit_runs_it_as_an_app():
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(ROOT / "serve.py")
    assert found.is_asgi_app and found.app_name == "app"
    assert "streamlit run serve.py" in (ROOT / "Makefile").read_text()
    assert "MediaGuard" in (ROOT / "serve.py").read_text()


def test_only_a_browser_navigation_or_a_client_outside_a_browser_counts_as_a_download():
    """Streamlit's button fetches its file when drawn (Sec-Fetch-Mode: cors); a click on the
    link is a navigation. Only the second, or a request with no such header, is served and
    audited (tests/e2e/test_e2e_hardening.py checks the same in Chromium)."""
    from csp.ui.downloads import is_probe

    assert is_probe([(b"sec-fetch-mode", b"cors"), (b"sec-fetch-dest", b"empty")])
    assert is_probe([(b"Sec-Fetch-Mode", b"no-cors")])
    assert not is_probe([(b"sec-fetch-mode", b"navigate"), (b"sec-fetch-dest", b"document")])
    assert not is_probe([(b"user-agent", b"curl/8.0")])
