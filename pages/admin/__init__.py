"""admin pages (see the registry in pages/__init__.py)."""


def audit_names(user) -> dict:
    """What the audit trail's codes mean, for its readable tables: page paths -> page titles,
    dataset ids -> titles, ward codes -> names (as far as the reader's own access names them)."""
    from csp import catalog
    from csp import neighbourhood
    from pages import PAGES

    names = {c: catalog.contract(c).title for c in catalog.contracts()}
    names |= {p.url_path: p.title for p in PAGES}
    names |= neighbourhood.ward_names(user)
    return names
