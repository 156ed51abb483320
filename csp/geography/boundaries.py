"""Boundaries and centre points, for a best fit where no lookup is held (the ONS method: the
area whose polygon holds the smaller area's centre point).

GeoJSON in WGS84 longitude/latitude, as the ONS Open Geography Portal publishes it; features
carry their code and name as properties named by role and year (``WD25CD``, ``LSOA21CD`` ...)
or as ``code``/``area_code``. Point-in-polygon is shapely's (GEOS), through an STRtree.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import shapely
from shapely.geometry import shape

from . import codes, layouts
from .errors import GeographyError

MAX_GEOJSON_BYTES = 1_000_000_000


@dataclass
class Polygons:
    """One boundary file: a code, name and (where given) district per feature, and the shapes."""
    name: str  # file name
    level: str  # lsoa or ward
    year: int | None  # the boundaries' year from the property names (WD25CD -> 2025)
    frame: pl.DataFrame  # code, name, district_code, district_name (row i = geoms[i])
    geoms: np.ndarray  # shapely geometries
    _tree: shapely.STRtree | None = None

    @property
    def tree(self) -> shapely.STRtree:
        if self._tree is None:
            self._tree = shapely.STRtree(self.geoms)
        return self._tree

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Index of the polygon holding each point, or -1. A point on a shared edge goes to the
        polygon with the lowest code, so the answer never depends on file order."""
        out = np.full(len(lon), -1, dtype=np.int64)
        if len(lon) == 0:
            return out
        pts = shapely.points(lon, lat)
        pi, gi = self.tree.query(pts, predicate="intersects")
        if len(pi):
            codes_ = self.frame["code"].to_numpy()
            order = np.lexsort((codes_[gi], pi))
            pi, gi = pi[order], gi[order]
            first = np.ones(len(pi), dtype=bool)
            first[1:] = pi[1:] != pi[:-1]
            out[pi[first]] = gi[first]
        return out


def _props_role(keys: list[str], level: str, what: str) -> tuple[str | None, int | None]:
    """The property holding the level's code (what='code') or name, and the year it says."""
    role = f"{level}_{what}"
    d = layouts.detect(keys)
    if role in d.roles:
        c = d.roles[role]
        return c.name, c.year
    generic = {"code": ("code", "area_code", "areacode", "id"), "name": ("name", "area_name", "areaname")}[what]
    for k in keys:
        if layouts.norm(k) in generic:
            return k, None
    return None, None


