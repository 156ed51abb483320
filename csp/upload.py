"""Analyst uploads: read, map, depersonalise, validate, preview, publish; versions and rollback.

``prepare`` does everything except publishing and returns a ``Plan``: the validation report
(every problem, with rows and counts), the personal-data findings, and a preview of what
publishing would change. ``publish`` refuses a plan with any error or finding, and refuses if
the dataset changed since the preview. Nothing here imports Streamlit: the Upload page and the
CLI (``python -m csp upload|versions|rollback|retention``) share this module.

A raw police.uk street-level file holds crimes and anti-social behaviour together, so uploading
one (as ``crime`` or ``asb``) updates both datasets, the months in the file replacing those months.
Other uploads replace the periods they contain and keep every other period as published.
"""
from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import re
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from . import access, audit, catalog, config, ingest, pii, sandbox, state, store, users, validate
from .validate import Problem, ReadError, check, check_formulas, parse_month, read_limited

DEFAULT_MARGIN = 0.2  # "moved by more than" threshold in the preview: 20% of the published figure
MIN_KEEP_DAYS = 1

# Remembered column mappings and retention settings live in the app state database
# (tables upload_mappings and upload_retention, created by csp.state.migrations).

POLICE_UK_MAP = {
    "Crime ID": "crime_id", "Month": "month", "Falls within": "falls_within", "Location": "location",
    "LSOA code": "lsoa_code", "Crime type": "crime_type", "Last outcome category": "outcome",
}
# Columns of a police.uk file that are not published: the force's own name for itself, the
# anonymised map point (the LSOA carries the geography), names derivable from codes, and Context
# (always empty, and free text if not).
POLICE_UK_DROPPED = ("Reported by", "Longitude", "Latitude", "LSOA name", "Context")


class UploadError(ValueError):
    """The upload cannot go ahead; the message is safe to show."""


# ---- who may upload what --------------------------------------------------------------------


def may_upload(user: access.User | None, dataset: str) -> bool:
    if user is None or not access.can(user, "upload"):
        return False
    return user.role == "admin" or catalog.contract(dataset).owner == user.partner


def upload_targets(user: access.User | None) -> list[str]:
    return [d for d in catalog.contracts() if may_upload(user, d) and d != "areas"]  # areas is derived


def require_upload(user: access.User | None, dataset: str) -> None:
    contract = catalog.contract(dataset)
    if user is None or not access.can(user, "upload"):
        raise access.AccessDenied("Only analysts and administrators may upload data.")
    if not may_upload(user, dataset):
        own = ", ".join(catalog.in_sentence(catalog.contract(d).title) for d in upload_targets(user)) or "none"
        raise access.AccessDenied(
            f"{contract.title} belongs to the {contract.owner} partner: {user.partner.replace('_', ' ')} "
            f"analysts may upload only their own partner's data ({own})."
        )


# ---- mapping memory (app state database) ----------------------------------------------------


def _db():
    return state.connect()


def remembered_mapping(partner: str, dataset: str) -> dict[str, str]:
    with _db() as con:
        rows = con.execute("SELECT source_column, target_column FROM upload_mappings WHERE partner=? AND dataset=?",
                           (partner, dataset)).fetchall()
    return {r[0]: r[1] for r in rows}


def remember_mapping(partner: str, dataset: str, mapping: dict[str, str], by: str) -> None:
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    with _db() as con:
        for src, dst in mapping.items():
            con.execute("INSERT INTO upload_mappings (partner, dataset, source_column, target_column,"
                        " updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                        " ON CONFLICT (partner, dataset, source_column) DO UPDATE SET"
                        " target_column=excluded.target_column, updated_by=excluded.updated_by,"
                        " updated_at=excluded.updated_at",
                        (partner, dataset, src, dst, by, now))


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def auto_mapping(dataset: str, columns: list[str]) -> dict[str, str]:
    """File columns whose names match a contract field once case and punctuation are ignored."""
    fields = {_norm(f): f for f in catalog.contract(dataset).field_names}
    aliases = {}
    if dataset == "geography":
        aliases = {_norm(a): t for t, names in ingest.LOOKUP_ALIASES.items() for a in names}
    elif dataset in ("crime", "asb"):
        aliases = {_norm(k): v for k, v in POLICE_UK_MAP.items()}
    out = {}
    for c in columns:
        n = _norm(c)
        target = fields.get(n) or aliases.get(n)
        if target and target not in out.values() and target in catalog.contract(dataset).field_names:
            out[c] = target
    return out


# ---- the plan -------------------------------------------------------------------------------


@dataclass
class Diff:
    dataset: str
    base_version: str | None
    rows_before: int
    rows_after: int
    measure: str  # what the totals count: "rows" or a count field
    periods_added: list[str]
    periods_replaced: list[str]
    totals: pl.DataFrame  # period, before, after, change, change_pct, moved
    margin: float

    @property
    def moved(self) -> list[str]:
        return self.totals.filter(pl.col("moved"))["period"].to_list() if self.totals.height else []


