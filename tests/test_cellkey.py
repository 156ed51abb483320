"""Cell-key perturbation against the ONS ``cell-key-perturbation`` package as the oracle.

The same microdata, record keys and perturbation table go through the ONS package's
``create_perturbed_table`` and through our path (cell counts and key sums from DuckDB, as the
query layer computes them, then ``perturb``); every published value and every withheld cell
must agree. Run with each shipped table and with the ONS package's own sample table.
"""
from __future__ import annotations

import importlib.metadata
import os
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from cell_key_perturbation.create_perturbed_table import create_perturbed_table

from csp.protection.cellkey import PTableError, load_ptable, perturb, sidecar_path

PTABLES = Path(__file__).resolve().parents[1] / "config" / "ptables"
SHIPPED = {3: PTABLES / "ptable_t3.csv", 5: PTABLES / "ptable_t5.csv", 10: PTABLES / "ptable_t10.csv"}


def ons_sample_table() -> Path:
    """The package's ptable_10_5_rule.csv (the wheel installs it under the environment's prefix)."""
    files = importlib.metadata.files("cell-key-perturbation") or []
    for f in files:
        if f.name == "ptable_10_5_rule.csv":
            return Path(f.locate()).resolve()
    raise AssertionError("cell-key-perturbation does not ship ptable_10_5_rule.csv")


# (table, threshold): each shipped table at its own threshold, one at a stricter threshold, and
# the ONS sample at 10 (its own) and 0 (nothing withheld).
CASES = [(SHIPPED[3], 3), (SHIPPED[5], 5), (SHIPPED[10], 10), (SHIPPED[3], 5),
         ("ons", 10), ("ons", 0)]


def _table(t) -> Path:
    return ons_sample_table() if t == "ons" else t


def microdata(seed: int, n: int = 120_000) -> pd.DataFrame:
    """One row per record: skewed areas (one large, many small), crime types, outcomes, with a
    type that occurs in few areas (so the cross product has empty cells) and a few missing
    record keys."""
    rng = np.random.default_rng(seed)
    areas = [f"E0500{k:04d}" for k in range(40)]
    w_area = 1 / np.arange(1, 41) ** 1.3
    types = ["Violence", "ASB", "Theft", "Burglary", "Vehicle", "Drugs", "Weapons"]
    w_type = np.array([0.36, 0.3, 0.15, 0.09, 0.06, 0.035, 0.005])
    outcomes = ["Charged", "No suspect", "Under investigation"]
    df = pd.DataFrame({
        "area": rng.choice(areas, n, p=w_area / w_area.sum()),
        "crime_type": rng.choice(types, n, p=w_type / w_type.sum()),
        "outcome": rng.choice(outcomes, n, p=[0.2, 0.5, 0.3]),
        "record_key": rng.integers(0, 256, n).astype(float),
    })
    df.loc[(df.crime_type == "Weapons") & df.area.isin(areas[6:]), "crime_type"] = "Drugs"
    df.loc[rng.choice(n, 40, replace=False), "record_key"] = np.nan
    return df


