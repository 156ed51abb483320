"""Every partner's counts, one shape: each dataset with a dashboard in its contract (crime, ASB,
fires, A&E assaults, first-time entrants ...) gets the same named queries and the same dashboard,
made from its contract (config/datasets.toml). Two layouts: ``incident`` (counts by period x
geography x category: headline, trend, breakdowns, ranked areas) and ``cohort`` (a proportion of a
cohort, such as proven reoffending: rate by cohort quarter and by group).

The queries are SQL templates in ``queries/<layout>/``: ordinary named-query files whose
``{{placeholders}}`` name the dataset's own fields and cubes (all trusted identifiers from the
contract, never user input), instantiated per dataset as ``<dataset>_<template>`` (or the
template's ``name:``). Placeholders and markers:

* ``{{measure}}`` is the count the dashboard shows: ``n`` of an events dataset's cubes, or a
  pre-counted dataset's measure; ``{{ward_cube}}``, ``{{cube}}`` and ``{{breakdown_cube}}`` are the
  events dataset's cubes, or a pre-counted dataset itself (its rows are cells already).
* ``{{ward}}``, ``{{lsoa}}``: the geography fields; where the dataset has none (data held by
  district only), ``alias.{{ward}}`` becomes a blank (NULL) value, so area filters still work.
* ``{{span}}`` is the months one period covers (3 for quarterly data, dated by the quarter's first
  month); ``{{months_between}}`` the months of data between ``first_month`` and ``last_month``.
* A line ending in ``{{?cat}}`` is kept only when the dataset has a category (``{{!cat}}``: only
  when it has none); ``{{?lsoa}}``, ``{{?ward}}`` / ``{{!ward}}`` likewise. A line ending in
  ``{{*f}}`` is repeated for each of the dashboard's extra filters (categories after the main
  one), with ``{{f}}`` and ``{{f_label}}`` naming it.
* ``requires: [cat, lsoa, ward]`` skips datasets without them; ``per: breakdown`` or
  ``per: filter`` makes the template once per breakdown field or extra filter.

Adding a dataset is a contract and policy lines: no Python, no SQL.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from . import catalog, config

LAYOUTS = ("incident", "cohort")
TEMPLATE_DIR = "incident"
_MARK = re.compile(r"\{\{([?!*])(\w+)\}\}")
_SUB = re.compile(r"(\b[a-z]\.)?\{\{(\w+)\}\}")
BLANK = "CAST(NULL AS VARCHAR)"  # a geography field the dataset does not have


@dataclass(frozen=True)
class Instance:
    name: str
    dataset: str
    template: Path
    breakdown: str | None
    text: str
    per: str | None = None  # breakdown | filter: what ``breakdown`` names


def template_dir(layout: str = TEMPLATE_DIR) -> Path:
    return config.QUERIES_DIR / layout


def label_of(c: catalog.Contract, field: str) -> str:
    """How the dashboard names a category or breakdown field ('Crime type', 'Outcomes')."""
    d = c.dashboard or {}
    if c.categories and field == c.categories[0] and d.get("category_label"):
        return d["category_label"]
    for key in ("breakdown_labels", "filter_labels"):
        if field in (d.get(key) or {}):
            return d[key][field]
    return field.replace("_", " ").capitalize()


in_sentence = catalog.in_sentence  # (where the pages have always found it)


def filters(c: catalog.Contract) -> tuple[str, ...]:
    """The dashboard's extra filters: categories after the main one that it offers as filters
    (a cohort dashboard: every category, each also a breakdown of the latest year)."""
    d = c.dashboard or {}
    if c.layout == "cohort":
        return tuple(d.get("filters", c.categories))
    return tuple(d.get("filters", ()))


def count_column(c: catalog.Contract) -> str:
    """The name of the count column in a dataset's incident queries ('crimes', 'call_outs')."""
    d = c.dashboard or {}
    label = d.get("label", d.get("noun", c.name).capitalize())
    return re.sub(r"[^a-z0-9_]", "_", label.lower())


