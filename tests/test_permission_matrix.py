"""The permission matrix: every role × partner × area scope × page × named query gets exactly the
outcome the policy file says, and no row outside scope or unsuppressed small cell ever reaches a
page table, a download or an export.

Expected outcomes are derived here from the policy file's stated rules (read with tomllib), not
from csp.access, so a bug in the access layer shows up as a mismatch.
"""
from __future__ import annotations

import csv
import io
import itertools
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from csp import access, catalog, config, export, queries
from conftest import CRIME_CELLS, GEOGRAPHY, W1, W2, W3
from pages import PAGES

ROLES = ("board", "analyst", "practitioner", "admin")
PARTNERS = ("police", "council", "probation", "health", "fire", "housing", "youth_justice")
SCOPES = ((), (W1,))
LEVELS = ("lsoa", "ward", "district")  # finest first, as the policy file's header says


def policy() -> dict:
    with config.policy_path().open("rb") as fh:
        return tomllib.load(fh)


def cube_parents() -> dict:
    # Cubes are made from their parent's contract (csp.catalog); each is governed by its
    # parent's policy entry.
    return {n: c.cube_of for n, c in catalog.cubes().items()}


def expected_grant(pol: dict, role: str, partner: str, dataset: str):
    """(finest geography, threshold) per the policy file's rules, or None (default deny)."""
    dataset = cube_parents().get(dataset, dataset)
    spec = pol.get("datasets", {}).get(dataset)
    if spec is None:
        return None
    if spec.get("owner") == partner:  # the owner sees its own data at the finest level, unsuppressed
        return ("finest", 0)
    rule = spec.get("partners", {}).get(partner) or spec.get("everyone")
    if rule is None or ("roles" in rule and role not in rule["roles"]):
        return None
    return (rule.get("geography", "district"), int(rule.get("threshold", 0)))


def finest(dataset: str) -> str:
    return catalog.contract(dataset).finest_geo or "district"


def expected_query(pol, role, partner, q, scoped: bool = False) -> tuple:
    grants = {d: expected_grant(pol, role, partner, d) for d in q.datasets}
    if any(g is None for g in grants.values()):
        return ("denied",)
    # A `scope: partnership` query reads beyond a ward-scoped user's wards only where the policy
    # sets `partnership_comparator` for every protected dataset it reads (the owner's own too).
    if scoped and q.scope == "partnership" and any(
            catalog.contract(d).protected and not pol["datasets"][cube_parents().get(d, d)].get(
                "partnership_comparator", False) for d in q.datasets):
        return ("denied",)
    # The grain limits protected data only: reference data (lookups, populations) is public.
    geos = {d: finest(d) if g[0] == "finest" else g[0] for d, g in grants.items()
            if catalog.contract(d).protected}
    if q.grain and any(LEVELS.index(q.grain) < LEVELS.index(geo) for geo in geos.values()):
        return ("denied",)
    # An owner-only query (access: owner) is for the owner of every protected dataset it reads.
    if q.owner_only and any(g[0] != "finest" for d, g in grants.items() if catalog.contract(d).protected):
        return ("denied",)
    return ("ok", max((g[1] for g in grants.values()), default=0))


VALID = {"month": "2024-01", "area": W1, "int": "1", "text": "x", "text_list": None}
USERS = [access.User(f"{r}.{p}.{len(s)}", "x", r, p, s) for r, p, s in itertools.product(ROLES, PARTNERS, SCOPES)]


@pytest.mark.parametrize("user", USERS, ids=lambda u: u.username)
def test_pages_listed_exactly_as_policy_allows(user):
    pol = policy()
    def fine_enough(d):  # granted at the page's geography or finer (read from the policy file)
        g = expected_grant(pol, user.role, user.partner, d)
        if g is None:
            return False
        geo = finest(d) if g[0] == "finest" else g[0]
        return spec.geography is None or LEVELS.index(geo) <= LEVELS.index(spec.geography)

    for spec in PAGES:
        allowed = spec.action in pol["roles"].get(user.role, []) and (
            not spec.datasets or any(fine_enough(d) for d in spec.datasets))
        assert spec.open_to(user) == allowed, (user, spec.module)


