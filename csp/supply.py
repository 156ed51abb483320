"""Data supply: what each partner owes, by when, and what arrived when.

The Crime and Disorder (Prescribed Information) Regulations 2007 require prescribed information to
be shared quarterly, by the end of the following quarter. Each dataset's contract
(config/datasets.toml) carries its rule as data, with defaults, so a new dataset is tracked with
no code::

    supply = { cadence = "quarterly", due_within_months = 3, from = "2024 Q1" }

- ``cadence``: monthly, quarterly or annual (default: the contract's ``update_frequency``).
- ``due_within_months``: a period is due by the last day of the month this many months after its
  last month (default: monthly 1, quarterly 3 (the regulations), annual 12). 0 = by the end of
  the period itself.
- ``from``: the first period the sharing agreement covers; every period from it is judged and
  earlier ones are shown as "not tracked". Without it, judging starts with the dataset's first
  upload: periods that upload brought which were already due are "first load" (history, neither
  on time nor late); gaps and everything later are judged.
- ``tracked = false``: not a periodic supply. Datasets with no period field are never tracked.

What arrived when comes from the store alone: each version's periods (``meta.periods``; the
coverage range for versions published before periods were recorded) and publication time, and
the rollbacks in the dataset's history. A period counts as supplied from the moment the served
data began to hold it without a break: a rollback that drops it withdraws it (due and withdrawn
is missing) and a later upload supplies it again.

Every function takes ``today`` (a date, UTC) so results are deterministic: changes after that day
are ignored, and a period is due once ``today`` is after its due date.
"""
from __future__ import annotations

import calendar
import datetime as dt
import os
import re
from dataclasses import dataclass, field

from . import access, catalog, config, store

STEP_MONTHS = {"monthly": 1, "quarterly": 3, "annual": 12}
DEFAULT_DUE_WITHIN = {"monthly": 1, "quarterly": 3, "annual": 12}
MAX_DUE_WITHIN = 60

ON_TIME, LATE, MISSING, NOT_YET_DUE = "on time", "late", "missing", "not yet due"
FIRST_LOAD, NOT_TRACKED = "first load", "not tracked"
STATUSES = (MISSING, LATE, ON_TIME, FIRST_LOAD, NOT_YET_DUE, NOT_TRACKED)  # worst first
MEANING = {
    ON_TIME: "supplied by its due date",
    LATE: "supplied after its due date",
    MISSING: "due and not held",
    NOT_YET_DUE: "its due date has not passed",
    FIRST_LOAD: "already due when the dataset's first upload brought it; not judged",
    NOT_TRACKED: "before the period the agreement starts from, or not a periodic supply",
}

# Status colours from the colour-blind-safe Okabe-Ito set (csp.ui.common.PALETTE), always shown
# with the status in words; dark text reads on each (contrast 5:1 or more).
STATUS_COLOURS = {ON_TIME: "#009E73", LATE: "#E69F00", MISSING: "#D55E00", NOT_YET_DUE: "#56B4E9"}


class SupplyRuleError(ValueError):
    """A contract's supply rule cannot be read; the message says which and why."""


# ---- periods ----------------------------------------------------------------------------------
# A period is the index of its first month (year * 12 + month - 1) on a grid of ``step`` months.

def month_index(d: dt.date) -> int:
    return d.year * 12 + d.month - 1


