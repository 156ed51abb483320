"""dashboards pages (see the registry in pages/__init__.py)."""