def test_every_user_by_every_query(tiny):
    pol = policy()
    checked = 0
    for q in queries.all_queries():
        params = {n: VALID[p.type] for n, p in q.params.items() if p.required}
        for user in USERS:
            want = expected_query(pol, user.role, user.partner, q, bool(user.areas))
            try:
                r = queries.run(user, q.name, params)
                got = ("ok", r.threshold)
            except access.AccessDenied:
                got = ("denied",)
            assert got == want, (q.name, user)
            checked += 1
    assert checked == len(USERS) * len(queries.all_queries())


# ---- property: nothing outside scope, nothing small unsuppressed -----------------------------

WARDS = sorted(set(GEOGRAPHY["ward_code"]))
LSOA_WARD = dict(zip(GEOGRAPHY["lsoa_code"], GEOGRAPHY["ward_code"]))
WARD_DISTRICT = dict(zip(GEOGRAPHY["ward_code"], GEOGRAPHY["district_code"]))
MONTHS = sorted({c[0] for c in CRIME_CELLS})
TYPES = sorted({c[2] for c in CRIME_CELLS})
COUNT_QUERIES = [q.name for q in queries.all_queries() if q.count_columns]

users_st = st.builds(
    lambda r, p, s: access.User("prop.user", "x", r, p, tuple(s)),
    st.sampled_from(ROLES), st.sampled_from(PARTNERS), st.sets(st.sampled_from(WARDS), max_size=2),
)


def filters_for(q, draw) -> dict:
    out = {}
    for n, p in q.params.items():
        if p.type == "month":
            v = draw(st.sampled_from([None, *MONTHS]))
        elif p.type == "area":
            v = draw(st.sampled_from(([] if p.required else [None]) + WARDS + sorted(set(WARD_DISTRICT.values()))))
        elif p.type == "text_list":
            v = draw(st.sampled_from([None, *TYPES]))
        elif p.type == "int":
            v = draw(st.sampled_from([None, "1", "3", "12"])) if not p.required else "3"
        else:
            v = draw(st.sampled_from(["x"])) if p.required else None
        if v is not None:
            out[n] = v
    return out


def scope_codes(areas):
    wards = set(areas)
    return {"ward_code": wards, "lsoa_code": {l for l, w in LSOA_WARD.items() if w in wards},
            "district_code": {WARD_DISTRICT[w] for w in wards}}


@settings(max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user=users_st, data=st.data())
def test_no_row_outside_scope_and_no_small_cell_reaches_a_page_or_download(tiny, user, data):
    q = queries.get(data.draw(st.sampled_from(COUNT_QUERIES)))
    params = filters_for(q, data.draw)
    try:
        r = queries.run(user, q.name, params)
    except (access.AccessDenied, queries.QueryError):
        return
    owner = all(access.grant(user, d).owner for d in q.datasets)
    small = range(1, r.threshold) if not owner else range(0)
    for c in q.count_columns:
        if c in r.frame.columns:
            assert not any(v in small for v in r.frame[c].to_list() if v is not None), (q.name, c)
            # the mask marks exactly what was withheld, so the page shows "suppressed"
            assert r.frame[c].is_null().to_list() == [
                a or b for a, b in zip(r.suppressed[c].to_list(), r.frame[c].is_null().to_list())]
    if user.areas:
        allowed = scope_codes(user.areas)
        for col, codes in allowed.items():
            if col in r.frame.columns:
                seen = {v for v in r.frame[col].to_list() if v is not None}
                assert seen <= codes, (q.name, col, seen, codes)
    # What a download or CLI export would write: the same cells, small ones as "suppressed".
    rows = list(csv.DictReader(io.StringIO(export.to_csv(r))))
    for c in q.count_columns:
        if c in r.frame.columns:
            for row in rows:
                cell = row[c]
                assert cell in ("suppressed", "low", "") or int(float(cell.lstrip("≥"))) not in small
