"""Theme computations for the Overview, Reoffending and Substance misuse pages
(and the board pack): headline tiles, change tests, plain-English sentences.

No Streamlit here. Every figure starts from a named query run through the access layer, as the
user; a suppressed (None) cell is never used to derive a shown number: the figure that would need
it is reported as unavailable instead.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, field

import polars as pl
from scipy import special as _sp

from . import access, queries, stats

ALPHA = 0.05
ARROWS = {"up": "▲", "down": "▼", "none": "●"}
# Names for the colour a tile's arrow takes (csp.stats.polarity_colour): blue/orange, not
# green/red, so the two read apart under the common colour-vision deficiencies.
COLOURS = {"good": "#0072B2", "bad": "#D55E00", "neutral": "#6b6b6b"}
WAITING = (
    "Each offender is followed for 12 months from the day they enter the cohort (released "
    "from custody, convicted at court without custody, or cautioned), and a further 6 months "
    "are allowed for an offence committed in that year to be proven by a court or caution."
)


# ---- small helpers ----------------------------------------------------------------------


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def month_label(d: dt.date) -> str:
    return d.strftime("%b %Y")


def quarter_label(d: dt.date) -> str:
    end = add_months(d, 2)
    return f"{d.strftime('%b')}–{end.strftime('%b %Y')}"


def add_months(d: dt.date, n: int) -> dt.date:
    k = d.year * 12 + d.month - 1 + n
    return dt.date(k // 12, k % 12 + 1, 1)


def months_between(a: dt.date, b: dt.date) -> int:
    """Whole calendar months from a to b (b later)."""
    return (b.year - a.year) * 12 + b.month - a.month


def try_run(user: access.User | None, name: str, params: dict | None = None) -> queries.Result | None:
    """Run a query; None when the user may not see it (callers say so, or leave the part out)."""
    try:
        return queries.run(user, name, params)
    except access.AccessDenied:
        return None


def derived_result(result: queries.Result, frame: pl.DataFrame, sources: dict[str, list[str]]) -> queries.Result:
    """A Result whose frame has extra columns computed in Python, each withheld wherever one of
    its source columns is suppressed, so ui.table / ui.download / export treat them as the query
    layer treats its own derived columns."""
    mask = result.suppressed
    extra = {}
    for col, src in sources.items():
        hit = [mask[s] for s in src if s in mask.columns]
        extra[col] = pl.Series(col, [any(h[i] for h in hit) for i in range(frame.height)], pl.Boolean)
    mask = mask.with_columns(list(extra.values())) if extra else mask
    frame = frame.with_columns(
        [pl.when(extra[c]).then(None).otherwise(pl.col(c)).alias(c) for c in extra]
    )
    partial = result.partial
    if partial.width and partial.height == frame.height:
        part = {col: pl.Series(col, [any(partial[s][i] for s in src if s in partial.columns)
                                     for i in range(frame.height)], pl.Boolean)
                for col, src in sources.items()}
        partial = partial.with_columns(list(part.values())) if part else partial
    return dataclasses.replace(result, frame=frame, suppressed=mask, partial=partial)


def select_columns(result: queries.Result, columns: list[str]) -> queries.Result:
    """The same result with only some columns (and their suppression flags), for a table."""
    mask = result.suppressed.select([c for c in columns if c in result.suppressed.columns])
    partial = result.partial.select([c for c in columns if c in result.partial.columns])
    return dataclasses.replace(result, frame=result.frame.select(columns), suppressed=mask,
                               partial=partial)


# ---- change tests -----------------------------------------------------------------------


def count_change(current, previous, alpha: float = ALPHA) -> dict | None:
    """Exact Poisson test of two 12-month counts (csp.stats.poisson_change_test); None when
    either count is suppressed."""
    if _missing(current) or _missing(previous):
        return None
    return stats.poisson_change_test(int(current), int(previous), alpha=alpha)


def count_noise(result, value) -> float:
    """The noise variance of a count ``result`` publishes to its reader (0 when exact:
    csp.protection.cells.noise_variance under the result's rules)."""
    from .protection import cells

    if result is None or _missing(value):
        return 0.0
    return max((cells.noise_variance(r, value) for r in (getattr(result, "rules", None) or {}).values()),
               default=0.0)


def count_noise_words(result, current, previous) -> str:
    """' Your figures are perturbed … about ±8 (±18 points)' where protection alone can move a
    12-month count change by two percentage points or more: first-time entrants read 44 against 45
    (-2.2%) to partners where the owner read 39 against 50 (-22%). From the ptable's variance at
    the published counts only; '' when exact or when the move is negligible (crime's thousands)."""
    if _missing(current) or _missing(previous) or not previous:
        return ""
    move = 1.96 * math.sqrt(count_noise(result, current) + count_noise(result, previous))
    points = 100 * move / previous
    if points < 2:  # under two points it would only add words to every small-area sentence
        return ""
    return (f" Your figures are perturbed to protect small numbers, which alone can move this change "
            f"by about ±{move:.0f} (±{points:.0f}%), so the owner's exact figures may differ.")


def small_count_reach(result) -> int:
    """Published counts below this, in ``result``, may be a count under the threshold moved up by
    perturbation (csp.protection.cells.small_count_reach); 0 when its counts are exact."""
    from .protection import cells

    return max((cells.small_count_reach(r) for r in (getattr(result, "rules", None) or {}).values()),
               default=0)


def proportion_change(x1, n1, x0, n0, alpha: float = ALPHA, noise_from=None) -> dict | None:
    """Current proportion x1/n1 against previous x0/n0: Wilson 95% intervals for each and a
    two-sided two-proportion z-test with pooled variance (equivalent to Pearson's chi-square on
    the 2x2 table without continuity correction). None when any input is suppressed or a
    denominator is zero.

    ``noise_from``: the query result the four counts were published in. Where they are
    perturbed for this reader, the perturbation's variance (from the policy's ptable) is added
    to the test's variance and widens the intervals: a rate of a few dozen people can move
    several points by perturbation alone, and that must not read as a significant change
    (``noise`` in the answer says it was allowed for)."""
    if any(_missing(v) for v in (x1, n1, x0, n0)) or not n1 or not n0:
        return None
    reach = small_count_reach(noise_from)
    if any(0 < int(v) < reach for v in (x1, n1, x0, n0)):
        return None  # a count perturbation may have raised from under the threshold: no rate
    x1, n1, x0, n0 = min(int(x1), int(n1)), int(n1), min(int(x0), int(n0)), int(n0)
    p1, p0 = x1 / n1, x0 / n0
    nv1 = stats.proportion_noise(x1, n1, count_noise(noise_from, x1), count_noise(noise_from, n1))
    nv0 = stats.proportion_noise(x0, n0, count_noise(noise_from, x0), count_noise(noise_from, n0))
    pooled = (x1 + x0) / (n1 + n0)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0) + nv1 + nv0)
    if se == 0:
        p_value = 1.0
    else:
        p_value = float(2 * _sp.ndtr(-abs(p1 - p0) / se))  # two-sided normal tail
    significant = p_value < alpha
    change = p1 - p0
    lo1, hi1 = stats.widened_wilson(x1, n1, nv1)
    lo0, hi0 = stats.widened_wilson(x0, n0, nv0)
    return {
        "current": p1, "previous": p0, "current_ci": (lo1, hi1), "previous_ci": (lo0, hi0),
        "change_points": 100 * change, "p_value": p_value, "significant": significant,
        "direction": "none" if not significant or change == 0 else ("up" if change > 0 else "down"),
        "noise": bool(nv1 or nv0),
        # How far perturbation alone may move the change for this reader (95%, points): a
        # cohort of 70 under the t10 table reads 39% where the owner's is 32%.
        "noise_points": 100 * 1.96 * math.sqrt(nv1 + nv0),
        # Protection alone can move it further than it moved: its direction is not known here
        # (partners read "fell" where the owner's exact rates rose).
        "unclear": bool(nv1 or nv0) and 100 * 1.96 * math.sqrt(nv1 + nv0) >= abs(100 * change),
    }


