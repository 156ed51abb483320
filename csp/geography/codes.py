"""ONS (GSS) codes: patterns, the level a code is at, and the LSOA code ranges of each vintage."""
from __future__ import annotations

import polars as pl

LSOA_RE = r"^[EW]01[0-9]{6}$"
WARD_RE = r"^[EW]05[0-9]{6}$"
DISTRICT_RE = r"^(?:E0[6789]|W06)[0-9]{6}$"
GSS_RE = r"^[EWSNK][0-9]{8}$"

# The last LSOA codes of 2011 (ONS never reuses a code: every 2021 code above these is new in
# 2021, and every 2021 code at or below them is a 2011 LSOA that carried on unchanged).
LAST_2011 = {"E": "E01033768", "W": "W01001958"}


def level_expr(code: pl.Expr) -> pl.Expr:
    """'lsoa', 'ward', 'district' or null (counties, regions, countries ...) from a code's prefix."""
    return (
        pl.when(code.str.contains(LSOA_RE)).then(pl.lit("lsoa"))
        .when(code.str.contains(WARD_RE)).then(pl.lit("ward"))
        .when(code.str.contains(DISTRICT_RE)).then(pl.lit("district"))
        .otherwise(None)
    )


def new_in_2021(code: pl.Expr) -> pl.Expr:
    """True for LSOA codes first issued in 2021 (by the code ranges above)."""
    return (
        (code.str.starts_with("E01") & (code > LAST_2011["E"]))
        | (code.str.starts_with("W01") & (code > LAST_2011["W"]))
    )
