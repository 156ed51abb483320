"""Shared fixtures: every test gets its own data directory; nothing touches ./data."""
from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
import tempfile
from pathlib import Path

import polars as pl
import pytest

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
LINCS = REALDATA / "police_uk" / "street" / "lincolnshire_2010-12_to_2015-12"
LOOKUP_CSV = REALDATA / "lookups" / "national_2011lsoa_2017ward" / "derived_lsoa11_to_ward17_to_lad17_with_pop2017.csv"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    from csp import queries, users

    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)  # the minimum cost: hashing speed is not under test
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("CSP_DATA_DIR", str(d))
    monkeypatch.delenv("CSP_COOKIE_KEY", raising=False)
    monkeypatch.delenv("CSP_DEMO", raising=False)
    # Record keys derive from a secret (csp.protection.record_keys); a fixed one keeps every
    # test's noise the same from run to run. Tests of the secret itself unset it.
    monkeypatch.setenv("CSP_RECORD_KEY_SECRET", "test-record-key-secret")
    monkeypatch.delenv("CSP_DATABASE_URL", raising=False)  # app state: SQLite in d unless a test says
    monkeypatch.delenv("CSP_AUDIT_KEY", raising=False)
    queries.clear_cache()
    return d


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL for this test run: Debian's package (installed when missing, as root),
    a private cluster in a temporary folder on a free loopback port, stopped at the end."""
    from deploy.local import Postgres, ensure_packages

    ensure_packages()
    root = Path(tempfile.mkdtemp(prefix="csp-test-pg-"))
    os.chmod(root, 0o711)  # the postgres user runs the server and must reach its folder
    pg = Postgres(root / "pg")
    try:
        pg.start()
        yield pg
    finally:
        from csp import state

        state.reset()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


_databases = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def state_db(request, data_dir, monkeypatch):
    """Run the test once with the app state in SQLite and once in PostgreSQL (a fresh database)."""
    from csp import state

    if request.param == "postgresql":
        pg = request.getfixturevalue("postgres")
        monkeypatch.setenv("CSP_DATABASE_URL", pg.create_database(f"test_{os.getpid()}_{next(_databases)}"))
    yield request.param
    state.reset()


# A tiny area with hand-countable figures: district D1 has wards W1 (LSOAs L1, L2) and W2 (L3);
# district D2 has ward W3 (L4).
D1, D2 = "E07000901", "E07000902"
W1, W2, W3 = "E05000901", "E05000902", "E05000903"
L1, L2, L3, L4 = "E01000901", "E01000902", "E01000903", "E01000904"

GEOGRAPHY = pl.DataFrame({
    "lsoa_code": [L1, L2, L3, L4],
    "lsoa_name": ["Tiny 001A", "Tiny 001B", "Tiny 002A", "Other 001A"],
    "lsoa_vintage": ["2011+2021"] * 4,
    "current_lsoa_code": [L1, L2, L3, L4],
    "ward_code": [W1, W1, W2, W3],
    "ward_name": ["Abbey", "Abbey", "Bridge", "Canal"],
    "district_code": [D1, D1, D1, D2],
    "district_name": ["Tinyshire", "Tinyshire", "Tinyshire", "Otherton"],
    "fit": ["ward: best-fit lookup (2024 wards)"] * 4,
    "population": [1500, 1500, 2000, 1000],
})
# The same populations as the population dataset holds them (mid-2024, by LSOA).
POPULATION = pl.DataFrame({
    "area_code": [L1, L2, L3, L4], "area_level": ["lsoa"] * 4, "population": [1500, 1500, 2000, 1000],
    "year": [2024] * 4, "source": ["fixture"] * 4,
}, schema={"area_code": pl.String, "area_level": pl.String, "population": pl.Int64, "year": pl.Int32,
           "source": pl.String})

# (month, lsoa, crime_type, how many)
CRIME_CELLS = [
    ("2024-01", L1, "Burglary", 7), ("2024-01", L2, "Burglary", 2), ("2024-01", L3, "Burglary", 4),
    ("2024-01", L4, "Burglary", 9), ("2024-01", L1, "Drugs", 1), ("2024-02", L3, "Drugs", 12),
    ("2024-02", None, "Burglary", 3),  # no location: "Unknown area"
    ("2023-02", L1, "Burglary", 20), ("2023-02", L3, "Burglary", 5),
]


def crime_frame() -> pl.DataFrame:
    lsoa_to = {r["lsoa_code"]: r for r in GEOGRAPHY.iter_rows(named=True)}
    rows = []
    n = 0
    for month, lsoa, ctype, k in CRIME_CELLS:
        g = lsoa_to.get(lsoa, {})
        for _ in range(k):
            n += 1
            rows.append({
                "month": dt.date(int(month[:4]), int(month[5:]), 1), "crime_id": f"id{n:05d}",
                "falls_within": "Tiny Police", "location": "On or near High Street", "lsoa_code": lsoa,
                "ward_code": g.get("ward_code"), "district_code": g.get("district_code"),
                "crime_type": ctype, "crime_category": ctype, "outcome": None,
            })
    return pl.DataFrame(rows, schema={
        "month": pl.Date, "crime_id": pl.String, "falls_within": pl.String, "location": pl.String,
        "lsoa_code": pl.String, "ward_code": pl.String, "district_code": pl.String,
        "crime_type": pl.String, "crime_category": pl.String, "outcome": pl.String,
    })


def publish_frame(name: str, frame: pl.DataFrame):
    from csp import store

    return store.publish(name, write=lambda cur, out: frame.write_parquet(out),
                         published_by="test", source="fixture")


@pytest.fixture
def tiny(data_dir):
    """The tiny area published, plus one user per interesting grant."""
    from csp import users

    from csp.geography import areas

    publish_frame("geography", GEOGRAPHY)
    publish_frame("population", POPULATION)
    publish_frame("areas", areas.build(GEOGRAPHY, POPULATION))
    publish_frame("crime", crime_frame())
    pw = "correct-horse-battery"
    made = {
        "police": users.add_user("pc.owner", pw, role="board", partner="police"),
        "council": users.add_user("council.board", pw, role="board", partner="council"),
        "health": users.add_user("health.board", pw, role="board", partner="health"),
        "fire": users.add_user("fire.officer", pw, role="practitioner", partner="fire", areas=[W2]),
        "housing": users.add_user("housing.officer", pw, role="practitioner", partner="housing", areas=[W1]),
    }
    return {"dir": data_dir, "users": made, "password": pw}


@pytest.fixture(autouse=True)
def _fixed_record_key_secret(monkeypatch):
    monkeypatch.setenv("CSP_RECORD_KEY_SECRET", "test-record-key-secret")


@pytest.fixture(autouse=True)
def _apptest_like_the_server(monkeypatch):
    """Make AppTest route pages the way the running server does.

    AppTest resets Streamlit's legacy "pages/ directory" flag before every run, so every run
    starts in legacy mode and re-runs the last page's file instead of app.py. The real server
    leaves legacy mode for good once app.py calls st.navigation. This shim sets the flag as the
    server has it, so tests exercise app.py's gate on every run, as a browser session does.
    """
    from streamlit.runtime import pages_manager
    from streamlit.testing.v1 import app_test

    class ServerLikePagesManager(pages_manager.PagesManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            pages_manager.PagesManager.uses_pages_directory = False

    monkeypatch.setattr(app_test, "PagesManager", ServerLikePagesManager)