def significance_phrase(significant: bool | None) -> str:
    if significant is None:
        return "significance not tested"
    return "significant" if significant else "not significant: within normal variation"


# ---- tiles ------------------------------------------------------------------------------


@dataclass
class Tile:
    theme: str  # crime | asb | reoffending | substance
    title: str
    polarity: str  # csp.stats polarity
    available: bool = False
    reason: str = ""  # why the tile has no figure (shown instead of one)
    value_label: str = ""  # the latest 12-month figure, formatted
    period_label: str = ""
    previous_label: str = ""  # the 12 months before, formatted
    ci_label: str = ""  # 95% interval of the latest figure, where it is a proportion
    change_label: str = ""  # "-12.3%" or "+1.4 points"
    significant: bool | None = None
    p_value: float | None = None
    direction: str = "none"  # up | down | none (a direction only when significant)
    raw_direction: str = "none"  # sign of the change regardless of significance
    colour: str = "neutral"  # good | bad | neutral
    sentence: str = ""
    spark_x: list = field(default_factory=list)
    spark_y: list = field(default_factory=list)
    spark_label: str = ""
    source: str = ""  # dataset behind the tile
    lower_bound: bool = False  # figures withheld from this user lie inside the total: not tested
    versions: dict = field(default_factory=dict)  # dataset -> version read

    @property
    def arrow(self) -> str:
        return ARROWS[self.raw_direction]

    @property
    def hex_colour(self) -> str:
        return COLOURS[self.colour]

    @property
    def metric_colour(self) -> str:
        """Streamlit's named delta colour for the arrow (blue good, orange bad, grey neutral)."""
        return {"good": "blue", "bad": "orange", "neutral": "gray"}[self.colour]


@dataclass(frozen=True)
class TableName:
    name: str


