"""Explore: a view a user builds (dataset, measure, up to two breakdowns, filters, a named period,
an area) checked against the dataset's contract and the user's grant, and turned into a query
that runs through the same runner as every page (csp.queries.run_query).

Safety of the generated SQL, in short (README "Explore" says more):

- identifiers come only from the contract (config/datasets.toml): the dataset, its cubes, its
  period, geography and category fields, its measures; each is also checked against a strict
  pattern before it is written, and quoted;
- every value the user chose (period bounds, area, filter values) is a declared parameter bound
  by DuckDB, never text in the SQL; nothing the user typed is ever in the query text;
- counts are added up with ``total()`` (cells), and the runner then does everything it does for
  a query file: the grant's row scope, blanking, protection of every count, the period, area
  and one-value-filter rules, and the ``grain`` check;
- before any SQL is made, the spec is checked here too, so a refusal says in plain words why.

A spec round-trips to and from URL query parameters (:meth:`Spec.to_params`,
:meth:`Spec.from_params`) and is stored as the same dict in saved views.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import access, catalog, queries, store
from .protection import periods

IDENT = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
PERIOD_KEY = re.compile(r"^(latest12|previous12|latest24|all|fy\d{4}|\d{4}q[1-4]|\d{4}-(0[1-9]|1[0-2]))$")
MAX_BREAKDOWNS = 2
MAX_FILTER_FIELDS = 8
# Protected grants: categories a view may fix (breakdowns and filters together). Explore's extra
# windows over the finest cross-tabulation let least squares beat one figure by a few points on
# reoffending (tests/test_attacks.py); with at most two fixed, Explore adds nothing to the pages.
MAX_PROTECTED_CATEGORIES = 2
MAX_FILTER_VALUES = 20
MAX_VALUE_LENGTH = 200
# Rows a view may have: beyond this it is refused (narrow it), so no view holds memory for a
# national LSOA x month table. The query asks for one more than this, cut after protection.
MAX_ROWS = 50_000
PERIOD_GRAINS = ("month", "quarter", "fy")
GEO_KEYS = catalog.GEO_LEVELS  # lsoa, ward, district
RESERVED = set(PERIOD_GRAINS) | set(GEO_KEYS)
DEFAULT_PERIOD = "latest12"
GEO_LABEL = {"lsoa": "LSOA", "ward": "Ward", "district": "District"}
GRAIN_LABEL = {"month": "Month", "quarter": "Quarter", "fy": "Financial year"}
NO_LOCATION = "No location given"
# URL keys (short, so a link stays readable): ds dataset, m measure, b1 b2 breakdowns,
# f filters ("field:value", repeated), p period, a area.
URL_KEYS = ("ds", "m", "b1", "b2", "f", "p", "a")


class SpecError(queries.QueryError):
    """The view cannot be built as asked. The message is safe to show (it never repeats input
    that was not checked against the contract)."""


# ---- the spec --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    dataset: str
    measure: str | None = None  # None: the dataset's first measure
    breakdowns: tuple[str, ...] = ()
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (field, values), sorted by field
    period: str | None = None  # a named period key (csp.protection.periods); None: latest 12 months
    area: str | None = None  # ward or district code, or 'all'; None: the partnership (or your wards)

    def to_params(self) -> dict[str, str | list[str]]:
        """The URL query parameters (and the saved form) of this view; defaults left out."""
        out: dict[str, str | list[str]] = {"ds": self.dataset}
        if self.measure:
            out["m"] = self.measure
        for i, b in enumerate(self.breakdowns[:MAX_BREAKDOWNS], start=1):
            out[f"b{i}"] = b
        flat = [f"{f}:{v}" for f, values in self.filters for v in values]
        if flat:
            out["f"] = flat
        if self.period:
            out["p"] = self.period
        if self.area:
            out["a"] = self.area
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_params(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_params(cls, params: Mapping) -> Spec:
        """A spec from URL query parameters (values may be a string or a list of strings; other
        keys are ignored). Malformed input raises SpecError; whether the user may have this view
        is :func:`plan`'s question."""
        def one(key: str) -> str | None:
            v = params.get(key)
            if isinstance(v, (list, tuple)):
                if len(v) > 1:
                    raise SpecError("A view takes one value for each of its settings except filters.")
                v = v[0] if v else None
            if v is None or v == "":
                return None
            if not isinstance(v, str):
                raise SpecError("A view's settings must be text.")
            return v

        ds = one("ds")
        if ds is None:
            raise SpecError("Choose a dataset.")
        _ident(ds, "The dataset")
        measure = one("m")
        if measure is not None:
            _ident(measure, "The measure")
        breakdowns = []
        for key in ("b1", "b2"):
            b = one(key)
            if b is not None:
                _ident(b, "A breakdown")
                if b in breakdowns:
                    raise SpecError("The two breakdowns must differ.")
                breakdowns.append(b)
        raw = params.get("f") or []
        raw = [raw] if isinstance(raw, str) else list(raw)
        if len(raw) > MAX_FILTER_FIELDS * MAX_FILTER_VALUES:
            raise SpecError("Too many filter values.")
        filters: dict[str, list[str]] = {}
        for item in raw:
            if not isinstance(item, str) or ":" not in item:
                raise SpecError("A filter must read field:value.")
            name, value = item.split(":", 1)
            _ident(name, "A filter")
            _value(value)
            if value not in filters.setdefault(name, []):
                filters[name].append(value)
        if len(filters) > MAX_FILTER_FIELDS or any(len(v) > MAX_FILTER_VALUES for v in filters.values()):
            raise SpecError(f"A view takes at most {MAX_FILTER_FIELDS} filters of up to "
                            f"{MAX_FILTER_VALUES} values each.")
        period = one("p")
        if period is not None and not PERIOD_KEY.match(period):
            raise SpecError("The period is not one of the periods offered.")
        area = one("a")
        if area is not None and not queries.AREA.match(area):
            raise SpecError("The area must be a ward or district code, or all.")
        return cls(ds, measure, tuple(breakdowns),
                   tuple(sorted((k, tuple(v)) for k, v in filters.items())), period, area)

    @classmethod
    def from_json(cls, text: str) -> Spec:
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            raise SpecError("This saved view cannot be read.") from None
        if not isinstance(data, dict):
            raise SpecError("This saved view cannot be read.")
        return cls.from_params(data)


