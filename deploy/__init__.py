"""Deployment helpers: N app replicas, PostgreSQL and HAProxy on one machine (see local.py)."""
