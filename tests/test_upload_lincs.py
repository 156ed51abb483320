"""The whole real Lincolnshire series (61 police.uk monthly files) uploaded month by month through
the CLI reaches exactly the totals of a one-shot import of the same files."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from conftest import LINCS, LOOKUP_CSV

from csp import ingest, queries, store
from csp.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
BY_SUBPROCESS = {"2010-12", "2013-05", "2015-12"}  # first month, the taxonomy change, last month

pytestmark = pytest.mark.skipif(not LINCS.exists(), reason="real data not present")


def totals(dataset: str) -> dict[str, pl.DataFrame]:
    df = pl.read_parquet(store.current(dataset).files)
    keys = {"crime": ["month", "crime_type", "crime_category", "lsoa_code", "ward_code", "district_code", "outcome"],
            "asb": ["month", "lsoa_code", "ward_code", "district_code"]}[dataset]
    return {
        "by_month": df.group_by("month").len().sort("month"),
        "by_cell": df.group_by(keys).len().sort(keys, nulls_last=True),
        "ids": df.select(pl.col("crime_id").drop_nulls().sort()) if "crime_id" in df.columns else pl.DataFrame(),
    }


def switch(d: Path) -> None:
    os.environ["CSP_DATA_DIR"] = str(d)
    queries.clear_cache()


def test_month_by_month_equals_one_shot(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CSP_DATA_DIR", str(tmp_path))
    one, monthly = tmp_path / "one", tmp_path / "monthly"
    one.mkdir(), monthly.mkdir()

    switch(one)
    ingest.import_lookup(LOOKUP_CSV)
    ingest.import_police_uk([LINCS])
    expected = {d: totals(d) for d in ("crime", "asb")}

    switch(monthly)
    ingest.import_lookup(LOOKUP_CSV)
    files = sorted(LINCS.rglob("*.csv"))
    assert len(files) == 61
    env = dict(os.environ, CSP_DATA_DIR=str(monthly))
    for f in files:
        month = f.parent.name
        if month in BY_SUBPROCESS:
            r = subprocess.run([sys.executable, "-m", "csp", "upload", "crime", str(f)], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stdout + r.stderr
            assert "Published crime" in r.stdout and "asb" in r.stdout
        else:
            assert main(["upload", "crime", str(f)]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "ERROR" not in out and "PERSONAL DATA" not in out
    queries.clear_cache()
    for d in ("crime", "asb"):
        got = totals(d)
        for k in expected[d]:
            assert got[k].equals(expected[d][k]), (d, k)
    assert store.current("crime").meta["rows"] + store.current("asb").meta["rows"] == 320_488
    # Every month was its own version, recorded with its file's checksum.
    assert len(store.versions("crime")) == 61
    assert store.current("crime").meta["source"] == "2015-12-lincolnshire-street.csv"
