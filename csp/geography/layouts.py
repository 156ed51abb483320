"""The ONS lookup layouts as published, read into one normalised shape.

ONS lookups name their columns by role and year: ``LSOA21CD, LSOA21NM, WD24CD, WD24NM, LAD24CD,
LAD24NM`` (or lower case, ``lsoa11cd, wd17cd ...``), ``LSOA 2021 Code`` in some tables, and the
app's own ``lsoa_code, ward_code, district_code``. ``detect`` finds each role's column whatever
the case and year, and the year it carries (a ward code's year says which ward set it is).

Shapes read here:
- LSOA -> ward (-> district): one row per LSOA (``lsoa_ward``);
- ward -> district: ``ward_all_codes.csv`` or the second file of a two-file lookup (``ward_district``);
- LSOA 2011 -> LSOA 2021: the ONS change lookup (``lsoa11_lsoa21``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from . import codes
from .errors import GeographyError

# role -> regex on the normalised header (lower case, runs of other characters as "_"). Group 1
# is the year (2 or 4 digits) when the header carries one.
_Y = r"(?:_?(\d{4}|\d{2}))?_?"
ROLE_PATTERNS: dict[str, str] = {
    "lsoa_code": rf"^lsoa{_Y}(?:cd|code)$",
    "lsoa_name": rf"^lsoa{_Y}(?:nm|name)$",
    "ward_code": rf"^(?:wd|ward){_Y}(?:cd|code)$",
    "ward_name": rf"^(?:wd|ward){_Y}(?:nm|name)$",
    "district_code": rf"^(?:lad|ltla|lau1|district|local_authority(?:_district)?){_Y}(?:cd|code)(_active)?$",
    "district_name": rf"^(?:lad|ltla|lau1|district|local_authority(?:_district)?){_Y}(?:nm|name)(_active)?$",
    "population": r"^(?:lsoa_|ward_)?(?:population|pop|all_ages|total|persons|all_persons)(?:_?mid_?(\d{4})|_(\d{4}))?$",
}
# What an explicit mapping (upload --map "MyColumn=ward_code") may point at.
INPUT_ROLES = tuple(ROLE_PATTERNS)
# The app's old alias table, kept for callers that map upload columns by name.
LOOKUP_ALIASES = {
    "lsoa_code": ["lsoa_code", "lsoa11cd", "lsoa21cd", "lsoacd"],
    "lsoa_name": ["lsoa_name", "lsoa11nm", "lsoa21nm", "lsoanm"],
    "ward_code": ["ward_code", "wd17cd", "wd19cd", "wd22cd", "wd23cd", "wd24cd", "wd25cd", "wdcd"],
    "ward_name": ["ward_name", "wd17nm", "wd19nm", "wd22nm", "wd23nm", "wd24nm", "wd25nm", "wdnm"],
    "district_code": ["district_code", "lad17cd", "lad19cd", "lad22cd", "lad23cd", "lad24cd", "lad25cd", "ladcd"],
    "district_name": ["district_name", "lad17nm", "lad19nm", "lad22nm", "lad23nm", "lad24nm", "lad25nm", "ladnm"],
    "population": ["population", "lsoa_population_mid2017", "pop", "all_ages"],
}


def norm(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.lstrip("\ufeff").strip().lower()).strip("_")


def _year(text: str | None) -> int | None:
    if not text:
        return None
    y = int(text)
    return 2000 + y if y < 100 else y


@dataclass(frozen=True)
class Column:
    name: str  # as in the file
    year: int | None  # the year in the header (WD24CD -> 2024), if any
    active: bool = False  # LADCD_ACTIVE: the district's current successor


@dataclass
class Detected:
    roles: dict[str, Column] = field(default_factory=dict)
    lsoa_codes: list[Column] = field(default_factory=list)  # every LSOA code column (two: 11 -> 21)


def detect(columns: list[str], explicit: dict[str, str] | None = None) -> Detected:
    """Each role's column. Several candidates: the current district (``_ACTIVE``) first, then the
    newest year. ``explicit`` (file column -> role) wins over the names."""
    out = Detected()
    cands: dict[str, list[Column]] = {}
    for c in columns:
        n = norm(c)
        for role, pat in ROLE_PATTERNS.items():
            m = re.match(pat, n)
            if m:
                years = [g for g in m.groups() if g and g != "_active"]
                cands.setdefault(role, []).append(Column(c, _year(years[0]) if years else None,
                                                         n.endswith("_active")))
                break
    for src, role in (explicit or {}).items():
        if role not in ROLE_PATTERNS:
            raise GeographyError(f"Mapping {src} -> {role}: '{role}' is not something a lookup column can hold "
                                 f"(use one of {', '.join(INPUT_ROLES)})")
        if src not in columns:
            raise GeographyError(f"Mapping {src} -> {role}: the file has no column '{src}'")
        cands[role] = [Column(src, None)] + [c for c in cands.get(role, []) if c.name != src]
    for role, cs in cands.items():
        explicit_first = bool(explicit) and cs[0].name in (explicit or {})
        best = cs[0] if explicit_first else sorted(cs, key=lambda c: (not c.active, -(c.year or 0)))[0]
        out.roles[role] = best
    out.lsoa_codes = cands.get("lsoa_code", [])
    return out


def _clean(frame: pl.DataFrame) -> pl.DataFrame:
    """Trimmed strings, blanks as null."""
    return frame.with_columns(
        pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c).str.strip_chars()).alias(c)
        for c in frame.columns if frame.schema[c] == pl.String
    )


def _bad(frame: pl.DataFrame, col: str, pattern: str, what: str, name: str, allow_null: bool = False) -> None:
    s = frame.get_column(col)
    bad = ~s.fill_null("").str.contains(pattern)
    if allow_null:
        bad = bad & s.is_not_null()
    n = int(bad.sum())
    if n:
        idx = bad.arg_true()
        ex = s.filter(bad).head(3).to_list()
        raise GeographyError(
            f"{name}: {n} row(s) with {'no or ' if not allow_null else ''}an invalid {what} in column "
            f"'{col}' (first at row {int(idx[0]) + 2}; e.g. {', '.join(repr(x) for x in ex)})")


# ---- LSOA -> ward (-> district) --------------------------------------------------------------

@dataclass
class LsoaLookup:
    """One LSOA -> ward file, normalised: lsoa_code, lsoa_name, ward_code, ward_name,
    district_code, district_name, population (strings/ints; district may be null until completed)."""
    name: str
    frame: pl.DataFrame
    lsoa_year: int | None  # 2011 or 2021 from the header; None when the header does not say
    ward_year: int | None
    population_year: int | None
    population_column: str | None
    notes: list[str] = field(default_factory=list)


def kind(columns: list[str]) -> str | None:
    """Which layout a file is: lsoa_ward, ward_district, lsoa11_lsoa21 or None."""
    d = detect(columns)
    years = {c.year for c in d.lsoa_codes}
    if len(d.lsoa_codes) >= 2 and {2011, 2021} <= years:
        return "lsoa11_lsoa21"
    if "lsoa_code" in d.roles and "ward_code" in d.roles:
        return "lsoa_ward"
    if "ward_code" in d.roles and "district_code" in d.roles:
        return "ward_district"
    return None


def read_lsoa_lookup(frame: pl.DataFrame, name: str, explicit: dict[str, str] | None = None) -> LsoaLookup:
    d = detect(frame.columns, explicit)
    missing = [r for r in ("lsoa_code", "ward_code") if r not in d.roles]
    if missing:
        raise GeographyError(
            f"{name}: not an LSOA lookup: no column for {', '.join(missing)} "
            f"(expected e.g. LSOA21CD and WD24CD, or lsoa11cd and wd17cd; found {', '.join(frame.columns[:12])})")
    if frame.height == 0:
        raise GeographyError(f"{name}: header only, no rows")
    pick = {r: d.roles[r].name for r in ("lsoa_code", "lsoa_name", "ward_code", "ward_name",
                                         "district_code", "district_name", "population") if r in d.roles}
    out = _clean(frame.select([pl.col(c).alias(r) for r, c in pick.items()]))
    for r in ("lsoa_name", "ward_name", "district_code", "district_name", "population"):
        if r not in out.columns:
            out = out.with_columns(pl.lit(None, pl.String).alias(r))
    out = out.with_columns(pl.col("lsoa_code").str.to_uppercase(), pl.col("ward_code").str.to_uppercase(),
                           pl.col("district_code").str.to_uppercase())
    _bad(out, "lsoa_code", codes.LSOA_RE, "LSOA code (E01 or W01 + 6 digits)", name)
    _bad(out, "ward_code", codes.WARD_RE, "ward code (E05 or W05 + 6 digits)", name)
    _bad(out, "district_code", codes.DISTRICT_RE, "district code (E06-E09 or W06 + 6 digits)", name, allow_null=True)
    notes = []
    pop_col = d.roles.get("population")
    pop_year = pop_col.year if pop_col else None
    if pop_col is not None:
        num = out.get_column("population").str.replace(r"\.0+$", "").str.replace_all(",", "")
        bad = num.is_not_null() & ~num.fill_null("").str.contains(r"^[0-9]{1,9}$")
        if bad.any():
            raise GeographyError(f"{name}: column '{pop_col.name}' has {int(bad.sum())} value(s) that are not "
                                 f"whole numbers (first at row {int(bad.arg_true()[0]) + 2})")
        out = out.with_columns(num.cast(pl.Int64).alias("population"))
        if pop_year is None:
            notes.append(f"column '{pop_col.name}' says no year, so its population was not imported: "
                         "import it with `python -m csp import population FILE --year YYYY`")
    else:
        out = out.with_columns(pl.lit(None, pl.Int64).alias("population"))
    out = out.unique(maintain_order=True)  # an exact repeat of a row says nothing new
    dup = out.filter(pl.col("lsoa_code").is_duplicated())
    if dup.height:
        raise GeographyError(
            f"{name}: {dup['lsoa_code'].n_unique()} LSOA code(s) appear more than once with different wards "
            f"(e.g. {dup['lsoa_code'][0]}): a best-fit lookup lists each LSOA once")
    lsoa_year = d.roles["lsoa_code"].year
    if lsoa_year not in (None, 2011, 2021):
        raise GeographyError(f"{name}: column '{d.roles['lsoa_code'].name}' is for LSOA {lsoa_year}; "
                             "LSOAs exist for 2011 and 2021 only")
    return LsoaLookup(name, out, lsoa_year, d.roles["ward_code"].year, pop_year,
                      pop_col.name if pop_col else None, notes)


# ---- ward -> district ------------------------------------------------------------------------

def read_ward_districts(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """ward_code, ward_name, district_code, district_name (the current district where the file
    says, as ward_all_codes.csv does with LADCD_ACTIVE), one row per ward."""
    d = detect(frame.columns)
    missing = [r for r in ("ward_code", "district_code") if r not in d.roles]
    if missing:
        raise GeographyError(f"{name}: not a ward -> district lookup: no column for {', '.join(missing)} "
                             f"(expected e.g. WDCD and LADCD_ACTIVE, or WD24CD and LAD24CD)")
    cols = {r: d.roles[r].name for r in ("ward_code", "ward_name", "district_code", "district_name") if r in d.roles}
    dn = d.roles.get("district_name")
    if d.roles["district_code"].active and dn is not None and not dn.active:
        # a name column that goes with the active code, if the file has one
        active_names = [c for c in frame.columns if norm(c) in ("ladnm_active", "district_name_active")]
        if active_names:
            cols["district_name"] = active_names[0]
    out = _clean(frame.select([pl.col(c).alias(r) for r, c in cols.items()]))
    for r in ("ward_name", "district_name"):
        if r not in out.columns:
            out = out.with_columns(pl.lit(None, pl.String).alias(r))
    out = out.with_columns(pl.col("ward_code").str.to_uppercase(), pl.col("district_code").str.to_uppercase())
    _bad(out, "ward_code", codes.GSS_RE, "area code (a letter and 8 digits)", name)
    # Scottish and Northern Irish wards (S13, N08) are listed in UK-wide files: not ours to place.
    out = out.filter(pl.col("ward_code").str.contains(codes.WARD_RE))
    _bad(out, "district_code", codes.DISTRICT_RE, "district code (E06-E09 or W06 + 6 digits)", name)
    per = out.group_by("ward_code").agg(pl.col("district_code").n_unique().alias("n"))
    clash = per.filter(pl.col("n") > 1)
    if clash.height:
        raise GeographyError(f"{name}: {clash.height} ward code(s) are given more than one district "
                             f"(e.g. {clash['ward_code'][0]})")
    return out.unique("ward_code", keep="first", maintain_order=True).select(
        "ward_code", "ward_name", "district_code", "district_name")


def complete_districts(lookup: LsoaLookup, wards: pl.DataFrame | None, wards_name: str | None) -> LsoaLookup:
    """Fill a lookup's missing districts from a ward -> district table; refuse with what to add."""
    f = lookup.frame
    need = f.filter(pl.col("district_code").is_null())
    if need.height == 0:
        return lookup
    if wards is None:
        raise GeographyError(
            f"{lookup.name}: {need['ward_code'].n_unique():,} ward(s) have no district: the file has no district "
            "column. Give a ward -> district file as well, e.g. `python -m csp import lookup "
            f"{Path(lookup.name).name} ward_all_codes.csv` (ONS: every ward code with its district, "
            "WDCD/LADCD columns), or use an ONS lookup with the LADyyCD columns.")
    f = f.join(wards.select("ward_code", pl.col("ward_name").alias("_wn"), pl.col("district_code").alias("_dc"),
                            pl.col("district_name").alias("_dn")), on="ward_code", how="left")
    still = f.filter(pl.col("district_code").is_null() & pl.col("_dc").is_null())
    if still.height:
        raise GeographyError(
            f"{lookup.name}: {still['ward_code'].n_unique():,} ward code(s) are in neither this file's districts "
            f"nor {wards_name} (e.g. {still['ward_code'][0]}): give a ward -> district file that lists them, e.g. "
            f"`python -m csp import lookup {Path(lookup.name).name} ward_all_codes.csv`")
    f = f.with_columns(
        pl.coalesce("district_code", "_dc").alias("district_code"),
        pl.coalesce("district_name", "_dn").alias("district_name"),
        pl.coalesce("ward_name", "_wn").alias("ward_name"),
    ).drop("_wn", "_dc", "_dn")
    lookup.frame = f
    lookup.notes.append(f"districts of {need['ward_code'].n_unique():,} ward(s) taken from {wards_name}")
    return lookup


