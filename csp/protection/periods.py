"""The periods a protected total may cover.

Perturbation gives each cell a fixed noise, so asking for the same cell twice gains nothing. But
every *different* window of months is a different cell with its own noise: with free windows,
[a, X] minus [a, X-1] for many starting months a gives many independent noisy readings of month
X, and their average converges on its true value (tests/test_attacks.py measures it). So totals
over a period are offered for a fixed set of windows in which each month appears only a handful
of times: one month, a calendar quarter, a financial year (April to March), the latest 12 months,
the 12 before them, the latest 24 months, and everything held. Monthly series are cells, one per
month, and are not restricted.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

REFUSAL = ("Under the sharing agreement, totals over a period are given for one month, a "
           "calendar quarter, a financial year, the latest 12 or 24 months or the 12 before, or "
           "everything held: other windows could be subtracted from these to uncover protected "
           "figures.")
REFUSAL_12 = ("Under the sharing agreement, 12-month comparisons end with the latest month held "
              "or at the end of a financial year (March).")


def add_months(d: dt.date, n: int) -> dt.date:
    k = d.year * 12 + d.month - 1 + n
    return dt.date(k // 12, k % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    key: str  # stable id for URLs: latest12, previous12, latest24, all, fy2025, 2025q3, 2025-07
    label: str
    start: dt.date
    end: dt.date


def named_periods(first: dt.date, last: dt.date) -> list[Period]:
    """Every window a protected total may cover, for data held from ``first`` to ``last``,
    most useful first: the latest 12 and 24 months, the 12 before, whole financial years,
    calendar quarters (newest first), everything held; single months come last."""
    out = [Period("latest12", f"Latest 12 months ({_span(add_months(last, -11), last)})",
                  max(first, add_months(last, -11)), last)]
    if add_months(last, -23) >= first:
        out.append(Period("previous12", f"The 12 months before ({_span(add_months(last, -23), add_months(last, -12))})",
                          add_months(last, -23), add_months(last, -12)))
        out.append(Period("latest24", f"Latest 24 months ({_span(add_months(last, -23), last)})",
                          add_months(last, -23), last))
    fy = dt.date(last.year if last.month >= 4 else last.year - 1, 4, 1)
    while fy >= first:
        end = add_months(fy, 11)
        if end <= last:  # whole years only
            out.append(Period(f"fy{fy.year}", f"Financial year {fy.year}/{str(fy.year + 1)[2:]}", fy, end))
        fy = dt.date(fy.year - 1, 4, 1)
    q = dt.date(last.year, 3 * ((last.month - 1) // 3) + 1, 1)
    while q >= first:
        end = add_months(q, 2)
        if end <= last:
            out.append(Period(f"{q.year}q{(q.month - 1) // 3 + 1}",
                              f"{q.strftime('%b')}–{end.strftime('%b %Y')} (Q{(q.month - 1) // 3 + 1})", q, end))
        q = add_months(q, -3)
    out.append(Period("all", f"Everything held ({_span(first, last)})", first, last))
    m = last
    while m >= first:
        out.append(Period(m.strftime("%Y-%m"), m.strftime("%B %Y"), m, m))
        m = add_months(m, -1)
    return out


def key_words(key: str) -> str:
    """A period's URL key in words, without the data's dates (the audit trail keeps the key, not
    the months it meant then): 'latest24' -> 'latest 24 months', '2025q3' -> 'Jul–Sep 2025'."""
    fixed = {"latest12": "latest 12 months", "previous12": "the 12 months before the latest 12",
             "latest24": "latest 24 months", "all": "everything held"}
    k = str(key)
    if k in fixed:
        return fixed[k]
    if m := re.fullmatch(r"fy(\d{4})", k):
        y = int(m.group(1))
        return f"financial year {y}/{str(y + 1)[2:]}"
    if m := re.fullmatch(r"(\d{4})q([1-4])", k):
        q = dt.date(int(m.group(1)), 3 * int(m.group(2)) - 2, 1)
        return f"{q:%b}–{add_months(q, 2):%b %Y}"
    if m := re.fullmatch(r"(\d{4})-(0[1-9]|1[0-2])", k):
        return f"{dt.date(int(m.group(1)), int(m.group(2)), 1):%b %Y}"
    return k


def _span(a: dt.date, b: dt.date) -> str:
    return f"{a.strftime('%b %Y')} to {b.strftime('%b %Y')}"


def window_allowed(start: dt.date | None, end: dt.date | None, first: dt.date, last: dt.date) -> bool:
    """Is [start, end] (None = the first / last month held) one of the named periods?"""
    start = max(start or first, first)
    end = min(end or last, last)
    if end < start:
        return True  # nothing held in it: an empty answer reveals nothing
    if start == end or (start, end) == (first, last):
        return True
    if start.month % 3 == 1 and add_months(start, 2) == end:
        return True  # a calendar quarter
    if start.month == 4 and add_months(start, 11) == end:
        return True  # a financial year
    latest = (max(first, add_months(last, -11)), last)
    return (start, end) in {latest, (add_months(last, -23), add_months(last, -12)),
                            (add_months(last, -23), last)}


def end12_allowed(end: dt.date | None, first: dt.date, last: dt.date) -> bool:
    """A '12 months to' figure (and the 12 before) ending with the latest month held, or at the
    end of a financial year whose 12 months are all held."""
    if end is None or end == last:
        return True
    return end.month == 3 and end < last and add_months(end, -11) >= first


def held(datasets) -> tuple[dt.date, dt.date] | None:
    """The first and last month held across these datasets' published versions: the span the
    named periods are built from, the same for every user (never their scope's own months, so a
    window's definition reveals nothing and a link means the same period for everyone)."""
    from .. import store

    covs = [v.meta.get("coverage") for v in (store.current(d) for d in datasets)
            if v is not None and v.meta.get("coverage")]
    covs = [c for c in covs if c.get("first") and len(c["first"]) == 7]
    if not covs:
        return None
    first = min(dt.date.fromisoformat(c["first"] + "-01") for c in covs)
    last = max(dt.date.fromisoformat(c["last"] + "-01") for c in covs)
    return first, last