def our_cells(df: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    """Counts and key sums per cell the way the query layer gets them: SQL over the records."""
    con = duckdb.connect()
    con.register("records", df)
    cols = ", ".join(dims)
    return con.execute(f"SELECT {cols}, count(*) AS v, sum(record_key)::BIGINT AS s "
                       f"FROM records GROUP BY {cols}").df()


def compare_with_ons(df: pd.DataFrame, geog: list[str], tab_vars: list[str], table: Path, threshold: int):
    ons = create_perturbed_table(df, pd.read_csv(table), geog, tab_vars, "record_key", threshold=threshold)
    dims = geog + tab_vars
    mine = ons[dims].merge(our_cells(df, dims), on=dims, how="left")  # empty cells: v, s missing
    assert len(mine) == len(ons)
    published, withheld = perturb(mine["v"].to_numpy(), mine["s"].to_numpy(), load_ptable(table), threshold)
    ons_withheld = ons["count"].isna().to_numpy()
    np.testing.assert_array_equal(withheld, ons_withheld)
    np.testing.assert_array_equal(published[~withheld], ons["count"][~ons_withheld].to_numpy(dtype=np.int64))
    return ons


@pytest.mark.parametrize("table,threshold", CASES, ids=lambda x: getattr(x, "stem", str(x)))
def test_same_published_values_as_the_ons_package(table, threshold, capsys):
    table = _table(table)
    df = microdata(seed=threshold + len(str(table)))
    ons = compare_with_ons(df, ["area"], ["crime_type", "outcome"], table, threshold)
    v = ons["pre_sdc_count"]
    # the data exercise every rule: empty cells, cells under the threshold, the pcv wrap above 750
    assert (v == 0).sum() >= 20
    assert v.between(1, 9).sum() >= 30
    assert (v > 750).sum() >= 10 and (v > 1000).sum() >= 5
    assert (ons["count"].isna().sum() > 0) == (threshold > 0) and ons["count"].notna().sum() > 100
    # and the noise really is applied (not the identity)
    changed = (ons["count"].notna() & (ons["count"] != v)).sum()
    assert changed > 50


@pytest.mark.parametrize("table", [SHIPPED[3], SHIPPED[10], "ons"], ids=lambda x: getattr(x, "stem", str(x)))
def test_every_cell_key_around_the_wrap_points_matches_the_ons_package(table, capsys):
    """Designed cells: for counts around 0, the threshold, 500/501, 750/751, 1000/1001 and far
    above, each with many cell keys (one record carries the key, the rest key 0)."""
    table = _table(table)
    rng = np.random.default_rng(7)
    counts = [1, 2, 3, 4, 5, 9, 10, 11, 12, 20, 21, 49, 50, 500, 501, 749, 750, 751, 752, 999,
              1000, 1001, 1250, 1251, 2017]
    rows = []
    for v in counts:
        for ck in rng.choice(256, 12, replace=False):
            cell = f"v{v}_k{ck}"
            keys = np.zeros(v)
            keys[0] = ck
            rows.append(pd.DataFrame({"cell": cell, "record_key": keys}))
    df = pd.concat(rows, ignore_index=True)
    threshold = 10 if table == ons_sample_table() else load_ptable(table).meta["params"]["threshold"]
    ons = compare_with_ons(df, [], ["cell"], table, threshold)
    assert set(ons["pre_sdc_count"]) == set(counts)


def test_published_values_never_in_the_protected_band():
    """Every count 0..3000 with every cell key: nothing published as 1..T-1, ever."""
    v = np.repeat(np.arange(3001), 256)
    s = np.tile(np.arange(256), 3001) + 256 * 7  # key sums beyond 255 reduce mod 256
    for threshold, path in SHIPPED.items():
        published, withheld = perturb(v, s, load_ptable(path), threshold)
        assert not ((published >= 1) & (published < threshold)).any()
        assert (published >= 0).all()
        assert (withheld == (published < threshold)).all()
        assert (published[v == 0] == 0).all()  # zero stays zero


def test_same_input_same_output_in_any_order():
    rng = np.random.default_rng(3)
    v = rng.integers(0, 2000, 50_000)
    s = rng.integers(0, 256 * 500, 50_000)
    pt = load_ptable(SHIPPED[5])
    a = perturb(v, s, pt, 5)
    b = perturb(v.copy(), s.copy(), pt, 5)
    np.testing.assert_array_equal(a[0], b[0])
    order = rng.permutation(len(v))
    c = perturb(v[order], s[order], pt, 5)
    np.testing.assert_array_equal(c[0], a[0][order])
    # the key sum only matters mod 256: adding whole turns of the key changes nothing
    d = perturb(v, s + 256 * 3, pt, 5)
    np.testing.assert_array_equal(d[0], a[0])
    # ... and the noise does depend on the key
    e = perturb(v, s + 1, pt, 5)
    assert (e[0] != a[0]).sum() > 1000


def test_missing_values_are_empty_cells_and_missing_keys_are_zero():
    pt = load_ptable(SHIPPED[3])
    full = perturb(np.array([0, 40, 40]), np.array([0, 0, 17]), pt, 3)
    for values, keys in [
        ([None, 40, 40], [None, None, 17]),
        (np.array([np.nan, 40, 40]), np.array([np.nan, np.nan, 17.0])),
        (pd.array([pd.NA, 40, 40], dtype="Int64"), pd.array([pd.NA, pd.NA, 17], dtype="Int64")),
        (pl.Series([None, 40, 40]).to_numpy(), pl.Series([None, None, 17]).to_numpy()),
    ]:
        got = perturb(values, keys, pt, 3)
        np.testing.assert_array_equal(got[0], full[0])
        np.testing.assert_array_equal(got[1], full[1])


@pytest.mark.parametrize("values,keys,threshold,message", [
    ([-1], [0], 3, "negative"),
    ([2.5], [0], 3, "whole numbers"),
    (["a"], [0], 3, "not numbers"),
    ([1, 2], [0], 3, "shape"),
    ([1], [0], -1, "threshold"),
    ([1], [0], 2.0, "threshold"),
    ([True], [0], 3, "booleans"),
])
def test_bad_input_is_refused_clearly(values, keys, threshold, message):
    with pytest.raises(ValueError, match=message):
        perturb(np.array(values, dtype=object) if values == ["a"] else values, keys,
                load_ptable(SHIPPED[3]), threshold)


def test_load_is_cached_and_reloaded_when_the_file_changes(tmp_path):
    src = SHIPPED[3]
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    shutil.copy(sidecar_path(src), sidecar_path(dst))
    a = load_ptable(dst)
    assert load_ptable(dst) is a
    assert a.modulus == 256 and a.pvalues.shape == (751, 256) and a.meta["params"]["threshold"] == 3
    assert not a.pvalues.flags.writeable
    shutil.copy(SHIPPED[5], dst)  # a different table under the same name: its sidecar no longer fits
    os.utime(dst, ns=(1, 1))
    with pytest.raises(PTableError, match="sha256"):
        load_ptable(dst)
    shutil.copy(sidecar_path(SHIPPED[5]), sidecar_path(dst))
    b = load_ptable(dst)
    assert b is not a and b.meta["params"]["threshold"] == 5


def _write(tmp_path, text: str) -> Path:
    p = tmp_path / "bad.csv"
    p.write_text(text)
    return p


def _grid(pvalue=lambda pcv, k: 0, keys=256) -> pd.DataFrame:
    pcv = np.repeat(np.arange(1, 751), keys)
    ck = np.tile(np.arange(keys), 750)
    return pd.DataFrame({"pcv": pcv, "ckey": ck, "pvalue": [pvalue(a, b) for a, b in zip(pcv, ck)]})


@pytest.mark.parametrize("make,message", [
    (lambda: "a,b\n1,2\n", "missing column"),
    (lambda: _grid().assign(pvalue="x").to_csv(index=False), "not an integer"),
    (lambda: _grid().assign(pvalue=0.5).to_csv(index=False), "not an integer"),
    (lambda: _grid().iloc[:-1].to_csv(index=False), "rows, expected"),
    (lambda: _grid()[_grid().pcv < 700].to_csv(index=False), "pcv must run from 1 to 750"),
    (lambda: pd.concat([_grid().iloc[:-1], _grid().iloc[:1]]).to_csv(index=False), "appears twice"),
    (lambda: _grid(lambda pcv, k: -pcv - 1 if pcv == 5 else 0).to_csv(index=False), "negative count"),
    (lambda: _grid().assign(ckey=lambda d: d.ckey + 1).to_csv(index=False), "ckey must run from 0"),
    (lambda: "pcv,ckey,pvalue\n", "no rows"),
    (lambda: "\x00\x01garbage", "missing column|not a readable CSV"),
])
def test_malformed_tables_are_refused(tmp_path, make, message):
    with pytest.raises(PTableError, match=message):
        load_ptable(_write(tmp_path, make()))


def test_a_missing_table_is_a_clear_error(tmp_path):
    with pytest.raises(PTableError, match="cannot read"):
        load_ptable(tmp_path / "nope.csv")
