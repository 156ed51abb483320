"""Synthetic police.uk street-level data over the national LSOA lookup, published for real.

Run as a child process (`python -m bench.dataset DATA_DIR ROWS MONTHS`) so the importer's own
memory use does not count in the app-side peak RSS the benchmark reports; it prints one JSON line.

Distributions (chosen to look like the national data, not to be it):
- months: a seasonal cycle (summer peak, +-10%) on a slight downward trend;
- crime types: national police.uk shares (ASB ~17%, violence ~31%, ...);
- LSOAs: the real 2011 LSOA -> 2017 ward -> 2017 district lookup (34,753 LSOAs, ~7,000 wards,
  ~350 districts), weighted by population times a heavy-tailed hotspot factor, so a few LSOAs
  carry many crimes and many carry few; ~1.5% of rows have no LSOA (police.uk's "no location").
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

LOOKUP_CSV = (Path(__file__).resolve().parents[2] / "shared" / "realdata" / "lookups"
              / "national_2011lsoa_2017ward" / "derived_lsoa11_to_ward17_to_lad17_with_pop2017.csv")
ASB = "Anti-social behaviour"
# Approximate national shares of police.uk street-level rows (England and Wales, 2023).
CRIME_SHARES = {
    "Violence and sexual offences": 0.31, ASB: 0.17, "Public order": 0.085,
    "Criminal damage and arson": 0.075, "Shoplifting": 0.07, "Other theft": 0.065,
    "Vehicle crime": 0.055, "Burglary": 0.045, "Drugs": 0.032, "Theft from the person": 0.017,
    "Other crime": 0.015, "Robbery": 0.012, "Bicycle theft": 0.011, "Possession of weapons": 0.009,
}
OUTCOMES = {
    "Investigation complete; no suspect identified": 0.42, "Unable to prosecute suspect": 0.30,
    "Under investigation": 0.12, "Awaiting court outcome": 0.05, "Local resolution": 0.03,
    "Offender given a caution": 0.02, "Court result unavailable": 0.02,
    "Further investigation is not in the public interest": 0.02, "Formal action is not in the public interest": 0.02,
}
STREETS = [f"{a} {b}" for a in ("High", "Church", "Station", "Park", "Mill", "London", "Victoria",
                                "Green", "Manor", "Queen", "King", "New", "School", "North", "West")
           for b in ("Street", "Road", "Lane", "Avenue", "Close", "Way", "Drive", "Place")]
NO_LSOA_SHARE = 0.015
LAST_MONTH = (2025, 9)


def month_list(n: int) -> list[str]:
    y, m = LAST_MONTH
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


def load_lookup(path: Path = LOOKUP_CSV) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False).select(
        pl.col("lsoa11cd").alias("lsoa_code"), pl.col("wd17cd").alias("ward_code"),
        pl.col("lad17cd").alias("district_code"), pl.col("lad17nm").alias("district_name"),
        pl.col("lsoa_population_mid2017").cast(pl.Int64).alias("population"),
    )


def _hex_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random 64-character hex strings, like police.uk's Crime ID (vectorised, no Python loop)."""
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    raw = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    out = np.empty((n, 64), dtype=np.uint8)
    out[:, 0::2] = digits[raw >> 4]
    out[:, 1::2] = digits[raw & 15]
    return out.view("S64").ravel()