@dataclass
class Plan:
    dataset: str
    filename: str
    checksum: str | None = None
    format: str | None = None
    encoding: str | None = None
    police_uk: bool = False
    problems: list[Problem] = field(default_factory=list)
    findings: list[pii.Finding] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # file columns as read (after transforms)
    transforms: list[str] = field(default_factory=list)
    rows: int = 0
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)  # dataset -> typed rows to publish
    periods: list = field(default_factory=list)
    diffs: dict[str, Diff] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.findings and bool(self.frames)

    def summary(self) -> dict:
        return {
            "file": self.filename, "format": self.format, "encoding": self.encoding,
            "rows": self.rows, "errors": len(self.errors), "personal_data_findings": len(self.findings),
            "warnings": [p.text() for p in self.warnings], "mapping": self.mapping,
            "ignored_columns": self.ignored_columns, "transforms": self.transforms,
            "periods": [str(p)[:7] if isinstance(p, dt.date) else str(p) for p in self.periods],
        }

    def report(self) -> str:
        """The validation report as plain text (CLI output; the page draws the same content)."""
        lines = [f"{self.filename}: {self.rows:,} data row(s)"
                 + (f", {self.format}" if self.format else "") + (f", {self.encoding}" if self.encoding else "")
                 + (" (police.uk street-level file)" if self.police_uk else "")]
        if self.mapping:
            renamed = {k: v for k, v in self.mapping.items() if k != v}
            if renamed:
                lines.append("Columns mapped: " + ", ".join(f"{k} -> {v}" for k, v in renamed.items()))
        for t in self.transforms:
            lines.append(f"Transform applied: {t}")
        if self.errors:
            lines.append(f"{len(self.errors)} problem(s) must be fixed:")
            lines += [f"  ERROR {p.text()}" for p in self.errors]
        if self.findings:
            lines.append(f"{len(self.findings)} personal-data finding(s) must be resolved:")
            for f in self.findings:
                fix = pii.suggest_transform(f)
                lines.append(f"  PERSONAL DATA {f.message}; example {f.example}"
                             + (f" -> fix: --transform {fix}:{f.column}" if fix else ""))
        if self.warnings:
            lines.append(f"{len(self.warnings)} warning(s):")
            lines += [f"  warning {p.text()}" for p in self.warnings]
        for d in self.diffs.values():
            lines.append(
                f"Preview {d.dataset}: {d.rows_before:,} -> {d.rows_after:,} rows (against "
                f"{d.base_version or 'nothing published'}); periods added: {', '.join(d.periods_added) or 'none'}; "
                f"replaced: {', '.join(d.periods_replaced) or 'none'}"
            )
            if d.moved:
                lines.append(f"  moved by more than {d.margin:.0%}: " + ", ".join(
                    f"{r['period']} {r['before']:,} -> {r['after']:,}" for r in d.totals.filter(pl.col("moved")).iter_rows(named=True)))
        if self.ok:
            lines.append("Validation passed.")
        return "\n".join(lines)


def _lookup() -> pl.DataFrame | None:
    geo = store.current("geography")
    if geo is None:
        return None
    return pl.read_parquet(geo.files).select("lsoa_code", "ward_code", "district_code")


def _lsoa_centroids() -> pl.DataFrame:
    """LSOA centroids (mean of boundary vertices) from <data_dir>/boundaries/lsoa.geojson."""
    path = config.data_dir() / "boundaries" / "lsoa.geojson"
    if not path.exists():
        raise UploadError("Coordinates can be turned into LSOAs only once LSOA boundaries are loaded.")
    fc = json.loads(path.read_text())
    rows = []
    for feat in fc.get("features", []):
        props = feat.get("properties") or {}
        code = props.get("lsoa_code") or props.get("code") or next(
            (v for k, v in props.items() if k.lower().startswith("lsoa") and k.lower().endswith("cd")), None)
        geom = feat.get("geometry") or {}
        polys = geom.get("coordinates", [])
        if geom.get("type") == "Polygon":
            polys = [polys]
        pts = [p for poly in polys for p in poly[0]] if polys else []
        if code and pts:
            rows.append({"lsoa_code": code, "lon": sum(p[0] for p in pts) / len(pts),
                         "lat": sum(p[1] for p in pts) / len(pts)})
    return pl.DataFrame(rows, schema={"lsoa_code": pl.String, "lon": pl.Float64, "lat": pl.Float64})


def parse_transform(spec: str) -> tuple[str, list[str]]:
    """'postcode_to_sector:postcode' or 'coordinates_to_lsoa:Longitude,Latitude'."""
    name, _, cols = spec.partition(":")
    if name not in pii.TRANSFORMS or not cols:
        raise UploadError(f"Unknown transform '{spec}': use NAME:COLUMN with NAME one of {', '.join(pii.TRANSFORMS)}.")
    return name, [c.strip() for c in cols.split(",")]


def _apply_transforms(frame: pl.DataFrame, transforms: list[str], problems: list[Problem]) -> pl.DataFrame:
    for spec in transforms:
        try:
            name, cols = parse_transform(spec)
            missing = [c for c in cols if c not in frame.columns]
            if missing:
                raise UploadError(f"the file has no column {', '.join(repr(c) for c in missing)}")
            if name == "coordinates_to_lsoa":
                if len(cols) != 2:
                    raise UploadError("give the longitude and latitude columns, e.g. coordinates_to_lsoa:lon,lat")
                frame = pii.coordinates_to_lsoa(frame, cols[0], cols[1], _lsoa_centroids())
            else:
                for c in cols:
                    frame = pii.TRANSFORMS[name](frame, c)
        except (UploadError, ValueError, TypeError) as e:
            problems.append(Problem("error", "transform", f"Transform {spec}: {e}"))
    return frame