def _months_between(span: int) -> str:
    if span == 1:
        return "date_diff('month', first_month, last_month) + 1"
    # Periods are dated by their first month: count the periods starting in the window.
    idx = "(year({d}) * 12 + month({d}) - 1)"
    return (f"{span} * ({idx.format(d='last_month')} // {span} - "
            f"CAST(ceil({idx.format(d='first_month')} / {span}.0) AS BIGINT) + 1)")


def _values(c: catalog.Contract, item: str | None, per: str | None) -> dict[str, str | None]:
    d = c.dashboard or {}
    cat = c.categories[0] if c.categories else ""
    noun = d.get("noun", c.name)
    label = d.get("label", noun.capitalize())
    events = c.kind == "events"
    lsoa = c.geo_field("lsoa")
    breakdown = item if per == "breakdown" else None
    filt = item if per == "filter" else None
    return {
        "ds": c.name, "title": d.get("title", c.title), "noun": noun, "label": label,
        "count": count_column(c),
        "period": c.period_field or "month", "span": str(c.grain_months),
        "months_between": _months_between(c.grain_months),
        "measure": c.measure or "n",
        "lsoa": lsoa, "ward": c.geo_field("ward"), "district": c.geo_field("district"),
        "cube": (f"{c.name}_cube" if lsoa else None) if events else c.name,
        "ward_cube": f"{c.name}_ward_cube" if events else c.name,
        "cat": cat, "cat_label": label_of(c, cat) if cat else "",
        "breakdown": breakdown or "",
        "breakdown_cube": (f"{c.name}_{breakdown}_cube" if events else c.name) if breakdown else "",
        "breakdown_label": label_of(c, breakdown) if breakdown else "",
        "filter": filt or "", "filter_label": label_of(c, filt) if filt else "",
        **_cohort_values(c),
    }


def _cohort_values(c: catalog.Contract) -> dict[str, str | None]:
    cohort = (c.dashboard or {}).get("cohort") or {}
    if not cohort:
        return {}
    words = {m: c.field(m).description for m in cohort.values()}
    return {"size": cohort["size"], "outcome": cohort["outcome"], "events": cohort.get("events"),
            "size_label": words[cohort["size"]], "outcome_label": words[cohort["outcome"]],
            "events_label": words.get(cohort.get("events"), ""),
            "rate_label": (c.dashboard or {}).get("rate_label", "Rate")}


def _flags(c: catalog.Contract) -> dict[str, bool]:
    return {"cat": bool(c.categories), "lsoa": bool(c.geo_field("lsoa")),
            "ward": bool(c.geo_field("ward")), "quarter": c.grain_months > 1,
            "events": bool(((c.dashboard or {}).get("cohort") or {}).get("events")), "": True}


def _substitute(line: str, values: dict) -> str:
    def one(m: re.Match) -> str:
        prefix, key = m.group(1) or "", m.group(2)
        value = values[key]
        if value is None:  # a geography field the dataset does not have: blank, prefix and all
            return BLANK
        return prefix + value
    return _SUB.sub(one, line)


def render(text: str, c: catalog.Contract, item: str | None = None, per: str | None = None) -> str:
    values = _values(c, item, per)
    flags = _flags(c)
    lines = []
    for line in text.splitlines():
        marks = _MARK.findall(line)
        if any(sign != "*" and flags.get(f, False) != (sign == "?") for sign, f in marks):
            continue
        repeat = any(sign == "*" for sign, _ in marks)
        line = _MARK.sub("", line).rstrip()
        if repeat:
            for f in filters(c):
                each = line.replace("{{f}}", f).replace("{{f_label}}", label_of(c, f))
                lines.append(_substitute(each, values))
        else:
            lines.append(_substitute(line, values))
    return "\n".join(lines) + "\n"


def _header_value(text: str, key: str) -> str | None:
    m = re.search(rf"^--\s*{key}:\s*(\S+)\s*$", text, re.MULTILINE)
    return m.group(1).strip("\"'") if m else None


def instances() -> dict[str, Instance]:
    """Every generated query, by name. Made once per version of the templates and contracts
    (every query a page runs looks its name up here: rendering them all each time cost ~0.1 s)."""
    stamp = [config.contracts_path().stat().st_mtime_ns]
    for layout in LAYOUTS:
        d = template_dir(layout)
        if d.is_dir():
            stamp += [(p.name, p.stat().st_mtime_ns) for p in sorted(d.glob("*.sql"))]
    return _instances(str(config.QUERIES_DIR), tuple(stamp))


