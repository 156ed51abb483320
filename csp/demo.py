"""Deterministic demo data for a fictional Community Safety Partnership area, "Fenmouth".

Everything is drawn from ``numpy.random.default_rng`` seeded from the ``seed`` argument (one
independent sub-stream per dataset, so changing one generator never shifts another's draws);
nothing depends on the clock or on Python's ``random``. The same seed and end month always give
byte-identical frames.

The area: one district (E07999001 Fenmouth), 20 wards (E05999001..), 113 LSOAs (E01999001..)
laid out as cells of a jittered, centre-weighted grid around 0.0E 52.9N with the Wash cutting off
the south-east corner. The x999xxx code ranges are not used by ONS, so they never collide with
real codes.

Stories built into the data (see ``HOTSPOTS``), so the dashboard has something to find:

* St Botolph's (town centre): violence, public order and robbery at ~5x the district per-capita
  rate and the bulk of the shoplifting (with Castle, the other town-centre ward, and the Eastfield
  retail park);
* Marsh End: a burglary spike starting 10 months before the end month, so the last 12 months
  against the previous 12 is clearly significant there;
* Abbey: vehicle crime that starts high and falls steadily (about a third a year);
* Harbourside: the anti-social behaviour hotspot (with extra criminal damage and drugs).

Plus national-looking seasonality (summer peaks in violence and ASB, a winter peak in burglary),
gentle type-specific trends, about 0.3% of crimes with no location (as police.uk publishes), and
plenty of LSOA x type x month cells with counts of 1-4, so disclosure control has work to do.

``publish_demo()`` publishes every dataset through :func:`csp.store.publish` and writes the
boundary GeoJSON to ``<data_dir>/boundaries/``; it does nothing when the demo is already present.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import uuid
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl

from . import catalog, config, store

DEFAULT_SEED = 2026
DEFAULT_END_MONTH = "2026-09"
DEFAULT_MONTHS = 48

DATASETS = ("geography", "population", "areas", "crime", "asb", "reoffending", "substance_misuse",
            "alcohol_admissions",
            # the other partners' datasets (csp.demo_partners)
            "fires", "council_asb", "environmental_crime", "ae_assaults", "ambulance_assaults",
            "housing_asb", "youth_first_time_entrants", "youth_reoffending")
POPULATION_YEAR = 2024  # the demo's populations are "ONS mid-2024 estimates"
BOUNDARY_LEVELS = ("lsoa", "ward", "district")

DISTRICT_CODE = "E07999001"
DISTRICT_NAME = "Fenmouth"
FORCE_NAME = "Fenmouth Constabulary"
ENGLAND_CODE = "E92000001"
ENGLAND_NAME = "England"

# --------------------------------------------------------------------------------------------
# Fixed topology: grid cells (= LSOAs) and wards (a Voronoi partition of the cells around fixed
# ward centres). Only the vertex jitter and the populations depend on the seed, so ward names,
# codes and roles are stable across seeds.
# --------------------------------------------------------------------------------------------
GRID_COLS, GRID_ROWS = 12, 10  # x = column (west -> east), y = row (south -> north)
LON0, LAT0 = 0.0, 52.9
HALF_LON, HALF_LAT = 0.16, 0.10  # about 21 km x 22 km
JITTER = 0.25  # vertex jitter, in cell units (< 0.5 keeps every cell a simple polygon)

# ward name -> (centre in cell units, streets)
_WARDS: dict[str, tuple[tuple[float, float], tuple[str, ...]]] = {
    "St Botolph's": ((6.0, 5.0), ("Market Place", "High Street", "Church Street", "Bridge Street",
                                  "Corn Hill", "Pump Square", "Sheep Lane", "Bargate")),
    "Castle": ((4.9, 6.5), ("Castle Street", "Castle Hill", "Tower Road", "Keep Walk", "Moat Lane",
                            "Mount Pleasant", "Bell Lane")),
    "Harbourside": ((7.6, 4.2), ("Quay Street", "Dock Road", "Ropewalk", "Fish Quay",
                                 "Custom House Lane", "Wharf Road", "Lighthouse Way",
                                 "Mariners Close")),
    "Abbey": ((7.3, 6.5), ("Abbey Road", "Abbey Gardens", "Station Approach", "Cloister Way",
                           "Monks Walk", "Railway Terrace", "Chapter Close")),
    "Marsh End": ((5.6, 3.0), ("Marsh Lane", "Reedham Road", "Heron Way", "Sandpiper Close",
                               "Bittern Drive", "Fleet Road", "Osier Close", "Marsh End Road")),
    "Westgate": ((3.6, 4.9), ("Westgate", "Willow Row", "Chapel Street", "Trinity Street",
                              "Albert Road", "Orchard Street")),
    "Northgate": ((6.2, 8.0), ("Northgate", "Norfolk Street", "Victoria Road", "Hospital Lane",
                               "Carlton Road", "Tennyson Close")),
    "Priory": ((4.0, 7.8), ("Priory Road", "Friars Lane", "Grey Friars", "St Mary's Close",
                            "Blackfriars Road", "Canon Way")),
    "Riverside": ((8.9, 5.6), ("Riverside Drive", "Ferry Road", "Towpath Lane", "Mill Road",
                               "Swan Close", "Lock Street")),
    "Fenside": ((1.6, 6.6), ("Fenside Road", "Drainside", "Dyke Lane", "Cut End Road", "Fen Lane",
                             "Black Sluice Road")),
    "Moorfield": ((1.5, 3.2), ("Moorfield Road", "Heath Lane", "Broadfield Lane", "Furze Close",
                               "Gorse Way", "Linnet Close")),
    "Langdyke": ((3.5, 2.0), ("Langdyke Bank", "Bank Lane", "Sluice Road", "Pinfold Lane",
                              "Wragg's Lane", "Cross Drove")),
    "Saltings": ((9.8, 3.0), ("Saltings Road", "Salt Marsh Lane", "Samphire Way", "Tideway",
                              "Creek Road", "Curlew Close")),
    "Seabank": ((11.0, 5.0), ("Sea Bank Road", "Sea Lane", "Shore Road", "Marram Way",
                              "Dunes Close", "Beacon Lane")),
    "Eastfield": ((10.4, 7.2), ("Eastfield Road", "Retail Park Way", "Enterprise Way",
                                "Liberty Lane", "Meadow Drive", "Kestrel Road")),
    "Kingsmead": ((8.5, 9.0), ("Kingsmead Avenue", "King's Road", "Queen's Road",
                               "Coronation Avenue", "Jubilee Close", "Regent Street")),
    "Holme Fen": ((2.5, 9.0), ("Holme Road", "Holme Fen Drove", "Cowbridge Lane", "Toft Lane",
                               "Thistle Close", "Windmill Lane")),
    "Sutton Drove": ((5.6, 0.8), ("Sutton Drove", "Long Drove", "Gravel Pit Lane",
                                  "Pear Tree Lane", "Oak Close", "Sutton Road")),
    "Wash Bank": ((8.2, 1.5), ("Wash Road", "Outfall Road", "Gull Bank", "Marsh Road",
                               "Seadyke Way", "Cobbler's Lane")),
    "Ravensfleet": ((0.8, 0.8), ("Ravensfleet Lane", "Raven's Close", "Fleet Bank", "Church End",
                                 "Hall Lane", "Manor Farm Road")),
}
WARD_NAMES: tuple[str, ...] = tuple(sorted(_WARDS))  # codes follow alphabetical order, like ONS
WARD_CODES: dict[str, str] = {n: f"E05999{i + 1:03d}" for i, n in enumerate(WARD_NAMES)}

TOWN_CENTRE = "St Botolph's"
HOTSPOTS: dict[str, dict[str, str]] = {
    "town_centre": {"ward": TOWN_CENTRE, "code": WARD_CODES[TOWN_CENTRE],
                    "story": "violence, public order and shoplifting at several times the district rate"},
    "burglary_spike": {"ward": "Marsh End", "code": WARD_CODES["Marsh End"],
                       "story": "burglary roughly triples from 10 months before the end month"},
    "vehicle_decline": {"ward": "Abbey", "code": WARD_CODES["Abbey"],
                        "story": "vehicle crime falls by about a third a year"},
    "asb": {"ward": "Harbourside", "code": WARD_CODES["Harbourside"],
            "story": "anti-social behaviour hotspot, with extra criminal damage and drugs"},
}
BURGLARY_SPIKE_MONTHS = 10


def _in_district(i: int, j: int) -> bool:
    # The Wash takes the south-east corner; one fen cell in the far north-west is outside.
    return not (i - j >= GRID_COLS - 3 or (i == 0 and j == GRID_ROWS - 1))


CELLS: tuple[tuple[int, int], ...] = tuple(
    (i, j) for j in range(GRID_ROWS) for i in range(GRID_COLS) if _in_district(i, j)
)


def _layout() -> tuple[list[tuple[int, int]], list[str], list[str]]:
    """LSOA cells (in LSOA-code order), LSOA names and ward names, all fixed (seed-free)."""
    cells = np.array(CELLS, dtype=float) + 0.5
    centres = np.array([_WARDS[n][0] for n in WARD_NAMES])
    ward_of_cell = ((cells[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
    # MSOAs are 2x2 blocks of cells numbered north to south, west to east (as ONS numbers them);
    # LSOAs within an MSOA are lettered in the same order.
    blocks: dict[tuple[int, int], list[int]] = defaultdict(list)
    for idx, (i, j) in enumerate(CELLS):
        blocks[(i // 2, j // 2)].append(idx)
    named = []
    for number, key in enumerate(sorted(blocks, key=lambda b: (-b[1], b[0])), start=1):
        members = sorted(blocks[key], key=lambda c: (-CELLS[c][1], CELLS[c][0]))
        for letter, c in zip("ABCD", members):
            named.append((f"{DISTRICT_NAME} {number:03d}{letter}", c))
    named.sort()
    return (
        [CELLS[c] for _, c in named],
        [n for n, _ in named],
        [WARD_NAMES[ward_of_cell[c]] for _, c in named],
    )


LSOA_CELLS, LSOA_NAMES, LSOA_WARDS = _layout()
LSOA_CODES: tuple[str, ...] = tuple(f"E01999{i + 1:03d}" for i in range(len(LSOA_CELLS)))

# police.uk's post-2013 crime types, less anti-social behaviour (published separately as "asb")
CRIME_TYPES: tuple[str, ...] = (
    "Bicycle theft",
    "Burglary",
    "Criminal damage and arson",
    "Drugs",
    "Other crime",
    "Other theft",
    "Possession of weapons",
    "Public order",
    "Robbery",
    "Shoplifting",
    "Theft from the person",
    "Vehicle crime",
    "Violence and sexual offences",
)
_K = {t: i for i, t in enumerate(CRIME_TYPES)}

# per crime type: (rate per 1,000 residents a year, seasonal amplitude, peak calendar month,
# trend per year (log scale))
_CRIME_MODEL: dict[str, tuple[float, float, float, float]] = {
    "Bicycle theft": (1.5, 0.35, 7.5, -0.02),
    "Burglary": (4.5, 0.18, 12.5, -0.04),
    "Criminal damage and arson": (8.0, 0.08, 10.5, -0.03),
    "Drugs": (3.0, 0.05, 6.0, 0.02),
    "Other crime": (2.0, 0.03, 6.0, 0.02),
    "Other theft": (7.0, 0.08, 8.0, -0.01),
    "Possession of weapons": (1.0, 0.06, 7.0, 0.03),
    "Public order": (8.0, 0.10, 7.0, -0.02),
    "Robbery": (0.8, 0.08, 11.0, 0.02),
    "Shoplifting": (7.0, 0.06, 12.0, 0.09),
    "Theft from the person": (1.0, 0.08, 12.0, 0.06),
    "Vehicle crime": (5.0, 0.08, 11.0, -0.03),
    "Violence and sexual offences": (28.0, 0.12, 7.0, 0.01),
}
_ASB_MODEL = (28.0, 0.18, 7.0, -0.015)

# Static ward x type multipliers on top of population and LSOA deprivation (before the type's
# district total is shared out, so they move crime between wards, not add to it).
_WARD_CRIME_MULT: dict[str, dict[str, float]] = {
    "St Botolph's": {"Violence and sexual offences": 6.5, "Shoplifting": 16.0, "Public order": 5.0,
                     "Theft from the person": 7.0, "Robbery": 3.5, "Other theft": 2.5,
                     "Bicycle theft": 2.5, "Drugs": 2.5, "Criminal damage and arson": 1.5,
                     "Possession of weapons": 3.0},
    "Castle": {"Shoplifting": 7.0, "Violence and sexual offences": 2.2, "Public order": 2.0,
               "Theft from the person": 3.0, "Other theft": 1.8, "Bicycle theft": 1.8},
    "Eastfield": {"Shoplifting": 4.0, "Vehicle crime": 1.3},
    "Harbourside": {"Criminal damage and arson": 2.2, "Drugs": 2.2, "Violence and sexual offences": 1.5,
                    "Public order": 1.6, "Possession of weapons": 1.8},
    "Abbey": {"Vehicle crime": 3.0},
    "Marsh End": {"Burglary": 1.3},
}
_SHOPLIFTING_ELSEWHERE = 0.35  # villages and estates have few shops
_WARD_ASB_MULT = {"Harbourside": 4.5, "St Botolph's": 3.0, "Castle": 1.6, "Marsh End": 1.3}

OUTCOMES: tuple[str, ...] = (
    "Investigation complete; no suspect identified",
    "Unable to prosecute suspect",
    "Court result unavailable",
    "Local resolution",
    "Offender given a caution",
    "Status update unavailable",
    "Further investigation is not in the public interest",
    "Formal action is not in the public interest",
    "Action to be taken by another organisation",
    "Offender sent to prison",
    "Offender given suspended prison sentence",
    "Offender fined",
    "Offender given community sentence",
    "Defendant found not guilty",
    "Offender given conditional discharge",
    "Offender given a drugs possession warning",
    "Offender given penalty notice",
    "Suspect charged as part of another case",
    "Under investigation",
    "Awaiting court outcome",
)
_O = {o: i for i, o in enumerate(OUTCOMES)}
_COURT_OUTCOMES = (
    "Court result unavailable", "Offender sent to prison", "Offender given suspended prison sentence",
    "Offender fined", "Offender given community sentence", "Defendant found not guilty",
    "Offender given conditional discharge",
)
_THEFT_PROFILE = {
    "Investigation complete; no suspect identified": 72, "Unable to prosecute suspect": 12,
    "Court result unavailable": 3, "Local resolution": 2, "Offender given a caution": 0.5,
    "Status update unavailable": 3, "Further investigation is not in the public interest": 3,
    "Formal action is not in the public interest": 0.3, "Action to be taken by another organisation": 0.5,
    "Offender sent to prison": 1, "Offender given suspended prison sentence": 0.4,
    "Offender fined": 0.4, "Offender given community sentence": 0.5,
    "Defendant found not guilty": 0.2, "Offender given conditional discharge": 0.3,
    "Suspect charged as part of another case": 0.5,
}
_OUTCOME_PROFILES: dict[str, dict[str, float]] = {
    "Violence and sexual offences": {
        "Investigation complete; no suspect identified": 14, "Unable to prosecute suspect": 56,
        "Court result unavailable": 7, "Local resolution": 5, "Offender given a caution": 3,
        "Status update unavailable": 3, "Further investigation is not in the public interest": 3,
        "Formal action is not in the public interest": 1, "Action to be taken by another organisation": 2,
        "Offender sent to prison": 1.5, "Offender given suspended prison sentence": 1,
        "Offender fined": 0.5, "Offender given community sentence": 1.2,
        "Defendant found not guilty": 0.8, "Offender given conditional discharge": 0.5,
        "Suspect charged as part of another case": 0.5},
    "Public order": {
        "Investigation complete; no suspect identified": 22, "Unable to prosecute suspect": 46,
        "Court result unavailable": 7, "Local resolution": 6, "Offender given a caution": 3,
        "Status update unavailable": 3, "Further investigation is not in the public interest": 3,
        "Formal action is not in the public interest": 1, "Action to be taken by another organisation": 2,
        "Offender sent to prison": 1, "Offender given suspended prison sentence": 0.5,
        "Offender fined": 1.5, "Offender given community sentence": 1,
        "Defendant found not guilty": 0.5, "Offender given conditional discharge": 1,
        "Offender given penalty notice": 1, "Suspect charged as part of another case": 0.5},
    "Shoplifting": {
        "Investigation complete; no suspect identified": 42, "Unable to prosecute suspect": 12,
        "Court result unavailable": 14, "Local resolution": 7, "Offender given a caution": 3,
        "Status update unavailable": 3, "Further investigation is not in the public interest": 4,
        "Formal action is not in the public interest": 1, "Action to be taken by another organisation": 0.5,
        "Offender sent to prison": 3, "Offender given suspended prison sentence": 1.5,
        "Offender fined": 3, "Offender given community sentence": 2,
        "Defendant found not guilty": 0.2, "Offender given conditional discharge": 2,
        "Suspect charged as part of another case": 2},
    "Drugs": {
        "Investigation complete; no suspect identified": 3, "Unable to prosecute suspect": 8,
        "Court result unavailable": 12, "Local resolution": 22, "Offender given a caution": 8,
        "Status update unavailable": 4, "Further investigation is not in the public interest": 2,
        "Formal action is not in the public interest": 7, "Action to be taken by another organisation": 1,
        "Offender sent to prison": 3, "Offender given suspended prison sentence": 1.5,
        "Offender fined": 4, "Offender given community sentence": 3,
        "Defendant found not guilty": 0.5, "Offender given conditional discharge": 3,
        "Offender given a drugs possession warning": 14, "Offender given penalty notice": 4,
        "Suspect charged as part of another case": 2},
    "Possession of weapons": {
        "Investigation complete; no suspect identified": 6, "Unable to prosecute suspect": 18,
        "Court result unavailable": 30, "Local resolution": 4, "Offender given a caution": 10,
        "Status update unavailable": 4, "Further investigation is not in the public interest": 3,
        "Formal action is not in the public interest": 3, "Offender sent to prison": 8,
        "Offender given suspended prison sentence": 5, "Offender fined": 2,
        "Offender given community sentence": 4, "Defendant found not guilty": 1,
        "Offender given conditional discharge": 2},
    "Robbery": {
        "Investigation complete; no suspect identified": 50, "Unable to prosecute suspect": 25,
        "Court result unavailable": 7, "Local resolution": 1, "Offender given a caution": 1,
        "Status update unavailable": 3, "Further investigation is not in the public interest": 3,
        "Offender sent to prison": 5, "Offender given suspended prison sentence": 1,
        "Offender given community sentence": 1, "Defendant found not guilty": 1,
        "Suspect charged as part of another case": 2},
    "Other crime": {
        "Investigation complete; no suspect identified": 25, "Unable to prosecute suspect": 38,
        "Court result unavailable": 10, "Local resolution": 4, "Offender given a caution": 3,
        "Status update unavailable": 5, "Further investigation is not in the public interest": 6,
        "Formal action is not in the public interest": 2, "Action to be taken by another organisation": 4,
        "Offender sent to prison": 1, "Offender given suspended prison sentence": 0.5,
        "Offender fined": 0.5, "Offender given community sentence": 0.5,
        "Suspect charged as part of another case": 0.5},
    "Criminal damage and arson": {
        **_THEFT_PROFILE, "Investigation complete; no suspect identified": 62,
        "Unable to prosecute suspect": 17, "Local resolution": 4, "Offender given a caution": 1},
}
_POI_GENERIC = ("Parking Area", "Supermarket", "Shopping Area", "Petrol Station",
                "Sports/Recreation Area", "Park/Open Space")
_POI_SHOPS = ("Supermarket", "Shopping Area", "Petrol Station")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _rng(seed: int, stream: int) -> np.random.Generator:
    """Independent, reproducible sub-stream ``stream`` of ``seed``."""
    return np.random.default_rng([int(seed), stream])


def _month_number(ym: str) -> int:
    try:
        y, m = (int(p) for p in ym.split("-"))
    except ValueError:
        raise ValueError(f"end_month must be YYYY-MM, not {ym!r}") from None
    if not 1 <= m <= 12:
        raise ValueError(f"end_month must be YYYY-MM, not {ym!r}")
    return y * 12 + m - 1


def _month_date(n: int) -> dt.date:
    return dt.date(n // 12, n % 12 + 1, 1)


def _seasonal(cal_month: np.ndarray, amplitude: float, peak: float) -> np.ndarray:
    return 1.0 + amplitude * np.cos(2 * np.pi * (cal_month - peak) / 12.0)


def _populations(seed: int) -> np.ndarray:
    r = _rng(seed, 2)
    return np.round(1200 + 1200 * r.beta(2.0, 2.4, size=len(LSOA_CODES))).astype(np.int64)


def _ward_index() -> np.ndarray:
    w = {n: i for i, n in enumerate(WARD_NAMES)}
    return np.array([w[n] for n in LSOA_WARDS])


def _frame(name: str, data: dict) -> pl.DataFrame:
    """Build a frame with exactly the contract's columns, order and types (optional fields not
    given are blank)."""
    types = {"VARCHAR": pl.String, "BIGINT": pl.Int64, "INTEGER": pl.Int32, "DATE": pl.Date, "DOUBLE": pl.Float64}
    fields = catalog.contract(name).fields
    n = max((len(v) for v in data.values()), default=0)
    return pl.DataFrame({f.name: pl.Series(f.name, data[f.name] if f.name in data or not f.optional
                                           else [None] * n, dtype=types[f.type]) for f in fields})


def _codes(vocab, idx: np.ndarray) -> pl.Series:
    return pl.Series(list(vocab), dtype=pl.String).gather(idx)


def _expand(lam: np.ndarray, r: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Poisson counts per cell of ``lam`` (any shape), expanded to one index tuple per event."""
    counts = r.poisson(lam).ravel()
    cell = np.repeat(np.arange(counts.size), counts)
    return np.unravel_index(cell, lam.shape)


