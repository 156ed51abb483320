"""The import commands: lookups (one or two files), a best-fit build from boundaries, population.

Each reads and checks every input, computes every table, and only then publishes (csp.geography.
publish); any problem raises GeographyError with a message saying what to do, and nothing changes.
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import polars as pl

from .. import store, validate
from . import boundaries, layouts
from . import population as pop_mod
from . import publish as pub
from .build import Built, Sources, build
from .errors import GeographyError

CLI_MAX_BYTES = 1_000_000_000  # lookups and population tables are a few MB; national ones tens


def read_file(path: str | Path, max_bytes: int = CLI_MAX_BYTES) -> tuple[pl.DataFrame, str, str]:
    """A CSV or XLSX as strings (blanks null), its file name and its SHA-256."""
    path = Path(path)
    if not path.is_file():
        raise GeographyError(f"{path}: no such file")
    try:
        data = validate.read_limited(path, max_bytes)
        digest = hashlib.sha256(data).hexdigest()
        fast = _fast_csv(data, path)
        if fast is not None:
            return fast, path.name, digest
        table = validate.read_table(data, path.name)
    except validate.ReadError as e:
        raise GeographyError(str(e)) from None
    return table.frame, path.name, digest


def _fast_csv(data: bytes, path: Path) -> pl.DataFrame | None:
    """A plain UTF-8 CSV read by Polars (national lookups are tens of thousands of rows); anything
    else, or anything Polars stumbles on, goes through the upload reader and its messages."""
    if path.suffix.lower() != ".csv" or data[:4] in (b"PK\x03\x04", b"PAR1"):
        return None
    try:
        data.decode("utf-8")
        frame = pl.read_csv(io.BytesIO(data), infer_schema=False, raise_if_empty=True)
    except Exception:  # noqa: BLE001 - any trouble: the careful reader says what it is
        return None
    cols = [c.lstrip("\ufeff").strip() for c in frame.columns]
    if (frame.height == 0 or not all(cols) or len({c.lower() for c in cols}) != len(cols)
            or any(c.startswith("^") and c.endswith("$") for c in cols)):
        return None
    return layouts._clean(frame.rename(dict(zip(frame.columns, cols))))


def _checksum(parts: list[str]) -> str:
    return hashlib.sha256("".join(parts).encode()).hexdigest()


def sources_from_tables(tables: list[tuple[pl.DataFrame, str]], ward_codes: tuple[pl.DataFrame, str] | None = None,
                        explicit: dict[str, str] | None = None,
                        fallback_wards: pl.DataFrame | None = None) -> Sources:
    """Sort lookup tables by layout: LSOA -> ward files, ward -> district files (the second of a
    two-file lookup), an LSOA11 -> LSOA21 lookup. ``fallback_wards``: ward -> district pairs to
    complete a lookup with no district column when no file gives them (the published geography)."""
    src = Sources()
    wards_parts: list[tuple[pl.DataFrame, str]] = []
    lsoa_tables = []
    for frame, name in tables:
        k = layouts.kind(frame.columns) if not explicit else "lsoa_ward"
        if k == "lsoa_ward":
            lsoa_tables.append((frame, name))
        elif k == "ward_district":
            wards_parts.append((layouts.read_ward_districts(frame, name), name))
        elif k == "lsoa11_lsoa21":
            if src.lsoa11_21 is not None:
                raise GeographyError(f"{name}: give one LSOA11 -> LSOA21 lookup")
            src.lsoa11_21 = layouts.read_lsoa11_lsoa21(frame, name)
        else:
            layouts.read_lsoa_lookup(frame, name)  # raises "not an LSOA lookup" with what it found
    if ward_codes is not None:
        wards_parts.append((layouts.read_ward_districts(*ward_codes), ward_codes[1]))
    if wards_parts:
        src.ward_districts = pl.concat([w for w, _ in wards_parts]).unique("ward_code", keep="first", maintain_order=True)
        src.ward_districts_name = " and ".join(n for _, n in wards_parts)
    for frame, name in lsoa_tables:
        lk = layouts.read_lsoa_lookup(frame, name, explicit)
        wards, wname = src.ward_districts, src.ward_districts_name
        if wards is None and fallback_wards is not None:
            wards, wname = fallback_wards, "the published geography"
        src.lookups.append(layouts.complete_districts(lk, wards, wname))
    return src


def _population_of(src: Sources) -> tuple[list[pl.DataFrame], list[str]]:
    frames, notes = [], []
    for lk in src.lookups:
        notes += [f"{lk.name}: {n}" for n in lk.notes]
        p = pop_mod.from_lookup(lk)
        if p is not None:
            frames.append(p.frame)
            notes += [f"population {n}" for n in p.notes]
    return frames, notes


def _finish(built: Built, pops: list[pl.DataFrame], notes: list[str], published_by: str, source: str,
            checksum: str) -> pub.Published:
    frames = pub.prepare(built.frame, pops)
    summary = _describe(built.frame)
    out = pub.write(frames, published_by, source, checksum,
                    validation={"notes": notes + built.notes, "summary": summary})
    out.notes = [summary] + notes + built.notes
    return out


def _describe(geo: pl.DataFrame) -> str:
    by_v = geo.group_by("lsoa_vintage").len().sort("lsoa_vintage")
    replaced = geo.filter(pl.col("lsoa_code") != pl.col("current_lsoa_code")).height
    return (f"{geo.height:,} LSOA codes ("
            + ", ".join(f"{n:,} {v}" for v, n in by_v.iter_rows()) + f"); {replaced:,} replaced in 2021 and "
            f"placed in a current LSOA; {geo['ward_code'].n_unique():,} wards, "
            f"{geo['district_code'].n_unique():,} districts")


def import_lookup(paths: list[str | Path], published_by: str = "cli",
                  ward_codes: str | Path | None = None) -> pub.Published:
    """``import lookup A.csv [B.csv]``: an LSOA -> ward (-> district) lookup, or LSOA -> ward plus
    ward -> district, optionally with an LSOA11 -> LSOA21 lookup. Replaces the geography; the
    LSOA population a lookup carries (with its year) is added to ``population``."""
    if not paths:
        raise GeographyError("give a lookup file")
    tables, sums = [], []
    for p in paths:
        frame, name, digest = read_file(p)
        tables.append((frame, name))
        sums.append(digest)
    wc = None
    if ward_codes is not None:
        frame, name, digest = read_file(ward_codes)
        wc = (frame, name)
        sums.append(digest)
    src = sources_from_tables(tables, wc)
    if not src.lookups:
        raise GeographyError(f"{', '.join(n for _, n in tables)}: no LSOA -> ward lookup among the files "
                             "(a ward -> district file completes one; it cannot stand alone)")
    built = build(src)
    pops, notes = _population_of(src)
    return _finish(built, pops, notes, published_by, "lookup: " + ", ".join(n for _, n in tables), _checksum(sums))


def build_geography(*, centroids: str | Path | None = None, wards: str | Path | None = None,
                    lsoa21: str | Path | None = None, lsoa11: str | Path | None = None,
                    lookups: list[str | Path] = (), ward_codes: str | Path | None = None,
                    lsoa11_to_21: str | Path | None = None, published_by: str = "cli") -> pub.Published:
    """``geography build``: the best fit from boundaries (LSOA centre point in ward polygon; a
    replaced 2011 LSOA's centre in a 2021 LSOA polygon), with lookups where held."""
    sums, names = [], []
    tables = []
    for p in list(lookups) + ([lsoa11_to_21] if lsoa11_to_21 else []):
        frame, name, digest = read_file(p)
        tables.append((frame, name))
        sums.append(digest)
        names.append(name)
    wc = None
    if ward_codes is not None:
        frame, name, digest = read_file(ward_codes)
        wc = (frame, name)
        sums.append(digest)
    src = sources_from_tables(tables, wc)
    if centroids is not None:
        frame, name, digest = read_file(centroids)
        src.centroids = boundaries.read_centroids(frame, name)
        sums.append(digest)
    for attr, path, level in (("wards", wards, "ward"), ("lsoa21", lsoa21, "lsoa"), ("lsoa11", lsoa11, "lsoa")):
        if path is not None:
            poly = boundaries.read_polygons(path, level)
            if attr in ("lsoa21", "lsoa11") and poly.year not in (None, int("20" + attr[-2:])):
                raise GeographyError(f"{poly.name}: these are LSOA {poly.year} boundaries, given as --{attr}")
            setattr(src, attr, poly)
            sums.append(store.file_checksum(Path(path)))
            names.append(poly.name)
    if src.wards is not None and src.wards.frame["district_code"].null_count():
        if src.ward_districts is None:
            raise GeographyError(f"{src.wards.name}: the wards carry no district code (LADyyCD): add a ward -> "
                                 "district file with --ward-codes (e.g. ward_all_codes.csv)")
        wf = src.wards.frame.join(src.ward_districts.select("ward_code", pl.col("district_code").alias("_d"),
                                                            pl.col("district_name").alias("_n")),
                                  left_on="code", right_on="ward_code", how="left", maintain_order="left")
        src.wards.frame = wf.with_columns(pl.coalesce("district_code", "_d").alias("district_code"),
                                          pl.coalesce("district_name", "_n").alias("district_name")).drop("_d", "_n")
    built = build(src)
    pops, notes = _population_of(src)
    return _finish(built, pops, notes, published_by, "geography build: " + ", ".join(src.describe()), _checksum(sums))


def import_population(path: str | Path, year: int | None = None, published_by: str = "cli") -> pub.Published:
    """``import population FILE [--year Y]``: adds (or replaces) that year's figures for the areas
    in the file, keeps every other year and area, and rebuilds ``areas``."""
    frame, name, digest = read_file(path)
    pf = pop_mod.read(frame, name, year)
    frames = pub.prepare(None, [pf.frame])
    out = pub.write(frames, published_by, f"population: {name}", digest, validation={"notes": pf.notes})
    out.notes = pf.notes + _unmatched(pf.frame, frames)
    if frames.areas is None:
        out.notes.append("no geography is published yet: areas (and their populations) are built when it is")
    return out


def _unmatched(new: pl.DataFrame, frames: pub.Frames) -> list[str]:
    """Areas in a population file that the geography does not have (e.g. ward codes of another
    year's boundaries): kept, but no rate can use them."""
    if frames.areas is None:
        return []
    geo = frames.geography if frames.geography is not None else pub.current_frame("geography")
    known = pl.concat([frames.areas.filter(pl.col("area_level") != "lsoa").select("area_code", "area_level"),
                       geo.select(pl.col("lsoa_code").alias("area_code"), pl.lit("lsoa").alias("area_level"))])
    miss = new.join(known, on=["area_code", "area_level"], how="anti")
    if miss.height == 0:
        return []
    by = miss.group_by("area_level").len().sort("area_level")
    return ["not in the published geography, so no rate uses them: "
            + ", ".join(f"{n:,} {lv}s" for lv, n in by.iter_rows())
            + f" (e.g. {miss['area_code'][0]}; codes of another year's boundaries?)"]
