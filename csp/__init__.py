"""CSP Insight core: data store, access control, disclosure control, ingest and statistics.

Nothing in this package imports Streamlit except ``csp.ui`` (the UI glue).
"""

__version__ = "0.1.0"