def _locations(r, ward: np.ndarray, poi_share: np.ndarray, pois_for_row=None):
    """Location vocabulary and per-row index: 'On or near <street>' from the ward's streets, or a
    police.uk-style point of interest with probability poi_share (per row)."""
    streets, start, count = [], [], []
    for name in WARD_NAMES:
        s = _WARDS[name][1]
        start.append(len(streets))
        count.append(len(s))
        streets.extend(s)
    pois = list(dict.fromkeys(_POI_GENERIC + _POI_SHOPS))
    vocab = [f"On or near {s}" for s in streets + pois] + ["No location"]
    start, count = np.array(start), np.array(count)
    n = ward.size
    idx = start[ward] + np.floor(r.random(n) * count[ward]).astype(np.int64)
    poi_generic = len(streets) + r.integers(0, len(_POI_GENERIC), n)
    if pois_for_row is not None:  # rows flagged here draw from the shop POIs instead
        shop = len(streets) + np.array([pois.index(p) for p in _POI_SHOPS])[
            r.integers(0, len(_POI_SHOPS), n)]
        poi_generic = np.where(pois_for_row, shop, poi_generic)
    idx = np.where(r.random(n) < poi_share, poi_generic, idx)
    return vocab, idx


# --------------------------------------------------------------------------------------------
# geography and boundaries
# --------------------------------------------------------------------------------------------
def build_geography(seed: int = DEFAULT_SEED) -> pl.DataFrame:
    """Fenmouth's LSOAs as 2021 LSOAs (one vintage, each its own current LSOA) in their wards."""
    return _frame("geography", {
        "lsoa_code": list(LSOA_CODES),
        "lsoa_name": LSOA_NAMES,
        "lsoa_vintage": ["2021"] * len(LSOA_CODES),
        "current_lsoa_code": list(LSOA_CODES),
        "ward_code": [WARD_CODES[w] for w in LSOA_WARDS],
        "ward_name": LSOA_WARDS,
        "district_code": [DISTRICT_CODE] * len(LSOA_CODES),
        "district_name": [DISTRICT_NAME] * len(LSOA_CODES),
        "fit": ["ward: best-fit lookup (fictional demo wards)"] * len(LSOA_CODES),
        "population": _populations(seed),
    })


