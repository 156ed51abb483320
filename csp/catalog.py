"""Dataset contracts (config/datasets.toml): the fields, types and privacy tiers of each dataset."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache

from . import config

GEO_LEVELS = ("lsoa", "ward", "district")  # finest first


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    tier: str
    description: str
    geo: str | None = None


@dataclass(frozen=True)
class Contract:
    name: str
    owner: str
    title: str
    description: str
    update_frequency: str
    fields: tuple[Field, ...]
    period_field: str | None = None

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def geo_field(self, level: str) -> str | None:
        """The field carrying a geography level (e.g. 'ward' -> 'ward_code'), if any."""
        for f in self.fields:
            if f.geo == level and f.name.endswith("_code"):
                return f.name
        return None

    @property
    def finest_geo(self) -> str | None:
        for level in GEO_LEVELS:
            if self.geo_field(level):
                return level
        return None


@lru_cache(maxsize=1)
def contracts() -> dict[str, Contract]:
    with config.contracts_path().open("rb") as fh:
        raw = tomllib.load(fh)
    out = {}
    for name, spec in raw.items():
        fields = tuple(
            Field(f["name"], f["type"], f["tier"], f.get("description", ""), f.get("geo"))
            for f in spec["fields"]
        )
        out[name] = Contract(
            name=name,
            owner=spec["owner"],
            title=spec["title"],
            description=spec["description"],
            update_frequency=spec["update_frequency"],
            fields=fields,
            period_field=spec.get("period_field"),
        )
    return out


def contract(name: str) -> Contract:
    try:
        return contracts()[name]
    except KeyError:
        raise KeyError(f"unknown dataset '{name}'") from None