# ---- LSOA 2011 -> LSOA 2021 ------------------------------------------------------------------

def read_lsoa11_lsoa21(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """lsoa11_code, lsoa21_code, lsoa21_name: one row per pair (a split 2011 LSOA has several)."""
    d = detect(frame.columns)
    by_year = {c.year: c.name for c in d.lsoa_codes}
    if 2011 not in by_year or 2021 not in by_year:
        raise GeographyError(f"{name}: not an LSOA 2011 -> 2021 lookup: expected LSOA11CD and LSOA21CD columns")
    names = [c for c in frame.columns if re.match(rf"^lsoa{_Y}(?:nm|name)$", norm(c)) and "21" in norm(c)]
    out = _clean(frame.select(
        pl.col(by_year[2011]).alias("lsoa11_code"), pl.col(by_year[2021]).alias("lsoa21_code"),
        (pl.col(names[0]) if names else pl.lit(None, pl.String)).alias("lsoa21_name"),
    )).with_columns(pl.col("lsoa11_code").str.to_uppercase(), pl.col("lsoa21_code").str.to_uppercase())
    _bad(out, "lsoa11_code", codes.LSOA_RE, "LSOA 2011 code", name)
    _bad(out, "lsoa21_code", codes.LSOA_RE, "LSOA 2021 code", name)
    return out.unique(["lsoa11_code", "lsoa21_code"], maintain_order=True)
