"""The derived ``areas`` table: one row per current area at each level, with a name that is told
apart where it repeats and the population (and its year) that rates divide by.

Population of an area, newest year first:
- LSOA: a population held for exactly that code.
- ward / district: a population held for that code; or the sum over the LSOAs that best-fit into
  it, every one of them held for the same year and all of one LSOA vintage (2021 LSOAs, or 2011
  LSOAs), so an LSOA held under both vintages is never counted twice; a district may also be the
  sum of its wards, all held for the same year. A tie in year goes to the code's own figure, then
  the current LSOAs' sum. With nothing complete the population is blank and the basis says why.
"""
from __future__ import annotations

import polars as pl

COLUMNS = ["area_code", "area_level", "area_name", "area_label", "ward_code", "district_code",
           "district_name", "population", "population_year", "population_basis"]
SCHEMA = {"area_code": pl.String, "area_level": pl.String, "area_name": pl.String, "area_label": pl.String,
          "ward_code": pl.String, "district_code": pl.String, "district_name": pl.String,
          "population": pl.Int64, "population_year": pl.Int32, "population_basis": pl.String}
LEVELS = ("lsoa", "ward", "district")
NO_POPULATION = "no population held"
NO_SUM = "no population held for all of its LSOAs (or for it) in any one year"


def _label(frame: pl.DataFrame) -> pl.DataFrame:
    """area_label: the name, with its district where the name repeats at its level, and the code
    too where that still repeats ("Abbey (Lincoln)")."""
    rep = pl.col("area_name").is_duplicated().over("area_level")
    with_district = pl.when(rep & (pl.col("area_level") != "district") & pl.col("district_name").is_not_null()) \
        .then(pl.format("{} ({})", "area_name", "district_name")).otherwise(pl.col("area_name"))
    frame = frame.with_columns(with_district.alias("area_label"))
    still = pl.col("area_label").is_duplicated().over("area_level")
    return frame.with_columns(
        pl.when(still & rep & (pl.col("area_level") != "district")).then(pl.format("{} ({}, {})", "area_name", "district_name", "area_code"))
        .when(still).then(pl.format("{} ({})", "area_name", "area_code"))
        .otherwise(pl.col("area_label")).alias("area_label"))


def _year_vintages(geo: pl.DataFrame, lsoa_pop: pl.DataFrame) -> pl.DataFrame:
    """Which LSOA vintage each year's figures are for: 2021 when they include a code that is only
    in the 2021 set, 2011 when they include one only in the 2011 set (mid-2017 figures are for
    2011 LSOAs even where the code carried on into 2021); either when they say neither."""
    v = lsoa_pop.join(geo.select("lsoa_code", "lsoa_vintage"), on="lsoa_code").group_by("year").agg(
        (pl.col("lsoa_vintage") == "2021").any().alias("new"), (pl.col("lsoa_vintage") == "2011").any().alias("old"))
    return pl.concat([
        v.filter(pl.col("new") | ~pl.col("old")).select("year", pl.lit("2021").alias("vintage")),
        v.filter(pl.col("old") | ~pl.col("new")).select("year", pl.lit("2011").alias("vintage")),
    ])


def _lsoa_sums(geo: pl.DataFrame, pop: pl.DataFrame, key: str) -> pl.DataFrame:
    """Per area (``key``: ward_code or district_code), per year and the LSOA vintage that year's
    figures are for: the sum over the area's LSOAs of that vintage, and how many of them are held."""
    lsoa_pop = pop.filter(pl.col("area_level") == "lsoa").select(
        pl.col("area_code").alias("lsoa_code"), "year", "population")
    years = _year_vintages(geo, lsoa_pop)
    # A vintage's LSOAs add up to a whole area only where that vintage's set is held there: a
    # district with LSOAs new in 2021 but none of the 2011 LSOAs they replaced (a 2021 lookup
    # alone) does not hold the 2011 set, and the other way round.
    flags = geo.group_by("district_code").agg((pl.col("lsoa_vintage") == "2021").any().alias("has_new"),
                                               (pl.col("lsoa_vintage") == "2011").any().alias("has_old"))
    held_set = {"2021": flags.filter(~(pl.col("has_old") & ~pl.col("has_new")))["district_code"],
                "2011": flags.filter(~(pl.col("has_new") & ~pl.col("has_old")))["district_code"]}
    parts = []
    for vintage in ("2021", "2011"):
        members = geo.filter(pl.col("lsoa_vintage").str.contains(vintage) & pl.col(key).is_not_null()
                             & pl.col("district_code").is_in(held_set[vintage].implode())) \
            .select(key, "lsoa_code")
        n = members.group_by(key).agg(pl.len().alias("members"))
        held = members.join(lsoa_pop.join(years.filter(pl.col("vintage") == vintage), on="year", how="semi"),
                            on="lsoa_code").group_by(key, "year").agg(
            pl.len().alias("held"), pl.col("population").sum().alias("population"))
        parts.append(held.join(n, on=key).with_columns(pl.lit(vintage).alias("vintage")))
    return pl.concat(parts).rename({key: "area_code"})