@dataclass
class TableResult:
    """A table built from query results (e.g. the tiles), shaped like queries.Result for
    ui.table / ui.download: a frame and its suppression mask."""
    frame: pl.DataFrame
    suppressed: pl.DataFrame = field(default_factory=pl.DataFrame)
    threshold: int = 0
    versions: dict = field(default_factory=dict)  # dataset -> version read, for the audit trail
    name: str = "table"
    partial: pl.DataFrame = field(default_factory=pl.DataFrame)
    rules: dict = field(default_factory=dict)  # dataset -> csp.protection.cells.Rule

    @property
    def query(self):  # what ui.download records as the query name
        return TableName(self.name)

    def methods(self) -> set[str]:
        return {r.method for r in self.rules.values() if r.method != "none"}

    @property
    def n_suppressed(self) -> int:
        return int(sum(self.suppressed[c].sum() for c in self.suppressed.columns))


def protection_words(user: access.User | None, sources) -> str:
    """Under the Overview: which tiles' figures are protected for this reader and what that means
    when board members compare packs (a perturbed partner reads 15,299 where police read 15,298),
    or '' when every figure is exact."""
    from . import catalog

    perturbed, suppressed = [], []
    for ds in dict.fromkeys(s for s in sources if s):
        g = access.grant(user, ds)
        if g is None or g.owner:
            continue
        title = catalog.in_sentence(catalog.contract(ds).title)
        (perturbed if g.protection == "perturb" else suppressed if g.protection == "suppress" else []).append(title)
    def listed(xs: list[str]) -> str:
        return xs[0] if len(xs) == 1 else ", ".join(xs[:-1]) + " and " + xs[-1]

    parts = []
    if perturbed:
        parts.append(f"Figures from other partners' data ({listed(perturbed)}) carry a small fixed "
                     "adjustment that protects small numbers, so another partner may read a total a "
                     "few higher or lower; you always read the same figure.")
    if suppressed:
        parts.append(f"In {listed(suppressed)}, small counts are withheld from you, so totals "
                     "marked ≥ are lower bounds.")
    return " ".join(parts)


def tiles_table(tiles: list[Tile]) -> TableResult:
    versions = {k: v for t in tiles for k, v in t.versions.items()}
    # The figure, its change and the judgement first: on a phone only the first columns fit.
    cols = {
        "theme": [t.title for t in tiles],
        "latest_12_months": [t.value_label for t in tiles],
        "change": [t.change_label for t in tiles],
        "judgement": [("not tested" if t.lower_bound else
                       {"good": "better", "bad": "worse", "neutral": "not significant"}[t.colour])
                      if t.available else None for t in tiles],
        "previous_12_months": [t.previous_label for t in tiles],
        "period": [t.period_label for t in tiles],
        "latest_95pc_ci": [t.ci_label for t in tiles],
        # As text: a tile with no test (not shared, or a floor) shows an empty cell, not "None".
        "p_value": ["" if t.p_value is None else "<0.001" if t.p_value < 0.001 else f"{t.p_value:.3f}"
                    for t in tiles],
    }
    schema = {c: pl.String for c in cols}
    return TableResult(name="overview_tiles", versions=versions, frame=pl.DataFrame(cols, schema=schema))


def _finish(tile: Tile, direction: str, raw_direction: str) -> Tile:
    tile.direction = direction
    tile.raw_direction = raw_direction
    tile.colour = stats.polarity_colour(direction, tile.polarity)
    tile.available = True
    return tile


def monthly_window(frame: pl.DataFrame, date_col: str, count_col: str,
                   held: tuple[dt.date, dt.date] | None = None) -> tuple[list[dt.date], list]:
    """Every month from the first to the last in the frame, with its count; a month the query
    returned no row for is None (a gap in the data is not taken to be zero). ``held``: the
    dataset's first and last month held, inside which a month with no row had no records (a
    ward with no fire that month): 0, as the dashboards count it."""
    if frame.height == 0 and held is None:
        return [], []
    got = dict(zip(frame[date_col].to_list(), frame[count_col].to_list()))
    first, last = held if held is not None else (min(got), max(got))
    months = [add_months(first, i) for i in range(months_between(first, last) + 1)]
    return months, [got.get(m, 0 if held is not None else None) for m in months]


def rolling_12(values: list) -> list:
    """Rolling 12-month totals; None where any month in the window is missing or suppressed."""
    out = []
    for i in range(len(values)):
        window = values[max(0, i - 11):i + 1]
        out.append(None if len(window) < 12 or any(_missing(v) for v in window) else sum(window))
    return out


def extreme_area(rows: list[dict], direction: int, name_col: str = "ward_name") -> dict | None:
    """The area with the largest change in the given direction (+1 rise, -1 fall), among rows
    whose counts are not suppressed; None when no area moved that way."""
    best = None
    for r in rows:
        if _missing(r.get("current")) or _missing(r.get("previous")) or not r.get(name_col):
            continue
        delta = (r["current"] - r["previous"]) * direction
        if delta > 0 and (best is None or delta > best[0]):
            best = (delta, r)
    return None if best is None else best[1]


