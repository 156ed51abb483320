"""The page registry: app.py builds the navigation from this list and the user's permissions.

Each page is a module in a section folder here (``dashboards/``, ``data/``, ``admin/``) with a
``render()`` function. They live one level down on purpose: Streamlit treats ``pages/*.py`` as
legacy multipage scripts and, on a fresh server, would run one directly (outside app.py's login
gate) for a first visit to its URL; with no top-level page files that mode has nothing to run. A page is listed for a user when they
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
    dataset: str | None = None  # for the incident dashboard: which dataset it draws (render(dataset))
    geography: str | None = None  # the coarsest grant the page can use (a ward page needs ward or finer)

    def open_to(self, user) -> bool:
        """Listed for this user: the role may do ``action`` and some dataset is granted at
        ``geography`` or finer (a page that could only say 'not at this geography' is left out
        of the menu; its URL says why, csp.ui.denied)."""
        from csp import access, catalog

        if not access.can(user, self.action):
            return False
        if not self.datasets:
            return True
        levels = catalog.GEO_LEVELS  # finest first
        for d in self.datasets:
            g = access.grant(user, d)
            if g is not None and (self.geography is None
                                  or levels.index(g.geography) <= levels.index(self.geography)):
                return True
        return False


def explorable() -> tuple[str, ...]:
    from csp import explore

    return explore.explorable()


def incident_pages() -> list[PageSpec]:
    """One dashboard per dataset with a dashboard in its contract (csp.incidents), drawn by its
    layout's page (incident or cohort): a new dataset gets its page from its contract, no page
    code."""
    from csp import catalog

    return [PageSpec(f"dashboards.{c.layout}", c.dashboard.get("title", c.title),
                     c.dashboard.get("icon", ":material/bar_chart:"), c.dashboard.get("url", name),
                     "Dashboards", datasets=(name,), dataset=name)
            for name, c in catalog.dashboards().items()]


PAGES: list[PageSpec] = [
    PageSpec("dashboards.overview", "Overview", ":material/dashboard:", "overview", "Dashboards",
             datasets=("crime", "asb", "reoffending", "substance_misuse")),
    *incident_pages(),
    PageSpec("dashboards.reoffending", "Reoffending", ":material/replay:", "reoffending", "Dashboards",
             datasets=("reoffending",)),
    PageSpec("dashboards.substance", "Substance misuse", ":material/medication:", "substance-misuse", "Dashboards",
             datasets=("substance_misuse", "alcohol_admissions", "crime")),
    PageSpec("dashboards.neighbourhood", "Neighbourhood", ":material/home_pin:", "neighbourhood", "Dashboards",
             datasets=("crime", "asb"), default_for_roles=("practitioner",), geography="ward"),
    PageSpec("dashboards.explore", "Explore", ":material/explore:", "explore", "Dashboards", datasets=explorable()),
    PageSpec("dashboards.my_dashboard", "My dashboard", ":material/space_dashboard:", "my-dashboard", "Dashboards", datasets=explorable()),
    PageSpec("data.catalogue", "Catalogue", ":material/menu_book:", "catalogue", "Data"),
    PageSpec("data.upload", "Upload", ":material/upload_file:", "upload", "Data", action="upload"),
    PageSpec("data.supply", "Data supply", ":material/event_available:", "data-supply", "Data"),
    PageSpec("data.data_quality", "Data quality", ":material/fact_check:", "data-quality", "Data", action="data_quality"),
    PageSpec("admin.access_log", "Use of our data", ":material/visibility:", "access_log", "Admin", action="access_log"),
    PageSpec("admin.admin_users", "Users", ":material/manage_accounts:", "admin_users", "Admin", action="manage_users"),
    PageSpec("admin.partnership", "Partnership", ":material/map:", "partnership", "Admin", action="manage_users"),
    PageSpec("admin.audit_log", "Audit trail", ":material/receipt_long:", "audit_log", "Admin", action="audit"),
]
