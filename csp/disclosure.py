"""Small-number suppression applied to every query result before anyone sees it.

Counts from 1 to threshold-1 are withheld (null, flagged as suppressed: never shown as zero).
Zero is not suppressed: it reveals nothing about an individual. Any column a query declares as
derived ``from`` a count (a rate, a share, a change) is withheld wherever one of its sources is,
so a suppressed cell can never be recovered from a number derived from it.

Secondary suppression (see SECURITY.md): a query may declare in its header which groups of rows
add up to a total the user can see, on the same output or another view::

    -- totals: [[], [district_code]]     # the whole output, and each district's rows

For every such group and every count column, if exactly one cell is suppressed, or the
suppressed cells add up to less than the threshold, the smallest other non-zero cell is
suppressed too, until at least two cells are withheld and together they hold at least
``threshold``: subtracting the visible cells from the total then gives only a sum that is not
small, never one small cell. Groups are re-checked until nothing changes, so rows and columns
of a two-way table are both protected.
"""
from __future__ import annotations

import polars as pl

SUPPRESSED_LABEL = "suppressed"


def suppress(frame: pl.DataFrame, columns: dict, threshold: int,
             totals: list[list[str]] | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (frame with small counts nulled, boolean mask frame of the columns that can be
    suppressed). ``totals``: groupings for secondary suppression (see the module note)."""
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
    if totals:
        mask = mask.with_columns([
            pl.Series(c, secondary(frame[c].to_list(), mask[c].to_list(),
                                   _group_keys(frame, totals), threshold))
            for c in counts
        ])
    for c, sources in derived.items():
        hit = [mask.get_column(s) for s in sources if s in mask.columns]
        flag = pl.any_horizontal(hit) if hit else pl.lit(False)
        mask = mask.with_columns(flag.alias(c))
    out = frame.with_columns(
        [pl.when(mask.get_column(c)).then(None).otherwise(pl.col(c)).alias(c) for c in mask.columns]
    )
    return out, mask


def _group_keys(frame: pl.DataFrame, totals: list[list[str]]) -> list[list[tuple]]:
    """For each grouping, each row's group key (a grouping of [] puts every row in one group)."""
    out = []
    for cols in totals:
        cols = [c for c in cols if c in frame.columns]
        if cols:
            out.append([tuple(r) for r in frame.select(cols).iter_rows()])
        else:
            out.append([()] * frame.height)
    return out


def secondary(values: list, primary: list[bool], groupings: list[list[tuple]], threshold: int) -> list[bool]:
    """Complementary suppression of one count column (pure function; see the module note).

    ``values``: the true counts; ``primary``: cells already suppressed; ``groupings``: for each
    grouping, every row's group key. Returns the new suppression flags."""
    hidden = list(primary)
    changed = True
    while changed:
        changed = False
        for keys in groupings:
            groups: dict[tuple, list[int]] = {}
            for i, k in enumerate(keys):
                groups.setdefault(k, []).append(i)
            for rows in groups.values():
                while True:
                    gone = [i for i in rows if hidden[i] and (values[i] or 0) > 0]
                    if not gone or (len(gone) >= 2 and sum(values[i] for i in gone) >= threshold):
                        break
                    candidates = [i for i in rows if not hidden[i] and (values[i] or 0) > 0]
                    if not candidates:
                        break
                    hidden[min(candidates, key=lambda i: (values[i], i))] = True
                    changed = True
    return hidden


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