def read_polygons(path: str | Path, level: str) -> Polygons:
    path = Path(path)
    if not path.is_file():
        raise GeographyError(f"{path}: no such file")
    if path.stat().st_size > MAX_GEOJSON_BYTES:
        raise GeographyError(f"{path.name}: larger than {MAX_GEOJSON_BYTES // 1_000_000} MB")
    try:
        fc = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GeographyError(f"{path.name}: not GeoJSON ({str(e).splitlines()[0][:120]})") from None
    feats = fc.get("features") if isinstance(fc, dict) else None
    if not isinstance(feats, list) or not feats:
        raise GeographyError(f"{path.name}: not a GeoJSON FeatureCollection with features")
    keys = list((feats[0].get("properties") or {}).keys())
    code_key, year = _props_role(keys, level, "code")
    name_key, _ = _props_role(keys, level, "name")
    if code_key is None:
        raise GeographyError(f"{path.name}: no {level} code property (expected e.g. "
                             f"{'WD25CD' if level == 'ward' else 'LSOA21CD'}; found {', '.join(keys[:10])})")
    d = layouts.detect(keys)
    dc = d.roles.get("district_code")
    dn = d.roles.get("district_name")
    rows, geoms = [], []
    for i, f in enumerate(feats):
        props = f.get("properties") or {}
        geom = f.get("geometry")
        code = str(props.get(code_key) or "").strip().upper()
        if not geom or not code:
            raise GeographyError(f"{path.name}: feature {i + 1} has no geometry or no {code_key}")
        try:
            g = shape(geom)
        except Exception as e:  # shapely's messages name the bad coordinate list
            raise GeographyError(f"{path.name}: feature {i + 1} ({code}) has a bad geometry ({e})") from None
        if g.geom_type not in ("Polygon", "MultiPolygon"):
            raise GeographyError(f"{path.name}: feature {i + 1} ({code}) is a {g.geom_type}, not a polygon")
        if not g.is_valid:
            g = shapely.make_valid(g)
        rows.append({"code": code, "name": (str(props[name_key]).strip() if name_key and props.get(name_key) else None),
                     "district_code": str(props[dc.name]).strip().upper() if dc and props.get(dc.name) else None,
                     "district_name": str(props[dn.name]).strip() if dn and props.get(dn.name) else None})
        geoms.append(g)
    frame = pl.DataFrame(rows, schema={"code": pl.String, "name": pl.String, "district_code": pl.String,
                                       "district_name": pl.String})
    pattern = codes.WARD_RE if level == "ward" else codes.LSOA_RE
    bad = frame.filter(~pl.col("code").str.contains(pattern))
    if bad.height:
        raise GeographyError(f"{path.name}: {bad.height} feature(s) with a code that is not a {level} code "
                             f"(e.g. {bad['code'][0]})")
    if frame["code"].is_duplicated().any():
        raise GeographyError(f"{path.name}: {frame.filter(pl.col('code').is_duplicated())['code'][0]} "
                             "appears in more than one feature")
    minx, miny, maxx, maxy = shapely.total_bounds(np.array(geoms))
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise GeographyError(f"{path.name}: coordinates are not longitude/latitude (WGS84); "
                             "export the boundaries in EPSG:4326")
    if year is None:
        m = re.search(r"(?:^|[^0-9])(20[0-9]{2})(?:[^0-9]|$)", path.stem) or re.search(r"(?:wd|ward|lsoa)(\d{2})", path.stem.lower())
        year = layouts._year(m.group(1)) if m else None
    return Polygons(path.name, level, year, frame, np.array(geoms))


def read_centroids(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """code, lon, lat from a centre-point table (lsoa_latlong.csv: LSOACD, latitude, longitude)."""
    cols = {layouts.norm(c): c for c in frame.columns}
    code = next((cols[k] for k in ("lsoacd", "lsoa21cd", "lsoa11cd", "lsoa_code", "code", "area_code") if k in cols), None)
    lat = next((cols[k] for k in ("latitude", "lat", "y") if k in cols), None)
    lon = next((cols[k] for k in ("longitude", "long", "lon", "lng", "x") if k in cols), None)
    if not (code and lat and lon):
        raise GeographyError(f"{name}: not a table of LSOA centre points: expected LSOACD, latitude and longitude "
                             f"columns (found {', '.join(frame.columns[:10])})")
    out = frame.select(pl.col(code).str.strip_chars().str.to_uppercase().alias("code"),
                       pl.col(lon).cast(pl.Float64, strict=False).alias("lon"),
                       pl.col(lat).cast(pl.Float64, strict=False).alias("lat"))
    out = out.filter(pl.col("code").str.contains(codes.LSOA_RE))
    if out.height == 0:
        raise GeographyError(f"{name}: no England or Wales LSOA codes (E01/W01) in column '{code}'")
    bad = out.filter(pl.col("lon").is_null() | pl.col("lat").is_null()
                     | ~pl.col("lon").is_between(-180, 180) | ~pl.col("lat").is_between(-90, 90))
    if bad.height:
        raise GeographyError(f"{name}: {bad.height} centre point(s) are not longitude/latitude (WGS84), e.g. "
                             f"{bad['code'][0]}; British National Grid eastings/northings are not accepted")
    return out.unique("code", keep="first", maintain_order=True)