def month_date(i: int) -> dt.date:
    return dt.date(i // 12, i % 12 + 1, 1)


_YM = re.compile(r"^(\d{4})-(\d{2})(?:-\d{2})?(?:[ T].*)?$")
_Q = re.compile(r"^(\d{4}) ?Q([1-4])$", re.I)
_FY = re.compile(r"^(\d{4})/(\d{2}|\d{4})$")
_Y = re.compile(r"^(\d{4})$")


def parse_period(text: str) -> int | None:
    """The first month of a period as stored or written: 2024-05 (or a date), 2024 Q2, 2017/18
    (a financial year, from April) or 2024. None when it is none of these."""
    s = str(text).strip()
    if m := _YM.match(s):
        month = int(m.group(2))
        return int(m.group(1)) * 12 + month - 1 if 1 <= month <= 12 else None
    if m := _Q.match(s):
        return int(m.group(1)) * 12 + (int(m.group(2)) - 1) * 3
    if m := _FY.match(s):
        return int(m.group(1)) * 12 + 3
    if m := _Y.match(s):
        return int(m.group(1)) * 12
    return None


def period_label(start: int, step: int) -> str:
    """A period as its publisher names it: 2024-05, 2024 Q2, 2024, or 2017/18 for a year from April."""
    y, m = divmod(start, 12)
    if step == 3 and m % 3 == 0:
        return f"{y} Q{m // 3 + 1}"
    if step == 12 and m == 0:
        return f"{y}"
    if step == 12 and m == 3:
        return f"{y}/{(y + 1) % 100:02d}"
    return f"{y:04d}-{m + 1:02d}"


def period_words(text) -> str:
    """A period as a person reads it: a month 'May 2024' (not '2024-05'), a quarter as its months
    ('Jul–Sep 2026'); financial years and years as their publishers name them; anything
    unreadable as it is."""
    s = str(text).strip()
    i = parse_period(s)
    if i is not None and _Q.match(s):
        # A quarter as the months it spans, as months are written beside it ('Jul–Sep 2026'),
        # so no sentence reads 'Sep 2026' beside '2026 Q4'.
        return f"{month_date(i):%b}–{month_date(i + 2):%b %Y}"
    if i is None or not _YM.match(s):
        return s
    return f"{month_date(i):%b %Y}"


def held_words(first, last, grain_months: int = 1) -> str:
    """What a dataset covers, in the months its periods span: 'Oct 2022 to Sep 2026'; quarterly
    data (each quarter dated by its first month) 'Jan–Mar 2021 to Oct–Dec 2024', so the last
    quarter is not read as its first month. Unreadable input comes back as it is."""
    a, b = parse_period(str(first)), parse_period(str(last))
    if a is None or b is None:
        return f"{first} to {last}"
    if not (_YM.match(str(first).strip()) and _YM.match(str(last).strip())):
        # Periods written as their publisher names them (financial years '2018/19', quarters
        # '2024 Q2'): each in words, never taken for its first month ('Apr 2025' for 2025/26).
        return f"{period_words(first)} to {period_words(last)}"
    if grain_months == 3:
        return " to ".join(f"{month_date(i):%b}–{month_date(i + 2):%b %Y}" for i in (a, b))
    return f"{month_date(a):%b %Y} to {month_date(b + max(grain_months, 1) - 1):%b %Y}"


def runs_words(starts: list[int], step: int) -> list[str]:
    """Consecutive periods (their first months, as month numbers) as runs a person reads:
    'Jan 2021 to Mar 2021 (3 months)', 'Jun 2022', 'Apr–Jun 2022 to Oct–Dec 2022 (3 quarters)'."""
    out: list[list[int]] = []
    for i in sorted(starts):
        if out and i - out[-1][-1] == step:
            out[-1].append(i)
        else:
            out.append([i])
    unit = {1: "months", 3: "quarters", 12: "years"}.get(step, "periods")
    name = lambda i: period_words(period_label(i, step))  # noqa: E731
    return [name(r[0]) if len(r) == 1 else f"{name(r[0])} to {name(r[-1])} ({len(r)} {unit})" for r in out]


def due_date(start: int, step: int, due_within: int) -> dt.date:
    """The last day a period may arrive on time: the end of the month ``due_within`` months after
    the period's last month (a quarter with 3: the end of the following quarter)."""
    last = start + step - 1 + due_within
    y, m = divmod(last, 12)
    return dt.date(y, m + 1, calendar.monthrange(y, m + 1)[1])


# ---- the rule -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    dataset: str
    cadence: str  # monthly | quarterly | annual
    step: int  # months per period
    due_within: int  # months after the period's last month
    start: int | None  # first period judged (``from``); None = from the first upload
    tracked: bool
    why_not: str = ""  # when not tracked

    def due(self, start: int) -> dt.date:
        return due_date(start, self.step, self.due_within)

    @property
    def short(self) -> str:
        """When a period is due, briefly: 'end of next quarter', '21 months after'."""
        if not self.tracked:
            return ""
        unit = {1: "month", 3: "quarter", 12: "year"}[self.step]
        if self.due_within == 0:
            return f"end of the {unit}"
        if self.due_within == self.step:
            return f"end of next {unit}"
        return f"{self.due_within} month{'s' if self.due_within != 1 else ''} after"

    @property
    def text(self) -> str:
        """The rule in words, for pages and the board pack."""
        if not self.tracked:
            return self.why_not
        unit = {1: "month", 3: "quarter", 12: "year"}[self.step]
        if self.due_within == 0:
            when = f"by the end of the {unit}"
        elif self.due_within == self.step:
            when = f"by the end of the following {unit}"
        else:
            when = f"within {self.due_within} month{'s' if self.due_within != 1 else ''} of the {unit}'s end"
        since = f", from {period_label(self.start, self.step)}" if self.start is not None else ""
        return f"{self.cadence}: each {unit} due {when}{since}"


def rule(dataset: str) -> Rule:
    """The supply rule of a dataset, from its contract with the defaults above."""
    c = catalog.contract(dataset)
    spec = c.supply if c.supply is not None else {}
    if isinstance(spec, bool):
        spec = {"tracked": spec}
    if not isinstance(spec, dict):
        raise SupplyRuleError(f"dataset {dataset}: supply must be a table, e.g. supply = {{ due_within_months = 3 }}")
    unknown = set(spec) - {"cadence", "due_within_months", "from", "tracked"}
    if unknown:
        raise SupplyRuleError(f"dataset {dataset}: supply has unknown keys {', '.join(sorted(unknown))} "
                              "(allowed: cadence, due_within_months, from, tracked)")
    cadence = spec.get("cadence", c.update_frequency)
    if cadence not in STEP_MONTHS:
        raise SupplyRuleError(f"dataset {dataset}: supply cadence must be monthly, quarterly or annual, not {cadence!r}")
    within = spec.get("due_within_months", DEFAULT_DUE_WITHIN[cadence])
    if isinstance(within, bool) or not isinstance(within, int) or not 0 <= within <= MAX_DUE_WITHIN:
        raise SupplyRuleError(f"dataset {dataset}: supply due_within_months must be a whole number "
                              f"from 0 to {MAX_DUE_WITHIN}, not {within!r}")
    start = None
    if "from" in spec:
        start = parse_period(spec["from"])
        if start is None:
            raise SupplyRuleError(f"dataset {dataset}: supply from must be a period such as 2024-04, "
                                  f"2024 Q2, 2024 or 2024/25, not {spec['from']!r}")
    tracked, why = spec.get("tracked", True), ""
    if not isinstance(tracked, bool):
        raise SupplyRuleError(f"dataset {dataset}: supply tracked must be true or false")
    if not tracked:
        why = "not a periodic supply"
    elif not c.period_field:
        tracked, why = False, "reference data: no periods to supply"
    return Rule(dataset, cadence, STEP_MONTHS[cadence], within, start, tracked, why)


def latest_due(r: Rule, today: dt.date, anchor: int | None = None) -> int:
    """The latest period on the grid (through ``anchor``, else calendar-aligned) that is due by
    ``today``: its due date is before today."""
    anchor = r.start if anchor is None else anchor
    offset = (anchor % r.step) if anchor is not None else 0
    # The latest period whose due date has passed: its last month + due_within < today's month.
    last_month = month_index(today) - 1 - r.due_within - (r.step - 1)
    return last_month - ((last_month - offset) % r.step)


# ---- what was served when -------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    """One change in what is served: a version published, or a rollback to an earlier one."""
    at: dt.datetime
    action: str  # publish | rollback
    version: str | None
    periods: frozenset[int] | None  # what the version holds; None = not known (deleted)
    by: str = ""
    revised: frozenset[int] = frozenset()  # periods a publish replaced (uploads record them)
    note: str = ""


@dataclass(frozen=True)
class Event:
    """Something that happened to one period: supplied, supplied again, revised, withdrawn."""
    at: dt.datetime
    what: str
    version: str | None
    by: str = ""
    note: str = ""


@dataclass(frozen=True)
class PeriodStatus:
    start: int
    label: str
    due: dt.date
    status: str
    supplied_at: dt.datetime | None  # when the held data began to be served (None: not held)
    version: str | None  # the version that brought it (this stretch)
    days_late: int | None
    events: tuple[Event, ...] = ()

    @property
    def end_words(self) -> str:
        """The period's last month ('held to Dec 2024', not 'to Oct–Dec 2024')."""
        if _YM.match(self.label) or _Q.match(self.label):
            return f"{month_date(self.start + (3 if _Q.match(self.label) else 1) - 1):%b %Y}"
        return self.words

    @property
    def words(self) -> str:
        """The period as a person reads it ('Sep 2026', 'Apr–Jun 2024')."""
        return period_words(self.label)

    @property
    def history_text(self) -> str:
        from .store import version_words

        return "; ".join(f"{e.what} {e.at:%d %b %Y}" + (f" ({version_words(e.version)})" if e.version else "")
                         + (f", {e.note}" if e.note else "") for e in self.events)


def _on_grid(r: Rule, text) -> int | None:
    """The rule's period holding a period as held (None when unreadable). Monthly data supplied
    quarterly (fires, council ASB) is judged by the quarter, so a month counts towards its
    quarter (calendar quarters and years, or the grid through the rule's ``from``); quarters,
    years and financial years are periods already."""
    p = parse_period(str(text))
    if p is None or r.step == 1 or not _YM.match(str(text).strip()):
        return p
    offset = r.start % r.step if r.start is not None else 0
    return p - ((p - offset) % r.step)


def _periods_of(meta: dict, r: Rule) -> frozenset[int] | None:
    held = meta.get("periods")
    if held is not None:
        return frozenset(p for p in (_on_grid(r, x) for x in held) if p is not None)
    cov = meta.get("coverage") or {}
    first, last = _on_grid(r, cov.get("first") or ""), _on_grid(r, cov.get("last") or "")
    if first is None or last is None:
        return frozenset()
    # Versions published before periods were recorded: the range, assumed without gaps.
    return frozenset(range(first, last + 1, r.step))


def _at(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)


def changes(dataset: str, r: Rule | None = None) -> tuple[list[Change], list[str]]:
    """What the dataset served, and from when, oldest first, from its versions and history; with
    notes on anything that could not be known exactly."""
    r = r or rule(dataset)
    versions = store.versions(dataset)
    by_id = {v.version: v for v in versions}
    notes: list[str] = []
    out: list[tuple] = []
    for i, v in enumerate(versions):
        at = _at(v.meta.get("published_at"))
        if at is None:
            continue
        revised = frozenset(p for p in (_on_grid(r, x) for x in (v.meta.get("validation") or {}).get("periods", []))
                            if p is not None)
        out.append((at, 0, i, Change(at, "publish", v.version, _periods_of(v.meta, r),
                                     v.meta.get("published_by", ""), revised)))
    for j, e in enumerate(store.history(dataset)):
        if e.get("event") != "rollback" or _at(e.get("at")) is None:
            continue
        to = e.get("to")
        target = by_id.get(to)
        out.append((_at(e["at"]), 1, j, Change(
            _at(e["at"]), "rollback", to, _periods_of(target.meta, r) if target else None, e.get("by", ""),
            note=f"rolled back from {e.get('from')} to {to}" + ("" if target else " (since deleted)"))))
    ordered = [c for *_, c in sorted(out, key=lambda t: t[:3])]
    current = store.current_version_id(dataset)
    served = next((c.version for c in reversed(ordered)), None)
    if ordered and current and served != current:
        # Rolled back without going through csp.upload (which records it): the time is not known;
        # the latest known change is the earliest it can have been.
        target = by_id.get(current)
        ordered.append(Change(ordered[-1].at, "rollback", current, _periods_of(target.meta, r) if target else None,
                              note=f"serving {current} since a change not in the history"))
        notes.append(f"{current} is served since a rollback the history does not record; its time is not known.")
    if versions and versions[0].version != "v000001":
        notes.append(f"Versions before {versions[0].version} were deleted under the retention policy: periods "
                     f"first held in {versions[0].version} are treated as its first load.")
    return ordered, notes


# ---- judging the periods --------------------------------------------------------------------------

def assess(r: Rule, history: list[Change], today: dt.date, *, first_load_exempt: bool = False) -> list[PeriodStatus]:
    """Every period's status as at ``today`` (oldest first), from what was served when. Pure."""
    history = [c for c in history if c.at.date() <= today]
    served: frozenset[int] = frozenset()
    ever: dict[int, list[Event]] = {}
    since: dict[int, Change] = {}
    for c in history:
        new = served if c.periods is None else c.periods
        for p in sorted(new - served):
            what = "supplied again" if p in ever else "supplied"
            ever.setdefault(p, []).append(Event(c.at, what, c.version, c.by, c.note))
            since[p] = c
        for p in sorted(served - new):
            ever[p].append(Event(c.at, "withdrawn", c.version, c.by, c.note or "no longer in the served data"))
            since.pop(p, None)
        for p in sorted((new & served) & c.revised):
            ever[p].append(Event(c.at, "revised", c.version, c.by, c.note))
        served = new

    anchor = r.start if r.start is not None else (min(ever) if ever else None)
    last_due = latest_due(r, today, anchor)
    first = r.start if r.start is not None else (min(ever) if ever else last_due)
    wanted = set(ever) | set(range(first, last_due + 1, r.step))
    # What is owed next: the period after the latest one due, or after the latest held if that
    # arrived early.
    wanted.add(max([last_due] + [p for p in ever if (p - last_due) % r.step == 0]) + r.step)
    first_change = history[0] if history else None
    exempt_first = r.start is None or first_load_exempt

    out = []
    for p in sorted(wanted):
        due = r.due(p)
        held = p in served
        c = since.get(p) if held else None
        late = (c.at.date() - due).days if c is not None and c.at.date() > due else None
        if r.start is not None and p < r.start:
            status = NOT_TRACKED
        elif held and exempt_first and c is first_change and c.at.date() > due:
            status = FIRST_LOAD
        elif held:
            status = LATE if late else ON_TIME
        elif today > due:
            status = MISSING
        else:
            status = NOT_YET_DUE
        out.append(PeriodStatus(p, period_label(p, r.step), due, status, c.at if c else None,
                                c.version if c else None, late if status == LATE else None,
                                tuple(ever.get(p, ()))))
    return out


# ---- per dataset ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Supply:
    dataset: str
    title: str
    owner: str
    rule: Rule
    today: dt.date
    periods: tuple[PeriodStatus, ...] = ()
    version: str | None = None  # serving now
    as_at: dt.datetime | None = None  # when the serving version was published
    status: str = NOT_TRACKED
    notes: tuple[str, ...] = field(default=())

    @property
    def tracked(self) -> bool:
        return self.rule.tracked

    def _held(self) -> list[PeriodStatus]:
        return [p for p in self.periods if p.supplied_at is not None]

    @property
    def last_period(self) -> PeriodStatus | None:
        """The latest period held (the last period supplied)."""
        held = self._held()
        return held[-1] if held else None

    @property
    def missing(self) -> list[PeriodStatus]:
        return [p for p in self.periods if p.status == MISSING]

    @property
    def late(self) -> list[PeriodStatus]:
        return [p for p in self.periods if p.status == LATE]

    @property
    def next_due(self) -> PeriodStatus | None:
        """The earliest period not yet due and not held: what is owed next."""
        return next((p for p in self.periods if p.status == NOT_YET_DUE), None)

    @property
    def missing_runs(self) -> list[str]:
        """Consecutive missing periods as one run ("Mar 2023 to Dec 2023 (10 months)"), not a
        wall of labels."""
        return runs_words([p.start for p in self.missing], self.rule.step)

    @property
    def sentence(self) -> str:
        """The dataset's supply in one plain sentence."""
        if not self.tracked:
            when = f"; last published {self.as_at:%d %b %Y}" if self.as_at else "; nothing published yet"
            return f"Not tracked ({self.rule.why_not}){when}."
        parts = []
        last = self.last_period
        if last is None:
            parts.append("Nothing supplied yet")
        else:
            parts.append(f"Last period supplied {last.words}, on {last.supplied_at:%d %b %Y}")
        m = self.missing
        if len(m) == 1:
            parts.append(f"{m[0].words} missing (due by {m[0].due:%d %b %Y})")
        elif m:
            runs = self.missing_runs
            named = ", ".join(runs[:4]) + (f" and {len(runs) - 4} more" if len(runs) > 4 else "")
            parts.append(f"{len(m)} periods missing: {named} (the first was due by {m[0].due:%d %b %Y})")
        elif self.status == LATE:
            due = [p for p in self.periods if p.due < self.today and p.status in (ON_TIME, LATE, FIRST_LOAD)][-1]
            parts.append(f"{due.words} arrived {due.days_late} day{'s' if due.days_late != 1 else ''} late")
        nxt = self.next_due
        if nxt is not None:
            parts.append(f"next due: {nxt.words} by {nxt.due:%d %b %Y}")
        return "; ".join(parts) + "."


def dataset_supply(dataset: str, today: dt.date | None = None) -> Supply:
    """The supply of one dataset as at ``today`` (default: today, UTC). Metadata only: no record
    is read. Remembered until the dataset's versions, history or pointer change."""
    today = today or utc_today()
    c = catalog.contract(dataset)
    try:
        r = rule(dataset)
    except SupplyRuleError as e:
        # One contract's bad rule must not take the page (or a dashboard's note) down: that
        # dataset is shown as not tracked, with the reason.
        r = Rule(dataset, c.update_frequency, STEP_MONTHS.get(c.update_frequency, 1), 0, None, False,
                 f"supply rule not readable: {e}")
    key = (dataset, today, r, _fingerprint(dataset))
    hit = _memo.get(key)
    if hit is not None:
        return hit
    versions = {v.version: v for v in store.versions(dataset)}
    if not r.tracked:
        cur = store.current(dataset)
        as_at = _at(cur.meta.get("published_at")) if cur else None
        if as_at is not None and as_at.date() > today:
            cur, as_at = None, None  # published after the day asked about
        out = Supply(dataset, c.title, c.owner, r, today, version=cur.version if cur else None, as_at=as_at)
    else:
        hist, notes = changes(dataset, r)
        purged = bool(versions) and "v000001" not in versions
        periods = assess(r, hist, today, first_load_exempt=purged)
        shown = [h for h in hist if h.at.date() <= today]
        version = shown[-1].version if shown else None
        v = versions.get(version) if version else None
        as_at = _at(v.meta.get("published_at")) if v else None
        out = Supply(dataset, c.title, c.owner, r, today, tuple(periods), version, as_at,
                     _overall(periods, today), tuple(notes))
    if len(_memo) > 512:
        _memo.clear()
    _memo[key] = out
    return out


def _overall(periods: list[PeriodStatus], today: dt.date) -> str:
    """One word for a dataset: missing if anything due is not held; else late if the latest period
    due arrived late; on time if it arrived in time (or with the first load); else not yet due."""
    if any(p.status == MISSING for p in periods):
        return MISSING
    due = [p for p in periods if p.due < today and p.status in (ON_TIME, LATE, FIRST_LOAD)]
    if not due:
        return NOT_YET_DUE
    return LATE if due[-1].status == LATE else ON_TIME


_memo: dict = {}


def _fingerprint(dataset: str) -> tuple:
    """What changes when anything the answer depends on does: the versions folder (a version
    added or deleted), the history log (a rollback) and the serving pointer."""
    d = config.data_dir() / "datasets" / dataset
    out = []
    for p in (d / "versions", d / "history.jsonl"):
        try:
            st = os.stat(p)
            out.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except FileNotFoundError:
            out.append(None)
    out.append(store.current_version_id(dataset))
    out.append(str(config.data_dir()))
    return tuple(out)


def utc_today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def all_supply(today: dt.date | None = None) -> list[Supply]:
    """Every declared dataset (cubes are part of their parent), tracked ones first, by owner."""
    today = today or utc_today()
    out = [dataset_supply(d, today) for d in catalog.contracts()]
    return sorted(out, key=lambda s: (not s.tracked, s.owner, s.title))


def due_from(partner: str, today: dt.date | None = None) -> list[Supply]:
    """The tracked datasets a partner owns: what is due from them."""
    return [s for s in all_supply(today) if s.owner == partner and s.tracked]


def table_rows(supplies: list[Supply]) -> list[dict]:
    """One row per dataset, in words: for the page, the board pack and the provenance note."""
    rows = []
    for s in supplies:
        last = s.last_period
        nxt = s.next_due
        rows.append({
            "partner": access.partner_name(s.owner),
            "dataset": s.title,
            "cadence": s.rule.cadence,
            "rule": s.rule.text,
            "due": s.rule.short,
            "last_period": last.words if last else "",
            "supplied_on": f"{last.supplied_at:%d %b %Y}" if last else "",
            "as_at": f"{s.as_at:%d %b %Y}" if s.as_at else "",
            "status": s.status,
            "missing": ", ".join(s.missing_runs),
            "late": len(s.late),
            "next_due": f"{nxt.words} by {nxt.due:%d %b %Y}" if nxt else "",
        })
    return rows


def history_rows(s: Supply) -> list[dict]:
    """Every period of a dataset, newest first, with when it arrived and what happened to it."""
    return [{
        "period": p.words, "due_by": f"{p.due:%d %b %Y}", "status": p.status,
        "supplied_on": f"{p.supplied_at:%d %b %Y %H:%M}" if p.supplied_at else "",
        "version": store.version_words(p.version), "days_late": "" if p.days_late is None else str(p.days_late),
        "history": p.history_text,
    } for p in reversed(s.periods)]
