"""Dataset contracts (config/datasets.toml): the fields, types and privacy tiers of each dataset."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache

from . import config

GEO_LEVELS = ("lsoa", "ward", "district")  # finest first
KINDS = ("events", "counts", "reference")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    tier: str
    description: str
    geo: str | None = None
    # A field added to a contract after data was first published (e.g. flags police.uk files
    # lack): it may be blank, and sources without it are published with it blank.
    optional: bool = False
    values: tuple[str, ...] | None = None  # the categories it may hold, where the contract lists them
    at_most: str | None = None  # a count that can never exceed this other field (checked on upload)
    ordered: bool = False  # its values are in a natural order (age bands, times): charts keep it


@dataclass(frozen=True)
class Contract:
    name: str
    owner: str
    title: str
    description: str
    update_frequency: str
    fields: tuple[Field, ...]
    period_field: str | None = None
    cube_of: str | None = None  # a cube: counts of the parent dataset, built at its publish
    dims: tuple[str, ...] = ()  # a cube's dimensions (parent fields); its measure is ``n``
    kind: str = "reference"  # events | counts | reference (see config/datasets.toml)
    measures: tuple[str, ...] = ()  # the count fields; an events dataset's (and cube's) is "n"
    base_dims: tuple[str, ...] = ()  # categories of the protected base under "suppress"
    categories: tuple[str, ...] = ()  # events: category fields carried by every cube (first = main)
    breakdowns: tuple[str, ...] = ()  # events: finer splits, each with a cube of its own
    dashboard: dict | None = None  # events: how its dashboard names things (csp.incidents)
    row_scope: bool = True  # a user's ward scope filters its rows (false: public reference figures)
    supply: dict | None = None  # when each period is due from the owner (csp.supply.rule)
    period_grain: str | None = None  # month | quarter: what one period of period_field covers
    legal_basis: str = ""  # the sharing agreement's legal basis
    review_date: str = ""  # when the sharing agreement is next reviewed (YYYY-MM-DD)

    @property
    def grain_months(self) -> int:
        """Months one period covers: 3 for quarterly data (dated by the quarter's first month)."""
        return 3 if self.period_grain == "quarter" else 1

    @property
    def measure(self) -> str | None:
        """The single count a dashboard shows: ``n`` for events, else the dashboard's ``measure``
        or the only measure."""
        if self.kind == "events":
            return "n"
        chosen = (self.dashboard or {}).get("measure")
        if chosen:
            return chosen
        return self.measures[0] if len(self.measures) == 1 else None

    @property
    def layout(self) -> str | None:
        """Which dashboard layout the contract asks for (incident or cohort), if any."""
        if not self.dashboard:
            return None
        return self.dashboard.get("layout", "incident")

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
    def protected(self) -> bool:
        """Does this dataset hold counts of people or incidents (events or counts)?"""
        return self.kind in ("events", "counts")

    def key_column(self, measure: str) -> str:
        """The stored column holding a measure's record keys (cubes: their sum per cell)."""
        if self.cube_of:
            return "rk"
        return "rkey" if self.kind == "events" else f"{measure}_rkey"

    @property
    def geo_fields(self) -> list[str]:
        """Every field carrying a geography level (codes and names)."""
        return [f.name for f in self.fields if f.geo]

    @property
    def finest_geo(self) -> str | None:
        for level in GEO_LEVELS:
            if self.geo_field(level):
                return level
        return None


CUBE_MEASURE = Field("n", "BIGINT", "public", "Rows of the parent dataset counted in this cell")


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, Contract], dict[str, Contract]]:
    with config.contracts_path().open("rb") as fh:
        raw = tomllib.load(fh)
    out, cubes = {}, {}
    for name, spec in raw.items():
        if "cube_of" in spec:
            continue
        fields = tuple(
            Field(f["name"], f["type"], f["tier"], f.get("description", ""), f.get("geo"),
                  bool(f.get("optional", False)),
                  tuple(str(v) for v in f["values"]) if f.get("values") is not None else None,
                  f.get("at_most"), bool(f.get("ordered", False)))
            for f in spec["fields"]
        )
        kind = spec.get("kind", "reference")
        if kind not in KINDS:
            raise ValueError(f"dataset {name}: kind must be one of {', '.join(KINDS)}")
        names = {f.name for f in fields}
        measures = tuple(spec.get("measures", ("n",) if kind == "events" else ()))
        if kind == "counts" and (not measures or not set(measures) <= names):
            raise ValueError(f"dataset {name}: measures must name its count fields")
        base_dims = tuple(spec.get("base_dims", ()))
        if not set(base_dims) <= names:
            raise ValueError(f"dataset {name}: base_dims must be fields")
        categories, breakdowns = tuple(spec.get("categories", ())), tuple(spec.get("breakdowns", ()))
        if not (set(categories) | set(breakdowns)) <= names:
            raise ValueError(f"dataset {name}: categories and breakdowns must be fields")
        if (categories or breakdowns or "dashboard" in spec) and kind == "reference":
            raise ValueError(f"dataset {name}: categories, breakdowns and dashboards are for counts")
        _check_dashboard(name, spec, kind, measures, categories, names)
        grain = spec.get("period_grain")
        if grain is None and spec.get("period_field") and kind != "reference":
            grain = "quarter" if spec.get("update_frequency") == "quarterly" else "month"
        if grain not in (None, "month", "quarter"):
            raise ValueError(f"dataset {name}: period_grain must be month or quarter")
        out[name] = Contract(
            name=name,
            owner=spec["owner"],
            title=spec["title"],
            description=spec["description"],
            update_frequency=spec["update_frequency"],
            fields=fields,
            period_field=spec.get("period_field"),
            kind=kind, measures=measures, base_dims=base_dims, categories=categories,
            breakdowns=breakdowns, dashboard=spec.get("dashboard"),
            row_scope=bool(spec.get("row_scope", True)), supply=spec.get("supply"),
            period_grain=grain, legal_basis=str(spec.get("legal_basis", "")),
            review_date=str(spec.get("review_date", "")),
        )
    for parent in out.values():
        if parent.kind != "events":  # counts are read as they are: their rows are cells already
            continue
        for name, dims, what in _cube_specs(parent):
            cubes[name] = Contract(
                name=name, owner=parent.owner, title=f"{parent.title}: counts by {what}",
                description=f"Rows of {parent.name} counted (n) by {', '.join(dims)}, with the sum of "
                            "their record keys (rk); written with each version.",
                update_frequency=parent.update_frequency,
                fields=tuple(parent.field(d) for d in dims) + (CUBE_MEASURE,),
                period_field=parent.period_field if parent.period_field in dims else None,
                cube_of=parent.name, dims=dims, kind="events", measures=("n",),
                base_dims=tuple(d for d in parent.base_dims if d in dims),
            )
    return out, cubes