def build_population(seed: int = DEFAULT_SEED) -> pl.DataFrame:
    """The LSOA populations as the population dataset holds them (mid-2024)."""
    return _frame("population", {
        "area_code": list(LSOA_CODES),
        "area_level": ["lsoa"] * len(LSOA_CODES),
        "population": _populations(seed),
        "year": [POPULATION_YEAR] * len(LSOA_CODES),
        "source": [f"demo generator (seed {seed})"] * len(LSOA_CODES),
    })


def build_areas(geography: pl.DataFrame, population: pl.DataFrame) -> pl.DataFrame:
    """Derived exactly as a real import derives it (csp.geography.areas)."""
    from .geography import areas

    return areas.build(geography, population)


def _vertex_lonlat(seed: int) -> np.ndarray:
    """(GRID_COLS+1, GRID_ROWS+1, 2) lon/lat of the jittered, centre-weighted grid vertices."""
    r = _rng(seed, 1)
    i, j = np.meshgrid(np.arange(GRID_COLS + 1), np.arange(GRID_ROWS + 1), indexing="ij")
    x = i + r.uniform(-JITTER, JITTER, i.shape)
    y = j + r.uniform(-JITTER, JITTER, j.shape)
    u = (x - GRID_COLS / 2) / (GRID_COLS / 2)
    v = (y - GRID_ROWS / 2) / (GRID_ROWS / 2)
    warp = lambda a: a * (0.5 + 0.5 * np.abs(a))  # noqa: E731 - smaller cells in the town
    return np.stack([LON0 + HALF_LON * warp(u), LAT0 + HALF_LAT * warp(v)], axis=-1)