@functools.lru_cache(maxsize=4)
def _instances(_queries_dir: str, _stamp: tuple) -> dict[str, Instance]:
    out = {}
    for layout in LAYOUTS:
        d = template_dir(layout)
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.sql")):
            text = path.read_text()
            requires = (_header_value(text, "requires") or "").strip("[]").split(",")
            per = _header_value(text, "per")
            pattern = _header_value(text, "name") or "{{ds}}_" + path.stem
            for c in catalog.dashboards(layout).values():
                flags = _flags(c)
                if not all(flags.get(r.strip(), False) for r in requires if r.strip()):
                    continue
                items = {"breakdown": c.breakdowns, "filter": filters(c)}.get(per, (None,))
                for b in items:
                    name = _substitute(pattern, _values(c, b, per))
                    out[name] = Instance(name, c.name, path, b, render(text, c, b, per), per)
    return out


def instance(name: str) -> Instance | None:
    return instances().get(name)


def query_name(dataset: str, template: str) -> str | None:
    """The name of a dataset's instance of a template (None when the dataset does not get it)."""
    for inst in instances().values():
        if inst.dataset == dataset and inst.template.stem == template and inst.breakdown is None:
            return inst.name
    return None


# ---- periods: quarterly data ----------------------------------------------------------------


@dataclass(frozen=True)
class PeriodOption:
    key: str
    label: str
    start: dt.date
    end: dt.date


