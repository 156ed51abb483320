"""An independent best fit for the geography tests: even-odd ray casting in numpy over the GeoJSON
rings, and the real files read with the csv and json modules. Nothing here imports csp, so the
tests compare the importer against a separate computation, not against itself."""
from __future__ import annotations

import csv
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from conftest import REALDATA

GEO21 = REALDATA / "geography_2021"
LATLONG = GEO21 / "lsoa_latlong.csv"
WARDS25 = GEO21 / "lincolnshire_ward25.geojson"
LSOA21 = GEO21 / "lincolnshire_lsoa21.geojson"
LSOA11 = GEO21 / "lincolnshire_lsoa11.geojson"
WARD_CODES = GEO21 / "ward_all_codes.csv"
NATIONAL = REALDATA / "lookups" / "national_2011lsoa_2017ward" / "derived_lsoa11_to_ward17_to_lad17_with_pop2017.csv"
TRAFFORD = REALDATA / "supplementary_trafford"


def _rings(geometry: dict) -> list[list[np.ndarray]]:
    polys = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    return [[np.asarray(r, dtype=float)[:, :2] for r in poly] for poly in polys]


def inside(points: np.ndarray, geometry: dict) -> np.ndarray:
    """Even-odd rule: a point is inside a polygon when a ray from it crosses the polygon's rings
    (outer and holes) an odd number of times; inside a multipolygon when inside any part."""
    x, y = points[:, 0][:, None], points[:, 1][:, None]
    hit = np.zeros(len(points), dtype=bool)
    for poly in _rings(geometry):
        odd = np.zeros(len(points), dtype=bool)
        for ring in poly:
            x1, y1 = ring[:-1, 0][None, :], ring[:-1, 1][None, :]
            x2, y2 = ring[1:, 0][None, :], ring[1:, 1][None, :]
            straddles = (y1 > y) != (y2 > y)
            with np.errstate(divide="ignore", invalid="ignore"):
                xcross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            odd ^= (np.count_nonzero(straddles & (x < xcross), axis=1) % 2).astype(bool)
        hit |= odd
    return hit


@lru_cache(maxsize=None)
def features(path: Path) -> tuple[tuple[dict, dict], ...]:
    fc = json.loads(Path(path).read_text())
    return tuple((f["properties"], f["geometry"]) for f in fc["features"])


@lru_cache(maxsize=1)
def centroids() -> dict[str, tuple[float, float]]:
    with LATLONG.open(newline="") as fh:
        return {r["LSOACD"]: (float(r["longitude"]), float(r["latitude"])) for r in csv.DictReader(fh)}


def polygon_of(codes: list[str], path: Path, key: str) -> dict[str, str]:
    """For each LSOA code, the feature (``key`` property) whose polygon holds its centre point."""
    pts = centroids()
    have = [c for c in codes if c in pts]
    xy = np.array([pts[c] for c in have])
    out: dict[str, str] = {}
    for props, geom in features(path):
        for c, ok in zip(have, inside(xy, geom)):
            if ok and c not in out:
                out[c] = props[key]
    return out


@lru_cache(maxsize=1)
def national() -> dict[str, dict]:
    with NATIONAL.open(newline="") as fh:
        return {r["lsoa11cd"]: r for r in csv.DictReader(fh)}


@lru_cache(maxsize=1)
def ward_codes() -> dict[str, dict]:
    with WARD_CODES.open(newline="", encoding="utf-8-sig") as fh:
        out = {}
        for r in csv.DictReader(fh):
            out.setdefault(r["WDCD"], r)
        return out


def lsoa21_codes() -> list[str]:
    return [p["LSOA21CD"] for p, _ in features(LSOA21)]


def lsoa11_codes() -> list[str]:
    return [p["LSOA11CD"] for p, _ in features(LSOA11)]


def best_fit_wards() -> dict[str, str]:
    """Independent best fit of every LSOA code to its current ward: a 2021 LSOA's centre point in
    the May 2025 ward polygons; a 2011 LSOA replaced in 2021 through the 2021 polygon holding its
    centre; anything else (outside the county) its 2017 ward from the national lookup."""
    s21 = lsoa21_codes()
    ward = polygon_of(s21, WARDS25, "WD25CD")
    replaced = sorted(set(lsoa11_codes()) - set(s21))
    holder = polygon_of(replaced, LSOA21, "LSOA21CD")
    out = {c: r["wd17cd"] for c, r in national().items()}
    out.update(ward)
    out.update({c: ward[holder[c]] for c in replaced})
    return out
