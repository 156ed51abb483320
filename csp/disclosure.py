"""What a protected result looks like in a table, a download or the board pack, and the plain
words that say how its figures were protected.

The protection itself happens in the query layer (csp.queries -> csp.protection.cells): every
count a partner sees is either perturbed (consistent cell-key perturbation), taken from a
protected base table (suppression), or exact (the data's owner, public data). This module only
presents the outcome:

- a withheld figure reads ``low`` (a perturbed count under the threshold) or ``suppressed``
  (a count of 1 to threshold-1 under suppression), never zero;
- a total that leaves out suppressed cells reads ``≥ N`` (at least N);
- :func:`protection_note` says what was done, with the owner's threshold, so a reader knows why
  parts may not add up to a total.
"""
from __future__ import annotations

import polars as pl

SUPPRESSED_LABEL = "suppressed"
LOW_LABEL = "low"
WITHHELD_LABELS = (SUPPRESSED_LABEL, LOW_LABEL)


def withheld_label(result) -> str:
    """The word for a withheld figure in this result: 'low' under perturbation, 'suppressed'
    under suppression (both shown as 'suppressed' when a result mixes the two)."""
    methods = result.methods() if hasattr(result, "methods") else set()
    return LOW_LABEL if methods == {"perturb"} else SUPPRESSED_LABEL


def display_frame(frame: pl.DataFrame, mask: pl.DataFrame, partial: pl.DataFrame | None = None,
                  label: str = SUPPRESSED_LABEL) -> pl.DataFrame:
    """A copy for tables and downloads: withheld cells read ``label`` rather than blank, and
    totals that leave out suppressed cells read '≥ N'."""
    touched = [c for c in mask.columns if mask[c].any()] if mask.width else []
    partial_cols = [c for c in partial.columns if partial[c].any()] if partial is not None and partial.width else []
    if not touched and not partial_cols:
        return frame
    exprs = []
    for c in sorted(set(touched) | set(partial_cols), key=frame.columns.index):
        expr = pl.col(c).cast(pl.String)
        if c in partial_cols:
            expr = pl.when(pl.Series(partial[c])).then(pl.lit("≥") + pl.col(c).cast(pl.String)).otherwise(expr)
        if c in touched:
            expr = pl.when(pl.Series(mask[c])).then(pl.lit(label)).otherwise(expr)
        exprs.append(expr.alias(c))
    return frame.with_columns(exprs)


def display(result) -> pl.DataFrame:
    """display_frame for a query Result (or anything shaped like one)."""
    partial = getattr(result, "partial", None)
    return display_frame(result.frame, result.suppressed, partial, withheld_label(result))


def protection_note(result) -> str:
    """One or two sentences on how this result's figures were protected (empty when exact)."""
    rules = getattr(result, "rules", {}) or {}
    parts = []
    perturbed = sorted({r.threshold for r in rules.values() if r.method == "perturb"})
    suppressed = sorted({r.threshold for r in rules.values() if r.method == "suppress"})
    if perturbed:
        parts.append(
            "Figures are protected by cell-key perturbation: each count carries a small, fixed "
            "adjustment, so the same figure always reads the same but parts may not add up "
            f"exactly to totals; counts under {' or '.join(map(str, perturbed))} after protection "
            "read 'low'.")
        near = near_threshold_words(result)
        if near:
            parts.append(near)
    if suppressed:
        parts.append(
            f"Counts from 1 to {' or '.join(str(t - 1) for t in suppressed)} are withheld "
            "('suppressed'); totals add up the figures shown, and one marked ≥ leaves some out.")
    return " ".join(parts)


def near_threshold(result) -> tuple[int, int] | None:
    """(threshold, reach) when this result shows a perturbed count that a count under the
    threshold can have become (csp.protection.cells.small_count_reach): the youth justice
    partner's quarters read exactly 10 under the t10 table, and may be 3. Judged from the
    published figures and the ptable only. None when no shown count is that close."""
    from .protection import cells

    frame, query = getattr(result, "frame", None), getattr(result, "query", None)
    rules = [r for r in (getattr(result, "rules", None) or {}).values() if r.method == "perturb"]
    if frame is None or query is None or not rules:
        return None
    t = min(r.threshold for r in rules)
    reach = max(cells.small_count_reach(r) for r in rules)
    cols = [c for c in query.count_columns if c in frame.columns]
    if reach <= t or not cols:
        return None
    for c in cols:
        v = frame[c]
        if v.dtype.is_numeric() and ((v >= t) & (v < reach)).any():
            return t, reach
    return None


def near_threshold_words(result) -> str:
    """The sentence for near_threshold ('' when none): under a table, and beside a trend chart
    whose table is in another tab."""
    near = near_threshold(result)
    if not near:
        return ""
    t, reach = near
    top = reach - 1
    shown = str(t) if top == t else f"{t} or {top}" if top == t + 1 else f"{t} to {top}"
    return (f"Counts shown as {shown} may stand for fewer than {t}, which protection can raise as "
            f"far as {top}: read them as small.")


def how_protected(grant) -> str:
    """'How these figures are protected', for one user's grant on one dataset, in plain words."""
    if grant is None:
        return "This dataset is not shared with you."
    if grant.owner:
        return ("You see your own partner's data exactly, at the finest geography it holds. Other "
                "partners see it protected, as the sharing agreement sets.")
    level = {"lsoa": "LSOA", "ward": "ward", "district": "district"}[grant.geography]
    if grant.protection == "perturb":
        return (f"Shared with you down to {level} level, protected by cell-key perturbation (the "
                "method the ONS and the Australian Bureau of Statistics use for flexible tables): "
                "every count carries a small adjustment fixed by the records in it, so the same "
                "figure reads the same on every page, download and board pack, and comparing "
                "views cannot strip the adjustment off. Parts may therefore not add up exactly to "
                f"their total. Counts under {grant.threshold} after the adjustment read 'low'. "
                "Rates, intervals and comparisons are computed from the figures shown. Totals "
                "over a period are given for months, quarters, financial years and the latest "
                "12 or 24 months.")
    if grant.protection == "suppress":
        return (f"Shared with you down to {level} level. Counts from 1 to {grant.threshold - 1} in "
                f"one protected table (by month, {level} and the main categories) are withheld "
                "('suppressed', never shown as zero), and every figure you see adds up that same "
                "table, so a total marked ≥ leaves the withheld counts out and no two views can "
                "be subtracted to find one. Finer splits are not shared with you.")
    return "Shared with you as published: these figures are not protected because they are public."