def prepare(dataset: str, source, filename: str | None = None, *, user: access.User | None = None,
            **kwargs) -> Plan:
    """Prepare an upload (see _prepare) and record the attempt in the audit log: accepted,
    refused, or failed on the way."""
    actor = user.username if user else "cli"
    name = Path(filename or (str(source) if isinstance(source, (str, Path)) else "upload")).name
    try:
        plan = _prepare(dataset, source, filename, user=user, **kwargs)
    except Exception as e:
        why = {"refused": "access"} if isinstance(e, access.AccessDenied) else {"failed": type(e).__name__}
        audit.record(actor, "upload", target=dataset, details={"file": name, **why},
                     data_owner=audit.owners_of([dataset]) if dataset in catalog.contracts() else None)
        raise
    audit.record(actor, "upload", target=dataset,
                 details={"file": plan.filename, "checksum": plan.checksum,
                          "errors": len(plan.errors), "personal_data_findings": len(plan.findings),
                          **({"confirmed": confirmed} if (confirmed := [p.text() for p in plan.warnings
                                                                        if p.code in GATE_CODES]) else {})},
                 data_owner=audit.owners_of([dataset]))
    return plan


def _prepare(dataset: str, source, filename: str | None = None, *, user: access.User | None = None,
            mapping: dict[str, str] | None = None, transforms: list[str] | tuple[str, ...] = (),
            margin: float = DEFAULT_MARGIN, today: dt.date | None = None, max_bytes: int | None = None,
            remember: bool = True, accept_unmatched: bool = False, accept_periods: bool = False) -> Plan:
    """Read, map, transform, screen and validate an upload, and preview it. Publishes nothing.

    ``source``: a path, bytes, a binary file object or an iterable of byte chunks (read up to the
    size limit and no further). ``mapping``: file column -> contract field, on top of the mapping
    remembered for the user's partner and the automatic name match."""
    contract = catalog.contract(dataset)
    if user is not None:
        require_upload(user, dataset)
    if dataset in ("geography", "population", "areas"):  # reference geography: ONS layouts, vintages
        from .geography import upload as geo_upload
        return geo_upload.prepare(dataset, source, filename, user=user, mapping=mapping, transforms=transforms,
                                  margin=margin, max_bytes=max_bytes)
    filename = filename or (str(source) if isinstance(source, (str, Path)) else "upload")
    plan = Plan(dataset, Path(filename).name, transforms=list(transforms))
    try:
        data = read_limited(source, max_bytes)
        plan.checksum = hashlib.sha256(data).hexdigest()
        table = sandbox.read_table(data, plan.filename)  # a child process with memory and time limits
        del data
    except ReadError as e:
        plan.problems.append(Problem("error", "unreadable", str(e)))
        return plan
    plan.format, plan.encoding = table.format, table.encoding
    plan.problems += table.notes
    frame, first_row = table.frame, table.first_row
    plan.rows = frame.height
    plan.police_uk = dataset in ("crime", "asb") and frame.columns == ingest.POLICE_UK_HEADER

    frame = _apply_transforms(frame, list(transforms), plan.problems)
    plan.columns = list(frame.columns)
    if plan.police_uk:
        plan.mapping = dict(POLICE_UK_MAP)
        frame = frame.drop(POLICE_UK_DROPPED).rename(POLICE_UK_MAP)
    else:
        frame = _map_columns(plan, frame, dataset, user, mapping or {})
    if any(p.code == "bad_mapping" for p in plan.problems):
        return plan

    # Everything in the file is screened, ignored columns too: a surname column must be dropped
    # deliberately (drop_column), not slip through because it happens not to be published.
    plan.findings = pii.screen(frame, first_row=first_row)
    plan.problems += check_formulas(frame, first_row)
    lookup = _lookup()
    if dataset in ("crime", "asb") and lookup is None:
        plan.problems.append(Problem("error", "no_lookup", "No geography lookup is published yet: upload the "
                                     "LSOA lookup (dataset 'geography') first, so records can be placed in wards."))
    targets = [dataset]
    if plan.police_uk:
        targets = ["crime", "asb"]
    for name in targets:
        part = frame.with_row_index("__row")
        if plan.police_uk:  # crimes are checked as crime, ASB rows as asb
            is_asb = pl.col("crime_type") == ingest.ASB
            part = part.filter(is_asb if name == "asb" else ~is_asb)
        rows = part.get_column("__row")
        probs = check(name, part.drop("__row").select([c for c in part.columns if c in catalog.contract(name).field_names]),
                      first_row=0, lookup=lookup, today=today, lenient_geography=name in ("crime", "asb"),
                      source_columns=list(frame.columns))
        for p in probs:  # map the part's row positions back to spreadsheet rows
            if p.rows:
                p.rows = [int(rows[r]) + first_row for r in p.rows]
        plan.problems += probs
    if user is not None and remember and not plan.police_uk and plan.mapping and not plan.errors:
        remember_mapping(user.partner, dataset, {k: v for k, v in plan.mapping.items() if k != v}, user.username)
    if plan.errors or plan.findings:
        return plan
    for name in targets:
        plan.frames[name] = _typed(name, frame, lookup, plan.police_uk)
    pf = contract.period_field
    if pf:
        plan.periods = sorted(frame.select(_period_expr(dataset, pf)).to_series().unique().to_list())
    plan.problems += gate(plan, accept_unmatched=accept_unmatched, accept_periods=accept_periods)
    if plan.errors:
        plan.frames = {}
        return plan
    for name, typed in plan.frames.items():
        plan.diffs[name] = diff(name, typed, plan.periods if pf else None, margin)
    return plan


