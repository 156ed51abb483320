"""Data-quality judgements and catalogue entries, computed from query results and metadata.

The figures themselves come from the named ``quality_*`` queries (so access control and
suppression apply as everywhere); this module only turns them into flags: geography share below
the threshold, months missing from the expected schedule or late, categories that come and go.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from . import access, catalog, store, supply

QUALITY_QUERIES = {
    "crime": "quality_crime",
    "asb": "quality_asb",
    "reoffending": "quality_reoffending",
    "substance_misuse": "quality_substance_misuse",
}


def quality_queries() -> dict[str, str]:
    """Dataset -> its period-by-period quality query: the four above, and every incident
    dataset's instance of queries/incident/quality.sql (a new contract gets one with its
    dashboard, with no code)."""
    from . import incidents

    out = dict(QUALITY_QUERIES)
    for name in catalog.contracts():
        q = incidents.query_name(name, "quality")
        if q and name not in out:
            out[name] = q
    return out
CATEGORY_QUERIES = {"crime": "quality_crime_categories"}
ID_QUERIES = {"crime": "quality_crime_ids"}  # the owner's only: identifiers are restricted
VALID_GEOGRAPHY_MIN = 85.0  # % of records with a valid geography below which a period is flagged
# When each period is due comes from the dataset's supply rule (csp.supply), the same rule the
# Data supply page judges by.
STEP_MONTHS = supply.STEP_MONTHS


def _add_months(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return dt.date(y, m + 1, 1)


def flag_geography(frame: pl.DataFrame) -> pl.DataFrame:
    """Adds ``low_geography``: the period's share of validly located records is under 85%. A
    share over 100% is capped: it comes from two counts perturbed apart (protection noise on
    each), and no more records can be located than there are."""
    if "pct_located" not in frame.columns:
        return frame
    return frame.with_columns(pl.col("pct_located").clip(upper_bound=100.0)).with_columns(
        (pl.col("pct_located") < VALID_GEOGRAPHY_MIN).fill_null(False).alias("low_geography"))


@dataclass
class Schedule:
    step: int
    missing: list[str]  # periods between the first and the last held with no data
    latest: str | None
    expected_latest: str
    periods_late: int  # how many periods the latest is behind the expected one (0 = on time)
    missing_runs: list[str] = field(default_factory=list)  # the missing periods as runs, for people


def runs(periods: list[dt.date], step: int) -> list[str]:
    """Consecutive periods as runs a person reads (csp.supply.runs_words)."""
    return supply.runs_words([d.year * 12 + d.month - 1 for d in periods], step)


def schedule(dataset: str, periods: list[dt.date], today: dt.date | None = None) -> Schedule:
    """Months missing from the dataset's schedule and how late its latest period is: the expected
    latest is the last period on the dataset's grid whose due date (csp.supply.rule) has passed."""
    r = supply.rule(dataset)
    step = r.step
    today = today or supply.utc_today()
    held = sorted({dt.date(p.year, p.month, 1) for p in periods if p is not None})
    due = supply.month_date(supply.latest_due(r, today, supply.month_index(held[0]) if held else None))
    if not held:
        return Schedule(step, [], None, period_label(due, step), 0)
    missing, d = [], held[0]
    have = set(held)
    while d < held[-1]:
        if d not in have:
            missing.append(d)
        d = _add_months(d, step)
    behind = ((due.year - held[-1].year) * 12 + due.month - held[-1].month) // step
    return Schedule(step, [period_label(m, step) for m in missing], period_label(held[-1], step),
                    period_label(due, step), max(0, behind), runs(missing, step))


def period_label(d: dt.date, step: int) -> str:
    """A period as its publisher names it: 2024-05 (monthly), 2024 Q2 (quarterly), 2024 (annual).
    A quarter's first month alone ("2024-04") reads as a month."""
    if step == 3:
        return f"{d.year} Q{(d.month - 1) // 3 + 1}"
    if step == 12:
        return f"{d.year}"
    return f"{d:%Y-%m}"


