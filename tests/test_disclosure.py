"""Disclosure control through the runner: counts are cells that only the runner may publish,
derived figures come from published figures, the differencing rule for filters, how withheld
figures read, and live policy changes. (The cross-query attacks are in test_attacks.py.)"""
from __future__ import annotations

import os
import shutil

import polars as pl
import pytest

from csp import access, config, disclosure, queries
from conftest import W1, W2
from protection_oracle import ons_total, published_rows


@pytest.fixture
def query_dir(tmp_path, monkeypatch):
    """A copy of queries/ the test may add files to."""
    d = tmp_path / "queries"
    shutil.copytree(config.QUERIES_DIR, d)
    monkeypatch.setattr(config, "QUERIES_DIR", d)
    queries._registry.clear()
    yield d
    queries._registry.clear()


def write_query(query_dir, name: str, text: str) -> None:
    (query_dir / f"{name}.sql").write_text(text)


HEAD = """-- title: test
-- datasets: [crime_ward_cube]
-- columns:
--   month: {type: date}
--   crimes: {type: count}
"""


# ---- a query cannot publish a count the runner has not protected -----------------------------


def test_count_summed_with_sum_is_refused_by_duckdb(tiny, query_dir):
    # A count is a cell (a struct): sum() cannot add it up, so an exact total cannot slip out.
    write_query(query_dir, "t_sum", HEAD + "SELECT month, sum(n) AS crimes FROM crime_ward_cube GROUP BY month")
    with pytest.raises(Exception, match="(?i)sum|struct|no function"):
        queries.run(tiny["users"]["council"], "t_sum")


@pytest.mark.parametrize("expr", ["sum(n.value)", "sum(struct_extract(n, 'value'))", "sum(n['value'])"])
def test_reading_a_cells_parts_is_refused_when_the_file_is_read(tiny, query_dir, expr):
    write_query(query_dir, "t_parts", HEAD + f"SELECT month, {expr} AS crimes FROM crime_ward_cube GROUP BY month")
    with pytest.raises(ValueError, match="cells"):
        queries.run(tiny["users"]["council"], "t_parts")


@pytest.mark.parametrize("who", ["council", "police"])
def test_count_declared_as_a_number_is_refused(tiny, query_dir, who):
    # Declaring a count as a plain number would publish it as it is: the runner says no (for the
    # owner too: the query is wrong whoever runs it).
    write_query(query_dir, "t_number", HEAD.replace("crimes: {type: count}", "crimes: {type: count}\n--   other: {type: number}")
                + "SELECT month, total(n) AS crimes, total(n) AS other FROM crime_ward_cube GROUP BY month")
    with pytest.raises(queries.QueryError, match="not declared a count"):
        queries.run(tiny["users"][who], "t_number")


def test_order_by_a_count_in_sql_is_refused(tiny, query_dir):
    # Ordering (or cutting with LIMIT) on the true value would rank cells the user sees as 'low'.
    write_query(query_dir, "t_order", HEAD + "SELECT month, total(n) AS crimes FROM crime_ward_cube "
                "GROUP BY month ORDER BY crimes DESC")
    with pytest.raises(ValueError, match="order"):
        queries.run(tiny["users"]["council"], "t_order")


def test_derived_needs_an_expression_computed_after_protection(tiny, query_dir):
    write_query(query_dir, "t_derived", HEAD + "--   double: {type: derived, from: [crimes]}\n"
                "SELECT month, total(n) AS crimes FROM crime_ward_cube GROUP BY month")
    with pytest.raises(ValueError, match="expr"):
        queries.run(tiny["users"]["council"], "t_derived")


def test_derived_figures_come_from_published_figures(tiny):
    council = tiny["users"]["council"]
    r = queries.run(council, "crime_headline", {"to": "2024-02"})
    row = r.frame.row(0, named=True)
    rows = published_rows("crime")
    cur = ons_total(rows.filter(pl.col("month") > pl.date(2023, 2, 1)), "ptable_t5", 5)
    prev = ons_total(rows.filter(pl.col("month") <= pl.date(2023, 2, 1)), "ptable_t5", 5)
    assert (row["current"], row["previous"]) == (cur, prev)
    assert row["pct_change"] == round(100 * (cur - prev) / prev, 1)


# ---- the differencing rule for filters --------------------------------------------------------


