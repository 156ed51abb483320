"""``python -m csp geography build|show``: the best-fit build from boundaries, and what is held."""
from __future__ import annotations

import sys

import polars as pl

from .. import store
from .errors import GeographyError


def cmd_build(args) -> int:
    from .importer import build_geography

    out = build_geography(centroids=args.centroids, wards=args.wards, lsoa21=args.lsoa21, lsoa11=args.lsoa11,
                          lookups=args.lookup or [], ward_codes=args.ward_codes, lsoa11_to_21=args.lsoa11_to_21,
                          published_by=args.by)
    print(out.summary())
    return 0


def cmd_show(args) -> int:
    geo, areas = store.current("geography"), store.current("areas")
    if geo is None:
        print("No geography is published yet: `python -m csp import lookup FILE` or `python -m csp geography build ...`")
        return 0
    g = pl.read_parquet(geo.files)
    print(f"geography {geo.version} ({geo.meta.get('source', '')}): {g.height:,} LSOA codes")
    for v, n in g.group_by("lsoa_vintage").len().sort("lsoa_vintage").iter_rows():
        print(f"  vintage {v}: {n:,}")
    if "fit" in g.columns:
        for f, n in g.group_by("fit").len().sort("len", descending=True).iter_rows():
            print(f"  {n:>7,}  {f}")
    if areas is not None:
        a = pl.read_parquet(areas.files)
        print(f"areas {areas.version}:")
        for lv in ("lsoa", "ward", "district"):
            part = a.filter(pl.col("area_level") == lv)
            years = part["population_year"].drop_nulls().unique().sort().to_list()
            print(f"  {lv}: {part.height:,}, {part['population'].is_not_null().sum():,} with a population"
                  + (f" (mid-{', mid-'.join(map(str, years))})" if years else ""))
    return 0


def _wrap(fn):
    def run(args) -> int:
        try:
            return fn(args)
        except GeographyError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    return run


def register_cli(sub) -> None:
    geo = sub.add_parser("geography", help="build the geography from boundaries (best fit), or show what is held")
    gs = geo.add_subparsers(dest="action", required=True)
    b = gs.add_parser("build", help="LSOA centre point in ward polygon (the ONS best-fit method), with lookups where held")
    b.add_argument("--centroids", help="LSOA centre points, both vintages (lsoa_latlong.csv: LSOACD, latitude, longitude)")
    b.add_argument("--wards", help="current ward boundaries, GeoJSON WGS84 (e.g. WD25CD, WD25NM, LAD25CD)")
    b.add_argument("--lsoa21", help="LSOA 2021 boundaries, GeoJSON (LSOA21CD): the 2021 set and where replaced 2011 LSOAs went")
    b.add_argument("--lsoa11", help="LSOA 2011 boundaries, GeoJSON (LSOA11CD): names and the 2011 set")
    b.add_argument("--lookup", action="append", metavar="CSV",
                   help="an LSOA -> ward (-> district) lookup for areas the boundaries do not cover (repeatable)")
    b.add_argument("--ward-codes", help="ward -> district table (ward_all_codes.csv): current districts, and districts "
                                        "for lookups and boundaries that lack them")
    b.add_argument("--lsoa11-to-21", help="ONS LSOA 2011 -> LSOA 2021 lookup (LSOA11CD, LSOA21CD)")
    b.add_argument("--by", default="cli", help="who is publishing (recorded with the version)")
    b.set_defaults(fn=_wrap(cmd_build))
    gs.add_parser("show", help="what the published geography and areas hold").set_defaults(fn=_wrap(cmd_show))
