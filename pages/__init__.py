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
    default_for_roles: tuple[str, ...] = ()  # roles whose landing page this is (else the first page)


PAGES: list[PageSpec] = [
    PageSpec("overview", "Overview", ":material/dashboard:", "overview", "Dashboards",
             datasets=("crime", "asb", "reoffending", "substance_misuse")),
    PageSpec("crime", "Crime", ":material/local_police:", "crime", "Dashboards", datasets=("crime",)),
    PageSpec("asb", "Anti-social behaviour", ":material/campaign:", "asb", "Dashboards", datasets=("asb",)),
    PageSpec("reoffending", "Reoffending", ":material/replay:", "reoffending", "Dashboards",
             datasets=("reoffending",)),
    PageSpec("substance", "Substance misuse", ":material/medication:", "substance-misuse", "Dashboards",
             datasets=("substance_misuse", "alcohol_admissions", "crime")),
    PageSpec("neighbourhood", "Neighbourhood", ":material/home_pin:", "neighbourhood", "Dashboards",
             datasets=("crime", "asb"), default_for_roles=("practitioner",)),
    PageSpec("catalogue", "Catalogue", ":material/menu_book:", "catalogue", "Data"),
    PageSpec("upload", "Upload", ":material/upload_file:", "upload", "Data", action="upload"),
    PageSpec("data_quality", "Data quality", ":material/fact_check:", "data-quality", "Data", action="data_quality"),
    PageSpec("access_log", "Use of our data", ":material/visibility:", "access_log", "Admin", action="access_log"),
    PageSpec("admin_users", "Users", ":material/manage_accounts:", "admin_users", "Admin", action="manage_users"),
    PageSpec("audit_log", "Audit trail", ":material/receipt_long:", "audit_log", "Admin", action="audit"),
]
