"""Importers: raw data.police.uk street-level CSVs and the LSOA -> ward -> district lookup.

Everything is validated before anything is published: a bad file stops the whole import with a
message naming the file and the problem, and the published data stays exactly as it was.
Files are validated and staged one at a time, so an import's memory does not grow with its size
(10M rows: 1.2 GB peak, was 11 GB; docs/performance.md).

police.uk quirks handled (see docs/police_uk.md):
- ``Crime ID`` is blank before 2011-12 and for every ASB row: kept as null, never used as a key.
- Rows with no LSOA (or an LSOA missing from the lookup) are kept, with no ward/district: they
  count in force totals under "Unknown area".
- The taxonomy changed in 2011-09 and 2013-05: ``crime_type`` keeps what police.uk published that
  month; ``crime_category`` harmonises the one straight rename ("Violent crime" became "Violence
  and sexual offences") so long series line up.
- Re-importing a month replaces that month; giving the same file twice in one import counts once.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from . import config, store
from .geography import layouts as _geo_layouts

POLICE_UK_HEADER = [
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
]
ASB = "Anti-social behaviour"
CATEGORY_RENAMES = {"Violent crime": "Violence and sexual offences"}
UNKNOWN_AREA = "Unknown area"


class IngestError(ValueError):
    """The input cannot be imported. The message names the file and the problem."""


@dataclass
class ImportReport:
    files: list[str] = field(default_factory=list)
    skipped_duplicates: list[str] = field(default_factory=list)
    months: list[str] = field(default_factory=list)
    crime_rows: int = 0
    asb_rows: int = 0
    no_lsoa_rows: int = 0
    unmatched_lsoa_rows: int = 0
    versions: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"Imported {len(self.files)} file(s), months {self.months[0]}..{self.months[-1]}: "
            f"{self.crime_rows:,} crimes, {self.asb_rows:,} ASB incidents; "
            f"{self.no_lsoa_rows:,} rows with no LSOA and {self.unmatched_lsoa_rows:,} with an LSOA "
            f"not in the lookup are kept as '{UNKNOWN_AREA}'. "
            + (f"Skipped {len(self.skipped_duplicates)} duplicate file(s). " if self.skipped_duplicates else "")
            + "Published: " + ", ".join(f"{k} {v}" for k, v in self.versions.items())
        )


def collect_files(paths: list[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(x for x in p.rglob("*") if x.is_file() and x.suffix.lower() == ".csv")
            if not found:
                raise IngestError(f"{p}: folder has no .csv files")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise IngestError(f"{p}: no such file or folder")
    return files


def _sniff(path: Path) -> None:
    """Reject files that are not text CSV before parsing them (clear message, no traceback)."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head:
        raise IngestError(f"{path.name}: the file is empty")
    if head.startswith(b"PK\x03\x04"):
        raise IngestError(f"{path.name}: this is a zip/XLSX file, not a CSV; unzip it or save as CSV")
    if b"\x00" in head:
        raise IngestError(f"{path.name}: this is a binary file, not a CSV")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # a multi-byte char cut at the 4 KiB boundary is fine
            raise IngestError(f"{path.name}: not UTF-8 text (police.uk files are UTF-8)") from None


def read_police_uk(path: Path) -> pl.DataFrame:
    _sniff(path)
    try:
        df = pl.read_csv(path, infer_schema=False, encoding="utf8", raise_if_empty=True,
                         truncate_ragged_lines=False)
    except Exception as e:  # polars' messages are long; keep the first line
        raise IngestError(f"{path.name}: could not be read as CSV ({str(e).splitlines()[0]})") from None
    cols = [c.lstrip("\ufeff").strip() for c in df.columns]
    if cols != POLICE_UK_HEADER:
        missing = [c for c in POLICE_UK_HEADER if c not in cols]
        extra = [c for c in cols if c not in POLICE_UK_HEADER]
        detail = "; ".join(
            x for x in (
                f"missing {', '.join(missing)}" if missing else "",
                f"unexpected {', '.join(extra[:5])}" if extra else "",
                "columns in a different order" if not missing and not extra else "",
            ) if x
        )
        raise IngestError(f"{path.name}: not a police.uk street-level file: {detail}")
    df.columns = cols
    if df.height == 0:
        raise IngestError(f"{path.name}: header only, no rows")
    bad = df.filter(~pl.col("Month").fill_null("").str.contains(r"^\d{4}-(0[1-9]|1[0-2])$"))
    if bad.height:
        row = df.with_row_index().filter(
            ~pl.col("Month").fill_null("").str.contains(r"^\d{4}-(0[1-9]|1[0-2])$")
        )["index"][0] + 2
        raise IngestError(f"{path.name}: {bad.height} row(s) with a bad Month (first at line {row}); expected YYYY-MM")
    if df["Crime type"].fill_null("").str.strip_chars().eq("").any():
        raise IngestError(f"{path.name}: rows with no Crime type")
    return df


def _lookup_files() -> list[str]:
    geo = store.current("geography")
    if geo is None:
        raise IngestError(
            "No geography lookup is published yet: run `python -m csp import lookup FILE` first, "
            "so crimes can be placed in wards and districts."
        )
    return geo.files


def _normalise(raw: pl.DataFrame) -> pl.DataFrame:
    """The staged columns: trimmed, blanks as null, month as a date, harmonised category."""
    blank = lambda c: pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c).str.strip_chars())
    return raw.select(
        pl.col("Month").str.to_date("%Y-%m").alias("month"),
        blank("Crime ID").alias("crime_id"),
        blank("Falls within").alias("falls_within"),
        blank("Location").alias("location"),
        blank("LSOA code").alias("lsoa_code"),
        pl.col("Crime type").str.strip_chars().alias("crime_type"),
        blank("Last outcome category").alias("outcome"),
    ).with_columns(
        pl.col("crime_type").replace(CATEGORY_RENAMES).alias("crime_category")
    )