# ---- the gate: figures a person must confirm (issue 13) --------------------------------------

GATE_CODES = {"unmatched_areas": "accept_unmatched", "periods_outside": "accept_periods"}


def gate_limits() -> tuple[float, int]:
    """(share of rows that may match no area, months a period may lie outside the published series)."""
    return (float(os.environ.get("CSP_UPLOAD_MAX_UNMATCHED_PCT", 5)) / 100,
            int(os.environ.get("CSP_UPLOAD_PERIOD_GAP_MONTHS", 24)))


def _months(d: dt.date) -> int:
    return d.year * 12 + d.month - 1


def gate(plan: Plan, *, accept_unmatched: bool = False, accept_periods: bool = False) -> list[Problem]:
    """An upload whose rows mostly match no area, or whose periods lie far from the published
    series, is nearly always the wrong file or the wrong lookup: an error, unless the person has
    seen the figure and confirmed it (then a warning saying so)."""
    share, gap = gate_limits()
    out: list[Problem] = []
    for name, frame in plan.frames.items():
        contract = catalog.contract(name)
        if name in ("crime", "asb") and frame.height:  # the others refuse unknown codes outright
            n = int(frame["ward_code"].null_count())
            if n / frame.height > share:
                text = (f"{name}: {n:,} of {frame.height:,} rows ({n / frame.height:.0%}) match no area (no LSOA, "
                        f"or an LSOA not in the published lookup); more than {share:.0%} must be confirmed")
                out.append(Problem("warning" if accept_unmatched else "error", "unmatched_areas",
                                   text + (" - confirmed" if accept_unmatched else ""), "lsoa_code", [], n))
        pf, cur = contract.period_field, store.current(name)
        cov = (cur.meta.get("coverage") or {}) if cur else {}
        if not (pf and cov.get("first") and contract.field(pf).type == "DATE"):
            continue
        first, last = (dt.date(int(cov[k][:4]), int(cov[k][5:7]), 1) for k in ("first", "last"))
        far = sorted({p for p in frame[pf].drop_nulls().unique().to_list()
                      if _months(first) - _months(p) > gap or _months(p) - _months(last) > gap})
        if far:
            shown = ", ".join(f"{p:%Y-%m}" for p in far[:6]) + (f" and {len(far) - 6} more" if len(far) > 6 else "")
            text = (f"{name}: {len(far)} period(s) ({shown}) lie more than {gap} months before the first published "
                    f"period ({first:%Y-%m}) or after the last ({last:%Y-%m}); they must be confirmed")
            out.append(Problem("warning" if accept_periods else "error", "periods_outside",
                               text + (" - confirmed" if accept_periods else ""), pf, [],
                               int(frame[pf].is_in(far).sum())))
    return out


def _map_columns(plan: Plan, frame: pl.DataFrame, dataset: str, user, explicit: dict[str, str]) -> pl.DataFrame:
    contract = catalog.contract(dataset)
    remembered = remembered_mapping(user.partner, dataset) if user is not None else {}
    chosen: dict[str, str] = {}
    for src, dst in explicit.items():
        if src not in frame.columns:
            plan.problems.append(Problem("error", "bad_mapping", f"Mapping {src} -> {dst}: the file has no column '{src}' "
                                         f"(it has: {', '.join(frame.columns[:15])})"))
        elif dst not in contract.field_names:
            plan.problems.append(Problem("error", "bad_mapping", f"Mapping {src} -> {dst}: '{dst}' is not a field of "
                                         f"{dataset} (fields: {', '.join(contract.field_names)})"))
        else:
            chosen[src] = dst
    for source in (remembered, auto_mapping(dataset, [c for c in frame.columns if c not in chosen])):
        for src, dst in source.items():
            if src in frame.columns and src not in chosen and dst not in chosen.values() and dst in contract.field_names:
                chosen[src] = dst
    targets = list(chosen.values())
    clash = {t for t in targets if targets.count(t) > 1}
    if clash:
        plan.problems.append(Problem("error", "bad_mapping", f"More than one column is mapped to {', '.join(sorted(clash))}"))
        return frame
    taken = [c for c in frame.columns if c not in chosen and c in contract.field_names]
    if taken:  # a column already named like a field that another column is mapped onto
        for c in taken:
            if c in chosen.values():
                plan.problems.append(Problem("error", "bad_mapping", f"Column '{c}' and the column mapped to it "
                                             "would both be published as the same field"))
                return frame
    plan.mapping = chosen
    plan.ignored_columns = [c for c in frame.columns if c not in chosen and c not in contract.field_names]
    if plan.ignored_columns:
        plan.problems.append(Problem("warning", "ignored_columns",
                                     f"Not in the {dataset} contract, so not published: {', '.join(plan.ignored_columns)}"))
    return frame.rename(chosen)


def _period_expr(dataset: str, pf: str) -> pl.Expr:
    if catalog.contract(dataset).field(pf).type == "DATE":
        return pl.col(pf).map_batches(parse_month, return_dtype=pl.Date).alias(pf)
    return pl.col(pf).alias(pf)