def category_changes(frame: pl.DataFrame, category: str = "crime_type") -> pl.DataFrame:
    """Per category: first and last month used, months used, and whether it is used throughout,
    starts later, stops earlier or has gaps (taxonomy changes show up here)."""
    if frame.height == 0:
        return pl.DataFrame(schema={category: pl.String, "first_month": pl.Date, "last_month": pl.Date,
                                    "months": pl.UInt32, "change": pl.String})
    start, end = frame["month"].min(), frame["month"].max()
    span = (end.year - start.year) * 12 + end.month - start.month + 1
    out = frame.group_by(category).agg(
        pl.col("month").min().alias("first_month"), pl.col("month").max().alias("last_month"),
        pl.col("month").n_unique().alias("months"),
    )
    first_s = pl.col("first_month").dt.strftime("%Y-%m")
    last_s = pl.col("last_month").dt.strftime("%Y-%m")
    held = (pl.col("last_month").dt.year() - pl.col("first_month").dt.year()) * 12 \
        + pl.col("last_month").dt.month() - pl.col("first_month").dt.month() + 1
    change = (
        pl.when((pl.col("first_month") > start) & (pl.col("last_month") < end))
        .then(pl.format("used only {} to {}", first_s, last_s))
        .when(pl.col("first_month") > start).then(pl.format("new from {}", first_s))
        .when(pl.col("last_month") < end).then(pl.format("last used {}", last_s))
        # Say how many months, not just "gaps": a small type missing from a few quiet months is
        # ordinary, a type missing from half of them is worth a look.
        .when(pl.col("months") < held).then(pl.format("not used in {} of {} months",
                                                      (held - pl.col("months")).cast(pl.Int64), held))
        .otherwise(pl.lit("used throughout"))
    )
    return out.with_columns(change.alias("change")).sort("first_month", category).with_columns(
        pl.lit(span).alias("span_months"))


def changes_summary(changes: pl.DataFrame) -> str:
    """The category table in one sentence: how many types are used throughout, start later,
    stop earlier or skip months (the table lists which)."""
    if changes.height == 0:
        return "No categories are held."
    kinds = changes["change"].to_list()
    counts = {
        "used in every month": sum(k == "used throughout" for k in kinds),
        "new during the period": sum(k.startswith("new from") for k in kinds),
        "no longer used": sum(k.startswith("last used") for k in kinds),
        "used for part of the period only": sum(k.startswith("used only") for k in kinds),
        "missing from some months": sum(k.startswith("not used in") for k in kinds),
    }
    parts = [f"{n} {what}" for what, n in counts.items() if n]
    return f"Of {changes.height} categories: " + ", ".join(parts) + "."


def catalogue(user: access.User | None) -> list[dict]:
    """Every dataset's contract with its latest version's as-at date and coverage, and what the
    user may see of it. Metadata only: no record is read."""
    out = []
    for name, c in catalog.contracts().items():
        v = store.current(name)
        g = access.grant(user, name)
        cov = (v.meta.get("coverage") or {}) if v else {}
        out.append({
            "dataset": name, "title": c.title, "owner": access.partner_name(c.owner), "description": c.description,
            "update_frequency": c.update_frequency,
            "period_grain": c.period_grain or "",
            "legal_basis": c.legal_basis, "review_date": c.review_date,
            "latest_version": v.version if v else None,
            "as_at": v.meta["published_at"][:10] if v else None,
            "coverage": f"{cov.get('first')} to {cov.get('last')}" if cov.get("first") else ("all" if v else None),
            "access": _access_words(g),
            "fields": pl.DataFrame(
                [{"field": f.name, "type": f.type, "privacy tier": f.tier, "geography": f.geo or "",
                  "description": f.description} for f in c.fields]),
        })
    return out


def _access_words(g) -> str:
    """What the reader may see of a dataset, short enough for its catalogue column at 1280 px
    (each dataset's page says it in full under 'How these figures are protected')."""
    if g is None:
        return "not shared with you"
    if g.owner:
        return "everything, exact (yours)"
    words = {"perturb": f", perturbed (under {g.threshold}: low)",
             "suppress": f", 1 to {g.threshold - 1} suppressed", "none": ""}
    level = {"lsoa": "LSOA", "ward": "ward", "district": "district"}.get(g.geography, g.geography)
    return f"{level} level" + words.get(g.protection, "")
