"""The access model: one permission function, a sharing policy declared as data, default deny.

Every data access asks ``grant(user, dataset)``; every other action asks
``can(user, action)``. The policy file (config/sharing_policy.toml) is re-read when it changes,
so a policy change takes effect on the next query of every open session.
"""
from __future__ import annotations

import os
import re
import tomllib
import threading
from dataclasses import dataclass, field

from . import catalog, config

ROLES = ("board", "analyst", "practitioner", "admin")
PARTNERS = ("police", "council", "probation", "health", "fire", "housing", "youth_justice")
# How the partners are named to people (pages, tables, the audit trail); PARTNERS are the keys.
PARTNER_NAMES = {"police": "Police", "council": "Council", "probation": "Probation", "health": "Health",
                 "fire": "Fire and rescue", "housing": "Housing", "youth_justice": "Youth justice"}


# How the roles are named to people.
ROLE_NAMES = {"board": "board member", "analyst": "analyst", "practitioner": "practitioner",
              "admin": "administrator"}


def role_name(role: str | None) -> str:
    """'board' -> 'board member'."""
    return ROLE_NAMES.get(role or "", role or "")


def partner_name(key: str | None) -> str:
    """A partner as people name it ('youth_justice' -> 'Youth justice'); a comma-separated list
    of keys (an audit entry's owners) as a list of names."""
    if not key:
        return ""
    parts = [p.strip() for p in str(key).split(",") if p.strip()]
    return ", ".join(PARTNER_NAMES.get(p, p.replace("_", " ").capitalize()) for p in parts)
WARD_CODE = re.compile(r"^[EW]05\d{6}$")


class AccessDenied(PermissionError):
    """The user may not do this. The message is safe to show them."""


@dataclass(frozen=True)
class User:
    username: str
    name: str
    role: str
    partner: str
    areas: tuple[str, ...] = ()  # ward codes; empty = the whole partnership area

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"unknown role '{self.role}' (one of {', '.join(ROLES)})")
        if self.partner not in PARTNERS:
            raise ValueError(f"unknown partner '{self.partner}' (one of {', '.join(PARTNERS)})")
        bad = [a for a in self.areas if not WARD_CODE.match(a)]
        if bad:
            raise ValueError(f"area scope must be ward codes (E05/W05 + 6 digits): {', '.join(bad)}")


PROTECTIONS = ("perturb", "suppress", "none")


@dataclass(frozen=True)
class Grant:
    """What one user may see of one dataset (the Rill-style row filter + geography + fields),
    and how its counts are protected for them (csp.protection)."""

    dataset: str
    geography: str  # finest level the user may see: lsoa, ward or district
    threshold: int  # published counts under this are withheld; 0 = nothing withheld
    fields: tuple[str, ...]  # fields the user may read; others are not exposed at all
    areas: tuple[str, ...] = field(default=())  # ward scope (row filter); empty = no filter
    owner: bool = False
    protection: str = "none"  # perturb | suppress | none
    ptable: str | None = None  # perturbation table name (config/ptables/<name>.csv)

    def fingerprint(self) -> tuple:
        return (self.dataset, self.geography, self.threshold, self.fields, self.areas, self.owner,
                self.protection, self.ptable)


class _Policy:
    def __init__(self):
        self._lock = threading.Lock()
        self._mtime = None
        self._data: dict = {}

    def data(self) -> dict:
        path = config.policy_path()
        mtime = os.stat(path).st_mtime_ns
        with self._lock:
            if mtime != self._mtime:
                with open(path, "rb") as fh:
                    self._data = tomllib.load(fh)
                self._mtime = mtime
            return self._data


_policy = _Policy()


def policy() -> dict:
    return _policy.data()


def can(user: User | None, action: str) -> bool:
    """May this user perform a non-data action (upload, manage_users, board_pack ...)?"""
    if user is None:
        return False
    return action in policy().get("roles", {}).get(user.role, [])


def partnership_comparator(dataset: str) -> bool:
    """May a user limited to some wards read this dataset's partnership totals as a comparator
    (``partnership_comparator = true`` under the dataset in the policy; a cube follows its
    parent)? Only through a query declared ``scope: partnership`` (csp.queries), which has no
    area in its rows: what their partner's unscoped users read for the whole partnership."""
    base = catalog.base(dataset)
    return bool(policy().get("datasets", {}).get(base, {}).get("partnership_comparator", False))


