"""Benchmark harness for CSP Insight (issue 6): `python -m bench --help`.

- `bench.dataset`: synthetic police.uk street-level CSVs over the national LSOA lookup, published
  through the real importer (`csp.ingest.import_police_uk`) in a temporary data directory.
- `bench.figures`: each figure behind the Crime and ASB pages four ways: the access layer
  (`csp.queries.run`, cache cleared), the raw DuckDB floor, a pandas peer and a Polars peer.
- `bench.pages`: full page runs through Streamlit's AppTest (first view, filter change, revisit).
- `bench.load`: a bounded concurrency test with headless Chromium sessions (Playwright).
"""