def robust_extreme_area(result: queries.Result, direction: int, name_col: str = "ward_name") -> dict | None:
    """:func:`extreme_area` of a protected result, named only where protection cannot have
    chosen it: police (exact) and a perturbed partner must never name different wards. A
    published count may be off by up to the ptable's largest adjustment; a withheld one is under
    the threshold (perhaps moved by as much); a floor under suppression ("at least") could hide
    any rise, so then no area is named. The area is named when its smallest possible change
    beats every other area's largest."""
    from .protection import cells

    best = extreme_area(result.frame.to_dicts(), direction, name_col)
    if best is None:
        return None
    cols = ("current", "previous")
    if any(c in result.partial.columns and result.partial[c].any() for c in cols):
        return None
    rules = (result.rules or {}).values()
    if any(r.method == "suppress" for r in rules) and any(
            c in result.suppressed.columns and result.suppressed[c].any() for c in cols):
        return None  # a withheld total under suppression may add up many small cells
    m = max((cells.max_noise(r) for r in rules), default=0)

    def bounds(i: int, r: dict, c: str) -> tuple[int, int]:
        hidden = c in result.suppressed.columns and result.suppressed[c][i]
        if hidden or _missing(r.get(c)):
            return 0, max(result.threshold - 1, 0) + m
        return max(int(r[c]) - m, 0), int(r[c]) + m

    lowest, others = None, 0
    for i, r in enumerate(result.frame.to_dicts()):
        if not r.get(name_col):
            continue
        (clo, chi), (plo, phi) = bounds(i, r, "current"), bounds(i, r, "previous")
        least, most = (clo - phi, chi - plo) if direction > 0 else (plo - chi, phi - clo)
        if r[name_col] == best[name_col]:
            lowest = least
        else:
            others = max(others, most)
    return best if lowest is not None and lowest > 0 and lowest > others else None


FEW = 10  # a count change from fewer than this reads as a number, not a percentage


def few(test: dict) -> bool:
    """A change from a handful ("-100.0%" for 2 to 0) reads better as a number."""
    return test.get("previous") is not None and test["previous"] < FEW


def count_sentence(subject: str, test: dict | None, period: str, where: dict | None = None,
                   name_col: str = "ward_name") -> str:
    """One plain-English sentence from a count change test and the area where it was largest."""
    if test is None:
        return f"{subject}: no comparison is possible because a figure is suppressed or missing."
    if test["change"] == 0:
        return f"{subject} was unchanged in the {period} against the 12 months before."
    verb = "rose" if test["change"] > 0 else "fell"
    pct = test["pct_change"]
    # As the chip beside it; a count of a few as a number ("fell by 2", not "fell 100.0%").
    size = f"{abs(pct):.1f}%" if pct is not None and not few(test) else f"by {abs(test['change']):,}"
    text = f"{subject} {verb} {size} ({significance_phrase(test['significant'])}) in the {period}"
    if where is not None:
        noun = "rise" if test["change"] > 0 else "fall"
        text += f"; the largest {noun} was in {where[name_col]} ward"
    return text + "."


def headline_figures(headline: queries.Result | None) -> dict | None:
    """The 12-month totals of a ``<dataset>_headline`` result as the theme's page shows them
    (indicators.headline_comparison), with whether either is only a lower bound; None when they
    give no comparison (no result, a period not wholly held, a total withheld)."""
    from .indicators import headline_comparison

    shown = headline_comparison(headline)
    if shown is None:
        return None
    row = shown["row"]
    if row["current"] is None or row["previous"] is None or (shown["why"] and not any(shown["lower"].values())):
        return None
    return {**row, "lower_bound": any(shown["lower"].values())}


