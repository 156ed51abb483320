"""The page registry: app.py builds the navigation from this list and the user's permissions.

Each page is a module here with a ``render()`` function. A page is listed for a user when they
may perform ``action`` and the access layer grants them at least one of ``datasets`` (an empty
tuple means no dataset is needed). Pages draw; every number they show comes from a named query
run through the access layer, so a page that is listed wrongly still cannot leak.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    module: str
    title: str
    icon: str
    url_path: str
    section: str
    action: str = "view_dashboards"
    datasets: tuple[str, ...] = ()


PAGES: list[PageSpec] = [
    PageSpec("crime", "Crime", ":material/local_police:", "crime", "Dashboards", datasets=("crime",)),
]