def _outline(cells) -> list[list[list[tuple[int, int]]]]:
    """Polygons (outer ring first, then holes) of the union of grid cells, in vertex indices.

    Cell edges shared by two member cells cancel; the remaining directed edges are chained into
    rings, turning as far left as possible at vertices where two member cells touch only at a
    corner, so every ring is simple. Outer rings come out anticlockwise, holes clockwise (the
    RFC 7946 orientation)."""
    directed = set()
    for i, j in cells:
        vs = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)]
        directed.update(zip(vs, vs[1:] + vs[:1]))
    boundary = sorted((a, b) for a, b in directed if (b, a) not in directed)
    outgoing: dict = defaultdict(list)
    for a, b in boundary:
        outgoing[a].append(b)
    unused = set(boundary)
    rings = []
    for first in boundary:
        if first not in unused:
            continue
        unused.discard(first)
        ring, (prev, cur) = [first[0]], first
        while True:
            ring.append(cur)
            dx, dy = cur[0] - prev[0], cur[1] - prev[1]
            prefs = [(-dy, dx), (dx, dy), (dy, -dx)]  # left, straight, right
            options = [b for b in outgoing[cur] if (cur, b) in unused or (cur, b) == first]
            nxt = min(options, key=lambda b: prefs.index((b[0] - cur[0], b[1] - cur[1])))
            if (cur, nxt) == first:
                break
            unused.discard((cur, nxt))
            prev, cur = cur, nxt
        rings.append(ring)  # closed: ring[0] == ring[-1]

    def area(ring):
        return sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:])) / 2

    outers = [r for r in rings if area(r) > 0]
    polys = [[r] for r in outers]
    for hole in (r for r in rings if area(r) < 0):
        # midpoint of a vertical hole edge: never on a vertex, so a horizontal ray is unambiguous
        a, b = next((a, b) for a, b in zip(hole, hole[1:]) if a[0] == b[0])
        px, py = a[0], (a[1] + b[1]) / 2
        for poly in polys:
            outer = poly[0]
            crossings = sum(
                1 for c, d in zip(outer, outer[1:])
                if c[0] == d[0] and c[0] > px and min(c[1], d[1]) < py < max(c[1], d[1])
            )
            if crossings % 2:
                poly.append(hole)
                break
    return polys