def count_tile(theme: str, title: str, subject: str, monthly: queries.Result | None, count_col: str,
               wards: queries.Result | None = None, polarity: str = "lower_is_better",
               source: str = "", headline: queries.Result | None = None,
               held: tuple[dt.date, dt.date] | None = None) -> Tile:
    """A tile for a monthly count: latest rolling 12 months against the 12 before. The two
    totals are the theme page's headline figures when ``headline`` gives them: under
    perturbation a sum of twelve published months differs a little from the published 12-month
    total, and a board member must read one number in both places. The sparkline stays the
    rolling sum of the monthly figures."""
    tile = Tile(theme, title, polarity, source=source)
    if monthly is None:
        tile.reason = "Not shared with you under the sharing agreement."
        return tile
    tile.versions = dict(monthly.versions)
    months, values = monthly_window(monthly.frame, "month", count_col, held)
    if len(months) < 24:
        tile.reason = f"Fewer than 24 months of data held ({len(months)}), so no year-on-year comparison."
        return tile
    rolled = rolling_12(values)
    current, previous, last = rolled[-1], rolled[-13], months[-1]
    head = headline_figures(headline)
    if head is not None:
        current, previous, last = head["current"], head["previous"], head["last_month"]
    if current is None or previous is None:
        tile.reason = "A month in the latest 24 is suppressed or missing, so no 12-month totals are shown."
        return tile
    tile.previous_label = f"{previous:,}"
    tile.period_label = f"12 months to {month_label(last)}"
    tile.spark_x = [m for m, v in zip(months, rolled) if v is not None]
    tile.spark_y = [v for v in rolled if v is not None]
    tile.spark_label = "Rolling 12-month total"
    if head is not None and head["lower_bound"]:
        # A total with withheld figures inside it is a floor, not a count to test.
        tile.lower_bound = True
        tile.value_label = f"≥{current:,}"
        tile.change_label = "not tested"
        tile.sentence = (f"{subject}: at least {current:,} in the {tile.period_label}. Some of the "
                         "figures inside this total are withheld from you, so the change is not tested.")
        return _finish(tile, "none", "none")
    test = count_change(current, previous)
    tile.value_label = f"{current:,}"
    tile.change_label = ("n/a" if test["pct_change"] is None and not few(test) else
                         f"{test['change']:+,}" if few(test) else f"{test['pct_change']:+.1f}%")
    lo, hi = stats.exact_poisson_ci(current)  # the latest 12-month count's exact 95% interval
    tile.ci_label = f"{lo:,.0f}–{hi:,.0f}"
    tile.significant, tile.p_value = test["significant"], test["p_value"]
    where = None
    # "The largest rise was in Eastfield" says nothing when Eastfield is the only ward.
    # The direction itself must survive protection too: a perturbed total 1,452 against 1,449
    # read "rose" where police's exact 1,449 against 1,452 "fell".
    from .protection import cells

    source = headline if head is not None else monthly
    settled = abs(test["change"]) > 2 * max(
        (cells.max_noise(r) for r in (getattr(source, "rules", None) or {}).values()), default=0)
    if wards is not None and test["change"] != 0 and wards.frame.height > 1 and settled:
        where = robust_extreme_area(wards, 1 if test["change"] > 0 else -1)
    tile.sentence = count_sentence(subject, test, tile.period_label, where) + count_noise_words(
        source, current, previous)
    raw = "none" if test["change"] == 0 else ("up" if test["change"] > 0 else "down")
    return _finish(tile, test["direction"], raw)


def proportion_sentence(subject: str, test: dict | None, period: str, extra: str = "") -> str:
    if test is None:
        return f"{subject}: no comparison is possible because a figure is suppressed or missing."
    now, before = 100 * test["current"], 100 * test["previous"]
    if test.get("unclear"):
        return (f"{subject} was {now:.1f}% for {period}, against {before:.1f}% the year before"
                + (f"; {extra}" if extra else "") + ". Your figures are perturbed to protect small "
                f"numbers, which alone can move this change by about ±{test['noise_points']:.0f} points: "
                "as much as the change itself or more, so they cannot say which way the rate moved.")
    if round(now, 1) == round(before, 1):
        text = f"{subject} was {now:.1f}% for {period}, the same as the year before"
    else:
        verb = "rose" if now > before else "fell"
        text = (f"{subject} {verb} from {before:.1f}% to {now:.1f}% for {period} "
                f"({significance_phrase(test['significant'])})")
    return text + (f"; {extra}" if extra else "") + "." + noise_words(test)


def ratio_noise_words(result, numerator, denominator) -> str:
    """How far protection alone can move a ratio of two perturbed counts ('reoffences per
    reoffender' 3.95 to a partner where the owner reads 3.22): ' Both counts are perturbed to
    protect small numbers, which alone can move this by about ±0.6.' from the ptable's variance
    at the published counts (delta method, 95%); '' when exact or the move is under 0.05."""
    if _missing(numerator) or _missing(denominator) or not denominator:
        return ""
    vn, vd = count_noise(result, numerator), count_noise(result, denominator)
    if not vn and not vd:
        return ""
    ratio = numerator / denominator
    move = 1.96 * ratio * math.sqrt(vn / max(numerator, 1) ** 2 + vd / denominator ** 2)
    if move < 0.05:
        return ""
    return (f"Both counts are perturbed to protect small numbers, which alone can move this by "
            f"about ±{move:.1f}; the owner's exact figure may differ.")


def noise_words(test: dict | None) -> str:
    """' ... that alone can move this change by about ±10 points' where perturbation moves it by
    a point or more: a board must not quote a rise that protection may have made."""
    points = (test or {}).get("noise_points") or 0
    if points < 1:
        return ""
    return (f" Your figures are perturbed to protect small numbers: that alone can move this change "
            f"by about ±{points:.0f} points, so the owner's exact rates may differ.")