def _typed(name: str, frame: pl.DataFrame, lookup: pl.DataFrame | None, police_uk: bool) -> pl.DataFrame:
    contract = catalog.contract(name)
    if police_uk:
        is_asb = pl.col("crime_type") == ingest.ASB
        frame = frame.filter(is_asb if name == "asb" else ~is_asb)
    cols = []
    for f in contract.fields:
        if f.name not in frame.columns:
            cols.append(pl.lit(None, pl.String).alias(f.name))
        elif f.type == "DATE":
            cols.append(pl.col(f.name).map_batches(parse_month, return_dtype=pl.Date).alias(f.name))
        elif f.type in ("BIGINT", "INTEGER"):
            cols.append(pl.col(f.name).str.replace(r"\.0+$", "").cast(pl.Int64).alias(f.name))
        elif f.type == "DOUBLE":
            cols.append(pl.col(f.name).cast(pl.Float64).alias(f.name))
        else:
            cols.append(pl.col(f.name))
    out = frame.select(cols)
    if name == "crime" and "crime_type" in out.columns:
        out = out.with_columns(pl.coalesce(pl.col("crime_category"),
                                           pl.col("crime_type").replace(ingest.CATEGORY_RENAMES)).alias("crime_category"))
    derived = [f for f in validate.derived_fields(name) if contract.field(f).geo]
    if derived and lookup is not None:
        # Coarser areas always come from the published lookup (as the police.uk importer does):
        # wards and districts from the LSOA, or a ward-level extract's districts from the ward.
        key = contract.geo_field(contract.finest_geo)
        level = contract.finest_geo
        places = lookup.select([f"{level}_code", *[contract.field(f).geo + "_code" for f in derived]]).unique(
            f"{level}_code").rename({f"{level}_code": key, **{contract.field(f).geo + "_code": f for f in derived}})
        out = out.drop(derived).join(places, on=key, how="left").select(contract.field_names)
    return out


# ---- preview --------------------------------------------------------------------------------


def _group_key(name: str) -> str | None:
    c = catalog.contract(name)
    return c.period_field or ("district_code" if "district_code" in c.field_names else None)


def _measure(name: str) -> str:
    c = catalog.contract(name)
    counts = [f.name for f in c.fields if f.type == "BIGINT" and f.name != "population"]
    return counts[0] if counts else "rows"


def diff(name: str, new: pl.DataFrame, periods: list | None, margin: float = DEFAULT_MARGIN) -> Diff:
    """What publishing ``new`` would change: rows, periods added or replaced, totals before/after."""
    cur = store.current(name)
    key, measure = _group_key(name), _measure(name)
    agg = "count(*)" if measure == "rows" else f'sum("{measure}")'
    if cur is not None:
        # Aggregated in DuckDB straight from the published Parquet: the whole history never
        # needs to be loaded to preview one month.
        c = store.cursor()
        try:
            sel = f'{_period_sql(name, key)} AS period' if key else "'all' AS period"
            grp = " GROUP BY 1" if key else ""
            before = c.sql(f"SELECT {sel}, CAST({agg} AS BIGINT) AS before, count(*) AS n "
                           f"FROM read_parquet($f){grp}", params={"f": cur.files}).pl()
        finally:
            c.close()
    else:
        before = pl.DataFrame(schema={"period": pl.String, "before": pl.Int64, "n": pl.Int64})
    new_agg = pl.len() if measure == "rows" else pl.col(measure).sum()
    if key:
        added = new.group_by(_period_label(name, key).alias("period")).agg(
            new_agg.cast(pl.Int64).alias("new"), pl.len().cast(pl.Int64).alias("n_new"))
    else:
        added = pl.DataFrame({"period": ["all"], "new": [new.height if measure == "rows" else int(new[measure].sum() or 0)],
                              "n_new": [new.height]}, schema={"period": pl.String, "new": pl.Int64, "n_new": pl.Int64})
    new_periods = sorted({_label(p) for p in (periods or [])})
    replaced = set(new_periods) if key and periods is not None else set(before["period"].to_list())
    t = before.join(added, on="period", how="full", coalesce=True).with_columns(
        pl.col("before").fill_null(0), pl.col("n").fill_null(0), pl.col("new").fill_null(0), pl.col("n_new").fill_null(0))
    t = t.with_columns(
        pl.when(pl.col("period").is_in(list(replaced))).then(pl.col("new")).otherwise(pl.col("before")).alias("after"),
        pl.when(pl.col("period").is_in(list(replaced))).then(pl.col("n_new")).otherwise(pl.col("n")).alias("n_after"),
    ).sort("period")
    rows_before, rows_after = int(t["n"].sum()), int(t["n_after"].sum())
    t = t.select("period", "before", "after").with_columns((pl.col("after") - pl.col("before")).alias("change"))
    t = t.with_columns(
        pl.when(pl.col("before") > 0).then(pl.col("change") / pl.col("before") * 100).alias("change_pct"),
    ).with_columns(
        ((pl.col("change_pct").abs() > margin * 100) & (pl.col("before") > 0)).fill_null(False).alias("moved")
    )
    old_periods = set(before["period"].to_list())
    return Diff(
        name, cur.version if cur else None, rows_before, rows_after, measure,
        [p for p in new_periods if p not in old_periods], [p for p in new_periods if p in old_periods],
        t, margin,
    )


