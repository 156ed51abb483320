"""Geography as versioned reference data: LSOA codes of the 2011 and 2021 vintages resolved to
today's LSOAs, wards and districts (from ONS lookups or a best fit from boundaries), population
by LSOA, ward or district of any year, and the derived ``areas`` table. docs/geography.md."""
from __future__ import annotations

from .errors import GeographyError
from .importer import build_geography, import_lookup, import_population
from .layouts import LOOKUP_ALIASES
from .publish import Published, regeocode

__all__ = ["GeographyError", "LOOKUP_ALIASES", "Published", "build_geography", "import_lookup",
           "import_population", "regeocode"]