def generate(out_dir: Path, rows: int, months: int = 36, seed: int = 6,
             lookup: pl.DataFrame | None = None) -> dict:
    """Write police.uk-shaped CSVs, one per month (YYYY-MM/YYYY-MM-synthetic-street.csv)."""
    rng = np.random.default_rng(seed)
    lookup = load_lookup() if lookup is None else lookup
    # LSOA names as police.uk writes them: "<district> 001A".
    lookup = lookup.with_columns(
        (pl.col("district_name") + " " + (pl.int_range(pl.len()).over("district_code") + 1)
         .cast(pl.String).str.zfill(3) + "A").alias("lsoa_name"),
        # One of 43 forces, by district code order (neighbouring codes are mostly neighbours).
        ("Synthetic Force " + (pl.col("district_code").rank("dense") % 43 + 1).cast(pl.String)
         .str.zfill(2) + " Police").alias("force"),
    )
    hotspot = rng.lognormal(0.0, 0.9, lookup.height)
    w_lsoa = lookup["population"].fill_null(1500).to_numpy() * hotspot
    w_lsoa = w_lsoa / w_lsoa.sum()
    month_names = month_list(months)
    t = np.arange(months)
    cal = np.array([int(m[5:]) for m in month_names])
    w_month = (1 + 0.10 * np.cos((cal - 7) / 12 * 2 * np.pi)) * (1 - 0.004 * t)
    per_month = rng.multinomial(rows, w_month / w_month.sum())
    types = np.array(list(CRIME_SHARES))
    p_types = np.array(list(CRIME_SHARES.values()))
    p_types = p_types / p_types.sum()
    outcomes = np.array(list(OUTCOMES))
    p_out = np.array(list(OUTCOMES.values()))
    p_out = p_out / p_out.sum()
    streets = np.array([f"On or near {s}" for s in STREETS])
    codes = lookup["lsoa_code"].to_numpy()
    names = lookup["lsoa_name"].to_numpy()
    forces = lookup["force"].to_numpy()
    written = 0
    for month, n in zip(month_names, per_month):
        n = int(n)
        idx = rng.choice(lookup.height, size=n, p=w_lsoa)
        ctype = types[rng.choice(len(types), size=n, p=p_types)]
        is_asb = ctype == ASB
        no_lsoa = rng.random(n) < NO_LSOA_SHARE
        frame = pl.DataFrame({
            "Crime ID": pl.Series(_hex_ids(rng, n)).cast(pl.String),
            "Month": np.full(n, month),
            "Reported by": forces[idx],
            "Falls within": forces[idx],
            "Longitude": np.round(rng.uniform(-5.5, 1.7, n), 6),
            "Latitude": np.round(rng.uniform(50.0, 55.8, n), 6),
            "Location": streets[rng.integers(0, len(streets), n)],
            "LSOA code": np.where(no_lsoa, "", codes[idx]),
            "LSOA name": np.where(no_lsoa, "", names[idx]),
            "Crime type": ctype,
            "Last outcome category": np.where(is_asb, "", outcomes[rng.choice(len(outcomes), size=n, p=p_out)]),
            "Context": np.full(n, ""),
        }).with_columns(
            pl.when(pl.Series(is_asb)).then(pl.lit("")).otherwise(pl.col("Crime ID")).alias("Crime ID"),
            pl.when(pl.Series(no_lsoa)).then(pl.lit("")).otherwise(pl.col("Longitude").cast(pl.String)).alias("Longitude"),
            pl.when(pl.Series(no_lsoa)).then(pl.lit("")).otherwise(pl.col("Latitude").cast(pl.String)).alias("Latitude"),
            pl.when(pl.Series(no_lsoa)).then(pl.lit("No location")).otherwise(pl.col("Location")).alias("Location"),
        )
        d = out_dir / month
        d.mkdir(parents=True, exist_ok=True)
        frame.write_csv(d / f"{month}-synthetic-street.csv")
        written += n
    return {"rows": written, "months": months, "first_month": month_names[0], "last_month": month_names[-1],
            "lsoas": lookup.height, "wards": lookup["ward_code"].n_unique(),
            "districts": lookup["district_code"].n_unique()}


def build(data_dir: Path, rows: int, months: int = 36, seed: int = 6) -> dict:
    """Generate CSVs and publish lookup + police.uk through the real importers into data_dir."""
    os.environ["CSP_DATA_DIR"] = str(data_dir)
    from csp import ingest

    csv_dir = data_dir / "bench-csv"
    t0 = time.perf_counter()
    facts = generate(csv_dir, rows, months, seed)
    facts["generate_s"] = round(time.perf_counter() - t0, 2)
    facts["csv_bytes"] = sum(p.stat().st_size for p in csv_dir.rglob("*.csv"))
    ingest.import_lookup(LOOKUP_CSV, published_by="bench")
    t0 = time.perf_counter()
    report = ingest.import_police_uk([csv_dir], published_by="bench")
    secs = time.perf_counter() - t0
    published = report.crime_rows + report.asb_rows
    facts |= {
        "published_rows": published, "crime_rows": report.crime_rows, "asb_rows": report.asb_rows,
        "publish_s": round(secs, 3), "publish_rows_per_s": round(published / secs),
        "publish_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    for p in csv_dir.rglob("*.csv"):  # the CSVs are only the importer's input
        p.unlink()
    return facts


if __name__ == "__main__":
    data_dir, rows, months = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(build(data_dir, rows, months)))