def _proportion_tile(tile: Tile, test: dict | None, period: str, subject: str, extra: str,
                     short_period: str = "") -> Tile:
    if test is None:
        tile.reason = "A count needed for this figure is suppressed or missing, so it is not shown."
        return tile
    lo, hi = test["current_ci"]
    tile.value_label = f"{100 * test['current']:.1f}%"
    tile.previous_label = f"{100 * test['previous']:.1f}%"
    tile.ci_label = f"{100 * lo:.1f}–{100 * hi:.1f}%"
    tile.period_label = short_period or period
    tile.change_label = f"{test['change_points']:+.1f} points"
    tile.significant, tile.p_value = test["significant"], test["p_value"]
    tile.sentence = proportion_sentence(subject, test, period, extra)
    c = test["change_points"]
    raw = "none" if round(c, 1) == 0 or test.get("unclear") else ("up" if c > 0 else "down")
    return _finish(tile, test["direction"], raw)


# ---- reoffending ------------------------------------------------------------------------


def cohorts_words(quarter: dt.date) -> str:
    """'the Oct–Dec 2024 cohorts': a cohort quarter, dated by its first day, in words."""
    return f"the {quarter:%b}–{add_months(quarter, 2):%b %Y} cohorts"


def cohort_age(latest_quarter: dt.date, today: dt.date) -> dict:
    """How old the latest proven-reoffending cohort is, and why it cannot be newer."""
    cohort_end = add_months(latest_quarter, 3)  # first day after the cohort quarter
    follow_up_end = add_months(cohort_end, 12)
    proven_by = add_months(follow_up_end, 6)
    months_old = months_between(cohort_end, dt.date(today.year, today.month, 1))
    last = add_months(cohort_end, -1)
    text = (
        f"The latest cohort is offenders who entered it in {quarter_label(latest_quarter)}. {WAITING} "
        f"So the last of them was followed until {month_label(add_months(follow_up_end, -1))} and their "
        f"reoffences could be proven until {month_label(add_months(proven_by, -1))}. The newest figures "
        f"are therefore for a cohort that closed {months_old} months ago (at the end of {month_label(last)})."
    )
    return {"cohort_end": cohort_end, "follow_up_end": follow_up_end, "proven_by": proven_by,
            "months_old": months_old, "text": text}


@dataclass
class ReoffendingSummary:
    tile: Tile
    quarterly: queries.Result | None = None  # with Wilson CI columns added
    breakdown: queries.Result | None = None  # latest year of cohorts, split, with Wilson CIs
    age: dict | None = None


def with_wilson(result: queries.Result, x: str, n: str, lo: str = "rate_lower",
                hi: str = "rate_upper", rate: str | None = None) -> queries.Result:
    """The result with 95% interval columns (lo, hi, %) for x of n: Wilson, widened for the
    perturbation the reader's figures carry (proportion_change says why), withheld wherever
    either count is. A perturbed outcome a little above its cohort (each is its own cell) is
    taken as the whole cohort, never more. Where a published count may be one under the
    threshold moved up by perturbation (small_count_reach), the interval and ``rate`` (the
    query's own rate column) are withheld too: such a rate reads 100% as easily as 10%."""
    reach = small_count_reach(result)
    los, his, shaky = [], [], []
    for xv, nv in zip(result.frame[x].to_list(), result.frame[n].to_list()):
        if _missing(xv) or _missing(nv) or not nv or 0 < int(xv) < reach or int(nv) < reach:
            los.append(None)
            his.append(None)
            shaky.append(not (_missing(xv) or _missing(nv) or not nv))
        else:
            xi, ni = min(int(xv), int(nv)), int(nv)
            noise = stats.proportion_noise(xi, ni, count_noise(result, xi), count_noise(result, ni))
            a, b = stats.widened_wilson(xi, ni, noise)
            los.append(round(100 * a, 1))
            his.append(round(100 * b, 1))
            shaky.append(False)
    frame = result.frame.with_columns(pl.Series(lo, los, pl.Float64), pl.Series(hi, his, pl.Float64))
    out = derived_result(result, frame, {lo: [x, n], hi: [x, n]})
    cols = [c for c in (rate, lo, hi) if c and c in out.frame.columns]
    if any(shaky) and cols:
        hide = pl.Series("shaky", shaky, pl.Boolean)
        frame = out.frame.with_columns([pl.when(hide).then(None).otherwise(pl.col(c)).alias(c) for c in cols])
        mask = out.suppressed.with_columns([
            (out.suppressed[c] | hide if c in out.suppressed.columns else hide).alias(c) for c in cols])
        out = dataclasses.replace(out, frame=frame, suppressed=mask)
    return out


