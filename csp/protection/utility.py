"""What protection costs in accuracy: the published figures a partner sees against the owner's.

For each protected dataset, the same views are run as the owner (exact) and as a partner with
the policy's grant, and compared cell by cell: the share of cells changed and withheld, the mean
absolute change, the largest relative change on cells of 50 or more, and how often a ward's
better / similar / worse judgement against the area-wide rate differs because of protection.
``python -m csp protection-report`` prints it (docs/protection.md has the figures for the demo
and the real Lincolnshire data).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from .. import access, indicators, queries, store
from . import periods

# (dataset, owner partner, partner seeing it, query, key columns, count column)
VIEWS = (
    ("crime", "police", "council", "crime_by_ward", ("ward_code",), "crimes"),
    ("crime", "police", "council", "crime_by_lsoa", ("lsoa_code",), "crimes"),
    ("crime", "police", "council", "crime_by_type", ("crime_type",), "crimes"),
    ("crime", "police", "council", "crime_monthly", ("month", "crime_type"), "crimes"),
    ("crime", "police", "health", "crime_monthly", ("month", "crime_type"), "crimes"),
    ("asb", "police", "council", "asb_by_ward", ("ward_code",), "incidents"),
    ("asb", "police", "council", "asb_by_lsoa", ("lsoa_code",), "incidents"),
    ("asb", "police", "health", "asb_monthly_total", ("month",), "incidents"),
    ("reoffending", "probation", "council", "reoffending_quarterly", ("cohort_quarter", "age_group"), "reoffenders"),
    ("reoffending", "probation", "council", "reoffending_quarterly", ("cohort_quarter", "age_group"), "offenders"),
    ("substance_misuse", "health", "council", "substance_quarterly", ("quarter", "substance_group"), "successful_completions"),
)
JUDGED = (("crime", "crime_by_ward", "crime_benchmark", "crimes"),
          ("asb", "asb_by_ward", "asb_benchmark", "incidents"))


@dataclass
class Row:
    dataset: str
    partner: str
    view: str
    column: str
    method: str
    cells: int
    changed: float  # share of cells whose published figure differs from the truth (withheld included)
    withheld: float  # share of cells with no figure
    mean_abs_change: float  # over cells with a figure
    max_rel_change_50: float | None  # largest |change| / truth over cells with truth >= 50
    cells_50: int


def _latest12(dataset: str) -> dict:
    v = store.current(dataset)
    cov = (v.meta.get("coverage") or {}) if v else {}
    if not cov.get("last") or len(cov["last"]) != 7:
        return {}
    last = dt.date.fromisoformat(cov["last"] + "-01")
    first = dt.date.fromisoformat(cov["first"] + "-01")
    start = max(first, periods.add_months(last, -11))
    return {"from": start.strftime("%Y-%m"), "to": last.strftime("%Y-%m")}


def _params(query: str, dataset: str) -> dict:
    q = queries.get(query)
    return {k: v for k, v in _latest12(dataset).items() if k in q.params and q.params[k].period}


def compare(dataset, owner, partner, query, keys, col) -> Row | None:
    own = access.User("report.owner", "owner", "board", owner)
    other = access.User("report.partner", "partner", "board", partner)
    g = access.grant(other, dataset)
    if g is None or store.current(dataset) is None:
        return None
    try:
        truth = queries.run(own, query, _params(query, dataset))
        shown = queries.run(other, query, _params(query, dataset))
    except (access.AccessDenied, queries.QueryError):
        return None
    t = truth.frame.select(*keys, pl.col(col).alias("truth"))
    s = shown.frame.select(*keys, pl.col(col).alias("shown"))
    both = t.join(s, on=list(keys), how="left", nulls_equal=True)
    n = both.height
    if n == 0:
        return None
    withheld = both["shown"].is_null()
    diff = (both["shown"] - both["truth"]).abs()
    big = both.filter(pl.col("truth") >= 50)
    rel = ((big["shown"] - big["truth"]).abs() / big["truth"]).drop_nulls()
    return Row(dataset, partner, query, col, g.protection, n,
               float(((diff != 0).fill_null(True)).mean()), float(withheld.mean()),
               float(diff.drop_nulls().mean() or 0.0),
               float(rel.max()) if rel.len() else None, big.height)


def judgements(dataset: str, query: str, bench: str, col: str, partner: str = "council") -> dict | None:
    """How many wards' better / similar / worse judgement changes because of protection."""
    own = access.User("report.owner", "owner", "board", "police")
    other = access.User("report.partner", "partner", "board", partner)
    if store.current(dataset) is None or access.grant(other, dataset) is None:
        return None
    out = {}
    for who, user in (("truth", own), ("shown", other)):
        try:
            r = queries.run(user, query, _params(query, dataset))
            b = indicators.benchmark_rate(queries.run(user, bench, _params(bench, dataset)), col)
        except (access.AccessDenied, queries.QueryError):
            return None
        ranked, _ = indicators.ranked_areas(r, col, b)
        out[who] = dict(zip(ranked.frame["ward_code"].to_list(), ranked.frame["vs_benchmark"].to_list()))
    wards = [w for w in out["truth"] if w is not None and out["truth"][w] is not None]
    changed = [w for w in wards if out["shown"].get(w) != out["truth"][w]]
    return {"dataset": dataset, "view": query, "wards": len(wards), "changed": len(changed)}


def report() -> tuple[list[Row], list[dict]]:
    rows = [r for v in VIEWS if (r := compare(*v)) is not None]
    judged = [j for v in JUDGED if (j := judgements(*v)) is not None]
    return rows, judged


def format_report(rows: list[Row], judged: list[dict]) -> str:
    lines = [f"{'dataset':17} {'partner':8} {'view':22} {'column':22} {'method':8} {'cells':>6} "
             f"{'changed':>8} {'withheld':>8} {'mean|d|':>8} {'max rel>=50':>11} {'n>=50':>6}"]
    for r in rows:
        rel = "-" if r.max_rel_change_50 is None else f"{100 * r.max_rel_change_50:.1f}%"
        lines.append(f"{r.dataset:17} {r.partner:8} {r.view:22} {r.column:22} {r.method:8} {r.cells:6d} "
                     f"{100 * r.changed:7.1f}% {100 * r.withheld:7.1f}% {r.mean_abs_change:8.2f} "
                     f"{rel:>11} {r.cells_50:6d}")
    for j in judged:
        lines.append(f"{j['dataset']}: {j['view']}: the better/similar/worse judgement changes for "
                     f"{j['changed']} of {j['wards']} wards (latest 12 months, council's view)")
    return "\n".join(lines)


def _cmd(args) -> int:
    rows, judged = report()
    print(format_report(rows, judged))
    return 0


def register_cli(sub) -> None:
    p = sub.add_parser("protection-report", help="what protection changes: partners' figures against the owner's")
    p.set_defaults(fn=_cmd)