def _label(p) -> str:
    return f"{p:%Y-%m}" if isinstance(p, dt.date) else str(p)


def _period_sql(name: str, key: str) -> str:
    # Month-like periods are labelled YYYY-MM, as everywhere else in the app.
    if catalog.contract(name).field(key).type == "DATE":
        return f'strftime("{key}", \'%Y-%m\')'
    return f'CAST("{key}" AS VARCHAR)'


def _period_label(name: str, key: str) -> pl.Expr:
    if catalog.contract(name).field(key).type == "DATE":
        return pl.col(key).dt.strftime("%Y-%m")
    return pl.col(key).cast(pl.String)


# ---- publishing -----------------------------------------------------------------------------


def publish(plan: Plan, published_by: str, note: str = "",
            now: dt.datetime | None = None) -> dict[str, store.Version]:
    """Publish a clean plan, merged with the published periods it does not replace. The datasets
    of one file (a police.uk file's crime and ASB) are served together or not at all (one atomic
    change). Refuses if anything was flagged or a dataset changed since the preview. store.publish
    records each version in the audit trail."""
    if plan.errors or plan.findings:
        raise UploadError("This upload has unresolved problems; nothing was published.")
    if not plan.frames:
        raise UploadError("Nothing to publish.")
    tmpdir = config.data_dir() / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    staged = {name: tmpdir / f"upload-{name}-{uuid.uuid4().hex}.parquet" for name in plan.frames}
    try:
        for name, frame in plan.frames.items():
            frame.write_parquet(staged[name])
        names = list(plan.frames)
        groups = {store.group_of(n) for n in names}
        if len(names) > 1 and len(groups) == 1 and None not in groups:  # a police.uk file
            with store.atomic(names, by=published_by) as change:
                for name in names:
                    _publish_one(plan, name, staged[name], published_by, note, now)
            out = change.versions
        else:
            out = {name: _publish_one(plan, name, staged[name], published_by, note, now) for name in names}
    finally:
        for f in staged.values():
            f.unlink(missing_ok=True)
    for name, v in out.items():
        store.record_event(name, {"event": "publish", "by": published_by, "version": v.version,
                                  "file": plan.filename, "checksum": plan.checksum}, at=now)
        apply_retention(name, by=published_by, now=now)
    if plan.dataset == "geography":
        ingest.regeocode(published_by)
    return out


def _publish_one(plan: Plan, name: str, staged: Path, published_by: str, note: str,
                 now: dt.datetime | None = None) -> store.Version:
    base = plan.diffs[name].base_version if name in plan.diffs else None
    key = catalog.contract(name).period_field

    def write(cur, path):
        # Inside the dataset lock: the merge must start from the version the preview showed.
        now = store.current(name)
        if (now.version if now else None) != base:
            raise UploadError(f"{name} changed since the preview (now {now.version if now else 'empty'}); "
                              "preview the upload again.")
        sql, params = "SELECT * FROM read_parquet($new)", {"new": str(staged)}
        if now is not None and key and plan.periods:
            sql = (f'SELECT * FROM read_parquet($old) WHERE "{key}" NOT IN (SELECT unnest($periods)) '
                   f"UNION ALL BY NAME {sql}")
            params |= {"old": now.files, "periods": plan.periods}
        store.write_relation(cur, name, sql, params, path)

    return store.publish(name, write, published_by=published_by, source=plan.filename,
                         source_checksum=plan.checksum, validation=plan.summary(), note=note, now=now)


def rollback_plan(dataset: str, vid: str) -> dict[str, tuple[str | None, str]]:
    """What a rollback would change (dataset -> (serving now, after)): shown for confirmation."""
    try:
        return store.rollback_plan(dataset, vid)
    except store.StoreError as e:
        raise UploadError(str(e)) from None


def describe_rollback(plan: dict[str, tuple[str | None, str | None]], words: bool = False) -> str:
    """'crime: v000005 -> v000003; asb: v000004 -> v000002', naming what stays as it is too (the
    command line's ids). ``words``: as the page says it, 'Police recorded crime: version 5 →
    version 3'."""
    parts = []
    name = (lambda d: catalog.contract(d).title) if words else (lambda d: d)  # noqa: E731
    ver = store.version_words if words else (lambda v: v)  # noqa: E731
    arrow = "→" if words else "->"
    for d, (now, to) in plan.items():
        if now == to:
            parts.append(f"{name(d)} stays on {ver(now)}" if now else f"{name(d)}: nothing published")
        else:
            parts.append(f"{name(d)}: {ver(now) if now else 'nothing'} {arrow} {ver(to)}")
    return "; ".join(parts)


def changes_in(plan: dict[str, tuple[str | None, str | None]]) -> list[str]:
    return [d for d, (now, to) in plan.items() if now != to]


def rollback(dataset: str, vid: str, by: str,
             expect: dict[str, tuple[str | None, str]] | None = None,
             at: dt.datetime | None = None) -> dict[str, store.Version]:
    """Roll back ``dataset`` (and what was published with that version) as one change. ``expect``
    is the plan the person confirmed; refused if the published data changed since. ``at``: the
    time recorded in the history (default: the clock; the supply tracker reads it)."""
    plan = expect if expect is not None else rollback_plan(dataset, vid)
    try:
        done = store.rollback(dataset, vid, by=by, expect=plan)
    except store.StoreError as e:
        raise UploadError(str(e)) from None
    for d, (now, to) in plan.items():
        if now != to:
            store.record_event(d, {"event": "rollback", "by": by, "from": now, "to": to}, at=at)
    return done


