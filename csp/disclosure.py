"""Small-number suppression applied to every query result before anyone sees it.

Counts from 1 to threshold-1 are withheld (null, flagged as suppressed: never shown as zero).
Zero is not suppressed: it reveals nothing about an individual. Any column a query declares as
derived ``from`` a count (a rate, a share, a change) is withheld wherever one of its sources is,
so a suppressed cell can never be recovered from a number derived from it.
"""
from __future__ import annotations

import polars as pl

SUPPRESSED_LABEL = "suppressed"


def suppress(frame: pl.DataFrame, columns: dict, threshold: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (frame with small counts nulled, boolean mask frame of the columns that can be suppressed)."""
    counts = [c for c, spec in columns.items() if spec.type == "count" and c in frame.columns]
    derived = {
        c: [s for s in spec.derived_from if s in frame.columns]
        for c, spec in columns.items() if spec.type == "derived" and c in frame.columns
    }
    if threshold <= 0 or frame.height == 0:
        mask = pl.DataFrame({c: [False] * frame.height for c in counts + list(derived)},
                            schema={c: pl.Boolean for c in counts + list(derived)})
        return frame, mask
    masks = {c: ((pl.col(c) > 0) & (pl.col(c) < threshold)).fill_null(False) for c in counts}
    mask = frame.select([m.alias(c) for c, m in masks.items()])
    for c, sources in derived.items():
        hit = [mask.get_column(s) for s in sources if s in mask.columns]
        flag = pl.any_horizontal(hit) if hit else pl.lit(False)
        mask = mask.with_columns(flag.alias(c))
    out = frame.with_columns(
        [pl.when(mask.get_column(c)).then(None).otherwise(pl.col(c)).alias(c) for c in mask.columns]
    )
    return out, mask


def display_frame(frame: pl.DataFrame, mask: pl.DataFrame) -> pl.DataFrame:
    """A copy for tables and downloads: suppressed cells read 'suppressed' rather than blank."""
    if mask.width == 0 or not any(mask[c].any() for c in mask.columns):
        return frame
    return frame.with_columns(
        [
            pl.when(mask.get_column(c)).then(pl.lit(SUPPRESSED_LABEL))
            .otherwise(pl.col(c).cast(pl.String)).alias(c)
            for c in mask.columns if mask[c].any()
        ]
    )