def grant(user: User | None, dataset: str) -> Grant | None:
    """What the user may see of a dataset, or None (default deny)."""
    if user is None:
        return None
    contract = catalog.contract(dataset)
    if contract.cube_of:
        # A cube is its parent's data counted: the same rule applies, to the cube's fields.
        parent = grant(user, contract.cube_of)
        if parent is None:
            return None
        fields = tuple(f for f in contract.field_names if f in parent.fields or f == "n")
        return Grant(dataset, parent.geography, parent.threshold, fields, parent.areas, parent.owner,
                     parent.protection, parent.ptable)
    spec = policy().get("datasets", {}).get(dataset)
    if spec is None:
        return None
    if spec.get("owner") == user.partner:
        return Grant(
            dataset, contract.finest_geo or "district", 0, tuple(contract.field_names),
            user.areas, owner=True,
        )
    rule = spec.get("partners", {}).get(user.partner) or spec.get("everyone")
    if rule is None or ("roles" in rule and user.role not in rule["roles"]):
        return None
    tiers = set(rule.get("tiers", ["public"]))
    geo = rule.get("geography", "district")
    if geo not in catalog.GEO_LEVELS:
        raise ValueError(f"policy for {dataset}/{user.partner}: bad geography {geo!r}")
    fields = tuple(f.name for f in contract.fields if f.tier in tiers and _geo_ok(f.geo, geo))
    threshold = int(rule.get("threshold", 0))
    protection = rule.get("protection", "suppress" if threshold > 0 else "none")
    ptable = rule.get("ptable")
    if not contract.protected:
        protection, threshold, ptable = "none", 0, None  # lookups and public aggregates
    _check_rule(dataset, user.partner, protection, threshold, ptable)
    if protection == "suppress":
        # The protected base table: the period, the geography the grant allows and the
        # contract's base categories. Anything finer is not shared under suppression.
        keep = {contract.period_field, *contract.base_dims, *contract.measures}
        fields = tuple(f for f in fields if f in keep or contract.field(f).geo)
    return Grant(dataset, geo, threshold, fields, user.areas, owner=False,
                 protection=protection, ptable=ptable)


def _check_rule(dataset: str, partner: str, protection: str, threshold: int, ptable) -> None:
    where = f"policy for {dataset}/{partner}"
    if protection not in PROTECTIONS:
        raise ValueError(f"{where}: protection must be one of {', '.join(PROTECTIONS)}")
    if protection != "none" and threshold < 1:
        raise ValueError(f"{where}: {protection} needs a threshold of 1 or more")
    if protection == "none" and threshold:
        raise ValueError(f"{where}: protection 'none' with a threshold; say perturb or suppress")
    if protection == "perturb" and not (isinstance(ptable, str) and re.fullmatch(r"[a-z0-9_]{1,40}", ptable)):
        raise ValueError(f"{where}: perturb needs ptable = \"<name>\" (config/ptables/<name>.csv)")


def _geo_ok(field_geo: str | None, permitted: str) -> bool:
    """A geography field finer than the permitted level is not exposed."""
    if field_geo is None:
        return True
    levels = catalog.GEO_LEVELS
    return levels.index(field_geo) >= levels.index(permitted)


def require(user: User | None, dataset: str) -> Grant:
    g = grant(user, dataset)
    if g is None:
        if user is None:
            raise AccessDenied("Log in to see this.")
        shown = catalog.in_sentence(catalog.contract(catalog.contract(dataset).cube_of or dataset).title)
        raise AccessDenied(f"The sharing agreement does not share {shown} with the "
                           f"{partner_name(user.partner)} partner.")
    return g


def shares_field(user: User | None, dataset: str, field_name: str) -> bool:
    """Does the user's grant include this field (e.g. crime outcomes, which partners under
    suppression do not get: they are finer than the protected base)?"""
    g = grant(user, dataset)
    return g is not None and field_name in g.fields


def visible_datasets(user: User | None) -> list[str]:
    return [d for d in catalog.contracts() if grant(user, d) is not None]
