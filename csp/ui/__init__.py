"""Streamlit glue: the only part of csp that imports Streamlit."""
