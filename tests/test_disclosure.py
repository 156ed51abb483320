"""Disclosure control: secondary suppression, the differencing rule, live policy changes."""
from __future__ import annotations

import itertools
import os
import random
import shutil
import time

import polars as pl
import pytest

from csp import access, config, disclosure, queries
from conftest import CRIME_CELLS, D1, W1, W2

# ---- secondary suppression as a pure function ----------------------------------------------


def exposed_groups(values, hidden, groupings, threshold):
    """Groups where someone who knows the group total and the visible cells learns a small
    number: a lone hidden cell that is small, or hidden cells that together are small."""
    out = []
    for keys in groupings:
        groups = {}
        for i, k in enumerate(keys):
            groups.setdefault(k, []).append(i)
        for rows in groups.values():
            gone = [values[i] for i in rows if hidden[i] and values[i] > 0]
            if gone and ((len(gone) == 1 and gone[0] < threshold) or sum(gone) < threshold):
                out.append(rows)
    return out


def test_single_suppressed_cell_gets_a_partner():
    values = [10, 4, 9, 0]
    hidden = disclosure.secondary(values, [v in range(1, 5) for v in values], [[()] * 4], 5)
    # 4 is suppressed; the next smallest non-zero cell (9) goes too; zero is never needed.
    assert hidden == [False, True, True, False]


def test_small_suppressed_pair_is_topped_up_to_the_threshold():
    values = [1, 1, 20, 30]
    hidden = disclosure.secondary(values, [True, True, False, False], [[()] * 4], 5)
    assert hidden == [True, True, True, False]


def test_nothing_suppressed_means_nothing_added():
    assert disclosure.secondary([7, 8, 0], [False] * 3, [[()] * 3], 5) == [False] * 3


def test_random_two_way_tables_never_leave_a_recoverable_cell():
    rng = random.Random(5)
    for _ in range(300):
        rows, cols, t = rng.randint(1, 5), rng.randint(1, 5), rng.choice([3, 5, 10])
        cells = list(itertools.product(range(rows), range(cols)))
        values = [rng.choice([0, 1, 2, 3, 4, 6, 9, 15, 40]) for _ in cells]
        primary = [0 < v < t for v in values]
        groupings = [[()] * len(cells), [(r,) for r, _ in cells], [(c,) for _, c in cells]]
        hidden = disclosure.secondary(values, primary, groupings, t)
        assert all(h for h, p in zip(hidden, primary) if p)  # primary cells stay hidden
        # Either protected, or the only hidden cells that remain exposed are in a group whose
        # non-zero cells were all used up (then the group total itself is below threshold).
        # The only exposure left is a group whose every non-zero cell is hidden and whose
        # total is itself below the threshold (so that total is suppressed wherever it is shown).
        for rows in exposed_groups(values, hidden, groupings, t):
            assert all(hidden[i] for i in rows if values[i] > 0)
            assert sum(values[i] for i in rows) < t


def reference_secondary(values, primary, groupings, threshold):
    """The rule as the module note states it, written naively: in each group, while the hidden
    non-zero cells are one, or sum to less than the threshold, hide the smallest visible
    non-zero cell (ties: earliest row); repeat over every grouping until nothing changes."""
    hidden = list(primary)
    changed = True
    while changed:
        changed = False
        for keys in groupings:
            for k in set(keys):
                rows = [i for i, key in enumerate(keys) if key == k]
                while True:
                    gone = [i for i in rows if hidden[i] and (values[i] or 0) > 0]
                    if not gone or (len(gone) >= 2 and sum(values[i] for i in gone) >= threshold):
                        break
                    visible = [i for i in rows if not hidden[i] and (values[i] or 0) > 0]
                    if not visible:
                        break
                    hidden[min(visible, key=lambda i: (values[i], i))] = True
                    changed = True
    return hidden


def test_secondary_matches_the_naive_statement_of_the_rule():
    rng = random.Random(11)
    for _ in range(2000):
        n, t = rng.randint(0, 25), rng.choice([3, 5, 10])
        values = [rng.choice([0, None, 1, 2, 3, 4, 6, 10, 50]) for _ in range(n)]
        primary = [0 < (v or 0) < t for v in values]
        groupings = [[()] * n, [(rng.randint(0, 3),) for _ in range(n)],
                     [(rng.randint(0, 2), rng.randint(0, 1)) for _ in range(n)]]
        groupings = rng.sample(groupings, rng.randint(1, 3))
        assert disclosure.secondary(values, primary, groupings, t) == \
            reference_secondary(values, primary, groupings, t), (values, groupings, t)


# ---- through the runner, with a header that declares totals --------------------------------


@pytest.fixture
def query_dir(tmp_path, monkeypatch):
    """A copy of queries/ the test may add header lines to."""
    d = tmp_path / "queries"
    shutil.copytree(config.QUERIES_DIR, d)
    monkeypatch.setattr(config, "QUERIES_DIR", d)
    queries._registry.clear()
    yield d
    queries._registry.clear()


