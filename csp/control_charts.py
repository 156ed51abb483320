"""Control charts for monthly counts that stay honest on real data (issue 13).

The textbook c chart (:func:`csp.stats.c_chart`) draws one centre line ± 3√mean over the whole
series. On real police.uk data that flags 9 of 24 months across a level shift, calls the normal
summer ASB peak exceptional, and gives a series averaging 0.3 a month an upper limit of 1.9.
:func:`control_chart` fixes each of these with a published method:

* **Phases.** A documented level shift (a recording change an analyst names, or a police.uk
  category change, :data:`POLICE_UK_SHIFTS`) starts a new phase with its own centre line and
  limits, as NHS England's "Making Data Count" guidance recalculates limits at a known change
  ("rebase" in the NHS-R NHSRplotthedots package). An *undocumented* shift is detected by the run
  rule (``run_length`` months in a row on one side of the centre line: Western Electric rule 4,
  Wheeler's detection rule four; Making Data Count uses 7) and reported as a signal; it never
  re-baselines the chart by itself.
* **Limits.** Exact Poisson probability limits (the 0.135 % and 99.865 % quantiles of
  Poisson(centre): the tail areas of ±3 sigma, Montgomery's probability limits for the c chart),
  so small counts get sensible whole-number limits. When the counts vary more from month to month
  than Poisson allows (usual for large police counts: Laney 2002, "Improved control charts for
  attributes", Quality Engineering 14(4)), the limits widen to the XmR limits ``centre ± 2.66 ×
  average moving range`` (Wheeler, Understanding Variation; the Making Data Count chart), never
  narrower than the Poisson limits. Moving ranges above 3.267 × their average are left out of that
  average (NHSRplotthedots ``screen_outliers``) so one spike does not widen the limits.
* **Seasons.** A month is *exceptional* only when it is outside the limits AND differs from the
  same calendar month a year earlier in the same direction (exact Poisson test, or quasi-Poisson
  when the phase is over-dispersed: :func:`csp.stats.count_ratio_test`). A summer peak as high as
  last summer's is outside the limits but *seasonal*. Why this rule rather than limits from the
  same calendar month in earlier years: those need several years per calendar month (each month's
  limit would rest on 2 or 3 values where Making Data Count asks for 12 to 20), while this needs one
  year before the first month shown, and it can only remove flags, never add them.
* **Sparse series.** Below ``sparse_below`` a month (5 by default) the lower limit is 0, so no
  fall can show, and a month must be about 2.6 times the average (5 → 13) to stand out:
  the chart says so and recommends the rolling 12-month total, given with its exact 95 %
  interval (Garwood), instead. The run rule is not applied there: a skewed count sits below its
  mean most months (Poisson(0.3) is 0 three months in four), so runs mean nothing.

Everything is deterministic and free of I/O, like :mod:`csp.stats`.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from . import stats

__all__ = ["LevelShift", "POLICE_UK_SHIFTS", "police_uk_shifts", "control_chart",
           "XMR_FACTOR", "MR_SCREEN", "SPARSE_BELOW", "RUN_LENGTH", "METHODS"]

XMR_FACTOR = 2.66   # 3 / d2, with d2 = 1.128 for moving ranges of two points
MR_SCREEN = 3.267   # D4 for n = 2: the upper limit of a moving range
SPARSE_BELOW = 5.0  # mean a month below which a monthly chart is not advised
RUN_LENGTH = 8
METHODS = ("auto", "poisson", "xmr")


class LevelShift(NamedTuple):
    """A documented change from ``month`` on (first of the month), with why, in plain words."""
    month: dt.date
    reason: str = ""


_TAXONOMY_2013 = "police.uk changed its crime categories in May 2013"
_TAXONOMY_2011 = "police.uk split 'Other crime' into new categories in September 2011"

# Crime categories (harmonised, csp.ingest's crime_category) whose meaning changed at a police.uk
# taxonomy change, so a trend across the date is not like with like (docs/police_uk.md). Checked
# against the Lincolnshire files by tests/test_control_charts.py.
POLICE_UK_SHIFTS: dict[str, tuple[LevelShift, ...]] = {
    # 'Violent crime' to 2013-04; from 2013-05 'Violence and sexual offences' also holds sexual
    # offences, which were in 'Other crime'.
    "Violence and sexual offences": (LevelShift(dt.date(2013, 5, 1), _TAXONOMY_2013),),
    # Theft from the person and bicycle theft were split out of other theft in 2013-05.
    "Other theft": (LevelShift(dt.date(2013, 5, 1), _TAXONOMY_2013),),
    "Other crime": (LevelShift(dt.date(2011, 9, 1), _TAXONOMY_2011),
                    LevelShift(dt.date(2013, 5, 1), _TAXONOMY_2013)),
}


def police_uk_shifts(categories: str | Iterable[str] | None) -> list[LevelShift]:
    """The documented level shifts for a series of police.uk crime categories (harmonised
    names, csp.ingest's crime_category): one category, or those a series adds together (a
    series holding any category that changed meaning has the shift). None (all crime), ASB or
    categories whose meaning did not change give none. One shift per month, earliest first."""
    if categories is None:
        return []
    if isinstance(categories, str):
        categories = [categories]
    by_month: dict[dt.date, LevelShift] = {}
    for c in categories:
        for s in POLICE_UK_SHIFTS.get(c, ()):
            by_month.setdefault(s.month, s)
    return sorted(by_month.values())


# --------------------------------------------------------------------------------------------
# input

def _as_shift(x) -> LevelShift:
    if isinstance(x, LevelShift):
        return LevelShift(stats._month(x.month), str(x.reason or ""))
    if isinstance(x, tuple) and len(x) == 2:
        return LevelShift(stats._month(x[0]), str(x[1] or ""))
    return LevelShift(stats._month(x), "")


def _check_months(months, n: int) -> list[dt.date]:
    if months is None:
        raise ValueError("'months' is required: the control chart compares each month with the "
                         "same month a year earlier")
    ms = [stats._month(m) for m in months]
    if len(ms) != n:
        raise ValueError(f"counts ({n}) and months ({len(ms)}) differ in length")
    for a, b in zip(ms, ms[1:]):
        if stats._add_months(a, 1) != b:
            raise ValueError(f"months must be consecutive with none missing: {a:%Y-%m} is "
                             f"followed by {b:%Y-%m}")
    return ms


# --------------------------------------------------------------------------------------------
# one phase

def _average_moving_range(values: Sequence[int]) -> float | None:
    """Average of |x_i - x_(i-1)|, leaving out ranges above MR_SCREEN x the first average
    (one screening pass, as NHSRplotthedots does); None with fewer than two values."""
    mr = [abs(b - a) for a, b in zip(values, values[1:])]
    if not mr:
        return None
    amr = sum(mr) / len(mr)
    kept = [r for r in mr if r < MR_SCREEN * amr]
    return sum(kept) / len(kept) if kept else amr


def _phase_limits(values: list[int], method: str, sparse_below: float) -> dict:
    mean = sum(values) / len(values)
    p_lo, p_hi = stats.poisson_limits(mean)
    amr = _average_moving_range(values)
    sigma_poisson = math.sqrt(mean)
    sigma_xmr = None if amr is None else amr / 1.128
    sparse = mean < sparse_below
    if method == "xmr" and amr is not None:
        used = "xmr"
        lower, upper = max(0.0, mean - XMR_FACTOR * amr), mean + XMR_FACTOR * amr
    elif method == "auto" and not sparse and sigma_xmr is not None and sigma_xmr > sigma_poisson:
        # Laney's rule: widen only for over-dispersion, and never below the Poisson limits.
        used = "xmr"
        lower = min(float(p_lo), max(0.0, mean - XMR_FACTOR * amr))
        upper = max(float(p_hi), mean + XMR_FACTOR * amr)
    else:
        used = "poisson"
        lower, upper = float(p_lo), float(p_hi)
    if used == "xmr" and mean > 0 and sigma_xmr is not None:
        dispersion = max(1.0, (sigma_xmr / sigma_poisson) ** 2)
    else:
        dispersion = 1.0
    return {"centre": mean, "lower": lower, "upper": upper, "method": used,
            "sigma": sigma_xmr if used == "xmr" else sigma_poisson,
            "dispersion": dispersion, "sparse": sparse,
            "poisson_lower": p_lo, "poisson_upper": p_hi}


def _runs(sides: list[int], run_length: int) -> list[tuple[int, int, int]]:
    """Maximal runs (start, end, side) of ``run_length`` or more equal non-zero sides. A point on
    the centre line (side 0) breaks a run, as in NHSRplotthedots."""
    out, i = [], 0
    while i < len(sides):
        j = i
        while j + 1 < len(sides) and sides[j + 1] == sides[i]:
            j += 1
        if sides[i] != 0 and j - i + 1 >= run_length:
            out.append((i, j, sides[i]))
        i = j + 1
    return out


def _find_runs(cs: list[int], shown: list[int], phase_of: list[int], limits_at: dict,
               run_length: int, alpha: float) -> list[dict]:
    """Runs that may mark an undocumented shift, within each phase that has limits and is not
    sparse (runs mean nothing in a skewed count, see the module docstring). Two rules:

    * ``centre_line``: ``run_length`` months in a row on one side of the centre line (Western
      Electric rule 4; Wheeler's detection rule four). For a seasonal count the summer months sit
      above the average every year, so, as for a single month, the run is read against the same
      months a year earlier: when at least half of them can be compared and their total is not
      different in the run's direction, the run is a seasonal pattern, not a shift.
    * ``year_on_year``: ``run_length`` months in a row each higher (or each lower) than the same
      month a year earlier, whose total differs significantly from those months' total. This is
      the run rule on the seasonal difference ``x_t - x_(t-12)``, the usual way to chart a seasonal
      series (control charts on the residuals of a time-series model: Montgomery, ch. 10;
      seasonal differencing: Box & Jenkins), and finds a step that the season hides from the
      centre-line rule. A month equal to its year-earlier month, or with none to compare, ends a run.

    Each run: ``rule``, ``positions`` (indexes into the months shown), ``months``, ``side``
    ("above"/"below" or "higher"/"lower"), ``vs_last_year``, ``compared``, ``ratio`` (the run's
    total over the same months' a year earlier) and ``shift``.
    """
    runs = []
    for pid, lim in limits_at.items():
        if lim["sparse"]:
            continue
        pos = [p for p, i in enumerate(shown) if phase_of[i] == pid]
        phi = lim["dispersion"]

        def year_before(p):
            i = shown[p]
            return i - 12 if i >= 12 and phase_of[i - 12] == pid else None

        def against_last_year(ps):
            pairs = [(shown[p], year_before(p)) for p in ps if year_before(p) is not None]
            if not pairs:
                return None, 0, None
            t = stats.count_ratio_test(sum(cs[i] for i, _ in pairs), sum(cs[j] for _, j in pairs),
                                       dispersion=phi, alpha=alpha)
            return t["direction"], len(pairs), t["ratio"]

        sides = [(cs[shown[p]] > lim["centre"]) - (cs[shown[p]] < lim["centre"]) for p in pos]
        for a, b, s in _runs(sides, run_length):
            ps = pos[a:b + 1]
            vs, compared, ratio = against_last_year(ps)
            judged = 2 * compared >= len(ps)
            shift = not judged or vs == ("higher" if s > 0 else "lower")
            runs.append({"rule": "centre_line", "positions": ps, "months": len(ps),
                         "side": "above" if s > 0 else "below",
                         "vs_last_year": vs if judged else None, "compared": compared,
                         "ratio": ratio if judged else None, "shift": shift})

        yoy = [0 if year_before(p) is None else
               (cs[shown[p]] > cs[year_before(p)]) - (cs[shown[p]] < cs[year_before(p)]) for p in pos]
        for a, b, s in _runs(yoy, run_length):
            ps = pos[a:b + 1]
            vs, compared, ratio = against_last_year(ps)
            runs.append({"rule": "year_on_year", "positions": ps, "months": len(ps),
                         "side": "higher" if s > 0 else "lower", "vs_last_year": vs,
                         "compared": compared, "ratio": ratio,
                         "shift": vs == ("higher" if s > 0 else "lower")})
    runs.sort(key=lambda r: (r["positions"][0], r["rule"]))
    return runs


# --------------------------------------------------------------------------------------------
# the chart

def control_chart(counts: Sequence, months: Sequence, phases: Iterable = (), *, lead_in: int = 0,
                  min_points: int = 12, sparse_below: float = SPARSE_BELOW,
                  run_length: int = RUN_LENGTH, alpha: float = 0.05,
                  method: str = "auto") -> dict:
    """A control chart for monthly counts, in phases, with seasonal and run checks.

    Parameters
    ----------
    counts, months
        One whole count per consecutive month (dates, or 'YYYY-MM'). A suppressed count (None)
        raises ValueError: limits over the months that happen to be shown would be biased.
    phases
        Documented level shifts: :class:`LevelShift`, ``(month, reason)`` pairs or months. Each
        starts a new phase from that month, with its own centre line and limits; the same month
        a year earlier is not compared across one. Shifts outside the months given do nothing.
    lead_in
        The first ``lead_in`` months are history only: they are the "same month a year earlier"
        for the first months shown and feed the rolling 12-month totals, but are not charted and
        do not feed the centre line or limits. Pass 12 when the data are held.
    min_points
        A phase with fewer months shown than this gets a centre line but no limits.
    sparse_below
        A phase averaging fewer than this a month is *sparse* (see the module docstring).
    run_length
        Months in a row on one side of the centre line that signal a possible shift.
    alpha
        Significance level of the same-month-last-year comparison.
    method
        "auto" (exact Poisson limits, widened to XmR for over-dispersed counts), "poisson"
        (always exact Poisson) or "xmr" (always XmR: centre ± 2.66 × average moving range).

    Returns
    -------
    dict with

    ``points``: equal-length lists, one item per month shown (``pl.DataFrame(points)`` works):
        ``month``, ``count``, ``phase`` (0, 1, ... over the months shown), ``centre``, ``lower``,
        ``upper`` (None in a phase too short for limits), ``outside_limits`` (strictly beyond a
        limit), ``side`` ("high"/"low" when outside, else None), ``last_year`` (the count 12
        months earlier, None when not held or across a level shift), ``yoy_ratio``,
        ``yoy_p_value``, ``vs_last_year`` ("higher"/"lower"/"similar"/None), ``exceptional``
        (outside the limits and, where it can be checked, unusual against the same month last
        year in the same direction), ``seasonal`` (outside the limits but in line with the same
        month last year), ``shift_run`` (part of a run that signals a shift), ``rolling_12`` (total
        of the 12 months to this one, None until 12 are held), ``rolling_12_lower`` /
        ``rolling_12_upper`` (its exact 95 % interval) and ``signal`` (a short sentence for hover
        text, "" for an ordinary month).
    ``phases``: one dict per phase shown: ``start``, ``end``, ``reason``, ``months``, ``centre``,
        ``lower``, ``upper``, ``method`` ("poisson"/"xmr"/None without limits), ``sigma``,
        ``dispersion`` (1 for Poisson; the variance ratio used in the seasonal test for XmR),
        ``sparse``, ``has_limits``.
    ``runs``: one dict per run found by either run rule (see :func:`_find_runs`): ``rule``
        ("centre_line"/"year_on_year"), ``start``, ``end``, ``months``, ``side``
        ("above"/"below" the centre line, or "higher"/"lower" than a year before),
        ``vs_last_year`` (the run's total against the same months a year earlier:
        "higher"/"lower"/"similar", None when it cannot be judged), ``compared`` (months
        compared), ``ratio`` and ``shift`` (whether it signals a possible shift; only those set
        ``shift_run`` on points).
    ``sparse``: the latest phase is sparse; ``recommend``: "rolling_12" then, else "monthly".
    ``too_short``: no phase has limits. ``notes``: plain-English sentences; ``note``: them joined.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    for name, v in (("min_points", min_points), ("run_length", run_length), ("lead_in", lead_in)):
        if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "lead_in" else 1):
            raise ValueError(f"{name} must be a {'non-negative' if name == 'lead_in' else 'positive'} "
                             f"int, got {v!r}")
    sparse_below = stats._check_count(sparse_below, "sparse_below", integer=False)
    alpha = stats._check_prob(alpha, "alpha")
    cs = stats._check_counts(counts, "counts", integer=True)
    ms = _check_months(months, len(cs))
    if lead_in > len(cs):
        raise ValueError(f"lead_in ({lead_in}) exceeds the {len(cs)} months given")

    shifts = sorted({s.month: s for s in map(_as_shift, phases or ())}.values())
    # A shift at or before the first month given changes nothing: there is nothing before it.
    shifts = [s for s in shifts if ms and ms[0] < s.month <= ms[-1]]
    phase_of = [sum(1 for s in shifts if s.month <= m) for m in ms]

    shown = list(range(lead_in, len(cs)))
    # Phases as shown: renumbered from 0, so a shift inside the lead-in does not leave a gap.
    first_shown_phase = phase_of[lead_in] if shown else 0
    notes: list[str] = []
    phase_rows: list[dict] = []
    limits_at: dict[int, dict] = {}
    for pid in sorted({phase_of[i] for i in shown}):
        idx = [i for i in shown if phase_of[i] == pid]
        values = [cs[i] for i in idx]
        start = ms[idx[0]]
        reason = next((s.reason for s in shifts if s.month == start), "") if pid else ""
        row = {"start": start, "end": ms[idx[-1]], "reason": reason, "months": len(idx)}
        if len(idx) >= min_points:
            lim = _phase_limits(values, method, sparse_below)
            limits_at[pid] = lim
            row |= {k: lim[k] for k in ("centre", "lower", "upper", "method", "sigma",
                                        "dispersion", "sparse")} | {"has_limits": True}
        else:
            mean = sum(values) / len(values)
            row |= {"centre": mean, "lower": None, "upper": None, "method": None, "sigma": None,
                    "dispersion": 1.0, "sparse": mean < sparse_below, "has_limits": False}
        phase_rows.append(row)

    # same month a year earlier, in the same phase
    dispersion_of = {pid: lim["dispersion"] for pid, lim in limits_at.items()}
    points = {k: [] for k in ("month", "count", "phase", "centre", "lower", "upper",
                              "outside_limits", "side", "last_year", "yoy_ratio", "yoy_p_value",
                              "vs_last_year", "exceptional", "seasonal", "shift_run",
                              "rolling_12", "rolling_12_lower", "rolling_12_upper", "signal")}
    row_of = dict(zip(sorted({phase_of[i] for i in shown}), phase_rows))
    for i in shown:
        pid = phase_of[i]
        row = row_of[pid]
        lim = limits_at.get(pid)
        c = cs[i]
        outside = lim is not None and (c > lim["upper"] or c < lim["lower"])
        side = None if not outside else ("high" if c > lim["upper"] else "low")
        j = i - 12
        test = None
        if j >= 0 and phase_of[j] == pid:
            test = stats.count_ratio_test(c, cs[j], dispersion=dispersion_of.get(pid, 1.0),
                                          alpha=alpha)
        vs = None if test is None else test["direction"]
        exceptional = outside and (vs is None or vs == ("higher" if side == "high" else "lower"))
        total = sum(cs[i - 11:i + 1]) if i >= 11 else None
        lo95, hi95 = stats.exact_poisson_ci(total) if total is not None else (None, None)
        for k, v in (("month", ms[i]), ("count", c), ("phase", pid - first_shown_phase),
                     ("centre", row["centre"]), ("lower", row["lower"]), ("upper", row["upper"]),
                     ("outside_limits", outside), ("side", side),
                     ("last_year", None if test is None else cs[j]),
                     ("yoy_ratio", None if test is None else test["ratio"]),
                     ("yoy_p_value", None if test is None else test["p_value"]),
                     ("vs_last_year", vs), ("exceptional", exceptional),
                     ("seasonal", outside and not exceptional), ("shift_run", False),
                     ("rolling_12", total), ("rolling_12_lower", lo95), ("rolling_12_upper", hi95)):
            points[k].append(v)

    runs = _find_runs(cs, shown, phase_of, limits_at, run_length, alpha)
    run_words: dict[int, str] = {}
    for run in runs:
        if run["shift"]:
            what = (f"{run['side']} than a year before" if run["rule"] == "year_on_year"
                    else f"{run['side']} the average")
            for p in run["positions"]:
                points["shift_run"][p] = True
                run_words.setdefault(p, f"one of {run['months']} months in a row {what}: "
                                        "the level may have changed")
    for run in runs:
        run["start"], run["end"] = points["month"][run["positions"][0]], points["month"][run["positions"][-1]]
        del run["positions"]

    for p in range(len(shown)):
        points["signal"].append("; ".join(w for w in (_signal(points, p), run_words.get(p)) if w))
    phase_rows = [r | {"phase": k} for k, r in enumerate(phase_rows)]
    notes += _notes(phase_rows, points, runs, min_points, sparse_below, len(shown))
    latest = phase_rows[-1] if phase_rows else None
    sparse = bool(latest and latest["has_limits"] and latest["sparse"])
    return {"points": points, "phases": phase_rows, "runs": runs, "sparse": sparse,
            "recommend": "rolling_12" if sparse else "monthly",
            "too_short": not limits_at, "notes": notes, "note": " ".join(notes)}


# --------------------------------------------------------------------------------------------
# words

def _mon(d: dt.date) -> str:
    return d.strftime("%b %Y")


def _signal(points: dict, p: int) -> str:
    parts = []
    if points["outside_limits"][p]:
        where = "above the upper" if points["side"][p] == "high" else "below the lower"
        last = stats._add_months(points["month"][p], -12)
        vs = points["vs_last_year"][p]
        if vs is None:
            parts.append(f"{where[:1].upper()}{where[1:]} limit; not compared with {_mon(last)} "
                         "(not held, or before a level shift)")
        elif points["exceptional"][p]:
            parts.append(f"{where[:1].upper()}{where[1:]} limit and {vs} than {_mon(last)}: "
                         "exceptional")
        else:
            like = "similar to" if vs == "similar" else f"{vs} than"
            parts.append(f"{where[:1].upper()}{where[1:]} limit but {like} {_mon(last)}: "
                         "seasonal, not exceptional")
    return "; ".join(parts)


def _month_words(ms: list[dt.date]) -> str:
    return stats._month_list(ms)


def _notes(phases: list[dict], points: dict, runs: list[dict], min_points: int,
           sparse_below: float, n_shown: int) -> list[str]:
    notes = []
    if not any(r["has_limits"] for r in phases):
        notes.append(stats._short_note(n_shown, min_points))
    for r in phases[1:]:
        why = f": {r['reason']}" if r["reason"] else " (a level shift)"
        notes.append(f"The average and limits are recalculated from {_mon(r['start'])}{why}.")
    for r in phases:
        if not r["has_limits"] and len(phases) > 1:
            notes.append(f"The {r['months']} month{'' if r['months'] == 1 else 's'} from {_mon(r['start'])} are too few for "
                         f"control limits (at least {min_points} are needed), so only their "
                         "average is shown.")
    xmr = [r for r in phases if r["method"] == "xmr"]
    if xmr:
        with_limits = [r for r in phases if r["has_limits"]]
        when = ("" if len(xmr) == len(with_limits)
                else f" from {_month_words([r['start'] for r in xmr])}")
        notes.append(f"The counts{when} vary more from month to month than chance alone would "
                     "make them, so the limits come from the month-to-month variation (an XmR "
                     "chart) and are wider than Poisson limits.")
    for r in phases:
        if r["has_limits"] and r["sparse"]:
            span = "" if len(phases) == 1 else f" from {_mon(r['start'])}"
            fall = ("no fall can show (the lower limit is 0)" if r["lower"] == 0
                    else f"a month must fall below {r['lower']:.0f} to stand out")
            notes.append(f"These counts average {r['centre']:.1f} a month{span}, fewer than "
                         f"{sparse_below:g}: a month would need more than {r['upper']:.0f} to stand "
                         f"out and {fall}, so a monthly chart says little. Read the rolling "
                         "12-month total instead.")
    n = len(points["month"])
    exc = [p for p in range(n) if points["exceptional"][p]]
    if exc:
        words = ", ".join(f"{_mon(points['month'][p])} ({points['side'][p]})" for p in exc[:6])
        more = f" and {len(exc) - 6} more" if len(exc) > 6 else ""
        notes.append(f"Exceptional: {words}{more}: outside the limits and, where it could be "
                     "checked, unusual against the same month a year before.")
    seas = [points["month"][p] for p in range(n) if points["seasonal"][p]]
    if seas:
        verb = "was" if len(seas) == 1 else "were"
        notes.append(f"{_month_words(seas)} {verb} outside the limits but in line with the same "
                     "month a year before: seasonal, not exceptional.")
    unchecked = [points["month"][p] for p in range(n)
                 if points["outside_limits"][p] and points["vs_last_year"][p] is None]
    if unchecked:
        verb = "was" if len(unchecked) == 1 else "were"
        notes.append(f"{_month_words(unchecked)} {verb} not compared with the same month a year "
                     "before (not held, or before a level shift), so a seasonal high or low "
                     "cannot be ruled out.")
    shifts = False
    for run in runs:
        span = (f"{run['months']} months in a row from {_mon(run['start'])} to "
                f"{_mon(run['end'])} were")
        if run["rule"] == "year_on_year":
            if run["shift"]:
                shifts = True
                size = ("" if run["ratio"] is None else
                        f" ({abs(run['ratio'] - 1) * 100:.0f}% {run['side']} together)")
                notes.append(f"{span} each {run['side']} than the same month a year before"
                             f"{size}: the level may have changed.")
        elif not run["shift"]:
            notes.append(f"{span} {run['side']} the average, but in line with the same months a "
                         "year before, so not a shift in themselves.")
        else:
            shifts = True
            unchecked = ("" if run["vs_last_year"] is not None else
                         " (most could not be compared with a year before, so this may be seasonal)")
            notes.append(f"{span} {run['side']} the average{unchecked}: the level may have changed.")
    if shifts:
        notes.append("If a known change explains a shift (such as a change in recording), enter "
                     "it as a level shift so the average and limits are recalculated from then.")
    return notes