def _check_dashboard(name: str, spec: dict, kind: str, measures: tuple, categories: tuple,
                     names: set) -> None:
    """A dashboard must name things the contract has: its filters are categories other than the
    main one; a counts dataset's incident dashboard shows one measure; a cohort dashboard names
    the measures its rate is made of."""
    d = spec.get("dashboard")
    if d is None:
        return
    layout = d.get("layout", "incident")
    if layout not in ("incident", "cohort"):
        raise ValueError(f"dataset {name}: dashboard layout must be incident or cohort")
    filters = tuple(d.get("filters", ()))
    if not set(filters) <= set(categories[1:]):
        raise ValueError(f"dataset {name}: dashboard filters must be categories after the first")
    if layout == "cohort":
        cohort = d.get("cohort") or {}
        if kind != "counts" or not {"size", "outcome"} <= set(cohort) or not set(cohort.values()) <= set(measures):
            raise ValueError(f"dataset {name}: a cohort dashboard needs cohort = {{size, outcome[, events]}} "
                             "naming its measures")
    elif kind == "counts":
        chosen = d.get("measure") or (measures[0] if len(measures) == 1 else None)
        if chosen not in measures:
            raise ValueError(f"dataset {name}: an incident dashboard of counts needs measure = one of its measures")


def _cube_specs(parent: Contract) -> list[tuple[str, tuple[str, ...], str]]:
    """The cubes an events dataset gets from its contract: by LSOA (when it has LSOAs), by ward,
    and by ward and each breakdown. Only public fields become dims."""
    geo = {lv: parent.geo_field(lv) for lv in GEO_LEVELS}
    period = (parent.period_field,) if parent.period_field else ()
    cats = parent.categories
    ward_geo = tuple(g for g in (geo["ward"], geo["district"]) if g)
    out = []
    if geo["lsoa"]:
        out.append((f"{parent.name}_cube", period + (geo["lsoa"],) + ward_geo + cats, "month, LSOA and category"))
    out.append((f"{parent.name}_ward_cube", period + ward_geo + cats, "month, ward and category"))
    for b in parent.breakdowns:
        out.append((f"{parent.name}_{b}_cube", period + ward_geo + cats + (b,), f"month, ward, category and {b}"))
    for name, dims, _ in out:
        if any(parent.field(d).tier != "public" for d in dims):
            raise ValueError(f"cube {name}: dimensions must be public fields")
    return out