# ---- retention ------------------------------------------------------------------------------


def retention_days(dataset: str) -> int | None:
    catalog.contract(dataset)
    with _db() as con:
        row = con.execute("SELECT days FROM upload_retention WHERE dataset=?", (dataset,)).fetchone()
    return int(row[0]) if row else None


def set_retention(dataset: str, days: int, by: str) -> None:
    catalog.contract(dataset)
    if days < MIN_KEEP_DAYS:
        raise UploadError(f"Retention must be at least {MIN_KEEP_DAYS} day(s).")
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    with _db() as con:
        con.execute("INSERT INTO upload_retention (dataset, days, set_by, set_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (dataset) DO UPDATE SET days=excluded.days, set_by=excluded.set_by,"
                    " set_at=excluded.set_at", (dataset, days, by, now))
    store.record_event(dataset, {"event": "retention", "by": by, "days": days})


def apply_retention(dataset: str, by: str, now: dt.datetime | None = None) -> list[str]:
    days = retention_days(dataset)
    if days is None:
        return []
    now = now or dt.datetime.now(dt.timezone.utc)
    return store.purge(dataset, now - dt.timedelta(days=days), by=by)


# ---- command line ---------------------------------------------------------------------------


def _cli_user(name: str | None) -> tuple[access.User | None, str]:
    if name is None:
        # Whoever runs the CLI already controls the data directory; record the OS account.
        return None, f"cli:{getpass.getuser()}"
    u = users.get_user(name)
    if u is None:
        raise UploadError(f"unknown user '{name}'")
    return u, u.username


def cmd_upload(args) -> int:
    user, by = _cli_user(args.as_user)
    mapping = {}
    for item in args.map or []:
        if "=" not in item:
            raise UploadError(f"--map takes source=field, got '{item}'")
        k, v = item.split("=", 1)
        mapping[k.strip()] = v.strip()
    plan = prepare(args.dataset, Path(args.file), args.file, user=user, mapping=mapping,
                   transforms=args.transform or [], margin=args.margin,
                   accept_unmatched=args.accept_unmatched, accept_periods=args.accept_periods)
    print(plan.report())
    if not plan.ok:
        gated = [p for p in plan.errors if p.code in GATE_CODES]
        flags = [f"--{flag.replace('_', '-')}" for code, flag in GATE_CODES.items() if any(p.code == code for p in gated)]
        if gated and len(gated) == len(plan.errors):
            print("If these figures are right, confirm them with " + " and ".join(flags) + ".")
        print("Nothing was published.")
        return 1
    if args.dry_run:
        print("Dry run: nothing was published.")
        return 0
    done = publish(plan, by)
    print("Published " + ", ".join(f"{k} {v.version}" for k, v in done.items()))
    return 0


def cmd_versions(args) -> int:
    current = store.current_version_id(args.dataset)
    vs = store.versions(args.dataset)
    if not vs:
        print(f"{args.dataset}: nothing published yet")
    for v in vs:
        m = v.meta
        cov = m.get("coverage") or {}
        val = m.get("validation") or {}
        print("\t".join([
            ("* " if v.version == current else "  ") + v.version, m["published_at"], m["published_by"],
            f"{m['rows']:,} rows", f"{cov.get('first', '')}..{cov.get('last', '')}" if cov else "",
            m.get("source", ""), (m.get("source_checksum") or "")[:12],
            f"{val.get('errors', 0)} errors, {len(val.get('warnings', []))} warnings" if val else "",
        ]))
    for e in store.history(args.dataset):
        if e.get("event") in ("rollback", "purge", "retention"):
            print(f"  {e['at']} {e['event']} by {e.get('by')}: "
                  + json.dumps({k: v for k, v in e.items() if k not in ("at", "event", "by")}))
    return 0


def cmd_rollback(args) -> int:
    user, by = _cli_user(args.as_user)
    if user is not None:
        require_upload(user, args.dataset)
    plan = rollback_plan(args.dataset, args.version)
    if user is not None:
        for d in plan:
            require_upload(user, d)
    print("Rollback: " + describe_rollback(plan))
    if len(changes_in(plan)) > 1:
        print("These were published together from one file, so they are rolled back together.")
    if not args.yes:
        if not sys.stdin.isatty():
            print("Nothing was changed: re-run with --yes to confirm.", file=sys.stderr)
            return 1
        if input("Roll back? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing was changed.")
            return 1
    done = rollback(args.dataset, args.version, by, expect=plan)
    for d in changes_in(plan):
        v = done[d]
        print(f"Rolled back: {d} now serves {v.version} ({v.meta['rows']:,} rows, published {v.meta['published_at']})")
    return 0


def cmd_retention(args) -> int:
    user, by = _cli_user(args.as_user)
    if user is not None:
        require_upload(user, args.dataset)
    if args.days is not None:
        set_retention(args.dataset, args.days, by)
    days = retention_days(args.dataset)
    removed = apply_retention(args.dataset, by)
    print(f"{args.dataset}: keep versions for {days} days" if days else f"{args.dataset}: no retention period set")
    if removed:
        print("Purged: " + ", ".join(removed))
    return 0


