"""The app under test: ``streamlit run serve.py`` (app.py behind the download guard), started as
deploy.local starts a replica, on a free localhost port with its own data directory; and the
settings the browser journeys share."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from deploy.local import Replica, free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("CSP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
COOKIE_KEY = "e2e-cookie-key-Wq7Zr2Nv8Lp4Xt6Bm1Kd9Hs3Gf5Jc0Ya"  # fixed, so a restarted server accepts the same cookies
PASSWORD = "fenmouth-demo"
# A user of our own for the lockout journey, so locking it cannot break another test's login.
LOCKOUT_USER = ("e2e.lockout", "e2e-lockout-password-1")


def run_cli(env: dict, *args: str, stdin: str | None = None) -> None:
    subprocess.run([sys.executable, "-m", "csp", *args], cwd=ROOT, env=env, input=stdin,
                   text=True, check=True, capture_output=True, timeout=300)


class Server(Replica):
    """The app as deploy.local starts each replica (``streamlit run serve.py`` in its own
    process group, warmed up by a first run), on a free localhost port with the browser
    suite's data directory and cookie key."""

    def __init__(self, data_dir: Path, log_path: Path):
        env = {k: v for k, v in os.environ.items() if k != "CSP_DEMO"}
        env.update(CSP_DATA_DIR=str(data_dir), CSP_COOKIE_KEY=COOKIE_KEY)
        self.data_dir = data_dir
        super().__init__("e2e", free_port(), env, log_path)

    def wait_healthy(self, timeout: float = 90) -> None:
        """Healthy, but not warmed up: the journeys include a fresh server's very first visitor
        (test_e2e_logged_out), which a warm-up run would hide."""
        wait_http(f"{self.url}/_stcore/health", timeout, self.proc, "app server")
