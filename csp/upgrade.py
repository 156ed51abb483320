"""Bring published data up to its contract after the contract grew (``python -m csp upgrade``).

A contract can gain fields: the crime extract gained the optional domestic-abuse and hate-crime
flags, which every cube of crime carries as categories. A version published before that has no
such columns, and the queries (which read every contract field) cannot read it. Upgrading
republishes the serving version's rows as they are, with the new fields blank, as a new version
(so a rollback to the old one stays possible, and it is audited like any publish). Record keys are
derived again from the record's fields, now including the blank ones: the noise of each
perturbed cell is drawn once more, the same for everyone (csp.protection.record_keys).
"""
from __future__ import annotations

import sys

from . import catalog, store


def stale(name: str) -> list[str]:
    """The contract fields the dataset's serving version does not hold (none: up to date)."""
    v = store.current(name)
    if v is None:
        return []
    cur = store.cursor()
    try:
        have = {r[0] for r in cur.execute("DESCRIBE SELECT * FROM read_parquet($f)",
                                          {"f": v.files}).fetchall()}
    finally:
        cur.close()
    return [f for f in catalog.contract(name).field_names if f not in have]


def upgrade(name: str, by: str) -> store.Version | None:
    """Republish ``name``'s serving version with its missing optional fields blank. None when it
    is up to date; refuses (ValueError) when a missing field is not optional."""
    missing = stale(name)
    if not missing:
        return None
    c = catalog.contract(name)
    required = [f for f in missing if not c.field(f).optional]
    if required:
        raise ValueError(f"{name}: the published data has no {', '.join(required)}, which the contract "
                         "requires: publish it again from its source")
    v = store.current(name)
    out = store.publish(name, relation_sql="SELECT * FROM read_parquet($f)", params={"f": v.files},
                        published_by=by, source=v.meta.get("source", ""),
                        source_checksum=v.meta.get("source_checksum"),
                        validation=v.meta.get("validation") or {},
                        note=f"Upgraded {v.version} to the contract: {', '.join(missing)} added, blank.")
    store.record_event(name, {"event": "upgrade", "by": by, "from": v.version, "version": out.version,
                              "added": missing})
    return out


def upgrade_all(by: str) -> dict[str, str]:
    """Upgrade every published dataset that needs it: dataset -> new version."""
    return {n: v.version for n in catalog.contracts() if (v := upgrade(n, by)) is not None}


def cmd_upgrade(args) -> int:
    try:
        done = upgrade_all(args.by)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("Upgraded " + ", ".join(f"{k} {v}" for k, v in done.items()) if done
          else "Every published dataset matches its contract.")
    return 0


def register_cli(sub) -> None:
    p = sub.add_parser("upgrade", help="republish data published before its contract gained fields")
    p.add_argument("--by", default="cli", help="who is upgrading (recorded with the version)")
    p.set_defaults(fn=cmd_upgrade)