def _geometry(cells, verts: np.ndarray) -> dict:
    polys = [
        [[[round(float(verts[i, j, 0]), 6), round(float(verts[i, j, 1]), 6)] for i, j in ring]
         for ring in poly]
        for poly in _outline(cells)
    ]
    if len(polys) == 1:
        return {"type": "Polygon", "coordinates": polys[0]}
    return {"type": "MultiPolygon", "coordinates": polys}


def build_boundaries(seed: int = DEFAULT_SEED) -> dict[str, dict]:
    """GeoJSON FeatureCollections for 'lsoa', 'ward' and 'district' (lon/lat, EPSG:4326)."""
    verts = _vertex_lonlat(seed)
    lsoa = [
        {"type": "Feature",
         "properties": {"code": code, "name": name, "ward_code": WARD_CODES[ward],
                        "district_code": DISTRICT_CODE},
         "geometry": _geometry([cell], verts)}
        for code, name, ward, cell in zip(LSOA_CODES, LSOA_NAMES, LSOA_WARDS, LSOA_CELLS)
    ]
    ward = [
        {"type": "Feature",
         "properties": {"code": WARD_CODES[name], "name": name, "district_code": DISTRICT_CODE},
         "geometry": _geometry([c for c, w in zip(LSOA_CELLS, LSOA_WARDS) if w == name], verts)}
        for name in WARD_NAMES
    ]
    district = [
        {"type": "Feature", "properties": {"code": DISTRICT_CODE, "name": DISTRICT_NAME},
         "geometry": _geometry(LSOA_CELLS, verts)}
    ]
    return {
        level: {"type": "FeatureCollection", "features": feats}
        for level, feats in (("lsoa", lsoa), ("ward", ward), ("district", district))
    }


