"""Upload test material: a corpus of bad files (each with the message it must get), good files in
every accepted format, and the publisher the kill test runs in a subprocess.

Files are generated here rather than stored, so each one shows what is wrong with it.
"""
from __future__ import annotations

import gzip
import io
import random
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import polars as pl

CRIME_HEADER = "month,crime_id,falls_within,location,lsoa_code,crime_type,outcome"
REOFF_HEADER = "cohort_quarter,district_code,age_group,cohort_type,cohort_group,offenders,reoffenders,reoffences"
# Codes of the tiny area in conftest.py.
L1, L2, L3, D1 = "E01000901", "E01000902", "E01000903", "E07000901"


def crime_rows(n: int = 6, month: str = "2024-03") -> list[str]:
    lsoas = [L1, L2, L3]
    types = ["Burglary", "Drugs", "Robbery"]
    return [f"{month},up{i:04d},Tiny Police,On or near High Street,{lsoas[i % 3]},{types[i % 3]},Under investigation"
            for i in range(n)]


def crime_csv(rows: list[str] | None = None, header: str = CRIME_HEADER, eol: str = "\n") -> bytes:
    rows = crime_rows() if rows is None else rows
    return (eol.join([header, *rows]) + eol).encode()


def with_extra(column: str, values: list[str]) -> bytes:
    """A valid crime file plus one extra column holding ``values`` (the rest blank)."""
    rows = crime_rows(max(6, len(values)))
    vals = ['"' + v.replace('"', '""') + '"' for v in values] + [""] * (len(rows) - len(values))
    return crime_csv([f"{r},{v}" for r, v in zip(rows, vals)], header=f"{CRIME_HEADER},{column}")


def reoff_csv(rows: list[str]) -> bytes:
    return ("\n".join([REOFF_HEADER, *rows]) + "\n").encode()


REOFF_OK = [f"2024-01,{D1},adult,custody,other,40,12,30", f"2024-01,{D1},adult,caution,other,25,5,9"]


def xlsx_bytes(rows: list[list], formula_cell: str | None = None, sheets: int = 1) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    if formula_cell:
        ws[formula_cell] = "=SUM(1,2)"
    for i in range(1, sheets):
        wb.create_sheet(f"Notes {i}")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def crime_table() -> list[list]:
    return [CRIME_HEADER.split(",")] + [r.split(",") for r in crime_rows()]


