"""Admin tables a person can read: times as dates ("01 Dec 2026 17:46 UTC", never "00:00:00"),
column names in words, area scopes by ward name, audit details as "query: …; rows: 12" instead
of raw JSON. Pure functions (the pages draw what they return)."""
from __future__ import annotations

import datetime as dt
import json

import polars as pl

from ..access import ROLE_NAMES, partner_name

ROLE_WORDS = ROLE_NAMES


def when(value) -> str:
    """An ISO timestamp (or date) as people write it, in UTC; the time only when it has one."""
    if value in (None, ""):
        return ""
    try:
        t = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc)
    if (t.hour, t.minute, t.second) == (0, 0, 0) and len(str(value)) <= 10:
        return t.strftime("%d %b %Y")
    return t.strftime("%d %b %Y %H:%M:%S UTC")


# The short keys pages bind their filters to in the URL, in words.
KEY_WORDS = {"ds": "dataset", "view": "section", "type": "category", "cohort_type": "cohort type",
             "cohort_group": "cohort group", "dq_dataset": "dataset"}


def version(vid: str | None) -> str:
    """A stored version id as people count them: 'v000003' -> 'version 3'."""
    from ..store import version_words

    return version_words(vid)


def words(key: str) -> str:
    """'data_owner' -> 'Data owner'."""
    return key.replace("_", " ").strip().capitalize()


def key_words(key: str) -> str:
    """A detail's key, a URL filter key by what it is ('ds' -> 'Dataset')."""
    return words(KEY_WORDS.get(key, key))


def details(text, names: dict | None = None) -> str:
    """An audit entry's JSON details as 'Key: value; Key: value' (nested dicts one level in);
    values found in ``names`` (dataset ids, ward codes) by their names."""
    names = names or {}
    if text in (None, ""):
        return ""
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return str(text)
    if not isinstance(value, dict):
        return str(value)

    def show(v, key: str = "") -> str:
        if key == "period" and isinstance(v, str):
            from ..protection.periods import key_words as period_words
            return period_words(v)
        if isinstance(v, dict):
            return ", ".join(f"{key_words(k).lower()} {show(x, k)}" for k, x in v.items()) or "none"
        if isinstance(v, (list, tuple)):
            return ", ".join(show(x) for x in v) or "none"
        if isinstance(v, bool):
            return "yes" if v else "no"
        return str(names.get(v, v)) if isinstance(v, str) else str(v)

    return "; ".join(f"{key_words(k)}: {show(v, k)}" for k, v in value.items())


AUDIT_COLUMNS = {"seq": "#", "at": "When", "actor": "Who", "action": "Action", "target": "What",
                 "details": "Details", "data_owner": "Whose data"}


def audit_frame(rows: list[dict], names: dict | None = None, people: dict | None = None) -> pl.DataFrame:
    """Audit entries as a table a person reads (the download keeps the raw fields): targets and
    filter values found in ``names`` (page paths, dataset ids, ward codes) by their names; who
    by ``people`` (login -> 'Pat Board (Police)') where given."""
    names, people = names or {}, people or {}
    out = [{"#": r["seq"], "When": when(r["at"]), "Who": people.get(r["actor"], r["actor"]), "Action": words(r["action"] or ""),
            "What": names.get(r["target"] or "", r["target"] or ""), "Details": details(r["details"], names),
            "Whose data": partner_name(r.get("data_owner"))} for r in rows]
    return pl.DataFrame(out, schema={"#": pl.Int64, **{c: pl.String for c in list(AUDIT_COLUMNS.values())[1:]}})


# Who did something when nobody logged in did it (csp.demo publishes as "demo").
SYSTEM_PEOPLE = {"demo": "The demo set-up", "": "Not recorded"}


def people(everyone, logins: bool = False) -> dict[str, str]:
    """Login -> 'Pat Board (Police)': how a data owner knows who used their data; with ``logins``
    'Pat Board (Police), board.police' (an administrator searches the trail by login)."""
    def who(u) -> str:
        partner = partner_name(u.partner)
        # A name that already says whose it is ("Chris Board (Council)", "Fran Analyst (Fire)")
        # keeps its own words: not "(Council) (Council)" or "(Fire) (Fire and rescue)".
        name = u.name if u.name.rstrip().endswith(")") else f"{u.name} ({partner})"
        return f"{name}, {u.username}" if logins else name

    return {**SYSTEM_PEOPLE, **{u.username: who(u) for u in everyone}}


def users_frame(everyone: list[dict], ward_names: dict[str, str], status) -> pl.DataFrame:
    """Accounts with their scope by ward name, role in words and the date each was created."""
    # Who and whether they can log in first: on a phone only the first columns fit.
    out = [{"Username": u["username"], "Status": status(u), "Role": ROLE_WORDS.get(u["role"], u["role"]),
            "Partner": partner_name(u["partner"]),
            "Area scope": ", ".join(ward_names.get(c, c) for c in u["areas"]) or "the whole partnership area",
            "Name": u["name"], "Email": u.get("email") or "", "Created": when(u.get("created_at"))} for u in everyone]
    return pl.DataFrame(out, schema={c: pl.String for c in
                                     ("Username", "Status", "Role", "Partner", "Area scope", "Name", "Email", "Created")})