def dashboards(layout: str | None = None) -> dict[str, Contract]:
    """The datasets that have a dashboard (each gets its layout's pages and queries from its
    contract), optionally only those of one layout (incident or cohort)."""
    return {n: c for n, c in contracts().items() if c.dashboard and (layout is None or c.layout == layout)}


def contracts() -> dict[str, Contract]:
    """The published datasets (cubes are not listed: they are part of their parent's version)."""
    return _load()[0]


def cubes(parent: str | None = None) -> dict[str, Contract]:
    return {n: c for n, c in _load()[1].items() if parent is None or c.cube_of == parent}


def contract(name: str) -> Contract:
    found = contracts().get(name) or _load()[1].get(name)
    if found is None:
        raise KeyError(f"unknown dataset '{name}'")
    return found


def scoped_source(name: str) -> str:
    """Where a ward-scoped user's rows of ``name`` are read from. Their scope is checked by LSOA
    against the current lookup as well as by the ward code each row carries (a version's ward
    codes can predate the lookup, e.g. after a rollback), so a cube without its parent's LSOA
    field is read from the smallest cube of the same parent that has it and every dimension
    needed, or else from the parent's rows. Anything else is read as itself."""
    c = contract(name)
    if not c.cube_of:
        return name
    lsoa = contract(c.cube_of).geo_field("lsoa")
    if lsoa is None or lsoa in c.dims:
        return name
    finer = [k for k in cubes(c.cube_of).values() if lsoa in k.dims and set(c.dims) <= set(k.dims)]
    return min(finer, key=lambda k: len(k.dims)).name if finer else c.cube_of


def base(name: str) -> str:
    """The published dataset a name stands for: a cube's parent, or the dataset itself."""
    return contract(name).cube_of or name


def base_fields(dataset: str, geography: str) -> list[str]:
    """The fields of a protected dataset's base table for a grant at ``geography`` (protection
    "suppress"): the period, every geography field at that level or coarser, and the contract's
    base categories. One base per (dataset, geography), whichever cube a query reads."""
    c = contract(dataset)
    level = GEO_LEVELS.index(geography)
    keep = []
    for f in c.fields:
        if f.name == c.period_field or f.name in c.base_dims:
            keep.append(f.name)
        elif f.geo and GEO_LEVELS.index(f.geo) >= level:
            keep.append(f.name)
    return keep


def source_with(name: str, fields: set[str]) -> str:
    """Where to read ``name``'s rows when they must carry ``fields``: the dataset (or cube)
    itself if it has them, else the smallest cube of the same parent that has them and all of
    ``name``'s own fields, else the parent's rows."""
    c = contract(name)
    if set(fields) <= set(c.field_names):
        return name
    if not c.cube_of:
        raise ValueError(f"{name} has no fields {sorted(set(fields) - set(c.field_names))}")
    need = set(fields) | {f for f in c.dims}
    finer = [k for k in cubes(c.cube_of).values() if need <= set(k.dims)]
    return min(finer, key=lambda k: len(k.dims)).name if finer else c.cube_of


def in_sentence(text: str) -> str:
    """A title or label as it reads mid-sentence: 'Crime type' -> 'crime type', but 'ASB type'
    and 'A&E assault attendances (Cardiff Model)' keep their capitals (a first word in capitals
    is an abbreviation; only the first letter is ever lowered)."""
    first = text.split(" ", 1)[0]
    return text if len(first) > 1 and first.upper() == first else text[:1].lower() + text[1:]