def _ident(value: str, what: str) -> None:
    if not isinstance(value, str) or not IDENT.match(value):
        raise SpecError(f"{what} is not one of those offered.")


def _value(value: str) -> None:
    if not value or len(value) > MAX_VALUE_LENGTH or any(ord(ch) < 32 for ch in value):
        raise SpecError("A filter value is not an accepted value.")


# ---- what a user may pick ----------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    key: str
    label: str
    kind: str  # period | geo | category | measure


@dataclass(frozen=True)
class Unavailable:
    label: str
    why: str  # plain words: why this is not offered to this user


@dataclass(frozen=True)
class PeriodOption:
    key: str
    label: str
    start: dt.date  # the months bound for the runner (named windows as the runner knows them)
    end: dt.date


def explorable() -> tuple[str, ...]:
    """Datasets Explore can show: those holding counts (events or counts), by contract."""
    return tuple(n for n, c in catalog.contracts().items() if c.protected and c.period_field)


def datasets(user: access.User | None) -> list[catalog.Contract]:
    """The explorable datasets this user is granted, in the contracts' order."""
    return [catalog.contract(n) for n in explorable() if access.grant(user, n) is not None]


def title(contract: catalog.Contract) -> str:
    return (contract.dashboard or {}).get("title", contract.title)


def _pretty(name: str) -> str:
    return name.replace("_", " ").capitalize()


def field_label(contract: catalog.Contract, name: str) -> str:
    d = contract.dashboard or {}
    if contract.categories and name == contract.categories[0] and d.get("category_label"):
        return d["category_label"]
    labels = d.get("breakdown_labels") or {}
    return labels.get(name) or _pretty(name)


