"""Resolve every LSOA code of either vintage to today's LSOA, ward and district.

The result is the ``geography`` dataset: one row per LSOA code of any vintage (a code that is in
both the 2011 and the 2021 sets is one row), with how it was placed in ``fit``.

The rules (docs/geography.md has them with the figures):

1. Vintage. A code is 2021 when a 2021 source lists it (LSOA 2021 boundaries, a lookup with an
   LSOA21CD column, an LSOA11 -> LSOA21 lookup), 2011 when a 2011 source does. ONS never reuses
   a code, so a 2021 code at or below the last 2011 code (E01033768, W01001958) is also a 2011
   LSOA that carried on. With 2021 boundaries held, the centre points inside the wards held add
   the 2011 LSOAs that were replaced in 2021 (they are in neither 2021 set).
2. Current LSOA. Itself when the code is current (2021, or 2011 where no 2021 data is held for
   its area). A replaced 2011 code goes to the 2021 LSOA the ONS LSOA11 -> LSOA21 lookup gives
   (for a split, the part holding its centre point); without that lookup, the 2021 LSOA polygon
   holding its centre point; without 2021 boundaries, the nearest 2021 LSOA centre in its district.
3. Ward and district of a current LSOA: from the newest ward set held, a lookup (LSOA -> ward) or
   the ward polygon holding the LSOA's centre point; a lookup wins a tie. The district is the
   ward's current district where a ward -> district table says (``ward_all_codes.csv``:
   LADCD_ACTIVE), else the source's own. A replaced code takes its current LSOA's ward and
   district, so ward totals always equal the sum of their LSOAs' totals.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from . import codes
from .boundaries import Polygons
from .errors import GeographyError
from .layouts import LsoaLookup

COLUMNS = ["lsoa_code", "lsoa_name", "lsoa_vintage", "current_lsoa_code", "ward_code", "ward_name",
           "district_code", "district_name", "fit"]


@dataclass
class Sources:
    lookups: list[LsoaLookup] = field(default_factory=list)
    ward_districts: pl.DataFrame | None = None  # ward_code -> current district (ward_all_codes.csv)
    ward_districts_name: str | None = None
    lsoa11_21: pl.DataFrame | None = None  # lsoa11_code, lsoa21_code, lsoa21_name
    centroids: pl.DataFrame | None = None  # code, lon, lat
    wards: Polygons | None = None
    lsoa21: Polygons | None = None
    lsoa11: Polygons | None = None

    def describe(self) -> list[str]:
        out = [f"lookup {lk.name}" for lk in self.lookups]
        for label, p in (("ward boundaries", self.wards), ("LSOA 2021 boundaries", self.lsoa21),
                         ("LSOA 2011 boundaries", self.lsoa11)):
            if p is not None:
                out.append(f"{label} {p.name}")
        if self.ward_districts_name:
            out.append(f"ward -> district {self.ward_districts_name}")
        if self.centroids is not None:
            out.append("centre points")
        if self.lsoa11_21 is not None:
            out.append("LSOA11 -> LSOA21 lookup")
        return out


@dataclass
class Built:
    frame: pl.DataFrame  # COLUMNS
    notes: list[str]


def _vintage(in11: bool, in21: bool) -> str:
    return "2011+2021" if in11 and in21 else ("2021" if in21 else "2011")


def _is_new(code: str) -> bool:
    return code > codes.LAST_2011.get(code[0], "~")


def _years(y: int | None) -> str:
    return f" ({y} wards)" if y else ""


def build(src: Sources) -> Built:
    if not src.lookups and src.lsoa21 is None and src.lsoa11 is None and src.lsoa11_21 is None:
        raise GeographyError(
            "Nothing says which LSOAs exist: give a lookup (--lookup), LSOA boundaries (--lsoa21) "
            "or an LSOA11 -> LSOA21 lookup. Centre points and ward boundaries only place LSOAs.")
    if src.wards is not None and src.centroids is None and src.lsoa21 is None and src.lsoa11 is None:
        raise GeographyError("Ward boundaries place LSOAs by their centre points: give --centroids "
                             "(e.g. lsoa_latlong.csv) or LSOA boundaries as well.")
    notes: list[str] = []
    in11: dict[str, bool] = {}
    in21: dict[str, bool] = {}
    names: dict[str, str] = {}

    def attest(code: str, year: int | None) -> None:
        if year is None:
            year = 2021 if _is_new(code) else 2011
        (in21 if year == 2021 else in11)[code] = True

    for poly, year in ((src.lsoa21, 2021), (src.lsoa11, 2011)):
        if poly is not None:
            for c, n in zip(poly.frame["code"].to_list(), poly.frame["name"].to_list()):
                attest(c, year)
                if n and c not in names:
                    names[c] = n
    # Each code's lookup row: the lookup with the newest wards that lists it.
    lks = sorted(src.lookups, key=lambda lk: -(lk.ward_year or 0))
    own_frame = None
    if lks:
        own_frame = pl.concat([lk.frame.select("lsoa_code", "lsoa_name", "ward_code", "ward_name", "district_code",
                                               "district_name").with_columns(pl.lit(lk.ward_year, pl.Int32).alias("year"))
                               for lk in lks]).unique("lsoa_code", keep="first", maintain_order=True)
        for lk in lks:
            cs = lk.frame["lsoa_code"].to_list()
            if lk.lsoa_year is None:
                for c in cs:
                    attest(c, None)
            else:
                (in21 if lk.lsoa_year == 2021 else in11).update(dict.fromkeys(cs, True))
        for c, n in zip(own_frame["lsoa_code"].to_list(), own_frame["lsoa_name"].to_list()):
            if n and c not in names:
                names[c] = n
    own_district = dict(zip(own_frame["lsoa_code"].to_list(), own_frame["district_code"].to_list())) if lks else {}
    children: dict[str, list[str]] = {}
    if src.lsoa11_21 is not None:
        for r in src.lsoa11_21.iter_rows(named=True):
            attest(r["lsoa11_code"], 2011)
            attest(r["lsoa21_code"], 2021)
            children.setdefault(r["lsoa11_code"], []).append(r["lsoa21_code"])
            if r["lsoa21_name"] and r["lsoa21_code"] not in names:
                names[r["lsoa21_code"]] = r["lsoa21_name"]
    for c in list(in21):
        if not _is_new(c):
            in11[c] = True  # carried on from 2011 (codes are never reused)

    # Centre points: the file's, else a point inside the LSOA's own polygon.
    pos: dict[str, tuple[float, float]] = {}
    for poly in (src.lsoa11, src.lsoa21):
        if poly is not None:
            pts = [(p.x, p.y) for p in (g.representative_point() for g in poly.geoms)]
            pos.update(zip(poly.frame["code"].to_list(), pts))
    if src.centroids is not None:
        pos.update(zip(src.centroids["code"].to_list(),
                       zip(src.centroids["lon"].to_list(), src.centroids["lat"].to_list())))

    def locate(poly: Polygons, cs: list[str]) -> dict[str, int]:
        have = [c for c in cs if c in pos]
        if not have:
            return {}
        xy = np.array([pos[c] for c in have])
        idx = poly.locate(xy[:, 0], xy[:, 1])
        return {c: int(i) for c, i in zip(have, idx) if i >= 0}

    # Districts a 2021 source covers: a 2011 code there that no 2021 source lists was replaced.
    d21 = {own_district[c] for c in in21 if own_district.get(c)}
    in_lsoa21: dict[str, int] = {}
    if src.lsoa21 is not None:
        d21 |= {d for d in src.lsoa21.frame["district_code"].to_list() if d}
    # 2011 LSOAs replaced in 2021 are in no 2021 source: with 2021 data held, find them among the
    # centre points inside the wards held.
    ward_of_point: dict[str, int] = {}
    if src.wards is not None and src.centroids is not None and in21:
        ward_of_point = locate(src.wards, src.centroids["code"].to_list())
        if src.lsoa21 is not None:
            in_lsoa21 = locate(src.lsoa21, list(ward_of_point))
        added = 0
        wd = src.wards.frame["district_code"].to_list()
        for c, wi in ward_of_point.items():
            if c in in11 or c in in21:
                continue
            if _is_new(c):
                in21[c] = True  # a 2021 code the 2021 sources held do not list
                added += 1
            elif c in in_lsoa21 or wd[wi] in d21:
                in11[c] = True  # a 2011 LSOA replaced in 2021
                added += 1
        if added:
            notes.append(f"{added:,} LSOA(s) found by their centre points inside the ward boundaries "
                         "(2011 LSOAs replaced in 2021)")

    universe = sorted(set(in11) | set(in21))
    current_vintage = 2021 if in21 else 2011
    if src.lsoa21 is not None:
        in_lsoa21 |= locate(src.lsoa21, [c for c in universe if c not in in_lsoa21 and not in21.get(c)])

    # ---- 2: the current LSOA of each code
    current: dict[str, str] = {}
    how: dict[str, str] = {}
    codes21 = [c for c in universe if in21.get(c) and c in pos]
    xy21 = np.array([pos[c] for c in codes21]) if codes21 else np.zeros((0, 2))
    dist_of = dict(own_district)
    if src.lsoa21 is not None:
        lsoa21_d = dict(zip(src.lsoa21.frame["code"].to_list(), src.lsoa21.frame["district_code"].to_list()))
        for c in codes21:
            if not dist_of.get(c) and lsoa21_d.get(c):
                dist_of[c] = lsoa21_d[c]
    for c in universe:
        if in21.get(c) or current_vintage == 2011:
            current[c] = c
            continue
        district = dist_of.get(c)
        if src.wards is not None and c in ward_of_point and not district:
            district = src.wards.frame["district_code"][ward_of_point[c]]
        covered = c in children or c in in_lsoa21 or (district in d21)
        if not covered:
            current[c] = c
            how[c] = "2011 LSOA; no 2021 LSOAs held for its area"
        elif c in children:
            kids = sorted(children[c])
            pick = kids[0]
            if len(kids) > 1:
                holder = src.lsoa21.frame["code"][in_lsoa21[c]] if c in in_lsoa21 else None
                if holder in kids:
                    pick = holder
                elif c in pos and any(k in pos for k in kids):
                    p = np.array(pos[c])
                    pick = min((k for k in kids if k in pos), key=lambda k: float(((np.array(pos[k]) - p) ** 2).sum()))
            current[c] = pick
            how[c] = ("replaced in 2021: ONS LSOA11->LSOA21 lookup"
                      + (f" (split into {len(kids)}; the part nearest its centre)" if len(kids) > 1 else ""))
        elif c in in_lsoa21:
            current[c] = src.lsoa21.frame["code"][in_lsoa21[c]]
            how[c] = "replaced in 2021: centre in 2021 LSOA polygon"
        elif c in pos and len(codes21):
            cand = [i for i, k in enumerate(codes21) if not district or dist_of.get(k) == district] or list(range(len(codes21)))
            d2 = ((xy21[cand] - np.array(pos[c])) ** 2).sum(axis=1)
            current[c] = codes21[cand[int(np.argmin(d2))]]
            how[c] = "replaced in 2021: nearest 2021 LSOA centre"
        else:
            current[c] = c
            how[c] = "replaced in 2021; nothing held to place it (no 2021 boundaries, centre points or LSOA11->LSOA21 lookup)"
    for c in set(current.values()) - set(universe):  # a 2021 LSOA known only as a replacement
        in21[c] = True
        in11[c] = in11.get(c, False) or not _is_new(c)
        current[c] = c
    universe = sorted(current)

    # ---- 3: ward and district of each current LSOA: the newest ward set held; a lookup wins a tie
    cur_codes = [c for c in universe if current[c] == c]
    opt_schema = {"lsoa_code": pl.String, "ward_code": pl.String, "ward_name": pl.String, "district_code": pl.String,
                  "district_name": pl.String, "year": pl.Int32, "rank": pl.Int32, "fit": pl.String}
    opts = [pl.DataFrame(schema=opt_schema)]
    if own_frame is not None:
        opts.append(own_frame.filter(pl.col("lsoa_code").is_in(cur_codes)).select(
            "lsoa_code", "ward_code", "ward_name", "district_code", "district_name",
            pl.col("year").fill_null(0), pl.lit(1, pl.Int32).alias("rank"),
            pl.concat_str(pl.lit("ward: best-fit lookup"),
                          pl.when(pl.col("year").is_not_null()).then(pl.format(" ({} wards)", "year")).otherwise(pl.lit("")))
            .alias("fit")))
    if src.wards is not None:
        hits = locate(src.wards, cur_codes)
        if hits:
            wf = src.wards.frame
            opts.append(pl.DataFrame({"lsoa_code": list(hits), "_i": list(hits.values())}, schema={"lsoa_code": pl.String, "_i": pl.UInt32})
                        .join(wf.with_row_index("_i"), on="_i").select(
                "lsoa_code", pl.col("code").alias("ward_code"), pl.col("name").alias("ward_name"), "district_code",
                "district_name", pl.lit(src.wards.year or 9999, pl.Int32).alias("year"), pl.lit(0, pl.Int32).alias("rank"),
                pl.lit(f"ward: centre in ward polygon{_years(src.wards.year)}").alias("fit")))
    placed = pl.concat([o.cast(opt_schema) for o in opts]).sort(["lsoa_code", "year", "rank"], descending=[False, True, True]) \
        .unique("lsoa_code", keep="first", maintain_order=True).drop("year", "rank")
    if src.ward_districts is not None:  # the ward's current district (ward_all_codes.csv: LADCD_ACTIVE)
        wd = src.ward_districts.select("ward_code", pl.col("ward_name").alias("_wn"), pl.col("district_code").alias("_d"),
                                       pl.col("district_name").alias("_dn"))
        placed = placed.join(wd, on="ward_code", how="left", maintain_order="left").with_columns(
            pl.when(pl.col("_d").is_not_null() & pl.col("district_code").is_not_null() & (pl.col("_d") != pl.col("district_code")))
            .then(pl.concat_str("fit", pl.lit("; district: its current district"))).otherwise(pl.col("fit")).alias("fit"),
            pl.coalesce("_d", "district_code").alias("district_code"),
            pl.when(pl.col("_d").is_not_null()).then(pl.coalesce("_dn", "district_name")).otherwise(pl.col("district_name"))
            .alias("district_name"),
            pl.coalesce("ward_name", "_wn").alias("ward_name"),
        ).drop("_wn", "_d", "_dn")
    nodist = placed.filter(pl.col("district_code").is_null())
    if nodist.height:
        raise GeographyError(
            f"Ward {nodist['ward_code'][0]} has no district: the ward boundaries carry no district code (LADyyCD). "
            "Give a ward -> district file with --ward-codes (e.g. ward_all_codes.csv).")
    placed = placed.with_columns(pl.coalesce("ward_name", "ward_code").alias("ward_name"),
                                 pl.coalesce("district_name", "district_code").alias("district_name"))
    lsoa_dist = {}
    for poly in (src.lsoa21, src.lsoa11):
        if poly is not None:
            lsoa_dist.update({c: d for c, d in zip(poly.frame["code"].to_list(), poly.frame["district_code"].to_list())
                              if d and c not in lsoa_dist})
    unplaced = sorted(set(cur_codes) - set(placed["lsoa_code"].to_list()))
    if unplaced:  # a current LSOA no lookup lists and no ward polygon holds
        placed = pl.concat([placed, pl.DataFrame({
            "lsoa_code": unplaced, "ward_code": [None] * len(unplaced), "ward_name": [None] * len(unplaced),
            "district_code": [lsoa_dist.get(c) for c in unplaced], "district_name": [None] * len(unplaced),
            "fit": ["no ward held" + ("; district from the LSOA boundaries" if lsoa_dist.get(c) else "") for c in unplaced],
        }, schema={k: v for k, v in opt_schema.items() if k not in ("year", "rank")})])

    codes_f = pl.DataFrame({
        "lsoa_code": universe,
        "lsoa_name": [names.get(c) or c for c in universe],
        "lsoa_vintage": [_vintage(in11.get(c, False), in21.get(c, False)) for c in universe],
        "current_lsoa_code": [current[c] for c in universe],
        "_how": [how.get(c) for c in universe],
    }, schema={"lsoa_code": pl.String, "lsoa_name": pl.String, "lsoa_vintage": pl.String,
               "current_lsoa_code": pl.String, "_how": pl.String})
    frame = codes_f.join(placed.rename({"lsoa_code": "current_lsoa_code"}), on="current_lsoa_code", how="left",
                         maintain_order="left")
    if own_frame is not None:
        # A replaced LSOA whose current LSOA has no ward keeps its own lookup's ward.
        mine = own_frame.select("lsoa_code", pl.col("ward_code").alias("_w"), pl.col("ward_name").alias("_wn"),
                                pl.col("district_code").alias("_d"), pl.col("district_name").alias("_dn"),
                                pl.concat_str(pl.lit("ward: best-fit lookup"),
                                              pl.when(pl.col("year").is_not_null()).then(pl.format(" ({} wards)", "year"))
                                              .otherwise(pl.lit(""))).alias("_f"))
        frame = frame.join(mine, on="lsoa_code", how="left", maintain_order="left")
        use = (pl.col("lsoa_code") != pl.col("current_lsoa_code")) & pl.col("ward_code").is_null() & pl.col("_w").is_not_null()
        frame = frame.with_columns(
            *[pl.when(use).then(pl.col(b)).otherwise(pl.col(a)).alias(a) for a, b in (
                ("ward_code", "_w"), ("ward_name", "_wn"), ("district_code", "_d"), ("district_name", "_dn"), ("fit", "_f"))])
    frame = frame.with_columns(pl.concat_str("_how", "fit", separator="; ", ignore_nulls=True).alias("fit")).select(COLUMNS)
    wf = src.wards.frame if src.wards is not None else None
    if src.wards is not None:
        used = set(frame["ward_code"].drop_nulls().to_list())
        empty = [f"{c} {n}" for c, n in zip(wf["code"].to_list(), wf["name"].to_list()) if c not in used]
        if empty:
            notes.append(f"{len(empty)} ward(s) of {src.wards.name} hold no LSOA centre point, so no LSOA "
                         f"best-fits them (as with the ONS best-fit lookups): {', '.join(empty[:10])}")
    return Built(frame.sort("district_code", "ward_code", "lsoa_code", nulls_last=True), notes)
