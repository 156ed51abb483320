"""What the curious partner asks for: the query families of issue 12, as parameter grids over the
named queries, each figure mapped to the cells of the attacker's target family it adds up.

Families: period differencing (every window [a, b] of several lengths), headline against monthly
figures, complement filters (one value against all), ward totals against their LSOAs, views
outside the main pages (data quality, benchmarks, neighbourhood, overview, drug offences), and
the same cells asked for through every view that shows them, and Explore's self-service views
(any two breakdowns, one-value filters, every named period) over the same cells.
"""
from __future__ import annotations

import datetime as dt
import itertools

import polars as pl

from attack_lib import Harvest, Space, add_months, months_of, published_rows, rule_for, ym
from csp import access, catalog, explore, incidents

LENGTHS = (1, 2, 3, 6, 12, 24)  # window lengths in months for period differencing
RARE_TYPES = 3  # crime types (rarest first) whose own headlines and totals are also asked for


def _cross(*frames: pl.DataFrame) -> pl.DataFrame:
    out = frames[0]
    for f in frames[1:]:
        out = out.join(f, how="cross")
    return out


def _space(name: str, rows: pl.DataFrame, grid: pl.DataFrame, dims: tuple[str, ...]) -> Space:
    counts = rows.group_by(list(dims)).agg(pl.len().alias("truth"))
    cells = grid.join(counts, on=list(dims), how="left", nulls_equal=True).with_columns(
        pl.col("truth").fill_null(0).cast(pl.Int64))
    return Space(name, dims, cells)


def _windows(months: list[dt.date], lengths=LENGTHS) -> list[tuple[dt.date, dt.date]]:
    out = []
    for i, a in enumerate(months):
        for n in lengths:
            if i + n - 1 < len(months):
                out.append((a, months[i + n - 1]))
    return out


def _between(months, a, b) -> set:
    return {m for m in months if a <= m <= b}


def _area_cond(area: str | None) -> dict:
    if area is None:
        return {}
    return {"ward_code": {area}} if area.startswith(("E05", "W05")) else {"district_code": {area}}


# ---- incident data by period, place and category (crime, ASB, fires, partners' datasets) ------


def _space_of(name: str, rows: pl.DataFrame, grid: pl.DataFrame, dims: tuple[str, ...],
              measure: str | None) -> Space:
    """Like _space, counting a pre-counted dataset's measure instead of its rows."""
    if measure is None:
        return _space(name, rows, grid, dims)
    counts = rows.group_by(list(dims)).agg(pl.col(measure).sum().alias("truth"))
    cells = grid.join(counts, on=list(dims), how="left", nulls_equal=True).with_columns(
        pl.col("truth").fill_null(0).cast(pl.Int64))
    return Space(name, dims, cells)


