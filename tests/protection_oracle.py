"""Independent answers for what a protected figure must read, for the tests.

Perturbation: the ONS ``cell-key-perturbation`` package's ``create_perturbed_table`` run on the
published records (their record keys included) with the same perturbation table: the reference
implementation of the method, not ours. Suppression: the protected base table recomputed with
Polars from the published records.
"""
from __future__ import annotations

import pandas as pd
import polars as pl

from csp import config, store


def published_rows(dataset: str) -> pl.DataFrame:
    """The records of the dataset's current version, record keys included (the owner's view)."""
    v = store.current(dataset)
    return pl.read_parquet(v.path / "data.parquet")


def ptable_frame(name: str) -> pd.DataFrame:
    return pd.read_csv(config.CONFIG_DIR / "ptables" / f"{name}.csv")


def ons_counts(rows: pl.DataFrame, by: list[str], ptable: str, threshold: int,
               record_key: str = "rkey") -> dict[tuple, int | None]:
    """{key tuple: published count or None (withheld)} from the ONS package, for the cells of
    ``rows`` grouped by ``by`` (only the cells that have records)."""
    from cell_key_perturbation.create_perturbed_table import create_perturbed_table

    if rows.height == 0:
        return {}
    data = rows.select([*by, record_key]).with_columns(
        [pl.col(c).cast(pl.String).fill_null("<none>") for c in by]).to_pandas()
    data[record_key] = data[record_key].astype(int)
    table = create_perturbed_table(data=data, ptable=ptable_frame(ptable), geog=[], tab_vars=list(by),
                                   record_key=record_key, threshold=threshold)
    out = {}
    for rec in table.to_dict("records"):
        if rec["pre_sdc_count"] == 0:
            continue  # the package tabulates every combination; ours has cells with records
        key = tuple(None if rec[c] == "<none>" else rec[c] for c in by)
        out[key] = None if pd.isna(rec["count"]) else int(rec["count"])
    return out


def ons_total(rows: pl.DataFrame, ptable: str, threshold: int, record_key: str = "rkey") -> int | None:
    """The published figure for one cell holding all of ``rows``."""
    if rows.height == 0:
        return None  # a cell of 0 is under any threshold
    got = ons_counts(rows.with_columns(pl.lit("all").alias("__all")), ["__all"], ptable, threshold,
                     record_key)
    return got[("all",)]


def suppressed_base(rows: pl.DataFrame, by: list[str], threshold: int) -> pl.DataFrame:
    """The protected base table: records counted by ``by``, counts 1..threshold-1 set to 0 and
    flagged hidden."""
    counts = rows.group_by(by).agg(pl.len().alias("n"))
    small = (pl.col("n") >= 1) & (pl.col("n") < threshold)
    return counts.with_columns(pl.when(small).then(0).otherwise(pl.col("n")).alias("shown"),
                               small.alias("hidden"))