def stage_police_uk(files: list[Path], stage_dir: Path,
                    report: ImportReport) -> tuple[list[str], dict[str, Path]]:
    """Validate and normalise each file on its own and write it to ``stage_dir`` as Parquet.

    One file's rows are in memory at a time (a police.uk file is one force-month), so memory no
    longer grows with the size of the import; the counts are accumulated into ``report``.
    Raises IngestError at the first bad file, before anything is published.
    """
    staged: list[str] = []
    seen: dict[str, Path] = {}
    months: set = set()
    for f in files:
        digest = store.file_checksum(f)
        if digest in seen:
            report.skipped_duplicates.append(f"{f} (same as {seen[digest]})")
            continue
        seen[digest] = f
        rows = _normalise(read_police_uk(f))
        months.update(rows["month"].unique().to_list())
        report.no_lsoa_rows += int(rows["lsoa_code"].is_null().sum())
        asb = int((rows["crime_type"] == ASB).sum())
        report.asb_rows += asb
        report.crime_rows += rows.height - asb
        out = stage_dir / f"{len(staged):06d}.parquet"
        rows.write_parquet(out, compression="uncompressed")  # read once, soon deleted
        staged.append(str(out))
        report.files.append(str(f))
        del rows
    report.months = sorted(d.strftime("%Y-%m") for d in months)
    return staged, seen


def import_police_uk(paths: list[str | Path], published_by: str = "cli") -> ImportReport:
    files = collect_files(paths)
    if not files:
        raise IngestError("no police.uk files given")
    lookup = _lookup_files()
    report = ImportReport()
    stage_dir = config.data_dir() / "tmp" / f"police-uk-{uuid.uuid4().hex}"
    stage_dir.mkdir(parents=True)
    try:
        staged, seen = stage_police_uk(files, stage_dir, report)
        cur = store.cursor()
        try:
            report.unmatched_lsoa_rows = cur.execute(
                "SELECT count(*) FROM read_parquet($new) n WHERE lsoa_code IS NOT NULL AND "
                "lsoa_code NOT IN (SELECT lsoa_code FROM read_parquet($geo))",
                {"new": staged, "geo": lookup},
            ).fetchone()[0]
        finally:
            cur.close()
        months = [dt.date.fromisoformat(m + "-01") for m in report.months]
        # The publish sorts spill to disk beyond DuckDB's memory limit (csp.store.connection).
        _publish_police_uk(report, staged, seen, lookup, months, published_by)
    finally:
        shutil.rmtree(stage_dir, ignore_errors=True)
    return report


def _publish_police_uk(report: ImportReport, staged: list[str], seen: dict[str, Path],
                       lookup: list[str], months: list[dt.date], published_by: str) -> None:
    # Crime and ASB come from the same files: both are served from the new version, or neither
    # (one atomic change; a kill between the two publishes used to leave them on different files).
    with store.atomic(("crime", "asb"), by=published_by) as change:
        _publish_both(report, staged, seen, lookup, months, published_by)
    report.versions = {n: change.versions[n].version for n in ("crime", "asb")}


def _publish_both(report: ImportReport, staged: list[str], seen: dict[str, Path],
                  lookup: list[str], months: list[dt.date], published_by: str) -> None:
    for name, is_asb in (("crime", False), ("asb", True)):
        new_sql = (
            "SELECT n.*, g.ward_code, g.district_code FROM read_parquet($new) n "
            "LEFT JOIN read_parquet($geo) g USING (lsoa_code) WHERE "
            + ("n.crime_type = $asb" if is_asb else "n.crime_type <> $asb")
        )
        params = {"new": staged, "geo": lookup, "asb": ASB}
        old = store.current(name)
        if old is not None:
            sql = (
                f"SELECT * FROM read_parquet($old) WHERE month NOT IN (SELECT unnest($months)) "
                f"UNION ALL BY NAME ({new_sql})"
            )
            params |= {"old": old.files, "months": months}
        else:
            sql = new_sql
        v = store.publish(
            name, relation_sql=sql, params=params, published_by=published_by,
            source="police.uk street-level: " + ", ".join(Path(f).name for f in report.files[:5])
            + (f" and {len(report.files) - 5} more" if len(report.files) > 5 else ""),
            source_checksum=hashlib.sha256("".join(sorted(seen)).encode()).hexdigest(),
            validation={"months_replaced": [m for m in report.months],
                        "rows_without_lsoa": report.no_lsoa_rows,
                        "rows_with_unknown_lsoa": int(report.unmatched_lsoa_rows)},
        )
        report.versions[name] = v.version


# ---- geography lookup: moved to csp.geography; these wrappers keep the old names working ----

LOOKUP_ALIASES = _geo_layouts.LOOKUP_ALIASES


def import_lookup(path: str | Path | list, published_by: str = "cli", ward_codes: str | Path | None = None):
    """``python -m csp import lookup A.csv [B.csv]`` (csp.geography.import_lookup): returns the
    geography version published."""
    from . import geography

    try:
        out = geography.import_lookup(path if isinstance(path, list) else [path], published_by, ward_codes)
    except geography.GeographyError as e:
        raise IngestError(str(e)) from None
    return store.current("geography") if "geography" in out.versions else None


def regeocode(published_by: str = "cli") -> dict[str, str]:
    """Re-derive ward and district codes of published police data from the current lookup."""
    from . import geography

    return geography.regeocode(published_by)