def add_header(query_dir, name: str, line: str | None) -> None:
    """Replace the query's `totals:` header line with `line` (None: no secondary suppression)."""
    p = query_dir / f"{name}.sql"
    body = "".join(l for l in p.read_text().splitlines(keepends=True) if not l.startswith("-- totals:"))
    p.write_text((f"-- {line}\n" if line else "") + body)


def test_declared_totals_apply_secondary_suppression(tiny, query_dir):
    council = tiny["users"]["council"]
    add_header(query_dir, "crime_by_ward", None)
    before = queries.run(council, "crime_by_ward", {"from": "2024-01", "to": "2024-01"})
    assert dict(zip(before.frame["ward_name"], before.frame["crimes"])) == {"Abbey": 10, "Bridge": None, "Canal": 9}
    add_header(query_dir, "crime_by_ward", "totals: [[]]")
    r = queries.run(council, "crime_by_ward", {"from": "2024-01", "to": "2024-01"})
    got = dict(zip(r.frame["ward_name"], r.frame["crimes"]))
    # Bridge (4) is small; the total of every ward (23) is on other views, so Canal (9) goes too.
    assert got == {"Abbey": 10, "Bridge": None, "Canal": None}
    assert dict(zip(r.frame["ward_name"], r.frame["rate_per_1000"]))["Canal"] is None  # derived
    total = queries.run(council, "crime_monthly_total", {"from": "2024-01", "to": "2024-01"})
    visible = sum(v for v in r.frame["crimes"] if v is not None)
    # What subtraction gives now is Bridge + Canal = 13, not Bridge alone.
    assert total.frame["crimes"].sum() - visible == 13
    # The owner is never suppressed.
    own = queries.run(tiny["users"]["police"], "crime_by_ward", {"from": "2024-01", "to": "2024-01"})
    assert own.n_suppressed == 0


def test_totals_must_name_dimension_columns(tiny, query_dir):
    add_header(query_dir, "crime_by_ward", "totals: [[crimes]]")
    with pytest.raises(ValueError, match="not a declared dimension"):
        queries.run(tiny["users"]["council"], "crime_by_ward")


# ---- differencing across filters ------------------------------------------------------------


def test_all_but_one_filter_is_refused_when_suppression_applies(tiny):
    council, police = tiny["users"]["council"], tiny["users"]["police"]
    # "All types" (38 in 2024) minus "all but Drugs" would give the Drugs count exactly.
    with pytest.raises(queries.QueryError, match="one value at a time"):
        queries.run(council, "crime_headline", {"to": "2024-02", "crime_type": ["Burglary", "Drugs"]})
    one = queries.run(council, "crime_by_type", {"from": "2024-01", "to": "2024-01", "crime_type": ["Drugs"]})
    assert one.frame["crimes"].to_list() == [None]  # one value: allowed, and small, so suppressed
    # The owner sees its own data unsuppressed, so no rule is needed and any combination works.
    both = queries.run(police, "crime_by_type", {"from": "2024-01", "to": "2024-01", "crime_type": "Burglary,Drugs"})
    assert dict(zip(both.frame["crime_type"], both.frame["crimes"])) == {"Burglary": 22, "Drugs": 1}


def test_area_filter_takes_one_code_only(tiny):
    with pytest.raises(queries.QueryError):
        queries.run(tiny["users"]["council"], "crime_by_type", {"area": f"{W1},{W2}"})


# ---- policy changes take effect at once ------------------------------------------------------


def test_policy_change_applies_to_the_next_query_of_open_sessions(tiny, tmp_path, monkeypatch):
    policy = tmp_path / "policy.toml"
    policy.write_text(config.policy_path().read_text())
    monkeypatch.setenv("CSP_POLICY", str(policy))
    health = tiny["users"]["health"]
    with pytest.raises(access.AccessDenied):  # health may see crime at district level only
        queries.run(health, "crime_by_ward", {"from": "2024-01", "to": "2024-01"})
    first = queries.run(health, "crime_by_type", {"from": "2024-01", "to": "2024-01"})
    text = policy.read_text().replace(
        'health = { geography = "district", threshold = 5, tiers = ["public"] }\n\n[datasets.asb]',
        'health = { geography = "ward", threshold = 10, tiers = ["public"] }\n\n[datasets.asb]', 1)
    assert text != policy.read_text()
    policy.write_text(text)
    st = policy.stat()
    os.utime(policy, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    r = queries.run(health, "crime_by_ward", {"from": "2024-01", "to": "2024-01"})
    assert r.threshold == 10
    # Burglary 22 stays; Drugs (1) is suppressed; the cached answer under the old policy is not reused.
    again = queries.run(health, "crime_by_type", {"from": "2024-01", "to": "2024-01"})
    assert first.threshold == 5 and again.threshold == 10
    # Revoking the grant takes effect just as fast.
    policy.write_text(text.replace('health = { geography = "ward", threshold = 10, tiers = ["public"] }\n\n[datasets.asb]', '\n[datasets.asb]', 1))
    os.utime(policy, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    with pytest.raises(access.AccessDenied):
        queries.run(health, "crime_by_type")
