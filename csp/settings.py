"""General settings of the deployment, in the app state database: JSON values under dotted keys,
every change audited (who, before, after) in the same transaction as the change.

    from csp import settings
    settings.get("partnership.districts", [])
    settings.set("partnership.name", "Lincoln CSP", by="ada.admin")

Command line: ``python -m csp settings get KEY``, ``set KEY VALUE`` (VALUE is JSON, or else taken
as a string), ``list``. What a value means is checked by the module that owns the key (e.g.
csp.partnership for ``partnership.districts``); here only the key's form, JSON and size. A value
of ``null`` means unset: ``get`` returns its default.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import sys

from . import audit, state

KEY_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
MAX_KEY = 100
MAX_VALUE = 64 * 1024  # bytes of JSON: settings are configuration, not data


class SettingError(ValueError):
    """The setting cannot be stored; the message is safe to show."""


def _check(key: str, value) -> str:
    if not isinstance(key, str) or len(key) > MAX_KEY or not KEY_RE.fullmatch(key):
        raise SettingError("Setting names are lower-case words joined by dots, e.g. partnership.name.")
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise SettingError(f"The value of {key} cannot be stored as JSON.") from None
    if len(text.encode()) > MAX_VALUE:
        raise SettingError(f"The value of {key} is larger than {MAX_VALUE // 1024} KB.")
    return text


def get(key: str, default=None):
    with state.connect() as con:
        row = con.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
    value = json.loads(row["value"]) if row else None
    return default if value is None else value


def set(key: str, value, *, by: str) -> None:  # noqa: A001 - the module's verb, as in settings.set
    """Store a setting (JSON value) and audit the change with its previous value."""
    if not by:
        raise SettingError("say who is changing the setting")
    text = _check(key, value)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    with state.connect(lock=audit.LOCK) as con:
        row = con.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        before = json.loads(row["value"]) if row else None
        con.execute("INSERT INTO settings (key, value, updated_by, updated_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value=excluded.value, updated_by=excluded.updated_by,"
                    " updated_at=excluded.updated_at", (key, text, by, now))
        audit.record(by, "setting_change", target=key, details={"before": before, "after": value}, con=con)


def all() -> dict:  # noqa: A001
    """Every setting: {key: value}."""
    with state.connect() as con:
        rows = con.execute("SELECT key, value FROM settings ORDER BY key").fetchall()
    return {r["key"]: json.loads(r["value"]) for r in rows}


# ---- command line ------------------------------------------------------------------------


def _cmd(args) -> int:
    if args.settings_action == "list":
        for k, v in all().items():
            print(f"{k}\t{json.dumps(v, ensure_ascii=False)}")
        return 0
    if args.settings_action == "get":
        missing = object()
        value = get(args.key, missing)
        if value is missing:
            print(f"error: no setting '{args.key}'", file=sys.stderr)
            return 1
        print(json.dumps(value, ensure_ascii=False))
        return 0
    try:
        value = json.loads(args.value)
    except json.JSONDecodeError:
        value = args.value  # plain text: a name, say
    set(args.key, value, by=args.by)
    print(f"{args.key} = {json.dumps(value, ensure_ascii=False)}")
    return 0


def register_cli(subparsers) -> None:
    import getpass

    p = subparsers.add_parser("settings", help="read or change general settings (e.g. partnership.districts)")
    sub = p.add_subparsers(dest="settings_action", required=True)
    sub.add_parser("list", help="every setting")
    g = sub.add_parser("get", help="one setting's value, as JSON")
    g.add_argument("key")
    s = sub.add_parser("set", help="store a value (JSON, or else a string); audited")
    s.add_argument("key")
    s.add_argument("value")
    s.add_argument("--by", default=f"cli:{getpass.getuser()}", help="who is changing it (recorded)")
    p.set_defaults(fn=_cmd)
