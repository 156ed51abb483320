"""Where things live, and the secrets the app needs.

Paths come from the environment so tests and benchmarks can point the whole app at a
temporary data directory (``CSP_DATA_DIR``) without touching the real one.
"""
from __future__ import annotations

import collections
import functools
import math
import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"
QUERIES_DIR = ROOT / "queries"
MIN_COOKIE_KEY = 32
MIN_KEY_BITS = 96  # estimated; a 32-character key of random hex or url-safe characters passes


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


def database_url() -> str:
    """Where the app state lives: ``CSP_DATABASE_URL`` (or ``[database] url`` in
    .streamlit/secrets.toml), e.g. ``postgresql://csp:secret@db.internal/csp``; by default the
    SQLite file ``<data dir>/app.db``."""
    url = os.environ.get("CSP_DATABASE_URL") or _secrets_toml().get("database", {}).get("url") or ""
    if not url:
        return f"sqlite:///{app_db_path()}"
    if url.startswith(("postgresql://", "postgres://")) or (url.startswith("sqlite:///") and len(url) > 10):
        return url
    raise ConfigError("CSP_DATABASE_URL must start with postgresql:// (or sqlite:/// and a file path).")


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
        problem = key_problem(key)
        if problem:
            raise ConfigError(
                f"The cookie key {problem}. Set CSP_COOKIE_KEY or [auth] cookie_key in "
                ".streamlit/secrets.toml to a long random string "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')."
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


def key_bits(key: str) -> float:
    """Estimated entropy of a key in bits: its length times the Shannon entropy of its own
    characters, or 0 when it is one shorter string repeated ("abcabcabc..."). Crude, but it
    catches what length alone does not: 32 x "a" is 0 bits, random hex of that length ~115."""
    n = len(key)
    if n == 0:
        return 0.0
    for period in range(1, n // 2 + 1):
        if n % period == 0 and key[:period] * (n // period) == key:
            return 0.0
    counts = collections.Counter(key)
    return n * -sum(c / n * math.log2(c / n) for c in counts.values())


def key_problem(key: str, what_min: int = MIN_COOKIE_KEY) -> str | None:
    """Why a secret key is not good enough (completing "The ... key ..."), or None."""
    if len(key) < what_min:
        return f"is {len(key)} characters; at least {what_min} are required"
    bits = key_bits(key)
    if bits < MIN_KEY_BITS:
        return (f"is too predictable (about {bits:.0f} bits of randomness, at least {MIN_KEY_BITS} "
                "needed): it repeats characters or a pattern")
    return None


def audit_key(create: bool = False) -> bytes:
    """The key that signs the audit chain's head (csp.audit). It must not live in the app state
    database, or whoever can rewrite the log could re-sign it.

    ``CSP_AUDIT_KEY`` (or ``[audit] key`` in .streamlit/secrets.toml) when set; otherwise a
    random key kept in ``<data dir>/.audit_key`` (mode 600), made only when ``create`` is true
    (a new audit log), so a process that is missing the configured key fails clearly instead of
    signing with a different one."""
    key = os.environ.get("CSP_AUDIT_KEY") or _secrets_toml().get("audit", {}).get("key") or ""
    if key:
        problem = key_problem(key)
        if problem:
            raise ConfigError(f"The audit key (CSP_AUDIT_KEY) {problem}.")
        return key.encode()
    keyfile = data_dir() / ".audit_key"
    if not keyfile.exists():
        if not create:
            raise ConfigError(
                "No audit key: the audit log was started with a key this process cannot find. Set "
                f"CSP_AUDIT_KEY as the app has it, or restore {keyfile}."
            )
        keyfile.parent.mkdir(parents=True, exist_ok=True)
        tmp = keyfile.with_name(f".audit_key.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, keyfile)  # never replaces a key another process made meanwhile
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return keyfile.read_text().strip().encode()