def measures(contract: catalog.Contract) -> list[Option]:
    if contract.kind == "events":
        label = (contract.dashboard or {}).get("label") or "Records"
        return [Option("n", label, "measure")]
    return [Option(m, _pretty(m), "measure") for m in contract.measures]


def count_column(contract: catalog.Contract, measure: str) -> str:
    """The output column of the count: the dashboard's word for events (crimes), else the
    measure's own name (offenders)."""
    if contract.kind == "events":
        label = (contract.dashboard or {}).get("label") or "count"
        name = re.sub(r"[^a-z0-9_]", "_", label.lower()).strip("_") or "count"
        return name if IDENT.match(name) else "count"
    return measure


def period_grain(contract: catalog.Contract) -> str:
    """month or quarter: how often the period field moves."""
    grain = getattr(contract, "period_grain", None)
    if grain in ("month", "quarter"):
        return grain
    return "quarter" if contract.update_frequency == "quarterly" else "month"


def _dimension_fields(contract: catalog.Contract) -> list[str]:
    """The contract's declared public category fields (never the period, geography, measures or
    a restricted field)."""
    if contract.kind == "events":
        names = list(contract.categories) + list(contract.breakdowns)
    else:
        names = [f.name for f in contract.fields
                 if f.name not in contract.measures and f.name != contract.period_field and not f.geo]
    return [n for n in names if contract.field(n).tier == "public" and IDENT.match(n) and n not in RESERVED]


def breakdowns(user: access.User | None, dataset: str) -> tuple[list[Option], list[Unavailable]]:
    """What this user may break the dataset down by, and what is held back with the reason."""
    c, g = _contract_grant(user, dataset)
    offered, held = [], []
    grains = ("month", "quarter", "fy") if period_grain(c) == "month" else ("quarter", "fy")
    offered += [Option(k, GRAIN_LABEL[k], "period") for k in grains]
    for level in GEO_KEYS:
        if not c.geo_field(level):
            continue
        if _finer(level, g.geography):
            held.append(Unavailable(GEO_LABEL[level], _too_fine(c, level, g.geography)))
        else:
            offered.append(Option(level, GEO_LABEL[level], "geo"))
    for name in _dimension_fields(c):
        label = field_label(c, name)
        if name in g.fields:
            offered.append(Option(name, label, "category"))
        else:
            held.append(Unavailable(label, _not_shared(c, label)))
    return offered, held


def filter_fields(user: access.User | None, dataset: str) -> list[Option]:
    c, g = _contract_grant(user, dataset)
    return [Option(n, field_label(c, n), "category") for n in _dimension_fields(c) if n in g.fields]


def one_value_filters(user: access.User | None, dataset: str) -> bool:
    """True when the user's figures are protected, so each filter takes one value or none (any
    set of values could be subtracted from 'all' to uncover the rest)."""
    _, g = _contract_grant(user, dataset)
    return not g.owner and g.threshold > 0


def period_options(dataset: str) -> list[PeriodOption]:
    """The named periods of the data held (the same for everyone, so a link means the same view),
    as the runner knows them; for quarterly data labelled in quarters."""
    span = periods.held([dataset])
    if span is None:
        return []
    first, last = span
    named = periods.named_periods(first, last)
    if period_grain(catalog.contract(dataset)) == "month":
        return [PeriodOption(p.key, p.label, p.start, p.end) for p in named]
    out, quarters = [], {p.key for p in named if re.fullmatch(r"\d{4}q[1-4]", p.key)}
    for p in named:
        if re.fullmatch(r"\d{4}-\d{2}", p.key):
            if p.start.month % 3 != 1:
                continue  # quarterly data has rows only at quarter starts
            key = f"{p.start.year}q{(p.start.month - 1) // 3 + 1}"
            if key in quarters:
                continue
            end = periods.add_months(p.start, 2)
            out.append(PeriodOption(key, f"{_qlabel(p.start)} ({key[-2:].upper()})", p.start, end))
            continue
        if p.key in quarters:
            out.append(PeriodOption(p.key, p.label, p.start, p.end))
            continue
        rows = _quarter_starts(max(p.start, first), min(p.end, last))
        if not rows:
            continue
        span_label = f"Q{(rows[0].month - 1) // 3 + 1} {rows[0].year} to Q{(rows[-1].month - 1) // 3 + 1} {rows[-1].year}"
        words = {"latest12": "Latest 4 quarters", "previous12": "The 4 quarters before",
                 "latest24": "Latest 8 quarters", "all": "Everything held"}
        label = (f"{words[p.key]} ({span_label})" if p.key in words else p.label)
        out.append(PeriodOption(p.key, label, p.start, p.end))
    return out


