"""Where things live, and the secrets the app needs.

Paths come from the environment so tests and benchmarks can point the whole app at a
temporary data directory (``CSP_DATA_DIR``) without touching the real one.
"""
from __future__ import annotations

import functools
import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"
QUERIES_DIR = ROOT / "queries"
MIN_COOKIE_KEY = 32


def data_dir() -> Path:
    return _resolved(os.environ.get("CSP_DATA_DIR", str(ROOT / "data")))


@functools.lru_cache(maxsize=32)
def _resolved(path: str) -> Path:
    # Resolving walks the path with a syscall per component; every query asks several times.
    return Path(path).resolve()


def policy_path() -> Path:
    return Path(os.environ.get("CSP_POLICY", CONFIG_DIR / "sharing_policy.toml"))


def contracts_path() -> Path:
    return CONFIG_DIR / "datasets.toml"


def app_db_path() -> Path:
    return data_dir() / "app.db"


def demo_mode() -> bool:
    return os.environ.get("CSP_DEMO", "").lower() in {"1", "true", "yes"}


class ConfigError(RuntimeError):
    """A setting the app cannot run without is missing or unsafe; the message says which."""


@dataclass(frozen=True)
class CookieSettings:
    name: str
    key: str
    expiry_days: float
    generated: bool  # True when demo mode made the key up (the UI says so)


def _secrets_toml() -> dict:
    path = ROOT / ".streamlit" / "secrets.toml"
    if path.exists():
        with path.open("rb") as fh:
            return tomllib.load(fh)
    return {}


def cookie_settings() -> CookieSettings:
    """The re-login cookie's signing key: env first, then .streamlit/secrets.toml.

    Outside demo mode a missing or short key is refused (a guessable key lets anyone forge a
    login cookie). In demo mode a random key is generated once per data directory and kept
    there, so restarts do not log everyone out; the app shows that it did so.
    """
    conf = _secrets_toml().get("auth", {})
    key = os.environ.get("CSP_COOKIE_KEY") or conf.get("cookie_key") or ""
    name = conf.get("cookie_name", "csp_insight_auth")
    expiry = float(os.environ.get("CSP_COOKIE_EXPIRY_DAYS", conf.get("cookie_expiry_days", 1)))
    if key:
        if len(key) < MIN_COOKIE_KEY:
            raise ConfigError(
                f"The cookie key is {len(key)} characters; at least {MIN_COOKIE_KEY} are required. "
                "Set CSP_COOKIE_KEY or [auth] cookie_key in .streamlit/secrets.toml to a long random "
                "string (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )
        return CookieSettings(name, key, expiry, generated=False)
    if not demo_mode():
        raise ConfigError(
            "No cookie key: set CSP_COOKIE_KEY or [auth] cookie_key in .streamlit/secrets.toml "
            f"(at least {MIN_COOKIE_KEY} random characters), or run in demo mode (make run)."
        )
    keyfile = data_dir() / ".demo_cookie_key"
    if not keyfile.exists():
        keyfile.parent.mkdir(parents=True, exist_ok=True)
        tmp = keyfile.with_suffix(".tmp")
        tmp.write_text(secrets.token_urlsafe(48))
        os.chmod(tmp, 0o600)
        os.replace(tmp, keyfile)
    return CookieSettings(name, keyfile.read_text().strip(), expiry, generated=True)
