"""Record keys: every record of a protected dataset gets a key 0..255 when it is published.

A cell's key is the sum of its records' keys (modulo the perturbation table's key range), so the
noise a cell gets depends only on which records it holds: the same cell reads the same on every
page, download and export (csp.protection.cellkey). Keys are derived, not drawn: a keyed hash of
the record's own fields (those it was published with, not codes derived from a lookup) and its
occurrence number among identical records, under a secret kept with the data. So re-importing
the same month, or re-coding wards after a new lookup, gives every record the key it had, and an
attacker cannot get fresh noise for the same cell by asking for a republish. The secret is not a
login secret; losing it only changes future noise, but keep it with the data.

The hash is DuckDB's hash() over the secret and the fields (md5 cost four times the rest of a
publish at 1M rows). Keys are therefore the same for the pinned DuckDB version; an upgrade that
changed hash() would re-key records once, at their next publish (one fresh draw of the noise).
"""
from __future__ import annotations

import os
import re
import secrets
import tomllib

from .. import catalog, config

KEY_RANGE = 256
_ENV = "CSP_RECORD_KEY_SECRET"
_FILE = ".record_key_secret"


def secret() -> str:
    """The deployment's record-key secret: CSP_RECORD_KEY_SECRET, [protection] record_key_secret
    in .streamlit/secrets.toml, or one generated into the data directory on first use (0600)."""
    value = os.environ.get(_ENV)
    if not value:
        path = config.ROOT / ".streamlit" / "secrets.toml"
        if path.exists():
            with path.open("rb") as fh:
                value = tomllib.load(fh).get("protection", {}).get("record_key_secret")
    if value:
        return str(value)
    keyfile = config.data_dir() / _FILE
    if not keyfile.exists():
        keyfile.parent.mkdir(parents=True, exist_ok=True)
        tmp = keyfile.with_name(f"{_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, keyfile)  # never replaces one another process wrote first
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return keyfile.read_text().strip()


def identity_fields(dataset: str) -> list[str]:
    """The fields a record is published with: every field but geography codes derived from a
    finer one through the lookup (ward and district from the LSOA), which a new lookup changes."""
    c = catalog.contract(dataset)
    finest = c.finest_geo
    levels = catalog.GEO_LEVELS
    return [f.name for f in c.fields
            if not (f.geo and finest and levels.index(f.geo) > levels.index(finest))
            and f.name not in c.measures]


def key_columns(dataset: str) -> list[str]:
    c = catalog.contract(dataset)
    if c.kind == "events":
        return ["rkey"]
    if c.kind == "counts":
        return [f"{m}_rkey" for m in c.measures]
    return []


def select_with_keys(dataset: str, source: str, secret_param: str = "__rk_secret") -> str:
    """SELECT every column of ``source`` plus the dataset's record-key columns. The secret is a
    bound parameter named ``secret_param``; the caller binds ``secret()`` to it."""
    c = catalog.contract(dataset)
    if not c.protected:
        return f"SELECT * FROM {source}"
    idf = identity_fields(dataset)
    parts = ", ".join(f"coalesce(CAST(\"{f}\" AS VARCHAR), chr(0))" for f in idf)
    occurrence = f"row_number() OVER (PARTITION BY {', '.join(chr(34) + f + chr(34) for f in idf)})"
    keys = []
    for col in key_columns(dataset):
        salt = re.sub(r"[^a-z0-9_]", "", col)  # a different key per measure of the same row
        keys.append(
            f"CAST(hash(concat_ws(chr(31), ${secret_param}, '{salt}', {parts}, "
            f"CAST({occurrence} AS VARCHAR))) % {KEY_RANGE} AS SMALLINT) AS \"{col}\""
        )
    return f"SELECT *, {', '.join(keys)} FROM {source}"