def _quarter_starts(a: dt.date, b: dt.date) -> list[dt.date]:
    out, m = [], dt.date(a.year, 3 * ((a.month - 1) // 3) + 1, 1)
    if m < a:
        m = periods.add_months(m, 3)
    while m <= b:
        out.append(m)
        m = periods.add_months(m, 3)
    return out


def _qlabel(q: dt.date) -> str:
    end = periods.add_months(q, 2)
    return f"{q.strftime('%b')}–{end.strftime('%b %Y')}"


# ---- checking a spec against the contract and the grant ----------------------------------------


@dataclass(frozen=True)
class Dim:
    key: str  # month | quarter | fy | lsoa | ward | district | <category field>
    kind: str  # period | geo | category
    label: str
    columns: tuple[str, ...]  # output columns, e.g. ("ward_code", "ward_name")

    @property
    def shown(self) -> str:
        """The column that names a row (a geography's name rather than its code)."""
        return self.columns[-1]


@dataclass(frozen=True)
class Plan:
    spec: Spec
    contract: catalog.Contract
    grant: access.Grant
    measure: Option
    count: str  # the count column
    dims: tuple[Dim, ...]
    filters: tuple[tuple[str, tuple[str, ...]], ...]
    period: PeriodOption
    window: tuple[dt.date, dt.date]  # months bound as from / to
    period_roles: bool  # is the whole window one total (the runner checks it is a named period)?
    source: str  # the dataset or cube read
    grain: str | None  # finest geography in the rows
    note: str = ""  # what was left out (partial quarters, years), in plain words
    params: dict = field(default_factory=dict)

    @property
    def dataset(self) -> str:
        return self.contract.name

    def what(self) -> str:
        """The measure and breakdowns in words, e.g. 'Crimes by ward and crime type'."""
        what = self.measure.label
        if self.dims:
            what += " by " + " and ".join(d.label.lower() if d.kind != "geo" or d.key != "lsoa" else "LSOA"
                                           for d in self.dims)
        return what

    def describe(self, area_label: str | None = None) -> str:
        """The view in plain words, e.g. 'Crimes by ward and crime type, latest 12 months'."""
        what = self.what()
        for name, values in self.filters:  # data text: callers escape it for Markdown
            what += f", {field_label(self.contract, name).lower()} {' or '.join(values)}"
        where = {None: "", "all": ", all data held"}.get(self.spec.area, f", {area_label or self.spec.area}")
        label = self.period.label
        if label.split(" ")[0] in ("Latest", "The", "Everything", "Financial"):
            label = label[:1].lower() + label[1:]
        return f"{what}, {label}{where}"


def plan(user: access.User | None, spec: Spec) -> Plan:
    """Check a spec against the contract and the user's grant; everything the SQL is made from.
    Raises AccessDenied (the grant does not allow it) or SpecError (not a view Explore offers),
    each with a message that says why in plain words."""
    if spec.dataset not in explorable():
        raise SpecError("That dataset is not one Explore can show.")
    c, g = _contract_grant(user, spec.dataset)
    offered_measures = {o.key: o for o in measures(c)}
    measure = offered_measures.get(spec.measure or next(iter(offered_measures)))
    if measure is None:
        raise SpecError(f"That measure is not one of {title(c)}'s: "
                        f"{', '.join(o.label for o in offered_measures.values())}.")
    if measure.key not in g.fields and c.kind != "events":
        raise access.AccessDenied(f"{measure.label} is not shared with you.")
    if len(spec.breakdowns) > MAX_BREAKDOWNS:
        raise SpecError("Explore breaks a measure down by at most two things.")
    offered, held = breakdowns(user, spec.dataset)
    by_key = {o.key: o for o in offered}
    dims = []
    for b in spec.breakdowns:
        dims.append(_dim(c, g, b, by_key, held))
    kinds = [d.kind for d in dims]
    if kinds.count("period") > 1 or kinds.count("geo") > 1:
        raise SpecError("Break down by at most one period and at most one geography.")
    filters = []
    allowed = {o.key for o in filter_fields(user, spec.dataset)}
    one_value = one_value_filters(user, spec.dataset)
    for name, values in spec.filters:
        if name not in allowed:
            if name in _dimension_fields(c):
                raise access.AccessDenied(_not_shared(c, field_label(c, name)))
            raise SpecError(f"{title(c)} cannot be filtered by that field: the filters offered are "
                            f"{', '.join(field_label(c, n) for n in sorted(allowed)) or 'none'}.")
        if one_value and len(values) > 1:
            raise SpecError(
                f"Under the sharing agreement you can filter {field_label(c, name).lower()} to one "
                "value at a time, or leave it empty for all: combining a few values could be "
                "subtracted from the whole to uncover protected figures.")
        for v in values:
            _value(v)
        filters.append((name, tuple(values)))
    fixed = {d.key for d in dims if d.kind == "category"} | {name for name, _ in filters}
    if one_value and len(fixed) > MAX_PROTECTED_CATEGORIES:
        raise SpecError(
            f"Under the sharing agreement a view of {title(c).lower()} can break down or filter by at most "
            f"{MAX_PROTECTED_CATEGORIES} of {', '.join(field_label(c, n).lower() for n in _dimension_fields(c))} "
            "at once: finer cross-tabulations, added to the pages' own, would let the protected small "
            "figures be estimated.")
    options = {p.key: p for p in period_options(spec.dataset)}
    if not options:
        raise SpecError(f"No {title(c).lower()} data has been published yet.")
    period = options.get(spec.period or DEFAULT_PERIOD)
    if period is None:
        raise SpecError("The period is not one of the periods offered for this data (months, "
                        "quarters, financial years, the latest 12 or 24 months, everything held): "
                        "totals over other windows could be subtracted to uncover protected figures.")
    _check_area(c, g, spec.area)
    grain_dim = next((d for d in dims if d.kind == "period"), None)
    window, roles, note = _window(c, period, grain_dim)
    geo = [d.key for d in dims if d.kind == "geo"]
    return Plan(spec, c, g, measure, _count_name(c, measure.key, dims), tuple(dims), tuple(filters),
                period, window, roles, _source(c, dims, filters), geo[0] if geo else None, note)


def _contract_grant(user, dataset: str) -> tuple[catalog.Contract, access.Grant]:
    if dataset not in explorable():
        raise SpecError("That dataset is not one Explore can show.")
    return catalog.contract(dataset), access.require(user, dataset)


def _dim(c: catalog.Contract, g: access.Grant, key: str, offered: dict, held: list) -> Dim:
    if key in offered:
        o = offered[key]
        if o.kind == "period":
            col = {"month": "month", "quarter": "quarter", "fy": "financial_year"}[key]
            return Dim(key, "period", o.label, (col,))
        if o.kind == "geo":
            return Dim(key, "geo", o.label, (f"{key}_code", f"{key}_name"))
        return Dim(key, "category", o.label, (key,))
    if key in GEO_KEYS and c.geo_field(key):
        raise access.AccessDenied(_too_fine(c, key, g.geography))
    if key in _dimension_fields(c):
        raise access.AccessDenied(_not_shared(c, field_label(c, key)))
    if key in c.field_names:  # restricted fields, measures, the period field itself
        raise SpecError(f"{_pretty(key)} is not offered: Explore breaks {title(c).lower()} down "
                        "by period, geography and the dataset's public categories only.")
    if key == "month":
        raise SpecError(f"{title(c)} is held by quarter: break it down by quarter or financial year.")
    raise SpecError(f"{title(c)} cannot be broken down by that: the breakdowns offered are "
                    f"{', '.join(o.label for o in offered.values())}.")


def _too_fine(c: catalog.Contract, level: str, permitted: str) -> str:
    words = {"lsoa": "LSOA", "ward": "ward", "district": "district"}
    return (f"Under the sharing agreement you see {title(c).lower()} down to {words[permitted]} "
            f"level, so it cannot be broken down by {words[level]}.")


def _not_shared(c: catalog.Contract, label: str) -> str:
    return (f"{title(c)} by {label.lower()} is not shared with you: under your sharing agreement "
            "these figures come from one protected table of counts by period, area and the main "
            "categories, and this would split it finer.")


def _check_area(c: catalog.Contract, g: access.Grant, area: str | None) -> None:
    if area is None or area == "all":
        return
    if not queries.AREA.match(area):
        raise SpecError("The area must be a ward or district code, or all.")
    if area[:3] in ("E05", "W05"):
        if not c.geo_field("ward"):
            raise SpecError(f"{title(c)} is held by district, not by ward: choose a district or "
                            "the whole partnership.")
        if not g.owner and g.geography == "district":
            raise access.AccessDenied("Under the sharing agreement you see this data by district, "
                                      "not by ward: choose a district or the whole partnership.")


def _window(c: catalog.Contract, period: PeriodOption, grain: Dim | None):
    """The months bound as from / to, whether the runner checks them as one named window, and
    what was left out. With a quarter or year breakdown every row must itself be a whole named
    period (a part-quarter at either end would be a window of its own, which could be
    subtracted from the whole to uncover protected figures): the window is cut to whole units
    inside both the period and the data held."""
    if grain is None or grain.key == "month" or (grain.key == "quarter" and period_grain(c) == "quarter"):
        return (period.start, period.end), True, ""
    first, last = periods.held([c.name])
    step = 3 if period_grain(c) == "quarter" else 1
    lo, hi = max(period.start, first), min(period.end, last)
    size = 3 if grain.key == "quarter" else 12
    unit = (lambda d: dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)) if size == 3 else \
        (lambda d: dt.date(d.year if d.month >= 4 else d.year - 1, 4, 1))
    start = unit(lo)
    if start < lo:
        start = periods.add_months(start, size)
    end = start
    units = 0
    while periods.add_months(end, size - step) <= hi:
        end = periods.add_months(end, size)
        units += 1
    word = {3: "quarter", 12: "financial year"}[size]
    if units == 0:
        raise SpecError(f"No whole {word} lies inside this period: choose a longer period, or "
                        f"break it down by {period_grain(c)}.")
    last_row = periods.add_months(end, -step)
    cut = start > lo or last_row < hi
    note = (f"Only whole {word}s inside the period are shown: a part {word} would be a period of "
            "its own, which the sharing agreement does not allow." if cut else "")
    return (start, last_row), False, note


def _count_name(c: catalog.Contract, measure: str, dims: list[Dim]) -> str:
    name = count_column(c, measure)
    taken = {col for d in dims for col in d.columns}
    return name if name not in taken else f"{name}_count"


def _source(c: catalog.Contract, dims: list[Dim], filters) -> str:
    """The smallest cube with every field the view needs (events), else the dataset itself."""
    if c.kind != "events":
        return c.name
    need = {c.period_field} | {c.geo_field(lv) for lv in ("ward", "district") if c.geo_field(lv)}
    need |= {c.geo_field(d.key) for d in dims if d.kind == "geo"}
    need |= {d.key for d in dims if d.kind == "category"} | {f for f, _ in filters}
    fits = [k for k in catalog.cubes(c.name).values() if need <= set(k.dims)]
    return min(fits, key=lambda k: (len(k.dims), k.name)).name if fits else c.name


def _finer(a: str, b: str) -> bool:
    return catalog.GEO_LEVELS.index(a) < catalog.GEO_LEVELS.index(b)


# ---- the query text ------------------------------------------------------------------------------


def _q(name: str) -> str:
    """A quoted identifier, only ever from the contract (checked once more here)."""
    if not IDENT.match(name or ""):
        raise SpecError("A field of this dataset cannot be used in Explore.")  # a contract problem
    return f'"{name}"'


def query_text(p: Plan) -> tuple[str, dict]:
    """The query file text for a plan, and the parameters to bind. The text is made only of the
    fixed words below and identifiers from the contract; every value is a parameter."""
    c = p.contract
    pf = _q(c.period_field)
    ward = f"c.{_q(c.geo_field('ward'))}" if c.geo_field("ward") else "CAST(NULL AS VARCHAR)"
    district = f"c.{_q(c.geo_field('district'))}" if c.geo_field("district") else "CAST(NULL AS VARCHAR)"
    measure = "n" if c.kind == "events" else p.measure.key
    datasets = [p.source]
    pick_joins, final_joins, picks, names, final, columns = [], [], [], [], [], []
    for i, d in enumerate(p.dims):
        if d.kind == "period":
            col = _q(d.columns[0])
            if d.key == "month":
                expr = f"c.{pf}"
            elif d.key == "quarter":
                expr = f"CAST(year(c.{pf}) AS VARCHAR) || ' Q' || CAST(quarter(c.{pf}) AS VARCHAR)"
            else:
                y = f"(year(c.{pf}) - CASE WHEN month(c.{pf}) < 4 THEN 1 ELSE 0 END)"
                expr = f"CAST({y} AS VARCHAR) || '-' || right(CAST({y} + 1 AS VARCHAR), 2)"
            picks.append(f"{expr} AS {col}")
            names.append(col)
            final.append(f"k.{col}")
            columns.append((d.columns[0], "date" if d.key == "month" else "dimension", d.label))
        elif d.kind == "geo":
            code, label = (_q(x) for x in d.columns)
            raw = f"c.{_q(c.geo_field(d.key))}"
            if d.key == "lsoa":
                # 2011 and 2021 LSOA codes read as the current LSOA they fit, as on the LSOA pages.
                pick_joins.append(f"LEFT JOIN geography g ON g.lsoa_code = {raw}")
                datasets.append("geography")
                raw = f"coalesce(g.current_lsoa_code, {raw})"
            picks.append(f"{raw} AS {code}")
            names.append(code)
            alias = f"a{i}"
            final.append(f"k.{code}")
            final.append(f"CASE WHEN k.{code} IS NULL THEN '{NO_LOCATION}' "
                         f"ELSE coalesce({alias}.area_label, k.{code}) END AS {label}")
            columns.append((d.columns[0], "dimension", f"{d.label} code"))
            columns.append((d.columns[1], "dimension", d.label))
            if "areas" not in datasets:
                datasets.append("areas")
            final_joins.append(f"LEFT JOIN areas {alias} ON {alias}.area_level = '{d.key}' "
                               f"AND {alias}.area_code = k.{code}")
        else:
            col = _q(d.key)
            picks.append(f"c.{col} AS {col}")
            names.append(col)
            final.append(f"k.{col}")
            columns.append((d.key, "dimension", d.label))
    count = _q(p.count)
    where = [f"c.{pf} BETWEEN $from AND $to", f"in_area({ward}, {district}, $area, $partnership)"]
    params = {"from": p.window[0].strftime("%Y-%m"), "to": p.window[1].strftime("%Y-%m"), "area": p.spec.area}
    declared = []
    for name, values in p.filters:
        pname = f"f_{name}"
        where.append(f"(${pname} IS NULL OR list_contains(${pname}, c.{_q(name)}))")
        declared.append(f"--   {pname}: {{type: text_list, max_length: {MAX_VALUE_LENGTH}}}")
        params[pname] = list(values)
    role = lambda r: f", period: {r}" if p.period_roles else ""  # noqa: E731
    head = [
        f"-- title: {json.dumps('Explore: ' + p.what())}",  # contract words only, no values
        f"-- datasets: [{', '.join(datasets)}]",
        *([f"-- grain: {p.grain}"] if p.grain else []),
        "-- system: [partnership]",
        "-- parameters:",
        f"--   from: {{type: month, required: true{role('start')}}}",
        f"--   to: {{type: month, required: true{role('end')}}}",
        "--   area: {type: area}",
        *declared,
    ]
    order = [d.shown for d in p.dims]
    if len(p.dims) == 1 and p.dims[0].kind == "category":
        order = [f"-{p.count}"] + order
    if order:
        head.append(f"-- order: [{', '.join(order)}]")
    head.append(f"-- limit: {MAX_ROWS + 1}")
    head.append("-- columns:")
    for name, kind, label in columns:
        head.append(f"--   {name}: {{type: {kind}, description: {json.dumps(label)}}}")
    head.append(f"--   {p.count}: {{type: count, description: {json.dumps(p.measure.label)}}}")
    group = f" GROUP BY {', '.join(names)}" if names else ""
    sql = (
        "WITH picked AS (\n"
        f"    SELECT {', '.join(picks + [f'c.{_q(measure)} AS __m'])}\n"
        f"    FROM {_q(p.source)} c{''.join(' ' + j for j in pick_joins)}\n"
        f"    WHERE {(chr(10) + '      AND ').join(where)}\n"
        "), counted AS (\n"
        f"    SELECT {', '.join(names + [f'total(__m) AS {count}'])} FROM picked{group}\n"
        ")\n"
        f"SELECT {', '.join(final + [f'k.{count}'])}\n"
        f"FROM counted k{''.join(chr(10) + j for j in final_joins)}"
    )
    return "\n".join(head) + "\n" + sql.rstrip() + "\n", params


@functools.lru_cache(maxsize=256)
def _parsed(name: str, text: str) -> queries.NamedQuery:
    return queries.from_text(name, text)


def compile(user: access.User | None, spec: Spec) -> tuple[Plan, queries.NamedQuery, dict]:  # noqa: A001
    """The checked plan, the parsed query and its parameters (nothing run yet)."""
    p = plan(user, spec)
    text, params = query_text(p)
    try:
        q = _parsed(f"explore_{p.dataset}", text)
    except ValueError as e:  # a contract field the query checks refuse: not the user's doing
        raise SpecError(f"This view cannot be built from the {p.dataset} contract ({e}).") from None
    return p, q, params


def run(user: access.User | None, spec: Spec) -> tuple[Plan, queries.Result]:
    """Check, build and run a view as the user, through the same runner as every page."""
    p, q, params = compile(user, spec)
    result = queries.run_query(user, q, params)
    if result.frame.height > MAX_ROWS:
        raise SpecError(f"This view has more than {MAX_ROWS:,} rows, too many to show: choose a "
                        "shorter period, one area, a filter or a coarser breakdown.")
    return p, result


def values(user: access.User | None, dataset: str, name: str) -> list[str]:
    """The values of a category field this user may see (for the filter pickers)."""
    c, _ = _contract_grant(user, dataset)
    if name not in {o.key for o in filter_fields(user, dataset)}:
        raise SpecError("That field cannot be filtered.")
    source = _source(c, [Dim(name, "category", name, (name,))], ())
    text = (f"-- title: {json.dumps('Explore: values of ' + name)}\n"
            f"-- datasets: [{source}]\n"
            "-- columns:\n"
            f"--   value: {{type: dimension}}\n"
            f"SELECT DISTINCT c.{_q(name)} AS value FROM {_q(source)} c WHERE c.{_q(name)} IS NOT NULL "
            f"AND c.{_q(name)} <> ''\n")
    result = queries.run_query(user, _parsed(f"explore_values_{dataset}", text), {})
    return sorted(str(v) for v in result.frame["value"].to_list())


def held_span(dataset: str) -> tuple[dt.date, dt.date] | None:
    return periods.held([dataset])


def as_of(dataset: str) -> str | None:
    v = store.current(dataset)
    return v.meta.get("published_at", "")[:10] if v else None