def test_all_but_one_filter_is_refused_when_protection_applies(tiny):
    council, police = tiny["users"]["council"], tiny["users"]["police"]
    # "All types" minus "all but Drugs" would give the Drugs cell by difference; under
    # perturbation each such subset is a fresh noisy view of the same records, so the rule keeps
    # the number of views of a cell small (see SECURITY.md).
    with pytest.raises(queries.QueryError, match="one value at a time"):
        queries.run(council, "crime_headline", {"to": "2024-02", "crime_type": ["Burglary", "Drugs"]})
    one = queries.run(council, "crime_by_type", {"from": "2024-01", "to": "2024-01", "crime_type": ["Drugs"]})
    assert one.frame["crimes"].to_list() == [None]  # one value: allowed; 1 crime: 'low'
    # The owner sees its own data exactly, so no rule is needed and any combination works.
    both = queries.run(police, "crime_by_type", {"from": "2024-01", "to": "2024-01", "crime_type": "Burglary,Drugs"})
    assert dict(zip(both.frame["crime_type"], both.frame["crimes"])) == {"Burglary": 22, "Drugs": 1}


def test_area_filter_takes_one_code_only(tiny):
    with pytest.raises(queries.QueryError):
        queries.run(tiny["users"]["council"], "crime_by_type", {"area": f"{W1},{W2}"})


# ---- how withheld and partial figures read -----------------------------------------------------


def test_display_labels_withheld_and_partial_cells():
    frame = pl.DataFrame({"area": ["a", "b", "c"], "n": [12, None, 40]})
    mask = pl.DataFrame({"n": [False, True, False]})
    partial = pl.DataFrame({"n": [False, False, True]})
    out = disclosure.display_frame(frame, mask, partial, "suppressed")
    assert out["n"].to_list() == ["12", "suppressed", "≥40"]
    assert disclosure.display_frame(frame, mask, None, "low")["n"].to_list() == ["12", "low", "40"]


def test_health_totals_leave_out_suppressed_base_cells_and_say_so(tiny):
    health = tiny["users"]["health"]  # district level, suppression threshold 5
    r = queries.run(health, "crime_monthly_total")
    got = {str(row["month"])[:7]: (row["crimes"], p) for row, p in
           zip(r.frame.iter_rows(named=True), r.partial["crimes"])}
    # 2024-01 base cells (month x district x type): D1 Burglary 13, D1 Drugs 1 (withheld),
    # D2 Burglary 9: 22 shown, one cell left out.
    assert got["2024-01"] == (22, True)
    # 2024-02: D1 Drugs 12, Unknown area Burglary 3 (withheld).
    assert got["2024-02"] == (12, True)
    # 2023-02: D1 Burglary 25, nothing withheld.
    assert got["2023-02"] == (25, False)
    assert "≥22" in disclosure.display(r)["crimes"].to_list()
    assert "withheld" in disclosure.protection_note(r)


# ---- policy changes take effect at once ------------------------------------------------------


def test_policy_change_applies_to_the_next_query_of_open_sessions(tiny, tmp_path, monkeypatch):
    policy = tmp_path / "policy.toml"
    policy.write_text(config.policy_path().read_text())
    monkeypatch.setenv("CSP_POLICY", str(policy))
    health = tiny["users"]["health"]
    with pytest.raises(access.AccessDenied):  # health may see crime at district level only
        queries.run(health, "crime_by_ward", {"from": "2024-01", "to": "2024-01"})
    first = queries.run(health, "crime_by_type", {"from": "2024-01", "to": "2024-01"})
    old = 'health = { geography = "district", protection = "suppress", threshold = 5, tiers = ["public"] }\n\n[datasets.asb]'
    new = 'health = { geography = "ward", protection = "suppress", threshold = 10, tiers = ["public"] }\n\n[datasets.asb]'
    text = policy.read_text().replace(old, new, 1)
    assert text != policy.read_text()
    policy.write_text(text)
    st = policy.stat()
    os.utime(policy, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    r = queries.run(health, "crime_by_ward", {"from": "2024-01", "to": "2024-01"})
    assert r.threshold == 10
    again = queries.run(health, "crime_by_type", {"from": "2024-01", "to": "2024-01"})
    assert first.threshold == 5 and again.threshold == 10
    # Burglary in 2024-01: 22 (district cells 13 + 9) under threshold 5; under the new rule the
    # base is ward level at threshold 10: Abbey 9, Bridge 4, Canal 9, every one withheld.
    assert dict(zip(first.frame["crime_type"], first.frame["crimes"]))["Burglary"] == 22
    burglary = again.frame["crime_type"].to_list().index("Burglary")
    assert again.frame["crimes"][burglary] is None and again.suppressed["crimes"][burglary]
    # Revoking the grant takes effect just as fast.
    policy.write_text(text.replace(new, '\n[datasets.asb]', 1))
    os.utime(policy, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    with pytest.raises(access.AccessDenied):
        queries.run(health, "crime_by_type")
