"""Issue 14, findings 1 and 7: small files that describe huge tables, and Parquet columns of
types no upload may hold, are refused with a clear message, quickly, with the reading process's
memory barely moving; each refused attempt is audited.

The hostile files are measured in a fresh process (tests/hostile_probe.py) so the figure is that
process's own peak resident memory; the probe runs under a 6 GB address-space limit, so code that
tries to read these files whole fails here with MemoryError rather than taking the machine.
Times are printed, not asserted."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from upload_fixtures import declared_xlsx, many_rows_parquet, odd_parquet, wide_csv

from csp import audit, store, upload, users, validate

HERE = Path(__file__).resolve().parent
GROWTH_MB = 100  # the ceiling for the app server's memory per hostile upload

HOSTILE = {
    # name: (file name, maker, what the refusal must say)
    "xlsx_XFD8000": ("wide.xlsx", lambda: declared_xlsx("A1:XFD8000"), "16,384 columns"),
    "xlsx_XFD1048576": ("huge.xlsx", lambda: declared_xlsx("A1:XFD1048576"), "16,384 columns"),
    "parquet_20M_rows": ("rows.parquet", many_rows_parquet, "20,000,000 rows"),
    "csv_1M_columns": ("wide.csv", wide_csv, "1,000,000 columns"),
}


@pytest.fixture
def analyst(tiny, monkeypatch):
    monkeypatch.setenv("CSP_COOKIE_KEY", "test-cookie-key-9f3Kq2LmZ7xW4vB8nR1pY6dH0sJ5gTcE")
    return users.add_user("analyst.police", tiny["password"], role="analyst", partner="police")


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    out = {}
    for key, (name, make, _) in HOSTILE.items():
        (d / key).mkdir()
        path = d / key / name
        path.write_bytes(make())
        out[key] = path
    return out


def probe(mode: str, path: Path, dataset: str = "crime") -> dict:
    proc = subprocess.run([sys.executable, str(HERE / "hostile_probe.py"), mode, str(path), dataset],
                          env=dict(os.environ), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("key", list(HOSTILE))
def test_hostile_upload_is_refused_with_bounded_memory_through_the_cli(analyst, hostile_files, key):
    path = hostile_files[key]
    before = store.current_version_id("crime")
    got = probe("cli", path)
    print(f"\n{key} ({path.stat().st_size:,} bytes) via CLI: {got['seconds']} s, resident memory "
          f"{got['rss_before_mb']} MB -> peak {got['peak_mb']} MB (+{got['growth_mb']} MB)")
    assert HOSTILE[key][2] in got["said"], got["said"]
    assert "Traceback" not in got["said"]
    assert got["growth_mb"] <= GROWTH_MB, got
    assert store.current_version_id("crime") == before
    refused = [r for r in audit.search(action="upload") if json.loads(r["details"])["file"] == path.name]
    assert refused and json.loads(refused[0]["details"])["errors"] == 1


@pytest.mark.parametrize("key", ["xlsx_XFD1048576", "csv_1M_columns"])
def test_hostile_upload_is_refused_through_the_upload_page(analyst, hostile_files, key):
    """The Upload page (AppTest: the app's own script, logged in through the form) refuses the
    file with the same message, its process's memory barely moves, and the next file works."""
    path = hostile_files[key]
    got = probe("page", path)
    print(f"\n{key} via the Upload page: {got['seconds']} s, resident memory {got['rss_before_mb']} MB -> "
          f"peak {got['peak_mb']} MB (+{got['growth_mb']} MB)")
    assert HOSTILE[key][2] in got["said"], got["said"]
    assert got["growth_mb"] <= GROWTH_MB, got
    assert got["after"]


@pytest.mark.parametrize("kind,words", [("list", "lists of values"), ("struct", "records of several fields"),
                                        ("duration", "durations"), ("array", "lists of values")])
def test_odd_parquet_types_are_refused_naming_the_column_and_audited(analyst, kind, words):
    """A list, struct, duration ... column raised an uncaught Polars error (a traceback on the CLI,
    a generic error page in the app) and the attempt went unaudited."""
    column = {"list": "tags", "struct": "where", "duration": "took", "array": "pair"}[kind]
    plan = upload.prepare("crime", odd_parquet(kind), f"odd-{kind}.parquet", user=analyst)
    assert [p.code for p in plan.errors] == ["unreadable"]
    message = plan.errors[0].message
    assert f"column '{column}' holds {words}" in message and "only text, numbers, dates" in message
    rows = [r for r in audit.search(action="upload") if f"odd-{kind}" in r["details"]]
    assert len(rows) == 1 and json.loads(rows[0]["details"])["errors"] == 1


def test_bytes_are_read_as_text_or_refused_naming_the_column(analyst):
    """Some writers store text as bytes without saying so: read as text; bytes that are not text
    are refused with the column named (the cast used to fail unhandled)."""
    import polars as pl

    from upload_fixtures import CRIME_HEADER, crime_rows, parquet_bytes

    base = pl.DataFrame([dict(zip(CRIME_HEADER.split(","), r.split(","))) for r in crime_rows(3)])
    text = base.with_columns(pl.col("location").cast(pl.Binary))
    assert upload.prepare("crime", parquet_bytes(text), "b.parquet", user=analyst).ok
    plan = upload.prepare("crime", odd_parquet("binary"), "blob.parquet", user=analyst)
    assert "column 'blob' holds values (Binary) that cannot be read as text" in plan.errors[0].message


def test_an_unexpected_failure_is_still_audited(analyst, monkeypatch):
    """Any failure while preparing an upload is recorded as an attempt, then shown plainly."""
    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(upload, "_map_columns", boom)
    from upload_fixtures import crime_csv

    with pytest.raises(RuntimeError):
        upload.prepare("crime", crime_csv(), "ok.csv", user=analyst)
    row = audit.search(action="upload")[0]
    assert json.loads(row["details"])["failed"] == "RuntimeError"


def _many_cells(rows: int, columns: int = 200) -> bytes:
    """A plain CSV within every declared limit whose cells are many: it takes real memory and
    time to read."""
    header = ",".join(f"c{i}" for i in range(columns))
    return ("\n".join([header] + [",".join([f"{r:06d}"] * columns) for r in range(rows)]) + "\n").encode()


def test_a_file_that_breaks_the_memory_limit_is_stopped(data_dir, monkeypatch):
    """The backstop: a file whose real content (not its declaration) needs more than the read's
    memory limit is stopped by the child's limit with a plain message; the next file is read."""
    from csp import sandbox

    monkeypatch.setenv("CSP_UPLOAD_READ_MEMORY_MB", "40")
    with pytest.raises(validate.ReadError, match="needs more memory to read than an upload may use"):
        sandbox.read_table(_many_cells(20_000), "big.csv")
    monkeypatch.setenv("CSP_UPLOAD_READ_MEMORY_MB", "2048")
    assert sandbox.read_table(_many_cells(20_000), "big.csv").frame.height == 20_000


def test_a_read_that_takes_too_long_is_stopped(data_dir, monkeypatch):
    from csp import sandbox

    monkeypatch.setenv("CSP_UPLOAD_READ_SECONDS", "1")
    with pytest.raises(validate.ReadError, match="took longer than 1 s to read"):
        sandbox.read_table(_many_cells(60_000), "slow.csv")
    monkeypatch.setenv("CSP_UPLOAD_READ_SECONDS", "60")
    assert sandbox.read_table(_many_cells(50), "small.csv").frame.height == 50
