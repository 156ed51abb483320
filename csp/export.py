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


# ---- downloads with their context --------------------------------------------------------------
#
# A page download is an Excel workbook: the table on its first sheet ("Data", headers in row 1,
# so any reader takes it as it is) and what a reader needs to use it safely on a second ("About
# this file"): what it shows, the filters, as-at dates and source of each dataset, and how the
# figures were protected (method and threshold). Comment lines in a CSV would have broken every
# parser and confused Excel; a sidecar file gets separated from its data when forwarded. Text
# cells are written as text with Excel's quote prefix, so nothing in them can become a formula.

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
METHOD_WORDS = {
    "perturb": "cell-key perturbation (each count carries a small fixed adjustment)",
    "suppress": "suppression of small counts",
    "none": "none (exact figures)",
}


def about(result, *, user=None, filters: dict | None = None, now=None) -> list[tuple[str, str]]:
    """What a download needs to travel with, as (item, value) rows: title, filters, per dataset
    its source and as-at dates and its protection (method, threshold, in words), the user's
    area scope, who it was prepared for and when, and what each column holds."""
    import datetime as dt

    from . import access, catalog, store

    q = result.query
    rows: list[tuple[str, str]] = [("Title", getattr(q, "title", None) or q.name)]
    if getattr(q, "description", ""):
        rows.append(("What it shows", " ".join(str(q.description).split())))
    for k, v in (filters or {}).items():
        rows.append((f"Filter: {k}", str(v)))
    if not filters:
        rows.append(("Filters", "none (the defaults shown on the page)"))
    rules = getattr(result, "rules", {}) or {}
    for ds, version in sorted((result.versions or {}).items()):
        try:
            contract = catalog.contract(ds)
        except (KeyError, ValueError):
            continue
        v = store.current(ds)
        meta = v.meta if v is not None and v.version == version else {}
        cov = meta.get("coverage") or {}
        held = f"{cov['first']} to {cov['last']}" if cov.get("first") else "not dated"
        rows.append((f"Source: {contract.title}",
                     f"{meta.get('owner', contract.owner)} ({meta.get('source', 'source not recorded')}); "
                     f"data held {held}; published {str(meta.get('published_at', '?'))[:10]} "
                     f"(version {version})"))
        rule = rules.get(ds)
        if rule is not None:
            rows.append((f"Protection: {contract.title}",
                         METHOD_WORDS.get(rule.method, rule.method)
                         + (f"; threshold {rule.threshold}" if rule.threshold else "")))
        if user is not None and contract.protected:
            rows.append((f"How protected: {contract.title}", disclosure.how_protected(access.grant(user, ds))))
    note = disclosure.protection_note(result)
    if note:
        rows.append(("Protection note", note))
    label = disclosure.withheld_label(result)
    if getattr(result, "n_suppressed", 0):
        rows.append(("Withheld cells", f"read '{label}'; they are not zero"))
    if user is not None:
        from .indicators import scope_label

        rows.append(("Area scope", scope_label(user) if user.areas else "the whole partnership area"))
        rows.append(("Prepared for", f"{user.name} ({user.username}, {user.role}, {user.partner})"))
    when = now or dt.datetime.now(dt.timezone.utc)
    rows.append(("Prepared at", when.strftime("%d %B %Y %H:%M UTC")))
    rows.append(("Query", q.name))
    columns = getattr(q, "columns", {}) or {}
    for c in result.frame.columns:
        desc = columns[c].description if c in columns else ""
        rows.append((f"Column: {c}", desc or ""))
    return rows


def _text_cell(ws, value: str):
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"  # a string, never a formula, whatever it starts with
    if value.lstrip(" ").startswith(_FORMULA_START):
        cell.quotePrefix = True  # and Excel keeps it text if someone edits the cell
    return cell


def to_xlsx(result, about_rows: list[tuple[str, str]]) -> bytes:
    """The download workbook: 'Data' (the table as the screen shows it, withheld cells read
    'low'/'suppressed') and 'About this file' (``about_rows``)."""
    import datetime as dt
    import io

    from openpyxl import Workbook

    from openpyxl.cell import WriteOnlyCell

    frame = disclosure.display(result)
    # Dates stay dates (they sort and filter); a column of first-of-month dates reads as months.
    formats = {c: ("mmm yyyy" if frame[c].dt.day().drop_nulls().eq(1).all() else "yyyy-mm-dd")
               for c, t in frame.schema.items() if t == pl.Date}
    wb = Workbook(write_only=True)
    data = wb.create_sheet("Data")
    data.append([_text_cell(data, str(c)) for c in frame.columns])
    cols = frame.columns
    for row in frame.iter_rows():
        out = []
        for c, v in zip(cols, row):
            if isinstance(v, str):
                out.append(_text_cell(data, v))
            elif isinstance(v, dt.date) and not isinstance(v, dt.datetime):
                cell = WriteOnlyCell(data, value=v)
                cell.number_format = formats.get(c, "yyyy-mm-dd")
                out.append(cell)
            elif v is None or isinstance(v, (bool, int, float)):
                out.append(v)
            else:
                out.append(_text_cell(data, str(v)))
        data.append(out)
    notes = wb.create_sheet("About this file")
    notes.append([_text_cell(notes, "Item"), _text_cell(notes, "Value")])
    for k, v in about_rows:
        notes.append([_text_cell(notes, str(k)), _text_cell(notes, str(v))])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