# --------------------------------------------------------------------------------------------
# police data
# --------------------------------------------------------------------------------------------
def _crime_rates(seed: int, end: int, months: int, pop: np.ndarray) -> np.ndarray:
    """Expected crimes, shape (months, LSOAs, types)."""
    r = _rng(seed, 3)
    ward = _ward_index()
    L, K = len(LSOA_CODES), len(CRIME_TYPES)
    month_n = np.arange(end - months + 1, end + 1)
    cal = month_n % 12 + 1
    years = (np.arange(months) - (months - 1) / 2) / 12.0

    # static shares: population x LSOA deprivation x LSOA/type noise x ward/type multiplier
    deprivation = r.lognormal(0.0, 0.35, L)
    weight = pop[:, None] * deprivation[:, None] * r.lognormal(0.0, 0.2, (L, K))
    for w, name in enumerate(WARD_NAMES):
        mults = _WARD_CRIME_MULT.get(name, {})
        for t, k in _K.items():
            m = mults.get(t, _SHOPLIFTING_ELSEWHERE if t == "Shoplifting" else 1.0)
            weight[ward == w, k] *= m
    share = weight / weight.sum(axis=0, keepdims=True)

    total_pop = pop.sum()
    lam = np.empty((months, L, K))
    for t, k in _K.items():
        rate, amp, peak, trend = _CRIME_MODEL[t]
        per_month = rate * total_pop / 1000.0 / 12.0 * _seasonal(cal, amp, peak) * np.exp(trend * years)
        per_month = per_month * r.gamma(300.0, 1 / 300.0, months)  # month-to-month wobble
        lam[:, :, k] = per_month[:, None] * share[None, :, k]

    # time-varying hotspots, on top of the district totals
    age = np.arange(months)
    spike = np.where(age >= months - BURGLARY_SPIKE_MONTHS,
                     2.4 + 0.8 * (age - (months - BURGLARY_SPIKE_MONTHS)) / BURGLARY_SPIKE_MONTHS, 1.0)
    marsh = ward == WARD_NAMES.index(HOTSPOTS["burglary_spike"]["ward"])
    lam[:, marsh, _K["Burglary"]] *= spike[:, None]
    decline = 3.5 * np.exp(-age * np.log(3.5 / 0.6) / max(months - 1, 1))
    abbey = ward == WARD_NAMES.index(HOTSPOTS["vehicle_decline"]["ward"])
    lam[:, abbey, _K["Vehicle crime"]] *= decline[:, None]
    return lam


def build_crime(seed: int = DEFAULT_SEED, end_month: str = DEFAULT_END_MONTH,
                months: int = DEFAULT_MONTHS, pop: np.ndarray | None = None) -> pl.DataFrame:
    end = _month_number(end_month)
    pop = _populations(seed) if pop is None else pop
    lam = _crime_rates(seed, end, months, pop)
    r = _rng(seed, 4)
    t, lsoa, k = _expand(lam, r)
    n = t.size
    ward = _ward_index()[lsoa]
    unknown = r.random(n) < 0.003

    # outcomes: "Under investigation" fades with the crime's age, court outcomes are
    # "Awaiting court outcome" until the (random) court delay has passed
    profiles = np.zeros((len(CRIME_TYPES), len(OUTCOMES)))
    for ty, ki in _K.items():
        for o, wgt in _OUTCOME_PROFILES.get(ty, _THEFT_PROFILE).items():
            profiles[ki, _O[o]] = wgt
    cdf = np.cumsum(profiles / profiles.sum(axis=1, keepdims=True), axis=1)
    outcome = (r.random(n)[:, None] > cdf[k]).sum(axis=1)
    outcome = np.minimum(outcome, len(OUTCOMES) - 3)  # float round-off at the top of the cdf
    age = (months - 1 - t).astype(float)
    court = np.isin(outcome, [_O[o] for o in _COURT_OUTCOMES])
    outcome = np.where(court & (r.exponential(5.0, n) > age), _O["Awaiting court outcome"], outcome)
    p_open = 0.9 * np.exp(-age / 1.8) + 0.015
    outcome = np.where(r.random(n) < p_open, _O["Under investigation"], outcome)

    shoplifting = k == _K["Shoplifting"]
    vocab, loc = _locations(r, ward, np.where(shoplifting, 0.7, 0.12), pois_for_row=shoplifting)
    loc = np.where(unknown, len(vocab) - 1, loc)

    ids = r.bytes(32 * n).hex()
    month_dates = pl.Series([_month_date(m) for m in range(end - months + 1, end + 1)], dtype=pl.Date)
    crime_type = _codes(CRIME_TYPES, k)
    df = _frame("crime", {
        "month": month_dates.gather(t),
        "crime_id": [ids[i:i + 64] for i in range(0, 64 * n, 64)],
        "falls_within": pl.repeat(FORCE_NAME, n, eager=True),
        "location": _codes(vocab, loc),
        "lsoa_code": _codes(LSOA_CODES, lsoa),
        "ward_code": _codes(WARD_CODES.values(), ward),
        "district_code": pl.repeat(DISTRICT_CODE, n, eager=True),
        "crime_type": crime_type,
        "crime_category": crime_type,
        "outcome": _codes(OUTCOMES, outcome),
    })
    return _blank_unknown(df, unknown).sort(
        ["month", "district_code", "ward_code", "lsoa_code", "crime_type", "crime_id"], nulls_last=True
    )


def _blank_unknown(df: pl.DataFrame, unknown: np.ndarray) -> pl.DataFrame:
    mask = pl.Series(unknown)
    return df.with_columns(
        pl.when(mask).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("lsoa_code", "ward_code", "district_code")
    )


def build_asb(seed: int = DEFAULT_SEED, end_month: str = DEFAULT_END_MONTH,
              months: int = DEFAULT_MONTHS, pop: np.ndarray | None = None) -> pl.DataFrame:
    end = _month_number(end_month)
    pop = _populations(seed) if pop is None else pop
    r = _rng(seed, 5)
    ward = _ward_index()
    rate, amp, peak, trend = _ASB_MODEL
    weight = pop * r.lognormal(0.0, 0.35, pop.size)
    for w, name in enumerate(WARD_NAMES):
        weight[ward == w] *= _WARD_ASB_MULT.get(name, 1.0)
    share = weight / weight.sum()
    cal = np.arange(end - months + 1, end + 1) % 12 + 1
    years = (np.arange(months) - (months - 1) / 2) / 12.0
    # Harbourside's seafront summers are stronger still
    harbour = ward == WARD_NAMES.index(HOTSPOTS["asb"]["ward"])
    season = np.where(harbour[None, :], _seasonal(cal, 0.40, peak)[:, None],
                      _seasonal(cal, amp, peak)[:, None])
    season = season / (season * share[None, :]).sum(axis=1, keepdims=True) * _seasonal(cal, amp, peak)[:, None]
    per_month = rate * pop.sum() / 1000.0 / 12.0 * np.exp(trend * years) * r.gamma(600.0, 1 / 600.0, months)
    lam = per_month[:, None] * share[None, :] * season
    t, lsoa = _expand(lam, r)
    n = t.size
    unknown = r.random(n) < 0.003
    vocab, loc = _locations(r, ward[lsoa], np.full(n, 0.15))
    loc = np.where(unknown, len(vocab) - 1, loc)
    month_dates = pl.Series([_month_date(m) for m in range(end - months + 1, end + 1)], dtype=pl.Date)
    df = _frame("asb", {
        "month": month_dates.gather(t),
        "falls_within": pl.repeat(FORCE_NAME, n, eager=True),
        "location": _codes(vocab, loc),
        "lsoa_code": _codes(LSOA_CODES, lsoa),
        "ward_code": _codes(WARD_CODES.values(), ward[lsoa]),
        "district_code": pl.repeat(DISTRICT_CODE, n, eager=True),
    })
    return _blank_unknown(df, unknown).sort(
        ["month", "district_code", "ward_code", "lsoa_code", "location"], nulls_last=True,
        maintain_order=True,
    )


