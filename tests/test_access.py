"""The access layer decides what every query returns: visibility, scope, coarsening, suppression."""
from __future__ import annotations

import pytest

import polars as pl

from csp import access, queries
from conftest import CRIME_CELLS, D2, W1, W2
from protection_oracle import ons_counts, ons_total, published_rows


def totals(cells, keep=lambda c: True):
    out = {}
    for month, lsoa, ctype, k in cells:
        if keep((month, lsoa, ctype, k)):
            out[(month, ctype)] = out.get((month, ctype), 0) + k
    return out


def as_dict(result, key_cols, value_col):
    return {
        tuple(str(r[c])[:7] if c == "month" else r[c] for c in key_cols): r[value_col]
        for r in result.frame.iter_rows(named=True)
    }


def test_owner_sees_everything_unsuppressed(tiny):
    r = queries.run(tiny["users"]["police"], "crime_monthly")
    assert as_dict(r, ["month", "crime_type"], "crimes") == totals(CRIME_CELLS)
    assert r.n_suppressed == 0 and r.threshold == 0


def test_partner_sees_perturbed_counts_as_the_ons_method_gives(tiny):
    r = queries.run(tiny["users"]["council"], "crime_by_ward", {"from": "2024-01", "to": "2024-01"})
    rows = published_rows("crime").filter(pl.col("month") == pl.date(2024, 1, 1))
    # The reference implementation on the same records, keys and perturbation table.
    expected = ons_counts(rows, ["ward_code"], "ptable_t5", 5)
    got = {row["ward_code"]: row["crimes"] for row in r.frame.iter_rows(named=True)}
    assert got == {k[0]: v for k, v in expected.items()}
    # Bridge's 4 is never published as itself (nor as any value 1..4), and never as 0.
    assert got[W2] is None or got[W2] >= 5
    assert all(v is None or v >= 5 for v in got.values())
    mask = dict(zip(r.frame["ward_code"], r.suppressed["crimes"]))
    assert mask == {w: v is None for w, v in got.items()}
    # The rate is computed from the published figure, and withheld wherever the figure is.
    for row in r.frame.iter_rows(named=True):
        if row["crimes"] is None:
            assert row["rate_per_1000"] is None
        elif row["ward_name"] == "Abbey":
            # per 1,000 residents a year: one month scaled to 12
            assert row["rate_per_1000"] == pytest.approx(1000 * row["crimes"] / 3000 * 12, abs=0.01)
    # The same cell reads the same every time, in every view that shows it.
    again = queries.run(tiny["users"]["council"], "crime_by_ward", {"from": "2024-01", "to": "2024-01"})
    assert again.frame.equals(r.frame)


def test_district_level_partner_cannot_see_wards(tiny):
    health = tiny["users"]["health"]
    with pytest.raises(access.AccessDenied):
        queries.run(health, "crime_by_ward")
    # ...and asking for a ward is refused with the reason, never answered with a false zero.
    with pytest.raises(queries.QueryError, match="by district, not by ward"):
        queries.run(health, "crime_monthly", {"area": W1})
    r = queries.run(health, "crime_monthly", {"area": D2})
    assert as_dict(r, ["month", "crime_type"], "crimes") == {("2024-01", "Burglary"): 9}


def test_practitioner_sees_only_their_wards(tiny):
    fire = tiny["users"]["fire"]  # scope: Bridge (W2) only; ward level, perturbed
    r = queries.run(fire, "crime_monthly")
    rows = published_rows("crime").filter(pl.col("ward_code") == W2) \
        .with_columns(pl.col("month").dt.strftime("%Y-%m"))
    assert as_dict(r, ["month", "crime_type"], "crimes") == ons_counts(rows, ["month", "crime_type"], "ptable_t5", 5)
    # Only cells of Bridge: the months and types there, nothing from elsewhere.
    assert set(as_dict(r, ["month", "crime_type"], "crimes")) == set(
        totals(CRIME_CELLS, keep=lambda c: c[1] == "E01000903"))
    areas = queries.run(fire, "areas")
    assert areas.frame["ward_code"].to_list() == [W2]
    # Naming another ward returns nothing from it.
    assert queries.run(fire, "crime_monthly", {"area": W1}).frame.height == 0


def test_unlisted_partner_is_denied(tiny, monkeypatch, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text('[roles]\nboard = ["view_dashboards"]\n[datasets.crime]\nowner = "police"\n')
    monkeypatch.setenv("CSP_POLICY", str(policy))
    with pytest.raises(access.AccessDenied):
        queries.run(tiny["users"]["council"], "crime_monthly")
    # geography is not in this policy at all: default deny for everyone, owner included.
    with pytest.raises(access.AccessDenied):
        queries.run(tiny["users"]["police"], "areas")
    assert queries.run(tiny["users"]["police"], "crime_monthly").frame.height > 0


def test_logged_out_is_denied(tiny):
    with pytest.raises(access.AccessDenied):
        queries.run(None, "crime_monthly")


def test_restricted_fields_are_blank_for_partners(tiny):
    g = access.grant(tiny["users"]["council"], "crime")
    assert "crime_id" not in g.fields and "location" not in g.fields and "lsoa_code" in g.fields
    g = access.grant(tiny["users"]["police"], "crime")
    assert {"crime_id", "location"} <= set(g.fields)


def test_cache_never_crosses_scopes(tiny):
    # Same query and parameters, different users: each sees their own answer.
    a = queries.run(tiny["users"]["police"], "crime_headline", {"to": "2024-02"})
    b = queries.run(tiny["users"]["housing"], "crime_headline", {"to": "2024-02"})
    c = queries.run(tiny["users"]["fire"], "crime_headline", {"to": "2024-02"})
    assert a.frame["current"][0] == 7 + 2 + 4 + 9 + 1 + 12 + 3  # the owner: exact
    rows = published_rows("crime").filter(pl.col("month") > pl.date(2023, 2, 1))
    # Each partner's figure is their own cell, perturbed: Abbey only, Bridge only.
    abbey, bridge = rows.filter(pl.col("ward_code") == W1), rows.filter(pl.col("ward_code") == W2)
    assert abbey.height == 7 + 2 + 1 and bridge.height == 4 + 12
    assert b.frame["current"][0] == ons_total(abbey, "ptable_t5", 5)
    assert c.frame["current"][0] == ons_total(bridge, "ptable_t5", 5)