def _wrap(fn):
    def run(args) -> int:
        try:
            return fn(args)
        except (UploadError, KeyError) as e:
            print(f"error: {str(e).strip(chr(39))}", file=sys.stderr)
            return 2
    return run


def register_cli(sub) -> None:
    up = sub.add_parser("upload", help="validate and publish a partner extract (CSV, XLSX, Parquet, police.uk)")
    up.add_argument("dataset")
    up.add_argument("file")
    up.add_argument("--map", action="append", metavar="SRC=FIELD", help="map a file column to a contract field (repeatable)")
    up.add_argument("--transform", action="append", metavar="NAME:COLUMN",
                    help="depersonalise first: " + ", ".join(pii.TRANSFORMS) + " (repeatable)")
    up.add_argument("--dry-run", action="store_true", help="validate and preview only")
    up.add_argument("--as", dest="as_user", help="upload as this user (their permissions apply)")
    up.add_argument("--margin", type=float, default=DEFAULT_MARGIN, help="flag periods that move by more than this share (0.2 = 20%%)")
    up.add_argument("--accept-unmatched", action="store_true",
                    help="confirm an upload where more rows than CSP_UPLOAD_MAX_UNMATCHED_PCT (default 5) match no area")
    up.add_argument("--accept-periods", action="store_true",
                    help="confirm periods more than CSP_UPLOAD_PERIOD_GAP_MONTHS (default 24) from the published series")
    up.set_defaults(fn=_wrap(cmd_upload))
    vs = sub.add_parser("versions", help="list a dataset's versions (* = serving) and its rollbacks and purges")
    vs.add_argument("dataset")
    vs.set_defaults(fn=_wrap(cmd_versions))
    rb = sub.add_parser("rollback", help="serve an earlier version of a dataset again")
    rb.add_argument("dataset")
    rb.add_argument("version")
    rb.add_argument("--as", dest="as_user")
    rb.add_argument("--yes", action="store_true", help="confirm without a prompt (the change is printed first)")
    rb.set_defaults(fn=_wrap(cmd_rollback))
    rt = sub.add_parser("retention", help="set or apply a dataset's version retention period (days)")
    rt.add_argument("dataset")
    rt.add_argument("days", type=int, nargs="?")
    rt.add_argument("--as", dest="as_user")
    rt.set_defaults(fn=_wrap(cmd_retention))
    bd = sub.add_parser("boundaries", help="validate and publish a boundary GeoJSON (WGS84) for lsoa, ward or district")
    bd.add_argument("level", choices=validate.BOUNDARY_LEVELS)
    bd.add_argument("file")
    bd.add_argument("--dry-run", action="store_true")
    bd.add_argument("--as", dest="as_user")
    bd.set_defaults(fn=_wrap(cmd_boundaries))


# ---- boundaries -----------------------------------------------------------------------------


def boundaries(level: str, source, filename: str, *, user: access.User | None = None,
               dry_run: bool = False, by: str = "cli") -> tuple[list[Problem], Path | None]:
    """Validate a boundary GeoJSON and, if clean, replace ``<data_dir>/boundaries/<level>.geojson``
    atomically (the previous file is kept beside it as ``<level>.previous.geojson``)."""
    if user is not None:
        require_upload(user, "geography")  # boundaries belong with the geography lookup
    try:
        data = read_limited(source)
    except ReadError as e:
        return [Problem("error", "unreadable", str(e))], None
    lookup = _lookup()
    known = None
    if lookup is not None:
        known = set(lookup.get_column(f"{level}_code").drop_nulls().to_list()) if f"{level}_code" in lookup.columns else None
    folder = config.data_dir() / "boundaries"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{level}.geojson"
    tmp = folder / f".{level}.{uuid.uuid4().hex}.tmp"
    name = Path(filename).name
    try:
        # Read and normalised in a limited child process, which writes the file to publish.
        features, problems = sandbox.check_boundaries(level, data, name, known, tmp)
    except ReadError as e:
        return [Problem("error", "unreadable", str(e))], None
    if features is None or any(p.severity == "error" for p in problems) or dry_run:
        tmp.unlink(missing_ok=True)
        return problems, None
    checksum = hashlib.sha256(data).hexdigest()
    # Audited before the swap, as store.publish does: the maps never change unrecorded.
    audit.record(user.username if user else by, "publish", target=f"boundaries {level}",
                 details={"file": name, "checksum": checksum, "features": features},
                 data_owner=audit.owners_of(["geography"]))
    if path.exists():
        (folder / f"{level}.previous.geojson").write_bytes(path.read_bytes())
    os.replace(tmp, path)
    store.record_event("geography", {"event": "boundaries", "by": by, "level": level, "features": features,
                                     "file": name, "checksum": checksum})
    return problems, path


def cmd_boundaries(args) -> int:
    user, by = _cli_user(args.as_user)
    problems, path = boundaries(args.level, Path(args.file), args.file, user=user, dry_run=args.dry_run, by=by)
    for p in problems:
        print(f"  {'ERROR' if p.severity == 'error' else 'warning'} {p.text()}")
    if any(p.severity == "error" for p in problems):
        print("Nothing was published.")
        return 1
    print("Dry run: nothing was published." if path is None else f"Published {args.level} boundaries to {path}")
    return 0