# --------------------------------------------------------------------------------------------
# probation and health
# --------------------------------------------------------------------------------------------
# (age_group, cohort_type, cohort_group) -> (mean offenders a quarter, reoffending rate,
# reoffences per reoffender)
_REOFFENDING_MODEL = {
    ("adult", "custody", "IOM"): (12, 0.58, 5.0),
    ("adult", "custody", "other"): (50, 0.33, 3.9),
    ("adult", "court_order", "IOM"): (15, 0.55, 4.6),
    ("adult", "court_order", "other"): (165, 0.24, 3.6),
    ("adult", "caution", "IOM"): (6, 0.50, 4.0),
    ("adult", "caution", "other"): (85, 0.12, 2.8),
    ("juvenile", "custody", "IOM"): (1, 0.65, 5.0),
    ("juvenile", "custody", "other"): (2, 0.60, 4.5),
    ("juvenile", "court_order", "IOM"): (2, 0.60, 4.5),
    ("juvenile", "court_order", "other"): (10, 0.38, 3.8),
    ("juvenile", "caution", "IOM"): (1, 0.50, 4.0),
    ("juvenile", "caution", "other"): (12, 0.20, 3.0),
}
REOFFENDING_LAG_MONTHS = 21  # 12-month follow-up + 6-month wait + publication quarter


def _quarter_start(month_n: int) -> int:
    return month_n - month_n % 3


def reoffending_latest_cohort(end_month: str = DEFAULT_END_MONTH) -> dt.date:
    return _month_date(_quarter_start(_month_number(end_month) - REOFFENDING_LAG_MONTHS))


