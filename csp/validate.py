"""Reading partner uploads and checking them against the dataset contract.

Two stages, both pure (no publishing, no Streamlit):

* ``read_table`` turns the uploaded bytes (CSV in UTF-8, UTF-8 with BOM or Windows-1252; XLSX;
  Parquet) into a frame of strings with spreadsheet row numbers. A file that cannot be read at all
  raises ``ReadError`` with one specific message (empty, zip, wrong delimiter, truncated ...).
* ``check`` looks at every row of a readable table and returns *every* problem it finds, each
  with a count and the rows it is on, so a partner can fix the whole file in one go.

Row numbers are the ones a spreadsheet shows: the header is row 1, the first data row row 2.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import zipfile
from dataclasses import dataclass, field
from typing import Iterable

import polars as pl

from . import catalog

MAX_ROWS_LISTED = 20
DEFAULT_MAX_MB = 100
# What a file may describe, checked before it is read (a 1.5 KB workbook can declare 16,384
# columns by 1,048,576 rows; a 143 KB Parquet file can hold 20 million rows).
MAX_COLUMNS = 1_000
DEFAULT_MAX_ROWS = 2_000_000
MAX_CELLS = 40_000_000


class ReadError(ValueError):
    """The file cannot be read as a table. The message says why, in the partner's terms."""


def max_upload_bytes() -> int:
    return int(float(os.environ.get("CSP_UPLOAD_MAX_MB", DEFAULT_MAX_MB)) * 1_000_000)


def max_rows() -> int:
    return int(os.environ.get("CSP_UPLOAD_MAX_ROWS", DEFAULT_MAX_ROWS))


def check_size(name: str, rows: int | None, columns: int | None, how: str = "has",
               cells: int | None = None) -> None:
    """Refuse a table too wide or too long to read, from what it declares or has so far."""
    limit = max_rows()
    if cells is not None and cells > MAX_CELLS:
        raise ReadError(f"{name} {how} more than {MAX_CELLS:,} cells, the most an upload may have. "
                        "Save only the data range, or split it.")
    if columns is not None and columns > MAX_COLUMNS:
        raise ReadError(f"{name} {how} {columns:,} columns; an upload may have at most {MAX_COLUMNS:,}. "
                        "Save only the data columns (as CSV) and upload again.")
    if rows is not None and rows > limit:
        raise ReadError(f"{name} {how} {rows:,} rows; an upload may have at most {limit:,}. "
                        "Upload one month or quarter at a time.")
    if rows is not None and columns is not None and rows * columns > MAX_CELLS:
        raise ReadError(f"{name} {how} {rows:,} rows by {columns:,} columns ({rows * columns:,} cells); "
                        f"an upload may have at most {MAX_CELLS:,} cells. Save only the data range, or split it.")


@dataclass
class Problem:
    severity: str  # "error" blocks publishing; "warning" is shown but does not
    code: str  # stable identifier, e.g. "bad_month", used by tests and the UI
    message: str
    column: str | None = None
    rows: list[int] = field(default_factory=list)  # spreadsheet row numbers, at most MAX_ROWS_LISTED
    count: int = 0

    def text(self) -> str:
        where = ""
        if self.rows:
            shown = ", ".join(map(str, self.rows[:10]))
            more = f" and {self.count - min(len(self.rows), 10)} more" if self.count > min(len(self.rows), 10) else ""
            where = f" ({'row' if self.count == 1 else 'rows'} {shown}{more})"
        return f"{self.message}{where}"

    def as_dict(self) -> dict:
        return {"severity": self.severity, "code": self.code, "message": self.message,
                "column": self.column, "rows": self.rows, "count": self.count}


@dataclass
class Table:
    frame: pl.DataFrame  # every column a String; blanks are null
    format: str  # csv, xlsx, parquet
    encoding: str | None = None
    notes: list[Problem] = field(default_factory=list)  # warnings from reading (encoding, sheets)
    first_row: int = 2  # spreadsheet row number of frame row 0


# ---- reading ------------------------------------------------------------------------------


def read_limited(source, limit: int | None = None) -> bytes:
    """Read bytes from a path, bytes, a binary file object or an iterable of byte chunks, refusing
    more than ``limit`` bytes without ever holding more than the limit plus one chunk in memory."""
    limit = max_upload_bytes() if limit is None else limit
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        if len(data) > limit:
            raise ReadError(_too_big(limit))
        return data
    if isinstance(source, (str, os.PathLike)):
        try:
            size = os.path.getsize(source)
        except OSError:
            raise ReadError(f"No such file: {os.fspath(source)}") from None
        if size > limit:
            raise ReadError(_too_big(limit))
        with open(source, "rb") as fh:
            return read_limited(fh, limit)
    chunks: Iterable[bytes]
    if hasattr(source, "read"):
        chunks = iter(lambda: source.read(1 << 20), b"")
    else:
        chunks = source
    buf, total = [], 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise ReadError(_too_big(limit))
        buf.append(chunk)
    return b"".join(buf)


