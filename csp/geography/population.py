"""Population files (ONS mid-year estimates) by LSOA, ward or district, of any year.

Accepted as published: the ONS/Trafford Data Lab layout (``period, area_code, area_name,
geography, sex, all_ages, ...``: the Persons rows, all ages), a two-column ``area_code,
population_mid2017`` table, an ONS table with ``LSOA 2021 Code`` and ``Total``, or a lookup with
a population column. The level of each row comes from its code (E01/W01 LSOA, E05/W05 ward,
E06-E09/W06 district); other areas (counties, regions) are skipped and counted.

The year is ``--year`` if given, else the file's: a period/date column (2024-06-30), a year in the
population column's name (population_mid2017), or in the file name (mid-2024); else the import is
refused and asks for --year. It is shown everywhere as "mid-YYYY".
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import polars as pl

from . import codes, layouts
from .errors import GeographyError

COLUMNS = ["area_code", "area_level", "population", "year", "source"]
SCHEMA = {"area_code": pl.String, "area_level": pl.String, "population": pl.Int64, "year": pl.Int32,
          "source": pl.String}
PERSONS = ("persons", "all persons", "all", "people", "total", "all people")
CODE_COLUMNS = ("area_code", "areacode", "code", "geography_code", "mnemonic")


@dataclass
class PopulationFile:
    frame: pl.DataFrame  # COLUMNS
    year: int
    notes: list[str] = field(default_factory=list)
    used: dict[str, str] = field(default_factory=dict)  # file column -> what it gave


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMA)


def _year_of(text: str) -> int | None:
    m = re.search(r"(?:mid[-_ ]?)((?:19|20)[0-9]{2})", text, re.IGNORECASE) or re.search(
        r"(?:^|[^0-9])((?:19|20)[0-9]{2})(?:[^0-9]|$)", text)
    return int(m.group(1)) if m else None


def _valid_year(y: int, name: str) -> int:
    if not 1981 <= y <= dt.date.today().year + 1:
        raise GeographyError(f"{name}: {y} is not a plausible mid-year estimate year")
    return y


def read(frame: pl.DataFrame, name: str, year: int | None = None,
         explicit: dict[str, str] | None = None) -> PopulationFile:
    """Normalise a population table to area_code, area_level, population, year, source."""
    explicit = dict(explicit or {})
    cols = {layouts.norm(c): c for c in frame.columns}
    by_role = {v: k for k, v in explicit.items()}
    code = by_role.get("area_code") or next((cols[k] for k in CODE_COLUMNS if k in cols), None)
    d = layouts.detect([c for c in frame.columns if c != code])
    if code is None:
        code = next((d.roles[r].name for r in ("lsoa_code", "ward_code", "district_code") if r in d.roles), None)
    pop = by_role.get("population")
    if pop is None:
        for k in ("all_ages", "all_persons", "persons", "total", "population", "pop", "obs_value", "value"):
            if k in cols:
                pop = cols[k]
                break
    if pop is None and "population" in d.roles:
        pop = d.roles["population"].name
    if code is None or pop is None:
        raise GeographyError(
            f"{name}: not a population table: expected an area code column (area_code, LSOA21CD, WD24CD ...) "
            f"and a population column (all_ages, population, Total ...); found {', '.join(frame.columns[:12])}")
    f = layouts._clean(frame)
    notes: list[str] = []
    sex = next((cols[k] for k in ("sex", "gender") if k in cols), None)
    if sex is not None:
        s = f.get_column(sex).str.to_lowercase()
        if s.is_in(list(PERSONS)).any():
            f = f.filter(s.is_in(list(PERSONS)))
            notes.append(f"used the {sex} = Persons rows")
        else:
            raise GeographyError(f"{name}: column '{sex}' has no Persons (all people) rows; "
                                 "give a table with the all-persons population")
    # The year: --year, a period/date column, the population column's name, the file name.
    src_year = year
    period = None
    if src_year is None:
        period = next((cols[k] for k in ("period", "date", "year", "mid_year", "time") if k in cols), None)
        if period is not None:
            ys = f.get_column(period).drop_nulls().unique().to_list()
            found = {_year_of(str(v)) for v in ys}
            if len(found) > 1:
                raise GeographyError(f"{name}: column '{period}' holds more than one year ({', '.join(map(str, sorted(y for y in found if y)))}); "
                                     "import one year per file")
            src_year = found.pop() if found else None
        if src_year is None:
            src_year = _year_of(pop) or _year_of(name)
    if src_year is None:
        raise GeographyError(f"{name}: the file does not say which year its population is for: "
                             f"give it, e.g. `python -m csp import population {name} --year 2024`")
    src_year = _valid_year(int(src_year), name)
    num = f.get_column(pop).str.replace(r"\.0+$", "").str.replace_all(",", "")
    bad = num.is_null() | ~num.fill_null("").str.contains(r"^[0-9]{1,9}$")
    out = f.select(pl.col(code).str.to_uppercase().alias("area_code")).with_columns(
        codes.level_expr(pl.col("area_code")).alias("area_level"))
    bad_code = ~out["area_code"].fill_null("").str.contains(codes.GSS_RE)
    if bad_code.any():
        i = int(bad_code.arg_true()[0])
        raise GeographyError(f"{name}: {int(bad_code.sum())} row(s) with no or an invalid area code in '{code}' "
                             f"(first at row {i + 2}, {out['area_code'][i]!r})")
    keep = out["area_level"].is_not_null()
    bad = bad & keep
    if bad.any():
        i = int(bad.arg_true()[0])
        raise GeographyError(f"{name}: column '{pop}' has {int(bad.sum())} value(s) that are not whole numbers "
                             f"(first at row {i + 2}: {f.get_column(pop)[i]!r})")
    skipped = int((~keep).sum())
    if skipped:
        notes.append(f"skipped {skipped:,} row(s) for areas other than LSOAs, wards and districts "
                     "(counties, regions, countries)")
    out = out.with_columns(num.alias("population")).filter(keep).with_columns(
        pl.col("population").cast(pl.Int64), pl.lit(src_year, pl.Int32).alias("year"),
        pl.lit(name, pl.String).alias("source"))
    dup = out.filter(pl.col("area_code").is_duplicated())
    if dup.height:
        raise GeographyError(f"{name}: {dup['area_code'].n_unique()} area code(s) appear more than once "
                             f"(e.g. {dup['area_code'][0]}); one row per area")
    if out.height == 0:
        raise GeographyError(f"{name}: no LSOA, ward or district rows")
    levels = out.group_by("area_level").len().sort("area_level")
    notes.insert(0, "mid-{}: {}".format(src_year, ", ".join(f"{n:,} {lv}s" for lv, n in levels.iter_rows())))
    used = {code: "area_code", pop: "population"} | ({period: "year"} if period else {}) | ({sex: "sex (Persons)"} if sex else {})
    return PopulationFile(out.select(COLUMNS), src_year, notes, used)


def from_lookup(lookup: layouts.LsoaLookup) -> PopulationFile | None:
    """The LSOA population a lookup carries (the national CSV: lsoa_population_mid2017)."""
    if lookup.population_year is None or lookup.population_column is None:
        return None
    f = lookup.frame.filter(pl.col("population").is_not_null())
    if f.height == 0:
        return None
    out = f.select(pl.col("lsoa_code").alias("area_code"), pl.lit("lsoa").alias("area_level"),
                   pl.col("population").cast(pl.Int64), pl.lit(_valid_year(lookup.population_year, lookup.name), pl.Int32).alias("year"),
                   pl.lit(f"{lookup.name} ({lookup.population_column})").alias("source"))
    return PopulationFile(out, lookup.population_year, [f"mid-{lookup.population_year}: {out.height:,} lsoas from the lookup"])


def merge(old: pl.DataFrame | None, new: pl.DataFrame) -> pl.DataFrame:
    """Published population with the new file's (area, level, year) rows replaced or added."""
    if old is None or old.height == 0:
        return new.select(COLUMNS).sort("area_level", "area_code", "year")
    old = old.select(COLUMNS).cast(SCHEMA)
    kept = old.join(new.select("area_code", "area_level", "year"), on=["area_code", "area_level", "year"], how="anti")
    return pl.concat([kept, new.select(COLUMNS).cast(SCHEMA)]).sort("area_level", "area_code", "year")