def incident_harvest(user, dataset: str, wards: list[str] | None = None, lsoa: bool = False,
                     quick: bool = False) -> Harvest | None:
    """Any dataset with the incident dashboard, for one user, through its generated queries
    (csp.incidents). Target cells: period x ward x main category (district x period x category
    for a district-level grant or district-only data; with ``lsoa``, period x LSOA x category
    within ``wards``). ``quick``: the families on a lighter grid (window lengths of 1, 3 and 12
    months over the latest 24, one ward), for the partners' datasets, so the suite stays short."""
    rule = rule_for(user, dataset)
    if rule is None or rule.method == "none":
        return None
    c = catalog.contract(dataset)
    cat = c.categories[0] if c.categories else None
    count = incidents.count_column(c)
    measure = None if c.kind == "events" else c.measure
    has_ward = c.geo_field("ward") is not None
    g = access.grant(user, dataset)
    rows = published_rows(dataset)
    if c.period_field != "month":
        rows = rows.rename({c.period_field: "month"})
    if user.areas and has_ward:
        rows = rows.filter(pl.col("ward_code").is_in(list(user.areas)))
    if wards:
        rows = rows.filter(pl.col("ward_code").is_in(wards))
    months = months_of(rows)
    if quick:
        months = months[-24:] if c.grain_months == 1 else months[-8:]
        rows = rows.filter(pl.col("month").is_in(months))
    district_only = g.geography == "district" or not has_ward
    chosen = None
    if not user.areas and not wards and not district_only:
        # A partnership-wide user: the attacker targets a few wards (busiest, quietest, middle);
        # the other wards' cells enter district totals only, so they are one unknown per month
        # and type ("OTHER"), which keeps the least-squares solve small without losing a total.
        busy = rows.group_by("ward_code").len().drop_nulls().sort("len")["ward_code"].to_list()
        chosen = [busy[-1]] if quick else [busy[-1], busy[0], busy[len(busy) // 2]]
        rows = rows.with_columns(pl.when(pl.col("ward_code").is_null() | pl.col("ward_code").is_in(chosen))
                                 .then(pl.col("ward_code")).otherwise(pl.lit("OTHER")).alias("ward_code"))
    place_cols = ["district_code"] if district_only else ["ward_code", "district_code"]
    if lsoa:
        place_cols = ["lsoa_code", "ward_code", "district_code"]
    places = rows.select(place_cols).unique()
    cats = [cat] if cat else []
    parts = [pl.DataFrame({"month": months}, schema={"month": pl.Date}), places]
    if cat:
        parts.append(rows.select(cat).unique())
    dims = ("month", *place_cols, *cats)
    space = _space_of(f"{dataset} by period, {'LSOA' if lsoa else 'district' if district_only else 'ward'}"
                      + (f" and {cat}" if cat else ""), rows, _cross(*parts), dims, measure)
    h = Harvest(space, rule)
    q = dataset
    weight = pl.len() if measure is None else pl.col(measure).sum()
    types = (rows.group_by(cat).agg(weight.alias("len")).sort("len")[cat].to_list()[:RARE_TYPES]
             if cat else [])
    if quick:
        types = types[:1]
    type_opts = [None, *types]
    if wards:
        areas = list(wards)
    elif user.areas and has_ward:
        areas = [*user.areas, None]
    elif district_only:
        areas = [*sorted(d for d in rows["district_code"].unique().to_list() if d), None]
    else:  # the chosen wards, the district and everywhere
        areas = [*chosen, *sorted(d for d in rows["district_code"].unique().to_list() if d), None]
    lengths = (1, 3, 12) if quick else LENGTHS

    def tcond(t):
        return {cat: {t}} if t is not None else {}

    for area in areas:
        ac = _area_cond(area)
        # monthly figures, by type and in total
        if cat:
            h.run(user, f"{q}_monthly", {"area": area},
                  lambda r, ac=ac: [({**ac, "month": {r["month"]}, cat: {r[cat]}}, count)])
        for t in type_opts:
            h.run(user, f"{q}_monthly_total", {"area": area, **({cat: t} if t else {})},
                  lambda r, ac=ac, t=t: [({**ac, **tcond(t), "month": {r["month"]}}, count)])
        # 12-month headlines ending at every month, against the monthly figures
        for m in months:
            for t in type_opts:
                cur = _between(months, add_months(m, -11), m)
                prev = _between(months, add_months(m, -23), add_months(m, -12))
                h.run(user, f"{q}_headline", {"to": ym(m), "area": area, **({cat: t} if t else {})},
                      lambda r, ac=ac, t=t, cur=cur, prev=prev: [
                          ({**ac, **tcond(t), "month": cur}, "current"),
                          ({**ac, **tcond(t), "month": prev}, "previous")])
        # every window of several lengths: period differencing
        for a, b in _windows(months, lengths):
            span = _between(months, a, b)
            if cat:
                h.run(user, f"{q}_by_type", {"area": area, "from": ym(a), "to": ym(b)},
                      lambda r, ac=ac, span=span: [({**ac, "month": span, cat: {r[cat]}}, count)])
            elif not district_only and not lsoa:
                h.run(user, f"{q}_by_ward", {"area": area, "from": ym(a), "to": ym(b)},
                      lambda r, span=span: [({"ward_code": {r["ward_code"]}, "month": span}, count)])
            if lsoa and area is not None:
                h.run(user, f"{q}_by_lsoa", {"area": area, "from": ym(a), "to": ym(b)},
                      lambda r, span=span: [({"lsoa_code": {r["lsoa_code"]}, "month": span}, count)])
        if dataset == "crime":
            h.run(user, "substance_drug_offences", {"area": area},
                  lambda r, ac=ac: [({**ac, "month": {r["month"]}, "crime_type": {"Drugs"}}, "drug_offences")])
    if lsoa and dataset in ("crime", "asb"):  # Neighbourhood's LSOAs of a ward, latest 12 months
        last = months[-1]
        cur12 = _between(months, add_months(last, -11), last)
        col = "crimes" if dataset == "crime" else "asb_incidents"
        for ward in (wards or list(user.areas)):
            h.run(user, "neighbourhood_lsoas", {"ward": ward},
                  lambda r, cur12=cur12: [({"lsoa_code": {r["lsoa_code"]}, "month": cur12}, col)])
    if wards or lsoa:
        return h
    # views with no area filter: wards ranked, benchmarks, data quality, overview, neighbourhood
    districts = {d for d in rows["district_code"].unique().to_list() if d}
    for a, b in _windows(months, lengths):
        if (b.year - a.year) * 12 + b.month - a.month + 1 not in (1, 12):
            continue
        span = _between(months, a, b)
        for t in type_opts:
            if not district_only:
                h.run(user, f"{q}_by_ward", {"from": ym(a), "to": ym(b), **({cat: t} if t else {})},
                      lambda r, span=span, t=t: [({"ward_code": {r["ward_code"]}, "month": span, **tcond(t)}, count)])
            if has_ward:
                h.run(user, f"{q}_benchmark", {"from": ym(a), "to": ym(b), **({cat: t} if t else {})},
                      lambda r, span=span, t=t, districts=districts: [
                          ({"district_code": districts, "month": span, **tcond(t)}, count)])
    h.run(user, f"quality_{q}", {}, lambda r: [
        ({"month": {r["month"]}}, "records"),
        ({"month": {r["month"]}, "district_code": districts}, "located")])
    last = months[-1]
    cur = _between(months, add_months(last, -11), last)
    prev = _between(months, add_months(last, -23), add_months(last, -12))
    if not district_only:
        h.run(user, f"overview_{q}_wards", {}, lambda r: [
            ({"ward_code": {r["ward_code"]}, "month": cur}, "current"),
            ({"ward_code": {r["ward_code"]}, "month": prev}, "previous")])
    if not district_only and dataset in ("crime", "asb"):
        crime = dataset == "crime"
        for ward in (areas if user.areas else areas[:3]):
            if ward is None or not ward.startswith("E05"):
                continue
            # The comparator: the partnership's districts, or a scoped user's other wards.
            comp = ({"ward_code": set(user.areas) - {ward}} if user.areas
                    else {"district_code": districts})

            def summary(r, ward=ward, comp=comp):
                cat = r["category"]
                if cat == "Anti-social behaviour" or (not crime and cat != "Anti-social behaviour"):
                    return []
                tc = {} if cat in ("All crime", "Anti-social behaviour") else {"crime_type": {cat}}
                return [({"ward_code": {ward}, "month": cur, **tc}, "ward_current"),
                        ({"ward_code": {ward}, "month": prev, **tc}, "ward_previous"),
                        ({**comp, "month": cur, **tc}, "comparator_current")]
            if crime:
                h.run(user, "neighbourhood_summary", {"ward": ward}, summary)

        def partnership(r):  # the Neighbourhood comparator: the partnership's totals
            cat = r["category"]
            if (cat == "Anti-social behaviour") == crime:
                return []
            tc = {} if cat in ("All crime", "Anti-social behaviour") else {"crime_type": {cat}}
            return [({"district_code": districts, "month": cur, **tc}, "comparator_current")]
        # Only where the space holds the whole partnership: a scoped user's space is their wards,
        # and the partnership total adds cells found in no other view of theirs (one equation with
        # unknowns of its own: nothing on their cells). It is what their partner's unscoped users
        # read, and those users' harvests carry it.
        if not user.areas:
            h.run(user, "neighbourhood_partnership", {}, partnership)
    return h


# ---- pre-counted datasets: reoffending cohorts, treatment ---------------------------------------


def reoffending_harvest(user, measure: str, with_explore: bool = False) -> Harvest | None:
    rule = rule_for(user, "reoffending")
    if rule is None or rule.method == "none":
        return None
    rows = published_rows("reoffending")
    dims = ("cohort_quarter", "age_group", "cohort_type", "cohort_group")
    grid = _cross(*[rows.select(d).unique() for d in dims])
    counts = rows.group_by(list(dims)).agg(pl.col(measure).sum().alias("truth"))
    cells = grid.join(counts, on=list(dims), how="left", nulls_equal=True).with_columns(
        pl.col("truth").fill_null(0).cast(pl.Int64))
    h = Harvest(Space(f"reoffending {measure} by quarter and breakdown", dims, cells), rule)
    types = rows["cohort_type"].unique().sort().to_list()
    groups = rows["cohort_group"].unique().sort().to_list()
    for ct in [None, *types]:
        for cg in [None, *groups]:
            params = {**({"cohort_type": ct} if ct else {}), **({"cohort_group": cg} if cg else {})}
            base = {**({"cohort_type": {ct}} if ct else {}), **({"cohort_group": {cg}} if cg else {})}
            h.run(user, "reoffending_quarterly", params, lambda r, base=base: [(
                {**base, "cohort_quarter": {r["cohort_quarter"]},
                 **({} if r["age_group"] == "all" else {"age_group": {r["age_group"]}})}, measure)])
    quarters = sorted(rows["cohort_quarter"].unique().to_list())
    latest = set(quarters[-4:])
    before = set(quarters[-8:-4])

    def breakdown(r):
        cond = {d: {r[d]} for d in ("age_group", "cohort_type", "cohort_group") if r[d] is not None}
        out = [({**cond, "cohort_quarter": latest}, measure)]
        if measure in ("offenders", "reoffenders"):
            out.append(({**cond, "cohort_quarter": before}, f"prev_{measure}"))
        return out
    h.run(user, "reoffending_breakdown", {}, breakdown)
    if measure == "offenders":
        h.run(user, "quality_reoffending", {}, lambda r: [({"cohort_quarter": {r["month"]}}, "offenders")])
    if with_explore:
        explore_reoffending(user, measure, h, rows)
    return h


def _one_quarter(p) -> bool:
    return (p.end.year * 12 + p.end.month) - (p.start.year * 12 + p.start.month) < 3


def explore_reoffending(user, measure: str, h: Harvest, rows: pl.DataFrame) -> None:
    """Explore's views of reoffending: no, one or two breakdowns among quarter, age, cohort type
    and group; every one-value filter on the other categories; every named period (the quarter
    breakdown over everything held). Each row is the sum of the fine cells it names."""
    label = {q: f"{q.year} Q{(q.month - 1) // 3 + 1}" for q in rows["cohort_quarter"].unique().to_list()}
    quarter_of = {v: k for k, v in label.items()}
    cats = ("age_group", "cohort_type", "cohort_group")
    values = {c: rows[c].unique().sort().to_list() for c in cats}
    named = explore.period_options("reoffending")
    dims = ("quarter", *cats)
    for bs in [(), *[(b,) for b in dims], *itertools.combinations(dims, 2)]:
        free = [c for c in cats if c not in bs]
        for chosen in itertools.product(*[[None, *values[c]] for c in free]):
            filt = {c: v for c, v in zip(free, chosen) if v is not None}
            if len(filt) > explore.MAX_FILTER_FIELDS:
                continue  # (views fixing too many categories are tried: the refusal is the test)
            # A single quarter is a cell the quarter breakdown already gives (same records,
            # same noise), so the periods that add equations are the multi-quarter ones.
            spans = [p for p in named if p.key == "all" or ("quarter" not in bs and p.start != p.end
                                                             and not _one_quarter(p))]
            for period in spans:
                params = {"ds": "reoffending", "m": measure, "p": period.key,
                          "f": [f"{k}:{v}" for k, v in filt.items()],
                          **{f"b{i}": b for i, b in enumerate(bs, start=1)}}
                try:
                    _, r = explore.run(user, explore.Spec.from_params(params))
                except (access.AccessDenied, explore.SpecError):
                    continue
                h.calls += 1
                quarters = {q for q in label if period.start <= q <= period.end}
                col = r.frame.columns[-1]
                for i, row in enumerate(r.frame.iter_rows(named=True)):
                    cond = {k: {v} for k, v in filt.items()}
                    cond["cohort_quarter"] = {quarter_of[row["quarter"]]} if "quarter" in bs else quarters
                    cond.update({b: {row[b]} for b in bs if b != "quarter"})
                    h.add(cond, row[col], r.suppressed[col][i], False, "explore")


def substance_harvest(user, measure: str) -> Harvest | None:
    rule = rule_for(user, "substance_misuse")
    if rule is None or rule.method == "none":
        return None
    rows = published_rows("substance_misuse")
    dims = ("quarter", "substance_group")
    grid = _cross(*[rows.select(d).unique() for d in dims])
    counts = rows.group_by(list(dims)).agg(pl.col(measure).sum().alias("truth"))
    cells = grid.join(counts, on=list(dims), how="left", nulls_equal=True).with_columns(
        pl.col("truth").fill_null(0).cast(pl.Int64))
    h = Harvest(Space(f"treatment {measure} by quarter and substance", dims, cells), rule)
    for sg in [None, *rows["substance_group"].unique().sort().to_list()]:
        h.run(user, "substance_quarterly", {"substance_group": sg} if sg else {}, lambda r: [(
            {"quarter": {r["quarter"]},
             **({} if r["substance_group"] == "all" else {"substance_group": {r["substance_group"]}})}, measure)])
    if measure == "in_treatment":
        h.run(user, "quality_substance_misuse", {}, lambda r: [({"quarter": {r["month"]}}, "in_treatment")])
    return h


def cohort_harvest(user, dataset: str, measure: str) -> Harvest | None:
    """A cohort dataset (youth reoffending) through its generated queries (csp.incidents): the
    quarterly series for every single-value filter of each category, the latest year against
    the year before, and the latest year by each category. Target cells: period x every category."""
    rule = rule_for(user, dataset)
    if rule is None or rule.method == "none":
        return None
    c = catalog.contract(dataset)
    period = c.period_field
    rows = published_rows(dataset)
    dims = (period, *c.categories)
    grid = _cross(*[rows.select(d).unique() for d in dims])
    counts = rows.group_by(list(dims)).agg(pl.col(measure).sum().alias("truth"))
    cells = grid.join(counts, on=list(dims), how="left", nulls_equal=True).with_columns(
        pl.col("truth").fill_null(0).cast(pl.Int64))
    h = Harvest(Space(f"{dataset} {measure} by quarter and category", dims, cells), rule)
    quarters = sorted(rows[period].unique().to_list())
    latest, before = set(quarters[-4:]), set(quarters[-8:-4])
    size, outcome = c.dashboard["cohort"]["size"], c.dashboard["cohort"]["outcome"]
    for f in (None, *c.categories):
        for v in ([None] if f is None else rows[f].unique().sort().to_list()):
            params = {f: v} if f else {}
            base = {f: {v}} if f else {}
            h.run(user, f"{dataset}_quarterly", params,
                  lambda r, base=base: [({**base, period: {r[period]}}, measure)])
            prev = [({**base, period: before}, f"prev_{measure}")] if measure in (size, outcome) else []
            h.run(user, f"{dataset}_headline", params,
                  lambda r, base=base, prev=prev: [({**base, period: latest}, measure), *prev])
    for f in c.categories:
        def by(r, f=f):
            out = [({f: {r[f]}, period: latest}, measure)]
            if measure in (size, outcome):
                out.append(({f: {r[f]}, period: before}, f"prev_{measure}"))
            return out
        h.run(user, f"{dataset}_by_{f}", {}, by)
    return h