def build_reoffending(seed: int = DEFAULT_SEED, end_month: str = DEFAULT_END_MONTH,
                      months: int = DEFAULT_MONTHS) -> pl.DataFrame:
    r = _rng(seed, 6)
    last = _quarter_start(_month_number(end_month) - REOFFENDING_LAG_MONTHS)
    n_q = max(months // 3, 1)
    quarters = [last - 3 * (n_q - 1 - q) for q in range(n_q)]
    keys = sorted(_REOFFENDING_MODEL)
    mean, rate, per = (np.array([_REOFFENDING_MODEL[key][i] for key in keys], dtype=float) for i in range(3))
    years = (np.arange(n_q) - (n_q - 1) / 2) / 4.0
    cohort_trend = np.exp(-0.03 * years)[:, None]  # cohorts shrink slowly, as nationally
    offenders = np.maximum(1, r.poisson(mean[None, :] * cohort_trend))
    logit = np.log(rate / (1 - rate))[None, :] + r.normal(0, 0.12, (n_q, len(keys))) - 0.02 * years[:, None]
    reoffenders = r.binomial(offenders, 1 / (1 + np.exp(-logit)))
    reoffences = reoffenders + r.poisson((per[None, :] - 1) * reoffenders)
    rows = [(q, key) for q in quarters for key in keys]
    return _frame("reoffending", {
        "cohort_quarter": [_month_date(q) for q, _ in rows],
        "district_code": [DISTRICT_CODE] * len(rows),
        "age_group": [key[0] for _, key in rows],
        "cohort_type": [key[1] for _, key in rows],
        "cohort_group": [key[2] for _, key in rows],
        "offenders": offenders.ravel(),
        "reoffenders": reoffenders.ravel(),
        "reoffences": reoffences.ravel(),
    })


# substance group -> (in treatment, trend a year, successful completion share, re-presentation share)
_SUBSTANCE_MODEL = {
    "opiate": (600, -0.02, 0.05, 0.18),
    "non-opiate": (200, 0.04, 0.30, 0.11),
    "alcohol": (450, 0.03, 0.35, 0.13),
    "alcohol and non-opiate": (250, 0.02, 0.28, 0.14),
}


def build_substance_misuse(seed: int = DEFAULT_SEED, end_month: str = DEFAULT_END_MONTH,
                           months: int = DEFAULT_MONTHS) -> pl.DataFrame:
    """Rolling 12-month figures for each of the quarters up to the last complete one."""
    r = _rng(seed, 7)
    end = _month_number(end_month)
    last = _quarter_start(end) if end % 3 == 2 else _quarter_start(end) - 3
    n_q = max(months // 3, 1)
    quarters = [last - 3 * (n_q - 1 - q) for q in range(n_q)]
    groups = list(_SUBSTANCE_MODEL)
    span = n_q + 3  # three extra quarters so the first rolling window is full
    years = (np.arange(span) - (span - 1) / 2) / 4.0
    out = {"quarter": [], "district_code": [], "substance_group": [], "in_treatment": [],
           "successful_completions": [], "representations": []}
    for g in groups:
        level, trend, comp, rep = _SUBSTANCE_MODEL[g]
        wobble = np.cumsum(r.normal(0, 0.015, span))
        in_treatment = np.round(level * np.exp(trend * years + wobble - wobble.mean())).astype(np.int64)
        quarterly = r.poisson(in_treatment * comp / 4 * r.gamma(80.0, 1 / 80.0, span))
        reps = r.binomial(quarterly, rep)
        roll = lambda a: np.convolve(a, np.ones(4, dtype=np.int64), "valid")  # noqa: E731
        completions, representations = roll(quarterly), roll(reps)
        for q_i, q in enumerate(quarters):
            out["quarter"].append(_month_date(q))
            out["district_code"].append(DISTRICT_CODE)
            out["substance_group"].append(g)
            out["in_treatment"].append(int(in_treatment[q_i + 3]))
            out["successful_completions"].append(int(completions[q_i]))
            out["representations"].append(int(representations[q_i]))
    return _frame("substance_misuse", out).sort(["quarter", "substance_group"])


def _fy_label(start_year: int) -> str:
    return f"{start_year}/{(start_year + 1) % 100:02d}"


def build_alcohol_admissions(seed: int = DEFAULT_SEED, end_month: str = DEFAULT_END_MONTH,
                             years: int = 8, population: int | None = None) -> pl.DataFrame:
    """Fingertips-shaped rows for Fenmouth and England: 8 financial years ending with the one
    before the financial year that holds end_month."""
    r = _rng(seed, 8)
    end = _month_number(end_month)
    y, m = end // 12, end % 12 + 1
    last_start = (y if m >= 4 else y - 1) - 1
    starts = list(range(last_start - years + 1, last_start + 1))
    population = population or int(_populations(seed).sum())
    covid = np.array([0.92 if s == 2020 else 1.0 for s in starts])
    england = np.round((628 + np.cumsum(r.normal(0, 5, years))) * covid)
    ratio = np.linspace(1.02, 1.15, years) * np.exp(r.normal(0, 0.02, years))
    fen = np.round(england * ratio)
    admissions = fen / 100_000 * population
    half = 1.96 * fen / np.sqrt(admissions)
    sig = np.where(fen - half > england, "Worse", np.where(fen + half < england, "Better", "Similar"))
    rows = []
    for i, s in enumerate(starts):
        rows.append((DISTRICT_CODE, DISTRICT_NAME, _fy_label(s), float(fen[i]), str(sig[i])))
        rows.append((ENGLAND_CODE, ENGLAND_NAME, _fy_label(s), float(england[i]), "Not compared"))
    cols = list(zip(*rows))
    return _frame("alcohol_admissions", {
        "area_code": cols[0], "area_name": cols[1], "period": cols[2], "value": cols[3],
        "significance": cols[4],
    }).sort(["period", "area_code"])


# --------------------------------------------------------------------------------------------
# everything, and publishing
# --------------------------------------------------------------------------------------------
def build_frames(seed: int = DEFAULT_SEED, end_month: str = DEFAULT_END_MONTH,
                 months: int = DEFAULT_MONTHS) -> dict[str, pl.DataFrame]:
    """Every demo dataset, keyed by dataset name, each matching its contract exactly."""
    if months < 1:
        raise ValueError("months must be at least 1")
    _month_number(end_month)
    geography = build_geography(seed)
    population = build_population(seed)
    pop = geography["population"].to_numpy()
    from . import demo_partners

    return {
        "geography": geography,
        "population": population,
        "areas": build_areas(geography, population),
        # The police extract as the police analyst uploads it: with the domestic-abuse and
        # hate-crime flags police.uk files lack.
        "crime": demo_partners.add_crime_flags(build_crime(seed, end_month, months, pop), seed),
        "asb": build_asb(seed, end_month, months, pop),
        "reoffending": build_reoffending(seed, end_month, months),
        "substance_misuse": build_substance_misuse(seed, end_month, months),
        "alcohol_admissions": build_alcohol_admissions(seed, end_month, population=int(pop.sum())),
        **demo_partners.build_partner_frames(seed, end_month, months, pop),
    }


def boundaries_dir() -> Path:
    return config.data_dir() / "boundaries"


def boundary_path(level: str) -> Path:
    if level not in BOUNDARY_LEVELS:
        raise KeyError(level)
    return boundaries_dir() / f"{level}.geojson"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_boundaries(seed: int = DEFAULT_SEED) -> dict[str, Path]:
    out = {}
    for level, fc in build_boundaries(seed).items():
        path = boundary_path(level)
        _write_atomic(path, json.dumps(fc, separators=(",", ":")))
        out[level] = path
    return out


def demo_present() -> bool:
    """True when every demo dataset has a current version and every boundary file exists."""
    return all(store.current_version_id(n) for n in DATASETS) and all(
        boundary_path(level).exists() for level in BOUNDARY_LEVELS
    )


def publish_demo(published_by: str = "demo", *, seed: int = DEFAULT_SEED,
                 end_month: str = DEFAULT_END_MONTH, months: int = DEFAULT_MONTHS,
                 force: bool = False) -> dict[str, str]:
    """Publish the demo datasets and boundaries; returns dataset -> current version id.

    Idempotent: when the demo is already present nothing is written. Otherwise only datasets
    with no current version (and missing boundary files) are published, so a real dataset that
    is already current is never overwritten. ``force=True`` republishes everything.
    A lock file serialises concurrent callers (e.g. two app processes starting together)."""
    root = config.data_dir()
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".demo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            from . import upgrade
            upgrade.upgrade_all(published_by)  # data published before its contract grew
            if not force and demo_present():
                return {n: store.current_version_id(n) for n in DATASETS}
            frames = build_frames(seed, end_month, months)
            ids = {}
            for name in DATASETS:
                vid = store.current_version_id(name)
                if force or not vid:
                    frame = frames[name]
                    vid = store.publish(
                        name,
                        write=lambda cur, out, f=frame: f.write_parquet(out, compression="zstd"),
                        published_by=published_by,
                        source=f"demo generator (seed {seed})",
                        note=f"Fictional demo data for {DISTRICT_NAME} to {end_month} ({months} months).",
                    ).version
                ids[name] = vid
            if force or not all(boundary_path(lv).exists() for lv in BOUNDARY_LEVELS):
                write_boundaries(seed)
            from . import partnership
            if partnership.districts() is None:  # the demo partnership is the whole district
                partnership.set_area([DISTRICT_CODE], by=published_by, label=f"{DISTRICT_NAME} Community Safety Partnership")
            return ids
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
