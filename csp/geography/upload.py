"""``upload geography`` and ``upload population`` (CLI and Upload page): the same importers as
``python -m csp import lookup|population``, as an upload Plan that csp.upload previews and
publishes. One file: an LSOA -> ward (-> district) lookup in any ONS layout, or a population table.
A lookup with no district column is completed from the published geography's wards where it can;
otherwise the report says to import it with a ward -> district file (CLI).

ONS place names (ward, LSOA and district names) are screened as place names, not people's names;
everything else in the file is screened as for any upload.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from .. import pii, sandbox, validate
from ..validate import Problem, ReadError
from . import layouts
from . import population as pop_mod
from . import publish as pub
from .build import build
from .errors import GeographyError
from .importer import sources_from_tables

DATASETS = ("geography", "population", "areas")


def _reference_date_column(frame: pl.DataFrame) -> dict[str, str]:
    """A population table's period column ('2024-06-30' on every row) is the estimate's reference
    date, not anyone's date of birth: allowed when it holds a single 30 June date."""
    out = {}
    for c in frame.columns:
        if layouts.norm(c) in ("period", "date", "mid_year", "reference_date"):
            vals = frame.get_column(c).drop_nulls().unique()
            if vals.len() == 1 and str(vals[0]).strip()[4:10] in ("-06-30", "/06/30"):
                out[c] = "mid-year estimate reference date"
    return out


def prepare(dataset: str, source, filename: str | None = None, *, user=None, mapping: dict | None = None,
            transforms=(), margin: float = 0.2, max_bytes: int | None = None, **_ignored):
    from .. import upload  # csp.upload imports this module lazily; this import runs at call time

    filename = filename or (str(source) if isinstance(source, (str, Path)) else "upload")
    plan = upload.Plan(dataset, Path(filename).name, transforms=list(transforms))
    if dataset == "areas":
        plan.problems.append(Problem("error", "derived", "The areas table is not uploaded: it is rebuilt from "
                                     "geography and population whenever either is published."))
        return plan
    if transforms:
        plan.problems.append(Problem("error", "transform", "Depersonalising transforms do not apply to reference "
                                     "geography; upload the ONS file as published."))
        return plan
    try:
        data = validate.read_limited(source, max_bytes)
        plan.checksum = hashlib.sha256(data).hexdigest()
        table = sandbox.read_table(data, plan.filename)  # a limited child process (csp.sandbox)
    except ReadError as e:
        plan.problems.append(Problem("error", "unreadable", str(e)))
        return plan
    frame = table.frame
    plan.format, plan.encoding, plan.rows, plan.columns = table.format, table.encoding, frame.height, list(frame.columns)
    plan.problems += table.notes
    allowed = pii.place_name_columns(frame.columns)
    if dataset == "population":
        allowed |= _reference_date_column(frame)
    plan.findings = pii.screen(frame, allowed_columns=allowed, first_row=table.first_row)
    plan.problems += validate.check_formulas(frame, table.first_row)
    explicit = {k: v for k, v in (mapping or {}).items() if k in frame.columns} or None
    try:
        if dataset == "geography":
            geo, pops, notes = _lookup(frame, plan.filename, explicit)
            plan.mapping = {c.name: role for role, c in layouts.detect(frame.columns, explicit).roles.items()}
        else:
            pf = pop_mod.read(frame, plan.filename, None, explicit)
            geo, pops, notes = None, [pf.frame], pf.notes
            plan.mapping = pf.used
    except GeographyError as e:
        plan.problems.append(Problem("error", "bad_" + dataset, str(e)))
        return plan
    plan.ignored_columns = [c for c in frame.columns if c not in plan.mapping]
    for n in notes:
        plan.problems.append(Problem("warning", "note", n))
    if plan.errors or plan.findings:
        return plan
    frames = pub.prepare(geo, pops)
    if frames.areas is None and dataset == "population":
        plan.problems.append(Problem("warning", "no_geography", "No geography is published yet: areas (and the "
                                     "populations rates use) are built when it is."))
    for name, f in frames.items():
        plan.frames[name] = f
        plan.diffs[name] = upload.diff(name, f, None, margin)
    return plan


def _lookup(frame: pl.DataFrame, name: str, explicit):
    k = layouts.kind(frame.columns) if not explicit else "lsoa_ward"
    if k in ("ward_district", "lsoa11_lsoa21"):
        what = "a ward -> district table" if k == "ward_district" else "an LSOA 2011 -> 2021 lookup"
        raise GeographyError(f"{name} is {what}: it completes an LSOA -> ward lookup and is imported with it, "
                             f"e.g. `python -m csp import lookup lsoa_to_ward.csv {name}`")
    cur = pub.current_frame("geography")
    fallback = None
    if cur is not None and "ward_code" in cur.columns:
        fallback = cur.filter(pl.col("ward_code").is_not_null()).select(
            "ward_code", "ward_name", "district_code", "district_name").unique("ward_code", keep="first")
    src = sources_from_tables([(frame, name)], None, explicit=explicit, fallback_wards=fallback)
    built = build(src)
    pops, notes = [], []
    for lk in src.lookups:
        notes += lk.notes
        p = pop_mod.from_lookup(lk)
        if p is not None:
            pops.append(p.frame)
            notes += [f"population {n}" for n in p.notes]
    return built.frame, pops, notes + built.notes