def _too_big(limit: int) -> str:
    return (f"The file is larger than the upload limit of {limit / 1_000_000:,.0f} MB. "
            "Upload one month or quarter at a time.")


def read_table(data: bytes, filename: str = "upload") -> Table:
    """Parse uploaded bytes into a Table of strings, or raise ReadError with a specific message."""
    name = os.path.basename(filename) or "upload"
    ext = os.path.splitext(name)[1].lower()
    if not data.strip():
        raise ReadError(f"{name} is empty.")
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return _read_zip(data, name, ext)
    if data.startswith(b"PAR1"):
        return _read_parquet(data, name)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ReadError(f"{name} is an old Excel 97-2003 (.xls) workbook: save it as .xlsx or CSV UTF-8.")
    if data.startswith(b"\x1f\x8b"):
        raise ReadError(f"{name} is gzip-compressed: decompress it and upload the file inside.")
    if data.startswith(b"%PDF"):
        raise ReadError(f"{name} is a PDF document, not a data file.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ReadError(f"{name} is saved as UTF-16 (Excel's 'Unicode text'): save it as 'CSV UTF-8'.")
    if ext in (".xlsx", ".xlsm"):
        raise ReadError(f"{name} is named .xlsx but is not an Excel workbook (it may be damaged or incomplete).")
    if ext == ".parquet":
        raise ReadError(f"{name} is named .parquet but is not a Parquet file.")
    return _read_csv(data, name)


def _read_zip(data: bytes, name: str, ext: str) -> Table:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = zf.namelist()
    except zipfile.BadZipFile:
        if ext in (".xlsx", ".xlsm"):
            raise ReadError(f"{name} is a damaged or incomplete Excel file (it may have been cut off while copying).") from None
        raise ReadError(f"{name} is a damaged zip archive, not a CSV file.") from None
    if "xl/workbook.xml" not in members:
        shown = ", ".join(members[:3]) + (" ..." if len(members) > 3 else "")
        raise ReadError(
            f"{name} is a zip archive ({len(members)} file(s): {shown}), not a "
            f"{'CSV' if ext == '.csv' else 'data'} file: unzip it and upload the file inside."
        )
    table = _read_xlsx(data, name)
    if ext not in (".xlsx", ".xlsm"):
        table.notes.append(Problem("warning", "xlsx_named_csv", f"{name} is an Excel workbook despite its name; read as XLSX."))
    return table


def _cell_text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time(0) else v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    text = str(v).strip()
    return text or None


def _read_xlsx(data: bytes, name: str) -> Table:
    import openpyxl

    try:
        # data_only=False: formula cells come back as their formula text, so they can be refused.
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as e:
        raise ReadError(f"{name} could not be opened as an Excel workbook ({type(e).__name__}).") from None
    try:
        sheets = wb.sheetnames
        ws = wb[sheets[0]]
        # The sheet's declared size (its <dimension>) costs nothing to read; openpyxl would pad
        # every row to it, so a 1.5 KB file declaring A1:XFD8000 took 1.1 GB. Refuse an absurd
        # declaration, then ignore it and count what the rows really hold.
        try:
            declared = (ws.max_row, ws.max_column, ws.calculate_dimension()) if ws.max_row else None
        except Exception:  # a malformed <dimension>: ignored, the rows are counted instead
            declared = None
        if declared:
            check_size(name, declared[0], declared[1], how=f"declares its first sheet as {declared[2]}:")
        ws.reset_dimensions()
        rows, cells = [], 0
        for r in ws.iter_rows(values_only=True):
            rows.append([_cell_text(v) for v in r])
            cells += len(r)
            if len(r) > MAX_COLUMNS or len(rows) > max_rows() or cells > MAX_CELLS:
                check_size(name, len(rows), len(r), cells=cells)
    finally:
        wb.close()
    start = next((i for i, r in enumerate(rows) if any(c is not None for c in r)), None)
    if start is None:
        raise ReadError(f"{name}: the first sheet ('{sheets[0]}') is empty.")
    header = rows[start]
    width = max(i + 1 for i, c in enumerate(header) if c is not None)
    body = [r[:width] + [None] * (width - len(r[:width])) for r in rows[start + 1:]]
    # Trailing blank rows are common in spreadsheets; blank rows inside are kept (and reported).
    while body and all(c is None for c in body[-1]):
        body.pop()
    table = _table_from_rows(header[:width], body, name, "xlsx", None, first_row=start + 2)
    if len(sheets) > 1:
        table.notes.append(Problem("warning", "extra_sheets",
                                   f"Only the first sheet ('{sheets[0]}') was read; the workbook has {len(sheets)} sheets."))
    return table


def _parquet_kind(t) -> str | None:
    """None for a column type an upload may hold (text, numbers, dates, times, true/false),
    otherwise what it is, in words."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        return _parquet_kind(t.value_type)
    # Binary is allowed here: some writers store text without marking it as text. It is read as
    # text below, and refused, naming the column, if it is not.
    ok = (pa.types.is_string, pa.types.is_large_string, pa.types.is_integer, pa.types.is_floating,
          pa.types.is_decimal, pa.types.is_boolean, pa.types.is_date, pa.types.is_timestamp,
          pa.types.is_time, pa.types.is_null, pa.types.is_binary, pa.types.is_large_binary)
    if any(f(t) for f in ok) or str(t) == "string_view":
        return None
    for test, words in ((pa.types.is_list, "lists of values"), (pa.types.is_large_list, "lists of values"),
                        (pa.types.is_fixed_size_list, "lists of values"), (pa.types.is_struct, "records of several fields"),
                        (pa.types.is_map, "maps of keys to values"), (pa.types.is_duration, "durations (time spans)"),
                        (pa.types.is_interval, "intervals"), (pa.types.is_fixed_size_binary, "raw bytes")):
        if test(t):
            return words
    return "values of an unsupported kind"


def _read_parquet(data: bytes, name: str) -> Table:
    import pyarrow.parquet as pq

    if not data.rstrip(b"\x00").endswith(b"PAR1"):
        raise ReadError(f"{name} is an incomplete Parquet file (it looks cut off).")
    try:  # the footer only: how many rows, which columns, of what type
        meta = pq.ParquetFile(io.BytesIO(data))
        schema = meta.schema_arrow
    except Exception as e:
        raise ReadError(f"{name} could not be read as Parquet ({str(e).splitlines()[0][:120]}).") from None
    odd = [(f.name, _parquet_kind(f.type), f.type) for f in schema if _parquet_kind(f.type)]
    if odd:
        listed = "; ".join(f"column '{c}' holds {words} ({t})" for c, words, t in odd[:5])
        raise ReadError(f"{name}: {listed}. An upload may hold only text, numbers, dates and true/false: "
                        "save those columns as text, or leave them out.")
    check_size(name, meta.metadata.num_rows, len(schema), how="holds")
    try:
        df = pl.read_parquet(io.BytesIO(data))
        if df.width == 0:
            raise ReadError(f"{name} has no columns.")
        _check_pattern_names(df.columns, name)
        if df.height == 0:
            raise ReadError(f"{name} has columns but no data rows.")
        check_size(name, df.height, df.width, how="holds")  # the footer could understate them
    except ReadError:
        raise
    except Exception as e:
        raise ReadError(f"{name} could not be read as Parquet ({type(e).__name__}): save it as CSV and "
                        "upload again.") from None
    cols = []
    for c, t in df.schema.items():
        try:
            cols.append(df.get_column(c).dt.strftime("%Y-%m-%d") if t == pl.Date else df.get_column(c).cast(pl.String))
        except Exception:  # e.g. bytes that are not text
            raise ReadError(f"{name}: column '{c}' holds values ({t}) that cannot be read as text: save it "
                            "as text, or leave it out.") from None
    return Table(_blank_to_null(pl.DataFrame(cols)), "parquet")


_DELIMS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _decode(data: bytes, name: str) -> tuple[str, str, list[Problem]]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig", []
    try:
        return data.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError as e:
        if e.start >= len(data) - 3:
            raise ReadError(f"{name} ends in the middle of a character: the file looks truncated.") from None
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise ReadError(
            f"{name} is not UTF-8 or Windows-1252 text: save it as 'CSV UTF-8' and upload again."
        ) from None
    return text, "windows-1252", [Problem(
        "warning", "windows_1252", f"{name} is not UTF-8; it was read as Windows-1252 (Excel's 'CSV' format)."
    )]


def _read_csv(data: bytes, name: str) -> Table:
    if b"\x00" in data[:65536]:
        raise ReadError(f"{name} is a binary file, not a CSV (it contains NUL bytes).")
    text, encoding, notes = _decode(data, name)
    head = text.lstrip()[:200].lower()
    if head.startswith(("<!doctype html", "<html", "<?xml")):
        raise ReadError(f"{name} is a web page or XML document, not a CSV (perhaps a failed download).")
    if head.startswith(("{", "[")):
        raise ReadError(f"{name} looks like JSON, not a CSV. Boundaries (GeoJSON) are uploaded separately.")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text[:65536])
    if printable < 0.95 * min(len(text), 65536):
        raise ReadError(f"{name} does not look like text: it is probably a binary file renamed to .csv.")
    first = text[: min((i for i in (text.find("\n"), text.find("\r")) if i >= 0), default=len(text))]
    if first.count(",") + 1 > MAX_COLUMNS:  # a 10 MB header of a million names took 2.5 GB to read
        check_size(name, None, len(next(csv.reader([first]))))
    if "," not in first:
        for d, label in _DELIMS.items():
            if d in first:
                raise ReadError(
                    f"{name} uses {label} between columns, not commas: save it as 'CSV UTF-8 (comma delimited)'."
                )
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[list[str]] = []
    limit, cells = max_rows(), 0
    try:
        for r in reader:
            rows.append(r)
            cells += len(r)
            if len(r) > MAX_COLUMNS or len(rows) > limit + 1 or cells > MAX_CELLS:
                check_size(name, len(rows) - 1, len(r), cells=cells)
    except csv.Error as e:
        raise ReadError(
            f"{name}: line {reader.line_num} could not be read ({e}); "
            + ("the file looks truncated (a quoted value never ends)." if "end" in str(e).lower() or "eof" in str(e).lower()
               else "check the quoting on that line.")
        ) from None
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    if not rows:
        raise ReadError(f"{name} is empty.")
    header, body = rows[0], rows[1:]
    width = len(header)
    ragged = [i for i, r in enumerate(body) if len(r) != width and any(c.strip() for c in r)]
    if ragged:
        last = len(body) - 1
        if ragged == [last] and len(body[last]) < width and not text.endswith(("\n", "\r")):
            raise ReadError(
                f"{name}: the last row (row {last + 2}) has {len(body[last])} of {width} columns and the "
                "file does not end with a line break: the file looks truncated."
            )
        rows_txt = ", ".join(str(i + 2) for i in ragged[:10]) + (f" and {len(ragged) - 10} more" if len(ragged) > 10 else "")
        raise ReadError(
            f"{name}: {len(ragged)} row(s) do not have the header's {width} columns (rows {rows_txt}): "
            "a value may contain an unquoted comma, or the file is damaged."
        )
    table = _table_from_rows(header, body, name, "csv", encoding)
    table.notes += notes
    return table


def _table_from_rows(header: list, body: list[list], name: str, fmt: str, encoding: str | None,
                     first_row: int = 2) -> Table:
    cols = [(str(c) if c is not None else "").lstrip("\ufeff").strip() for c in header]
    if all(not c for c in cols):
        raise ReadError(f"{name}: the first row is blank; it should hold the column names.")
    blank = [i + 1 for i, c in enumerate(cols) if not c]
    for i in reversed(blank):  # an unnamed column with nothing in it is just a trailing delimiter
        if all((r[i - 1] if i - 1 < len(r) else None) in (None, "") for r in body):
            del cols[i - 1]
            body = [r[: i - 1] + r[i:] for r in body]
    blank = [i + 1 for i, c in enumerate(cols) if not c]
    if blank:
        raise ReadError(f"{name}: column(s) {', '.join(map(str, blank))} have no name in the header row.")
    seen, dupes = set(), []
    for c in cols:
        if c.lower() in seen:
            dupes.append(c)
        seen.add(c.lower())
    if dupes:
        raise ReadError(f"{name}: the header names these columns more than once: {', '.join(dupes)}.")
    _check_pattern_names(cols, name)
    if not body:
        raise ReadError(f"{name} has a header row but no data rows.")
    frame = pl.DataFrame(
        {c: [r[i] if i < len(r) else None for r in body] for i, c in enumerate(cols)},
        schema={c: pl.String for c in cols},
    )
    return Table(_blank_to_null(frame), fmt, encoding, first_row=first_row)


def _check_pattern_names(cols: list[str], name: str) -> None:
    # Polars reads a column name that starts with ^ and ends with $ as a regular expression in
    # column selections, so such a heading would match other columns or none. No real extract
    # needs one: refuse it with a clear message rather than checking the wrong column.
    odd = [c for c in cols if c.startswith("^") and c.endswith("$")]
    if odd:
        raise ReadError(f"{name}: column name(s) {', '.join(repr(c) for c in odd)} start with ^ and end "
                        "with $, which this service would read as a pattern: rename them.")


def _blank_to_null(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns([
        pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c).str.strip_chars()).alias(c)
        for c in df.columns
    ])


# ---- checking -----------------------------------------------------------------------------

POLICE_UK_CRIME_TYPES = frozenset({
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs",
    "Other crime", "Other theft", "Possession of weapons", "Public disorder and weapons",
    "Public order", "Robbery", "Shoplifting", "Theft from the person", "Vehicle crime",
    "Violence and sexual offences", "Violent crime",
})
# Known categories of the partner datasets' dimension fields (case-sensitive as published).
CATEGORIES: dict[tuple[str, str], frozenset[str]] = {
    ("crime", "crime_type"): POLICE_UK_CRIME_TYPES - {"Anti-social behaviour"},
    ("crime", "crime_category"): POLICE_UK_CRIME_TYPES - {"Anti-social behaviour", "Violent crime"},
    ("reoffending", "age_group"): frozenset({"adult", "juvenile"}),
    ("reoffending", "cohort_type"): frozenset({"custody", "court_order", "caution"}),
    ("reoffending", "cohort_group"): frozenset({"IOM", "other"}),
    ("substance_misuse", "substance_group"): frozenset({"opiate", "non-opiate", "alcohol", "alcohol and non-opiate"}),
}
# Fields that may be blank (police.uk leaves them empty; names and population are optional).
NULLABLE: dict[str, frozenset[str]] = {
    "crime": frozenset({"crime_id", "falls_within", "location", "lsoa_code", "ward_code", "district_code", "outcome"}),
    "asb": frozenset({"falls_within", "location", "lsoa_code", "ward_code", "district_code"}),
    "geography": frozenset({"lsoa_name", "ward_name", "district_name", "population"}),
    "alcohol_admissions": frozenset({"value", "significance", "area_name"}),
    "substance_misuse": frozenset({"representations"}),
}
# Fields the upload need not contain because they are derived on publishing.
DERIVED: dict[str, frozenset[str]] = {
    "crime": frozenset({"ward_code", "district_code", "crime_category"}),
    "asb": frozenset({"ward_code", "district_code"}),
}
GEO_PATTERNS = {
    "lsoa": (r"^[EW]01[0-9]{6}$", "an LSOA code (E01 or W01 + 6 digits)"),
    "ward": (r"^[EW]05[0-9]{6}$", "a ward code (E05 or W05 + 6 digits)"),
    "district": (r"^(E0[6789]|W06)[0-9]{6}$", "a district code (E06, E07, E08, E09 or W06 + 6 digits)"),
}
ANY_GSS = (r"^[EWSNK][0-9]{8}$", "an ONS area code (letter + 8 digits)")
MONTH_RE = r"^([0-9]{4})-(0[1-9]|1[0-2])(?:-01(?:[ T]00:00(?::00(?:\.0+)?)?)?)?$"
FORMULA_RE = r"^[=+@\-][A-Za-z(=@\"'!$]|^=|^[+\-]=|^\t="


def nullable_fields(dataset: str) -> frozenset[str]:
    """Fields that may be blank: listed above, or declared optional in the contract."""
    c = catalog.contract(dataset)
    return NULLABLE.get(dataset, frozenset()) | {f.name for f in c.fields if f.optional}


def derived_fields(dataset: str) -> frozenset[str]:
    """Fields filled in on publishing: listed above, or for any events dataset located by LSOA
    (or by ward), the coarser geography codes, which come from the published lookup."""
    c = catalog.contract(dataset)
    out = set(DERIVED.get(dataset, frozenset()))
    if c.kind == "events" and c.finest_geo in ("lsoa", "ward"):
        levels = catalog.GEO_LEVELS
        out |= {c.geo_field(lv) for lv in levels[levels.index(c.finest_geo) + 1:] if c.geo_field(lv)}
    return frozenset(out)


def categories(dataset: str, field: str) -> frozenset[str] | None:
    """The values a category field may hold: listed above, or the contract's ``values``."""
    known = CATEGORIES.get((dataset, field))
    if known is not None:
        return known
    values = catalog.contract(dataset).field(field).values
    return frozenset(values) if values is not None else None


def optional_fields(dataset: str) -> frozenset[str]:
    return nullable_fields(dataset) | derived_fields(dataset)


def required_fields(dataset: str) -> list[str]:
    opt = optional_fields(dataset)
    return [f for f in catalog.contract(dataset).field_names if f not in opt]


def _rows(mask: pl.Series, first_row: int) -> tuple[list[int], int]:
    idx = mask.fill_null(False).arg_true()
    return [int(i) + first_row for i in idx.head(MAX_ROWS_LISTED).to_list()], int(idx.len())


def _examples(values: pl.Series, n: int = 3) -> str:
    vals = [v for v in values.drop_nulls().unique(maintain_order=True).head(n).to_list()]
    return ", ".join(repr(v[:40]) for v in vals)


def _add(problems: list[Problem], severity: str, code: str, message: str, column: str | None,
         mask: pl.Series, first_row: int) -> None:
    rows, count = _rows(mask, first_row)
    if count:
        # Plain replacement, not str.format: the message quotes values from the file, which may
        # contain braces.
        text = message.replace("{are}", "is" if count == 1 else "are").replace("{s}", "" if count == 1 else "s")
        problems.append(Problem(severity, code, text.replace("{n}", str(count)),
                                column, rows, count))


def check_formulas(frame: pl.DataFrame, first_row: int) -> list[Problem]:
    """Cells that a spreadsheet would run as a formula or command (CSV injection)."""
    out: list[Problem] = []
    for c in frame.columns:
        s = frame.get_column(c)
        mask = s.str.contains(FORMULA_RE) & ~s.str.contains(r"^-?[0-9.,]+$")
        _add(out, "error", "formula",
             f"Column '{c}' has {{n}} cell{{s}} starting with a formula character (=, +, -, @), e.g. {_examples(s.filter(mask.fill_null(False)), 1)}: "
             "formulas are not accepted; paste values only", c, mask, first_row)
    return out


def parse_month(s: pl.Series) -> pl.Series:
    """YYYY-MM (or the first of the month as a date) -> Date; anything else -> null."""
    y = s.str.extract(MONTH_RE, 1).cast(pl.Int32, strict=False)
    m = s.str.extract(MONTH_RE, 2).cast(pl.Int32, strict=False)
    return pl.select(pl.date(y, m, 1)).to_series().alias(s.name)


def check(dataset: str, frame: pl.DataFrame, *, first_row: int = 2, lookup: pl.DataFrame | None = None,
          today: dt.date | None = None, lenient_geography: bool = False,
          source_columns: list[str] | None = None) -> list[Problem]:
    """Every problem with a mapped frame (columns named as in the contract, values as strings).

    ``lookup`` is the published geography (lsoa_code, ward_code, district_code) for membership
    checks; ``lenient_geography`` reports codes missing from it as warnings (police.uk publishes
    crimes in LSOAs outside the force area; they are kept as 'Unknown area')."""
    contract = catalog.contract(dataset)
    today = today or dt.date.today()
    problems: list[Problem] = []
    missing = [f for f in required_fields(dataset) if f not in frame.columns]
    if missing:
        problems.append(Problem("error", "missing_columns",
                                f"Missing required column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
                                + _other_dataset_hint(dataset, source_columns or frame.columns)))
    nullable = nullable_fields(dataset)
    derived = derived_fields(dataset)
    for f in contract.fields:
        if f.name not in frame.columns:
            continue
        s = frame.get_column(f.name)
        present = s.is_not_null()
        if f.name not in nullable and f.name not in derived:
            _add(problems, "error", "blank_required", f"Column '{f.name}' is blank in {{n}} row{{s}}; a value is required",
                 f.name, ~present, first_row)
        if f.type == "DATE":
            parsed = parse_month(s)
            bad = present & parsed.is_null()
            _add(problems, "error", "bad_month",
                 f"Column '{f.name}' has {{n}} value{{s}} that {{are}} not a month as YYYY-MM, e.g. {_examples(s.filter(bad))}",
                 f.name, bad, first_row)
            this_month = dt.date(today.year, today.month, 1)
            _add(problems, "error", "future_month",
                 f"Column '{f.name}' has {{n}} row{{s}} dated after this month ({this_month:%Y-%m}), e.g. "
                 f"{_examples(s.filter((parsed > this_month).fill_null(False)))}", f.name, parsed > this_month, first_row)
            _add(problems, "error", "old_month", f"Column '{f.name}' has {{n}} row{{s}} dated before 2000",
                 f.name, parsed < dt.date(2000, 1, 1), first_row)
            if contract.period_grain == "quarter" and f.name == contract.period_field:
                _add(problems, "error", "not_quarter_start",
                     f"Column '{f.name}' has {{n}} value{{s}} that {{are}} not the first month of a quarter (01, 04, 07, 10)",
                     f.name, parsed.dt.month().is_in([1, 4, 7, 10]).not_(), first_row)
        elif f.type in ("BIGINT", "INTEGER"):
            num = s.str.replace_all(r"\.0+$", "")
            bad = present & ~num.str.contains(r"^-?[0-9]{1,15}$").fill_null(False)
            _add(problems, "error", "not_whole_number",
                 f"Column '{f.name}' has {{n}} value{{s}} that {{are}} not whole numbers, e.g. {_examples(s.filter(bad))}",
                 f.name, bad, first_row)
            _add(problems, "error", "negative", f"Column '{f.name}' has {{n}} negative value{{s}}",
                 f.name, num.cast(pl.Int64, strict=False) < 0, first_row)
        elif f.type == "DOUBLE":
            bad = present & s.cast(pl.Float64, strict=False).is_null()
            _add(problems, "error", "not_number",
                 f"Column '{f.name}' has {{n}} value{{s}} that {{are}} not numbers, e.g. {_examples(s.filter(bad))}",
                 f.name, bad, first_row)
        if f.geo and f.name.endswith("_code"):
            pattern, what = GEO_PATTERNS[f.geo] if f.name == f"{f.geo}_code" else ANY_GSS
            bad = present & ~s.str.contains(pattern)
            _add(problems, "error", "bad_geo_code",
                 f"Column '{f.name}' has {{n}} value{{s}} that {{are}} not {what}, e.g. {_examples(s.filter(bad))}",
                 f.name, bad, first_row)
            if lookup is not None and f.name == f"{f.geo}_code" and dataset != "geography":
                known = lookup.get_column(f.name).drop_nulls().unique()
                unknown = present & ~bad & ~s.is_in(known.implode())
                _add(problems, "warning" if lenient_geography else "error", "unknown_geo_code",
                     f"Column '{f.name}' has {{n}} code{{s}} not in the published geography lookup, e.g. "
                     f"{_examples(s.filter(unknown.fill_null(False)))}"
                     + (" (kept as 'Unknown area')" if lenient_geography else ""), f.name, unknown, first_row)
        cats = categories(dataset, f.name)
        if cats is not None:
            unknown = present & ~s.is_in(list(cats))
            _add(problems, "error", "unknown_category",
                 f"Column '{f.name}' has {{n}} value{{s}} that {{are}} not a known category, e.g. {_examples(s.filter(unknown))}",
                 f.name, unknown, first_row)
    problems += _duplicates(dataset, frame, first_row)
    problems += _consistency(dataset, frame, first_row)
    return problems


def _duplicates(dataset: str, frame: pl.DataFrame, first_row: int) -> list[Problem]:
    out: list[Problem] = []
    contract = catalog.contract(dataset)
    if dataset == "crime" and "crime_id" in frame.columns:
        ids = frame.get_column("crime_id")
        # police.uk itself republishes some IDs (the same crime in two months): a warning only.
        _add(out, "warning", "duplicate_id", "Column 'crime_id' repeats {n} identifier{s} already used on an earlier row",
             "crime_id", ids.is_not_null() & ids.is_duplicated() & ~ids.is_first_distinct(), first_row)
    elif dataset == "geography" and "lsoa_code" in frame.columns:
        s = frame.get_column("lsoa_code")
        _add(out, "error", "duplicate_key", "LSOA code appears again on {n} row{s}: each LSOA must be listed once",
             "lsoa_code", s.is_not_null() & s.is_duplicated() & ~s.is_first_distinct(), first_row)
    elif contract.kind != "events":  # events: two identical rows are two incidents
        keys = [f.name for f in contract.fields if f.type == "VARCHAR" or f.type == "DATE"]
        keys = [k for k in keys if k in frame.columns and k not in ("area_name", "significance")]
        if keys:
            dup = frame.select(pl.struct(keys).is_duplicated() & ~pl.struct(keys).is_first_distinct()).to_series()
            _add(out, "error", "duplicate_key",
                 f"{{n}} row{{s}} repeat an earlier row's {', '.join(keys)}: each combination must appear once",
                 None, dup, first_row)
    return out


def _consistency(dataset: str, frame: pl.DataFrame, first_row: int) -> list[Problem]:
    out: list[Problem] = []
    # A count that can never exceed another (the contract's at_most): reoffenders <= offenders.
    pairs = [(f.name, f.at_most) for f in catalog.contract(dataset).fields if f.at_most]
    for part, whole in pairs:
        if part in frame.columns and whole in frame.columns:
            p = frame.get_column(part).cast(pl.Int64, strict=False)
            w = frame.get_column(whole).cast(pl.Int64, strict=False)
            _add(out, "error", "inconsistent", f"{{n}} row{{s}} have more {part} than {whole}", part, p > w, first_row)
    return out


def _other_dataset_hint(dataset: str, columns: list[str]) -> str:
    cols = {c.lower() for c in columns}
    best, score = None, 0.0
    for name, c in catalog.contracts().items():
        if name == dataset:
            continue
        fields = {f.lower() for f in c.field_names}
        s = len(fields & cols) / len(fields)
        if s > score:
            best, score = c, s
    if best is not None and score >= 0.6:
        return f". These columns look like the {best.name} dataset ({best.title}, owned by {best.owner})."
    return ""


# ---- boundaries (GeoJSON) -----------------------------------------------------------------

BOUNDARY_LEVELS = ("lsoa", "ward", "district")


def check_boundaries(level: str, data: bytes, name: str, known_codes: set[str] | None = None
                     ) -> tuple[dict | None, list[Problem]]:
    """Validate a boundary GeoJSON for one geography level and normalise it to the form the maps
    read (properties: code and name only). Returns (normalised FeatureCollection or None, problems)."""
    import json

    if level not in BOUNDARY_LEVELS:
        return None, [Problem("error", "bad_level", f"Boundary level must be one of {', '.join(BOUNDARY_LEVELS)}.")]
    try:
        fc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return None, [Problem("error", "unreadable", f"{name} is not GeoJSON (it could not be read as JSON).")]
    feats = fc.get("features") if isinstance(fc, dict) else None
    if not isinstance(feats, list) or fc.get("type") != "FeatureCollection":
        return None, [Problem("error", "unreadable", f"{name} is not a GeoJSON FeatureCollection.")]
    if not feats:
        return None, [Problem("error", "unreadable", f"{name} has no features.")]
    pattern = re.compile(GEO_PATTERNS[level][0])
    props = [f.get("properties") or {} for f in feats if isinstance(f, dict)]
    # The code property: the one whose values all look like this level's codes.
    candidates = [k for k in props[0] if all(isinstance(p.get(k), str) and pattern.match(p.get(k, "")) for p in props)]
    if len(props) != len(feats) or not candidates:
        return None, [Problem("error", "no_code_property",
                              f"{name}: no property holds {GEO_PATTERNS[level][1]} for every feature.")]
    code_key = candidates[0]
    name_key = next((k for k in props[0] if k.lower().endswith("nm") or k.lower() in ("name", f"{level}_name")), None)
    problems: list[Problem] = []
    out, seen, bad_geom, bad_coords = [], set(), [], []
    for i, f in enumerate(feats, start=1):
        code = f["properties"][code_key]
        geom = f.get("geometry") or {}
        if geom.get("type") not in ("Polygon", "MultiPolygon"):
            bad_geom.append(i)
            continue
        flat = _flatten(geom.get("coordinates"))
        if not flat or any(not (-180 <= x <= 180 and -90 <= y <= 90) for x, y in flat):
            bad_coords.append(i)
            continue
        if code in seen:
            problems.append(Problem("error", "duplicate_key", f"Code {code} appears in more than one feature", None, [i], 1))
        seen.add(code)
        out.append({"type": "Feature", "geometry": geom,
                    "properties": {"code": code, "name": str(f["properties"].get(name_key) or code)}})
    if bad_geom:
        problems.append(Problem("error", "bad_geometry", f"{len(bad_geom)} feature(s) are not polygons",
                                None, bad_geom[:MAX_ROWS_LISTED], len(bad_geom)))
    if bad_coords:
        problems.append(Problem("error", "bad_coordinates",
                                f"{len(bad_coords)} feature(s) have coordinates outside longitude/latitude: "
                                "save the file in WGS84 (EPSG:4326), not British National Grid",
                                None, bad_coords[:MAX_ROWS_LISTED], len(bad_coords)))
    if known_codes is not None:
        unknown = sorted(seen - known_codes)
        if unknown:
            problems.append(Problem("warning", "unknown_geo_code",
                                    f"{len(unknown)} code(s) are not in the published geography lookup, e.g. {', '.join(unknown[:3])}",
                                    None, [], len(unknown)))
    return {"type": "FeatureCollection", "features": out}, problems


def _flatten(coords) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []

    def walk(c):
        if isinstance(c, (list, tuple)) and len(c) >= 2 and all(isinstance(v, (int, float)) for v in c[:2]):
            out.append((float(c[0]), float(c[1])))
        elif isinstance(c, (list, tuple)):
            for x in c:
                walk(x)
    walk(coords)
    return out
