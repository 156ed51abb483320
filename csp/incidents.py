"""Incident data, one shape: every events dataset with a dashboard (crime, ASB, fires ...) gets the
same named queries and the same dashboard, made from its contract (config/datasets.toml).

The queries are SQL templates in ``queries/incident/``: ordinary named-query files whose
``{{placeholders}}`` name the dataset's own fields and cubes (all trusted identifiers from the
contract, never user input), instantiated per dataset as ``<dataset>_<template>`` (or the
template's ``name:``). A line ending in ``{{?cat}}`` is kept only when the dataset has a category
(``{{!cat}}``: only when it has none); ``{{?lsoa}}`` likewise for LSOAs. A template with
``per: breakdown`` is made once per breakdown field. Adding a dataset is a contract: no Python.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from . import catalog, config

TEMPLATE_DIR = "incident"
_MARK = re.compile(r"\{\{([?!])(\w+)\}\}")
_SUB = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class Instance:
    name: str
    dataset: str
    template: Path
    breakdown: str | None
    text: str


def template_dir() -> Path:
    return config.QUERIES_DIR / TEMPLATE_DIR


def _values(c: catalog.Contract, breakdown: str | None) -> dict[str, str]:
    d = c.dashboard or {}
    cat = c.categories[0] if c.categories else ""
    noun = d.get("noun", c.name)
    label = d.get("label", noun.capitalize())
    return {
        "ds": c.name, "title": d.get("title", c.title), "noun": noun, "label": label,
        "count": re.sub(r"[^a-z0-9_]", "_", label.lower()),
        "period": c.period_field or "month",
        "lsoa": c.geo_field("lsoa") or "", "ward": c.geo_field("ward") or "",
        "district": c.geo_field("district") or "",
        "cube": f"{c.name}_cube", "ward_cube": f"{c.name}_ward_cube",
        "cat": cat, "cat_label": d.get("category_label", cat.replace("_", " ").capitalize()),
        "breakdown": breakdown or "", "breakdown_cube": f"{c.name}_{breakdown}_cube" if breakdown else "",
        "breakdown_label": (d.get("breakdown_labels", {}) or {}).get(breakdown or "", (breakdown or "").capitalize()),
    }


def render(text: str, c: catalog.Contract, breakdown: str | None = None) -> str:
    values = _values(c, breakdown)
    flags = {"cat": bool(c.categories), "lsoa": bool(c.geo_field("lsoa"))}
    lines = []
    for line in text.splitlines():
        marks = _MARK.findall(line)
        if any(flags.get(f, False) != (sign == "?") for sign, f in marks):
            continue
        line = _MARK.sub("", line).rstrip()
        lines.append(_SUB.sub(lambda m: values[m.group(1)], line))
    return "\n".join(lines) + "\n"


def _header_value(text: str, key: str) -> str | None:
    m = re.search(rf"^--\s*{key}:\s*(\S+)\s*$", text, re.MULTILINE)
    return m.group(1).strip("\"'") if m else None


def instances() -> dict[str, Instance]:
    """Every generated query, by name."""
    out = {}
    d = template_dir()
    if not d.is_dir():
        return out
    for path in sorted(d.glob("*.sql")):
        text = path.read_text()
        requires = (_header_value(text, "requires") or "").strip("[]").split(",")
        per = _header_value(text, "per")
        pattern = _header_value(text, "name") or "{{ds}}_" + path.stem
        for c in catalog.dashboards().values():
            flags = {"cat": bool(c.categories), "lsoa": bool(c.geo_field("lsoa")), "": True}
            if not all(flags.get(r.strip(), False) for r in requires if r.strip()):
                continue
            for b in (c.breakdowns if per == "breakdown" else (None,)):
                name = _SUB.sub(lambda m: _values(c, b)[m.group(1)], pattern)
                out[name] = Instance(name, c.name, path, b, render(text, c, b))
    return out


def instance(name: str) -> Instance | None:
    return instances().get(name)