def parquet_bytes(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_parquet(buf)
    return buf.getvalue()


def nhs_number(first9: str) -> str:
    total = sum(int(d) * w for d, w in zip(first9, range(10, 1, -1)))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    assert check != 10
    return first9 + str(check)


class Nonsense:
    """1 GB of random bytes as a stream: generated on demand, never written anywhere. Counts what
    was read so a test can show the reader stopped at the limit."""

    def __init__(self, total: int = 1_000_000_000, chunk: int = 1 << 20):
        self.total, self.chunk, self.served = total, chunk, 0
        self._rng = random.Random(4)

    def __iter__(self) -> Iterator[bytes]:
        while self.served < self.total:
            n = min(self.chunk, self.total - self.served)
            self.served += n
            yield self._rng.randbytes(n)


@dataclass
class BadFile:
    name: str
    data: bytes | Callable[[], object]
    code: str  # Problem.code expected ("pii:<kind>" for a personal-data finding)
    text: str  # a phrase the message must contain
    dataset: str = "crime"
    user: str = "analyst.police"
    filename: str | None = None
    mapping: dict | None = None

    @property
    def file_name(self) -> str:
        return self.filename or f"{self.name}.csv"


def _truncated_xlsx() -> bytes:
    data = xlsx_bytes(crime_table())
    return data[: len(data) // 2]


def _truncated_parquet() -> bytes:
    data = parquet_bytes(pl.DataFrame({"month": ["2024-03"] * 50, "crime_type": ["Burglary"] * 50}))
    return data[: len(data) - 40]


def _zip_of_csv() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("crime-2024-03.csv", crime_csv())
    return buf.getvalue()


VALID_NHS = nhs_number("943476591")

BAD_FILES: list[BadFile] = [
    # -- cannot be read at all
    BadFile("empty", b"", "unreadable", "is empty"),
    BadFile("blank_lines", b"\n\n  \r\n", "unreadable", "is empty"),
    BadFile("header_only", crime_csv([]), "unreadable", "header row but no data rows"),
    BadFile("truncated_row", crime_csv()[:-30].rstrip(b"\n"), "unreadable", "looks truncated"),
    BadFile("truncated_quote", crime_csv() + b'2024-03,x,Tiny Police,"On or near Hi', "unreadable", "quoted value never ends"),
    BadFile("truncated_utf8", crime_csv(crime_rows(2) + ["2024-03,x,Tiny,On or near Caf\u00e9"]).rstrip(b"\n")[:-1],
            "unreadable", "middle of a character"),
    BadFile("semicolons", crime_csv().replace(b",", b";"), "unreadable", "semicolons"),
    BadFile("tabs", crime_csv().replace(b",", b"\t"), "unreadable", "tabs"),
    BadFile("pipes", crime_csv().replace(b",", b"|"), "unreadable", "vertical bars"),
    BadFile("utf16", crime_csv().decode().encode("utf-16"), "unreadable", "UTF-16"),
    BadFile("not_cp1252", crime_csv(crime_rows(2) + ["2024-03,x,Tiny,\x81\x8d bad bytes \xc3"]).replace(b"\xc2\x81\xc2\x8d", b"\x81\x8d"),
            "unreadable", "not UTF-8 or Windows-1252"),
    BadFile("zip_as_csv", _zip_of_csv(), "unreadable", "zip archive"),
    BadFile("gzip_as_csv", gzip.compress(crime_csv()), "unreadable", "gzip"),
    BadFile("xls_97", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "unreadable", ".xls"),
    BadFile("pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "unreadable", "PDF"),
    BadFile("html_error_page", b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "unreadable", "web page"),
    BadFile("json", b'{"type": "FeatureCollection", "features": []}', "unreadable", "JSON"),
    BadFile("binary_nonsense", bytes(random.Random(1).randbytes(5000)), "unreadable", "binary"),
    BadFile("nonsense_1gb", lambda: Nonsense(), "unreadable", "larger than the upload limit"),
    BadFile("truncated_xlsx", _truncated_xlsx(), "unreadable", "damaged or incomplete Excel", filename="crime.xlsx"),
    BadFile("truncated_parquet", _truncated_parquet(), "unreadable", "incomplete Parquet", filename="crime.parquet"),
    BadFile("ragged_rows", crime_csv(crime_rows(4) + ["2024-03,y,Tiny Police,On or near Mill Lane, Eastgate,E01000901,Drugs,"]),
            "unreadable", "do not have the header's 7 columns"),
    BadFile("duplicate_header", crime_csv(header=CRIME_HEADER.replace("outcome", "month")), "unreadable", "more than once"),
    BadFile("unnamed_column", crime_csv([r + ",x" for r in crime_rows()], header=CRIME_HEADER + ","), "unreadable", "no name"),
    BadFile("xlsx_empty_sheet", xlsx_bytes([]), "unreadable", "is empty", filename="crime.xlsx"),
    # -- read, but wrong
    BadFile("missing_column", crime_csv([r.rsplit(",", 2)[0] + ",x" for r in crime_rows()],
                                        header="month,crime_id,falls_within,location,lsoa_code,outcome"),
            "missing_columns", "Missing required column: crime_type"),
    BadFile("bad_month", crime_csv(crime_rows(3) + [r.replace("2024-03", "March 2024") for r in crime_rows(2)]),
            "bad_month", "not a month as YYYY-MM"),
    BadFile("future_month", crime_csv(crime_rows(3) + crime_rows(2, month="2099-01")), "future_month", "after this month"),
    BadFile("ancient_month", crime_csv(crime_rows(2, month="1899-12")), "old_month", "before 2000"),
    BadFile("blank_crime_type", crime_csv(crime_rows(3) + [r.replace(",Burglary,", ",,") for r in crime_rows(1)]),
            "blank_required", "is blank in 1 row"),
    BadFile("bad_lsoa_pattern", crime_csv(crime_rows(3) + [r.replace(L1, "E0100090") for r in crime_rows(1)]),
            "bad_geo_code", "not an LSOA code"),
    BadFile("unknown_crime_type", crime_csv(crime_rows(3) + [r.replace("Burglary", "Burglery") for r in crime_rows(1)]),
            "unknown_category", "'Burglery'"),
    BadFile("asb_in_crime", crime_csv(crime_rows(3) + [r.replace("Burglary", "Anti-social behaviour") for r in crime_rows(1)]),
            "unknown_category", "Anti-social behaviour"),
    BadFile("formula_csv", with_extra("notes", ['=HYPERLINK("http://evil.example","click")']), "formula", "formula character"),
    BadFile("formula_at", crime_csv([r.replace("On or near High Street", "@SUM(A1:A9)") for r in crime_rows(2)]), "formula", "formula"),
    BadFile("formula_xlsx", xlsx_bytes(crime_table(), formula_cell="D3"), "formula", "formula character", filename="crime.xlsx"),
    BadFile("bad_mapping", crime_csv(), "bad_mapping", "not a field of crime", mapping={"outcome": "result"}),
    BadFile("mapping_no_column", crime_csv(), "bad_mapping", "has no column 'Offence'", mapping={"Offence": "crime_type"}),
    # -- another partner's data
    BadFile("other_partner_dataset", reoff_csv(REOFF_OK), "access", "belongs to the probation partner", dataset="reoffending"),
    BadFile("other_partner_content", reoff_csv(REOFF_OK), "missing_columns", "look like the reoffending dataset"),
    # -- probation's aggregate data
    BadFile("reoff_not_number", reoff_csv(REOFF_OK + [f"2024-01,{D1},juvenile,custody,other,forty,3,4"]),
            "not_whole_number", "'forty'", dataset="reoffending", user="analyst.probation"),
    BadFile("reoff_negative", reoff_csv(REOFF_OK + [f"2024-01,{D1},juvenile,custody,other,-4,3,4"]),
            "negative", "negative", dataset="reoffending", user="analyst.probation"),
    BadFile("reoff_inconsistent", reoff_csv(REOFF_OK + [f"2024-01,{D1},juvenile,custody,other,4,9,12"]),
            "inconsistent", "more reoffenders than offenders", dataset="reoffending", user="analyst.probation"),
    BadFile("reoff_duplicate", reoff_csv(REOFF_OK + REOFF_OK[:1]), "duplicate_key", "repeat an earlier row",
            dataset="reoffending", user="analyst.probation"),
    BadFile("reoff_not_quarter", reoff_csv([r.replace("2024-01", "2024-02") for r in REOFF_OK]), "not_quarter_start",
            "first month of a quarter", dataset="reoffending", user="analyst.probation"),
    BadFile("reoff_unknown_district", reoff_csv(REOFF_OK + ["2024-01,E07000999,juvenile,custody,other,4,1,1"]),
            "unknown_geo_code", "not in the published geography lookup", dataset="reoffending", user="analyst.probation"),
    BadFile("reoff_ward_as_district", reoff_csv(REOFF_OK + ["2024-01,E05000901,juvenile,custody,other,4,1,1"]),
            "bad_geo_code", "not a district code", dataset="reoffending", user="analyst.probation"),
    BadFile("reoff_unknown_category", reoff_csv(REOFF_OK + [f"2024-01,{D1},elderly,custody,other,4,1,1"]),
            "unknown_category", "'elderly'", dataset="reoffending", user="analyst.probation"),
    # -- personal data, one file per kind
    BadFile("pii_nhs", with_extra("notes", [f"seen at A&E, NHS {VALID_NHS}"]), "pii:nhs_number", "NHS number"),
    BadFile("pii_nhs_column", with_extra("ref", [VALID_NHS, nhs_number("401023213")]), "pii:nhs_number", "NHS numbers"),
    BadFile("pii_ni", with_extra("notes", ["NI number JT 12 34 56 C given"]), "pii:ni_number", "National Insurance"),
    BadFile("pii_postcode", with_extra("postcode", ["LN1 3AB", "LN2 4DF"]), "pii:postcode_full", "full postcodes"),
    BadFile("pii_dob", with_extra("date_of_birth", ["1990-03-12", "12/07/1985"]), "pii:dob_column", "dates of birth"),
    BadFile("pii_exact_date", with_extra("incident_date", ["2024-03-12", "2024-03-17"]), "pii:exact_date", "exact (day-level) dates"),
    BadFile("pii_email", with_extra("notes", ["contact jo.bloggs@example.com"]), "pii:email", "email address"),
    BadFile("pii_phone", with_extra("notes", ["ring 07700 900123 after 6"]), "pii:phone", "phone number"),
    BadFile("pii_pnc", with_extra("notes", ["PNC 12/345678X on file"]), "pii:pnc_id", "Police National Computer"),
    BadFile("pii_cro", with_extra("notes", ["CRO 123456/12A"]), "pii:cro_number", "Criminal Records Office"),
    BadFile("pii_name_text", with_extra("notes", ["Victim John Smith said the door was forced"]), "pii:person_name", "person's name"),
    BadFile("pii_surname_column", with_extra("surname", ["Smith", "Jones"]), "pii:name_column", "people's names"),
    BadFile("pii_house_number", crime_csv([r.replace("On or near High Street", "12 Acacia Avenue") for r in crime_rows(3)]),
            "pii:house_number", "house numbers"),
]


# ---- hostile files (issue 14, findings 1 and 7): small files describing huge tables -------------

_XLSX_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.'
    'xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
    'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.worksheet+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
    '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.'
    'org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
}


def declared_xlsx(ref: str, rows_held: int = 8_000) -> bytes:
    """A minimal workbook (about 1.5 KB: its XML compresses a thousandfold) holding a crime header,
    one crime row and ``rows_held`` - 2 rows of one small cell, whose sheet declares its size as
    ``ref`` (e.g. A1:XFD8000: 16,384 columns by 8,000 rows). A reader that pads every row to the
    declared width holds 16,384 cells per row."""
    cells = "".join(f'<c r="{chr(65 + i)}{{r}}" t="inlineStr"><is><t>{{v{i}}}</t></is></c>' for i in range(7))
    header = CRIME_HEADER.split(",")
    row = crime_rows(1)[0].split(",")
    rows = "".join(f'<row r="{r}">' + cells.replace("{r}", str(r)).format(**{f"v{i}": v for i, v in enumerate(vals)})
                   + "</row>" for r, vals in ((1, header), (2, row)))
    rows += "<row><c><v>1</v></c></row>" * (rows_held - 2)
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             f'spreadsheetml/2006/main"><dimension ref="{ref}"/><sheetData>{rows}</sheetData></worksheet>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in {**_XLSX_PARTS, "xl/worksheets/sheet1.xml": sheet}.items():
            z.writestr(name, text)
    return buf.getvalue()


def many_rows_parquet(rows: int = 20_000_000) -> bytes:
    """About 100 KB of Parquet holding ``rows`` rows of month and crime type (one repeated value
    each: compressed to almost nothing)."""
    frame = pl.select(pl.repeat("2024-03", rows).alias("month"), pl.repeat("Burglary", rows).alias("crime_type"))
    return parquet_bytes(frame)


def wide_csv(columns: int = 1_000_000) -> bytes:
    """About 10 MB: a header naming ``columns`` columns and one row of values."""
    return ("\n".join([",".join(f"c{i}" for i in range(columns)), ",".join("1" for _ in range(columns))]) + "\n").encode()


def odd_parquet(kind: str) -> bytes:
    """A crime file with one column of a type no upload may hold."""
    import datetime as dt

    base = pl.DataFrame([dict(zip(CRIME_HEADER.split(","), r.split(","))) for r in crime_rows(3)])
    odd = {"list": pl.Series("tags", [[1, 2], [3], []]),
           "struct": pl.Series("where", [{"x": 1, "y": 2}] * 3),
           "duration": pl.Series("took", [dt.timedelta(hours=h) for h in (1, 2, 3)]),
           "binary": pl.Series("blob", [b"\x00\x01", b"\xff", b""]),
           "array": pl.Series("pair", [[1, 2], [3, 4], [5, 6]], dtype=pl.Array(pl.Int64, 2))}[kind]
    return parquet_bytes(base.with_columns(odd))


# ---- the kill test's publisher: run as a script in a subprocess ------------------------------


def big_crime_csv(month_rows: int, months: list[str], tag: str) -> bytes:
    rows = []
    for m in months:
        rows += [f"{m},{tag}{m}{i:06d},Tiny Police,On or near High Street,{(L1, L2, L3)[i % 3]},"
                 f"{('Burglary', 'Drugs', 'Robbery')[i % 3]},Under investigation" for i in range(month_rows)]
    return crime_csv(rows)


def police_uk_csv(month_rows: int, months: list[str], tag: str, asb_every: int = 3) -> bytes:
    """A raw police.uk street-level file: every ``asb_every``-th row is anti-social behaviour."""
    header = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
              "LSOA name,Crime type,Last outcome category,Context")
    rows = []
    for m in months:
        for i in range(month_rows):
            asb = i % asb_every == 0
            rows.append(f"{'' if asb else f'{tag}{m}{i:06d}'},{m},Tiny Police,Tiny Police,-0.5,53.2,"
                        f"On or near Mill Lane,{(L1, L2, L3)[i % 3]},Tiny 001A,"
                        f"{'Anti-social behaviour' if asb else ('Burglary', 'Drugs')[i % 2]},"
                        f"{'' if asb else 'Under investigation'},")
    return ("\n".join([header, *rows]) + "\n").encode()


def publish_forever(files: list[str]) -> None:
    from csp import upload

    i = 0
    while True:
        f = files[i % len(files)]
        plan = upload.prepare("crime", Path(f), f)
        upload.publish(plan, "killtest")
        i += 1


if __name__ == "__main__":
    # python tests/upload_fixtures.py FILE_A FILE_B: import the app, say "ready", wait for a line
    # on stdin, then publish A and B alternately until the test kills this process. (Waiting lets
    # the test start the next publisher's ~1 s import while the current one is being killed.)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from csp import sandbox, upload  # noqa: F401

    sandbox.warm()  # the upload reader's helper starts here, not inside the window being killed
    print("ready", flush=True)
    sys.stdin.readline()
    publish_forever(sys.argv[1:])