def reoffending_summary(user: access.User | None, today: dt.date | None = None,
                        params: dict | None = None) -> ReoffendingSummary:
    """The reoffending tile, the quarterly series and the latest-year breakdown, each with Wilson
    95% intervals. ``params`` filter the quarterly series (cohort_type, cohort_group)."""
    today = today or dt.date.today()
    tile = Tile("reoffending", "Proven reoffending", "lower_is_better", source="reoffending")
    quarterly = try_run(user, "reoffending_quarterly", params or {})
    breakdown = try_run(user, "reoffending_breakdown")
    if quarterly is None or breakdown is None:
        tile.reason = "Not shared with you under the sharing agreement."
        return ReoffendingSummary(tile)
    total = next((r for r in breakdown.frame.to_dicts() if r["split"] == "all"), None)
    if total is None or total["last_quarter"] is None:  # the grand total of no rows is one empty row
        tile.reason = "No reoffending data has been published yet."
        return ReoffendingSummary(tile, quarterly)
    tile.versions = dict(breakdown.versions)
    quarterly = with_wilson(quarterly, "reoffenders", "offenders", rate="rate_pct")
    breakdown = with_wilson(breakdown, "reoffenders", "offenders", rate="rate_pct")
    rows = breakdown.frame.to_dicts()
    age = cohort_age(total["last_quarter"], today)
    period = (f"the cohorts of {month_label(total['first_quarter'])} to "
              f"{month_label(add_months(total['last_quarter'], 2))}")
    test = proportion_change(total["reoffenders"], total["offenders"],
                             total["prev_reoffenders"], total["prev_offenders"], noise_from=breakdown)
    by_type = [r for r in rows if r["split"] == "cohort type" and not _missing(r["rate_pct"])]
    extra = ""
    if by_type:
        top = max(by_type, key=lambda r: r["rate_pct"])
        # Said as "by cohort type": the chart below also splits by IOM, whose rates run higher.
        extra = (f"by cohort type, the highest rate was after "
                 f"{COHORT_TYPES.get(top['cohort_type'], top['cohort_type'])} ({top['rate_pct']:.1f}%)")
    first, last = total["first_quarter"], add_months(total["last_quarter"], 2)
    short = (f"{first:%b}–{last:%b %Y} cohorts" if first.year == last.year
             else f"{first:%b %Y}–{last:%b %Y} cohorts")
    _proportion_tile(tile, test, period, "The proven reoffending rate", extra, short)
    qs = quarterly.frame.filter(pl.col("age_group") == "all")
    tile.spark_x = [q for q, v in zip(qs["cohort_quarter"], qs["rate_pct"]) if v is not None]
    tile.spark_y = [v for v in qs["rate_pct"] if v is not None]
    tile.spark_label = "Reoffending rate by quarterly cohort, %"
    return ReoffendingSummary(tile, quarterly, breakdown, age)


COHORT_TYPES = {"custody": "release from custody", "court_order": "a court order",
                "caution": "a caution"}
SUBSTANCE_GROUPS = {"all": "All substances", "opiate": "Opiates", "non-opiate": "Non-opiates",
                    "alcohol": "Alcohol only", "alcohol and non-opiate": "Alcohol and non-opiates"}
REOFFENDING_AGES = {"all": "All offenders", "adult": "Adults", "juvenile": "Juveniles (10–17)"}
REOFFENDING_TYPES = {"custody": "Released from custody", "court_order": "Court order", "caution": "Caution"}
REOFFENDING_GROUPS = {"IOM": "IOM", "other": "not IOM"}
# The breakdown's rows in reading order: everyone, then by age, by cohort type, by IOM, by both.
_SPLIT_ORDER = ["all", "age group", "cohort type", "cohort group", "age group and cohort group"]


def reoffending_groups(result: queries.Result) -> queries.Result:
    """The breakdown's rows in reading order, labelled as a person reads them ("Adult",
    "Released from custody", "IOM", "Adults, not IOM") in a
    ``group`` column that replaces the codes; withheld masks follow their rows."""
    def label(r: dict) -> str:
        if r["split"] == "all":
            return "All offenders"
        parts = [REOFFENDING_AGES.get(r["age_group"], r["age_group"]) if r["age_group"] else "",
                 REOFFENDING_TYPES.get(r["cohort_type"], r["cohort_type"]) if r["cohort_type"] else "",
                 REOFFENDING_GROUPS.get(r["cohort_group"], r["cohort_group"]) if r["cohort_group"] else ""]
        text = ", ".join(p for p in parts if p)
        return text[:1].upper() + text[1:]
    rank = {s: i for i, s in enumerate(_SPLIT_ORDER)}
    frame = result.frame
    order = sorted(range(frame.height), key=lambda i: (rank.get(frame["split"][i], len(rank)), i))
    labels = pl.Series("group", [label(r) for r in frame.iter_rows(named=True)], pl.String)
    codes = ["split", "age_group", "cohort_type", "cohort_group"]
    out = frame.with_columns(labels).drop(codes)
    out = out.select("group", *[c for c in out.columns if c != "group"])[order]
    pick = lambda m: m[order] if m.height else m  # noqa: E731
    return dataclasses.replace(result, frame=out, suppressed=pick(result.suppressed),
                               partial=pick(result.partial))


# ---- substance misuse -------------------------------------------------------------------


@dataclass
class SubstanceSummary:
    tile: Tile
    quarterly: queries.Result | None = None  # with Wilson CI columns on completion %
    latest_quarter: dt.date | None = None


