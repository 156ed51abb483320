"""Turning a query result into a download (CSV or JSON) with the same scope and suppression
as the screen, safe to open in a spreadsheet."""
from __future__ import annotations

import json

import polars as pl

from . import disclosure
from .queries import Result

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def defuse(value: str | None) -> str | None:
    # OWASP CSV injection guidance: a cell starting with a formula trigger is prefixed with a
    # quote so Excel/LibreOffice show it as text instead of evaluating it. Leading spaces are
    # looked through (spreadsheets ignore them) and full-width variants count too.
    if value and value.lstrip(" ").startswith(_FORMULA_START):
        return "'" + value
    return value


_defuse = defuse  # older name


def safe_frame(result: Result) -> pl.DataFrame:
    frame = disclosure.display(result)
    return frame.with_columns(
        [pl.col(c).map_elements(defuse, return_dtype=pl.String) for c, t in frame.schema.items()
         if t == pl.String]
    )


def to_csv(result: Result) -> str:
    return safe_frame(result).write_csv()


def to_json(result: Result) -> str:
    frame = disclosure.display(result)
    return json.dumps(
        {"query": result.query.name, "versions": result.versions,
         "protection": {d: {"method": r.method, "threshold": r.threshold}
                        for d, r in getattr(result, "rules", {}).items()},
         "protection_note": disclosure.protection_note(result), "rows": frame.to_dicts()},
        default=str, indent=2,
    )