def _add_months(d: dt.date, n: int) -> dt.date:
    k = d.year * 12 + d.month - 1 + n
    return dt.date(k // 12, k % 12 + 1, 1)


def period_options(dataset: str) -> list[PeriodOption]:
    """The named periods (csp.protection.periods: the windows a protected total may cover) as a
    dataset's users should see them. Monthly data: as they are. Quarterly data (each row dated by
    its quarter's first month): the windows that hold whole quarters, labelled by the months the
    quarters cover (the latest 12 months to 'Sep 2026', not to 'Jul 2026'); single months that
    start no quarter are left out (they would hold nothing)."""
    from .protection import periods

    held = periods.held([dataset])
    if held is None:
        return []
    first, last = held
    span = catalog.contract(dataset).grain_months
    if span == 1:
        return [PeriodOption(p.key, p.label, p.start, p.end) for p in periods.named_periods(first, last)]
    windows, quarters, seen = [], [], set()
    for p in periods.named_periods(first, last):
        starts = [m for m in _month_span(p.start, p.end) if (m.month - 1) % span == 0]
        if not starts:
            continue
        a, b = starts[0], _add_months(starts[-1], span - 1)
        if (a, b) in seen:
            continue  # a calendar quarter and its first month alone are one choice
        seen.add((a, b))
        n = len(starts)
        words = {"latest12": "Latest 4 quarters", "previous12": "The 4 quarters before",
                 "latest24": "Latest 8 quarters", "all": "Everything held"}.get(p.key)
        if p.key.startswith("fy"):
            words = p.label
        if n == 1:
            quarters.append(PeriodOption(p.key, f"Quarter: {a:%b}–{b:%b %Y}", p.start, p.end))
        else:
            windows.append(PeriodOption(p.key, f"{words or f'{n} quarters'} ({a:%b %Y} to {b:%b %Y})",
                                        p.start, p.end))
    # Whole windows first, then every quarter, newest first (the latest one is offered through
    # its first month: its calendar quarter runs past the last month held).
    quarters.sort(key=lambda o: o.start, reverse=True)
    everything = [o for o in windows if o.key == "all"]
    return [o for o in windows if o.key != "all"] + quarters + everything


def _month_span(a: dt.date, b: dt.date) -> list[dt.date]:
    out = []
    while a <= b:
        out.append(a)
        a = _add_months(a, 1)
    return out


def quarterly_series(result, count_col: str, start: str | None, end: str | None):
    """One row per quarter from ``start`` to ``end`` (YYYY-MM; default: the quarters in the
    result) with the count and the rolling 4-quarter (12-month) total. A quarter absent from the
    query output had no records (0); a withheld quarter stays null and no total is derived from
    it. No control limits: they are drawn for monthly counts (csp.control_charts); the note says
    so. Returns (Result, note)."""
    import polars as pl

    from .indicators import _derived  # the same Result shape as the monthly series

    frame = result.frame
    known = dict(zip(frame["month"].to_list(), frame[count_col].to_list()))
    masked = dict(zip(frame["month"].to_list(), result.suppressed[count_col].to_list())) \
        if count_col in result.suppressed.columns else {}
    q0 = lambda d: dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)  # noqa: E731
    # The first whole quarter from ``start`` (a quarter is dated by its first month, so a window
    # from August holds the quarters from October, as the period's label and the breakdowns say).
    first = (_add_months(q0(dt.date.fromisoformat(start + "-01")), 3)
             if start and q0(dt.date.fromisoformat(start + "-01")) != dt.date.fromisoformat(start + "-01")
             else q0(dt.date.fromisoformat(start + "-01")) if start else (min(known) if known else None))
    last = q0(dt.date.fromisoformat(end + "-01")) if end else (max(known) if known else None)
    if first is None or last is None:
        empty = pl.DataFrame(schema={"month": pl.Date, "quarter": pl.String, count_col: pl.Int64,
                                     "rolling_4_quarters": pl.Int64})
        return _derived(result, empty, pl.DataFrame(schema={count_col: pl.Boolean})), ""
    read_from = min([first, *known]) if known else first
    quarters = []
    q = read_from
    while q <= last:
        quarters.append(q)
        q = _add_months(q, 3)
    withheld = [bool(masked.get(m, False)) for m in quarters]
    counts = [None if w else known.get(m, 0) for m, w in zip(quarters, withheld)]
    rolling = [None if i < 3 or any(v is None for v in counts[i - 3:i + 1]) else sum(counts[i - 3:i + 1])
               for i in range(len(counts))]
    lead = sum(1 for m in quarters if m < first)
    quarters, counts, rolling, withheld = (xs[lead:] for xs in (quarters, counts, rolling, withheld))
    out = pl.DataFrame({
        "month": quarters,
        "quarter": [f"{m:%b}–{_add_months(m, 2):%b %Y}" for m in quarters],
        count_col: counts, "rolling_4_quarters": rolling,
        # The chart's columns, empty: no control chart for quarterly counts.
        "rolling_12_months": [None] * len(quarters), "upper_limit": [None] * len(quarters),
    }, schema={"month": pl.Date, "quarter": pl.String, count_col: pl.Int64,
               "rolling_4_quarters": pl.Int64, "rolling_12_months": pl.Int64, "upper_limit": pl.Float64})
    mask = pl.DataFrame({count_col: withheld}, schema={count_col: pl.Boolean})
    notes = ["Quarterly figures: each point is one quarter. Control limits are drawn for monthly "
             "counts only; the rolling 4-quarter (12-month) total is in the table."]
    if any(withheld):
        notes.append(f"{_n(sum(withheld), 'quarter')} withheld (small numbers); no rolling total "
                     "is given across them.")
    return _derived(result, out, mask), " ".join(notes)


# ---- cohorts: a rate of a cohort, from published (perturbed) counts --------------------------


def with_wilson(result, x: str, n: str):
    """The result with 95% interval columns (rate_lower, rate_upper, %) for x of n
    (csp.themes.with_wilson: widened for perturbation, withheld wherever either count is)."""
    from . import themes

    return themes.with_wilson(result, x, n, rate="rate_pct" if "rate_pct" in result.frame.columns else None)


def cohort_change(row: dict, outcome: str, size: str, result=None) -> dict | None:
    """The latest year's rate against the year before (csp.themes.proportion_change: Wilson
    intervals and a two-proportion test, allowing for the perturbation of ``result``, the
    headline the row is from), or None when a count is withheld."""
    from . import themes

    # proportion_change takes a perturbed outcome above its cohort as the whole cohort.
    return themes.proportion_change(row[outcome], row[size], row[f"prev_{outcome}"], row[f"prev_{size}"],
                                    noise_from=result)


def _n(n: int, noun: str) -> str:
    """'1 quarter is' / '3 quarters are'."""
    return f"{n} {noun} is" if n == 1 else f"{n} {noun}s are"