def _choose(cands: pl.DataFrame) -> pl.DataFrame:
    """The best complete candidate per area: newest year, then rank (own figure first)."""
    return cands.sort(["area_level", "area_code", "year", "rank"], descending=[False, False, True, False]) \
        .unique(["area_level", "area_code"], keep="first", maintain_order=True)


def build(geo: pl.DataFrame, pop: pl.DataFrame) -> pl.DataFrame:
    cur = geo.filter(pl.col("lsoa_code") == pl.col("current_lsoa_code"))
    lsoas = cur.select(pl.col("lsoa_code").alias("area_code"), pl.lit("lsoa").alias("area_level"),
                       pl.col("lsoa_name").alias("area_name"), "ward_code", "district_code", "district_name")
    wards = cur.filter(pl.col("ward_code").is_not_null()).group_by("ward_code").agg(
        pl.col("ward_name").first(), pl.col("district_code").first(), pl.col("district_name").first()
    ).select(pl.col("ward_code").alias("area_code"), pl.lit("ward").alias("area_level"),
             pl.col("ward_name").alias("area_name"), "ward_code", "district_code", "district_name")
    districts = cur.filter(pl.col("district_code").is_not_null()).group_by("district_code").agg(
        pl.col("district_name").first()
    ).select(pl.col("district_code").alias("area_code"), pl.lit("district").alias("area_level"),
             pl.col("district_name").alias("area_name"), pl.lit(None, pl.String).alias("ward_code"),
             "district_code", "district_name")
    areas = pl.concat([lsoas, wards, districts])

    pop = pop.cast({"year": pl.Int32, "population": pl.Int64})
    own = pop.select("area_code", "area_level", "year", "population").with_columns(
        pl.lit(0).alias("rank"), pl.format("ONS mid-{} estimate", "year").alias("population_basis"))
    cands = [own]
    for key, level in (("ward_code", "ward"), ("district_code", "district")):
        s = _lsoa_sums(geo, pop, key).filter(pl.col("held") == pl.col("members"))
        cands.append(s.select(
            "area_code", pl.lit(level).alias("area_level"), "year", "population",
            pl.when(pl.col("vintage") == "2021").then(1).otherwise(2).alias("rank"),
            pl.when(pl.col("members") == 1)
            .then(pl.format("its one LSOA (mid-{}, {} LSOAs by best fit)", "year", "vintage"))
            .otherwise(pl.format("sum of its {} LSOAs (mid-{}, {} LSOAs by best fit)", "members", "year", "vintage"))
            .alias("population_basis")))
    # A district as the sum of its wards, when each of them has its own figure for that year.
    ward_pop = pop.filter(pl.col("area_level") == "ward").select(pl.col("area_code").alias("ward_code"), "year", "population")
    wlist = wards.select(pl.col("area_code").alias("ward_code"), "district_code")
    wsum = wlist.join(ward_pop, on="ward_code").group_by("district_code", "year").agg(
        pl.len().alias("held"), pl.col("population").sum()).join(
        wlist.group_by("district_code").agg(pl.len().alias("members")), on="district_code")
    cands.append(wsum.filter(pl.col("held") == pl.col("members")).select(
        pl.col("district_code").alias("area_code"), pl.lit("district").alias("area_level"), "year", "population",
        pl.lit(3).alias("rank"), pl.format("sum of its {} wards (mid-{})", "members", "year").alias("population_basis")))
    cands = pl.concat([c.cast({"year": pl.Int32, "population": pl.Int64, "rank": pl.Int32}) for c in cands])
    best = _choose(cands.join(areas.select("area_code", "area_level"), on=["area_code", "area_level"], how="semi")) \
        .select("area_code", "area_level", "population", pl.col("year").alias("population_year"), "population_basis")
    out = areas.join(best, on=["area_code", "area_level"], how="left")
    # Why a ward or district has no figure: the nearest miss, in plain words.
    partial = pl.concat([_lsoa_sums(geo, pop, k).with_columns(pl.lit(lv).alias("area_level"))
                         for k, lv in (("ward_code", "ward"), ("district_code", "district"))])
    partial = partial.sort(["area_code", "year", "held"], descending=[False, True, True]).unique(
        ["area_code", "area_level"], keep="first").select(
        "area_code", "area_level",
        pl.format("incomplete: {} of its {} LSOAs held for mid-{}", "held", "members", "year").alias("_why"))
    out = out.join(partial, on=["area_code", "area_level"], how="left").with_columns(
        pl.coalesce("population_basis", "_why", pl.when(pl.col("area_level") == "lsoa").then(pl.lit(NO_POPULATION))
                    .otherwise(pl.lit(NO_SUM))).alias("population_basis")).drop("_why")
    out = _label(out)
    order = pl.col("area_level").replace_strict({lv: i for i, lv in enumerate(LEVELS)}, return_dtype=pl.Int8)
    return out.with_columns(order.alias("_o")).sort("district_code", "_o", "ward_code", "area_code", nulls_last=True) \
        .drop("_o").select(COLUMNS).cast(SCHEMA)