def substance_summary(user: access.User | None) -> SubstanceSummary:
    """Successful completions as % of adults in treatment (12 months to the latest quarter)
    against the 12 months to the same quarter a year before; polarity: higher is better."""
    tile = Tile("substance", "Successful treatment completions", "higher_is_better",
                source="substance_misuse")
    result = try_run(user, "substance_quarterly")
    if result is None:
        tile.reason = "Not shared with you under the sharing agreement."
        return SubstanceSummary(tile)
    if result.frame.height == 0:
        tile.reason = "No treatment data has been published yet."
        return SubstanceSummary(tile, result)
    tile.versions = dict(result.versions)
    result = with_wilson(result, "successful_completions", "in_treatment", "completion_lower", "completion_upper",
                         rate="completion_pct")
    frame = result.frame
    latest = frame["quarter"].max()
    year_before = add_months(latest, -12)
    alls = {r["quarter"]: r for r in frame.filter(pl.col("substance_group") == "all").to_dicts()}
    now, before = alls.get(latest), alls.get(year_before)
    period = f"the 12 months to {month_label(add_months(latest, 2))}"
    if before is None:
        tile.reason = "No figures for the same quarter a year earlier, so no comparison."
        return SubstanceSummary(tile, result, latest)
    test = proportion_change(now["successful_completions"], now["in_treatment"],
                             before["successful_completions"], before["in_treatment"], noise_from=result)
    groups = [r for r in frame.filter((pl.col("quarter") == latest) & (pl.col("substance_group") != "all")).to_dicts()
              if not _missing(r["completion_pct"])]
    extra = ""
    if groups:
        low = min(groups, key=lambda r: r["completion_pct"])
        extra = (f"the lowest was for {SUBSTANCE_GROUPS.get(low['substance_group'], low['substance_group']).lower()} "
                 f"({low['completion_pct']:.1f}%)")
    _proportion_tile(tile, test, period, "Successful completions as a share of adults in treatment", extra,
                     period.removeprefix("the "))
    series = frame.filter(pl.col("substance_group") == "all")
    tile.spark_x = [q for q, v in zip(series["quarter"], series["completion_pct"]) if v is not None]
    tile.spark_y = [v for v in series["completion_pct"] if v is not None]
    tile.spark_label = "Successful completions, % of those in treatment"
    return SubstanceSummary(tile, result, latest)


# ---- the overview -----------------------------------------------------------------------


def overview_tiles(user: access.User | None, today: dt.date | None = None) -> list[Tile]:
    """One tile per theme (crime, ASB, reoffending, substance misuse), in that order."""
    crime = count_tile(
        "crime", "Recorded crime", "Recorded crime", try_run(user, "crime_monthly_total"), "crimes",
        try_run(user, "overview_crime_wards"), source="crime", headline=try_run(user, "crime_headline"),
    )
    asb = count_tile(
        "asb", "Anti-social behaviour", "Anti-social behaviour", try_run(user, "asb_monthly_total"), "incidents",
        try_run(user, "overview_asb_wards"), source="asb", headline=try_run(user, "asb_headline"),
    )
    return [crime, asb, reoffending_summary(user, today).tile, substance_summary(user).tile]


def own_datasets(user: access.User | None) -> list[dict]:
    """The monthly incident datasets the user's own partner owns, beyond police crime and ASB
    (fires for a fire officer), each with its dashboard title, count column, polarity, noun and
    default categories (Housing ASB: cases opened, never opened and closed added together)."""
    from . import catalog, incidents

    out = []
    for name, c in catalog.contracts().items():
        if (user is None or c.owner != user.partner or name in ("crime", "asb") or not c.dashboard
                or c.layout != "incident" or c.grain_months != 1):
            continue
        d = c.dashboard
        defaults = {k: list(v) for k, v in (d.get("defaults") or {}).items()}
        # Say which categories the figure is: "Housing ASB cases (opened)".
        which = ", ".join(str(v).lower() for vs in defaults.values() for v in vs)
        suffix = f" ({which})" if which else ""
        out.append({"name": name, "title": d.get("title", c.title) + suffix, "short": d.get("title", c.title),
                    "count": incidents.count_column(c),
                    "polarity": d.get("polarity", "lower_is_better"), "noun": d.get("noun", "incidents") + suffix,
                    "defaults": defaults})
    return out


def own_tiles(user: access.User | None, area: str | None = None) -> list[Tile]:
    """A tile for each of :func:`own_datasets`: a fire officer's Overview shows fires too, and
    their Neighbourhood page the fires in the ward (``area``). The same headline query as the
    dataset's dashboard, with its default categories."""
    from .protection import periods

    out = []
    for d in own_datasets(user):
        params = d["defaults"] | ({"area": area} if area else {})
        span = periods.held([d["name"]])
        out.append(count_tile(d["name"], d["title"], d["title"], try_run(user, f"{d['name']}_monthly_total", params),
                              d["count"], polarity=d["polarity"], source=d["name"],
                              headline=try_run(user, f"{d['name']}_headline", params), held=span))
    return out
