"""The partnership's own area: the districts the CSP covers, set by an administrator (CLI and
Admin -> Partnership), kept in the app settings. It is the default area of every view, the
denominator and first comparator of every rate, and what maps draw; rows outside it are kept and
counted apart ("outside the partnership"). Unset, every district held counts as the partnership
(and the app says so to administrators)."""
from __future__ import annotations

import re

from . import settings

DISTRICTS = "partnership.districts"
NAME = "partnership.name"
COMPARATOR = "comparator.districts"  # a wider area to compare with (the force, the county)
COMPARATOR_NAME = "comparator.name"
DISTRICT_CODE = re.compile(r"^[EW](0[6-9]|[1-9]\d)\d{6}$")


class PartnershipError(ValueError):
    """The setting is not acceptable; the message says why."""


def districts() -> list[str] | None:
    value = settings.get(DISTRICTS)
    return list(value) if value else None


def name() -> str | None:
    return settings.get(NAME)


def comparator_districts() -> list[str] | None:
    value = settings.get(COMPARATOR)
    return list(value) if value else None


def comparator_name() -> str | None:
    return settings.get(COMPARATOR_NAME)


def set_area(codes: list[str], *, by: str, label: str | None = None, comparator: bool = False) -> None:
    """Set the partnership's districts (or, with ``comparator``, the wider comparator area's)."""
    codes = sorted({c.strip() for c in codes if c.strip()})
    if not codes:
        raise PartnershipError("Name at least one district (e.g. E07000138).")
    bad = [c for c in codes if not DISTRICT_CODE.match(c)]
    if bad:
        raise PartnershipError(f"Not district codes: {', '.join(bad[:5])} (E06/E07/E08/E09/W06 + 6 digits).")
    known = _known_districts()
    if known is not None:
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise PartnershipError(f"Not in the published geography: {', '.join(unknown[:5])}.")
    settings.set(COMPARATOR if comparator else DISTRICTS, codes, by=by)
    if label is not None:
        settings.set(COMPARATOR_NAME if comparator else NAME, label.strip() or None, by=by)


def _known_districts() -> dict[str, str] | None:
    """District code -> name from the published areas (None when nothing is published)."""
    from . import store

    v = store.current("areas")
    if v is None:
        return None
    cur = store.cursor()
    try:
        rows = cur.execute("SELECT area_code, area_name FROM read_parquet($f) WHERE area_level = 'district'",
                           {"f": v.files}).fetchall()
    finally:
        cur.close()
    return dict(rows)


def district_words() -> str:
    """The partnership's districts by name ('Lincoln'), or '' when no area is set."""
    known = _known_districts() or {}
    return ", ".join(known.get(c, c) for c in districts() or [])


def describe() -> str:
    """The partnership in words, for captions and the board pack: its name, or its districts."""
    codes = districts()
    if not codes:
        return "every district held (no partnership area is set)"
    known = _known_districts() or {}
    names = [known.get(c, c) for c in codes]
    label = name()
    return f"{label} ({', '.join(names)})" if label else ", ".join(names)


def _cmd(args) -> int:
    if args.action == "show":
        print(describe())
        return 0
    try:
        set_area(args.codes, by=args.by, label=args.name, comparator=args.action == "comparator")
    except PartnershipError as e:
        print(f"error: {e}")
        return 1
    print(f"The partnership is {describe()}; comparator area: "
          f"{comparator_name() or ', '.join(comparator_districts() or []) or 'none set'}.")
    return 0


def register_cli(sub) -> None:
    p = sub.add_parser("partnership", help="show or set the districts the partnership covers")
    p.add_argument("action", choices=["show", "set", "comparator"],
                   help="show; set the partnership's districts; set the comparator area's districts")
    p.add_argument("codes", nargs="*", help="district codes, e.g. E07000138")
    p.add_argument("--name", help="the partnership's name, e.g. 'Lincoln CSP'")
    p.add_argument("--by", default="cli", help="who is making the change (for the audit trail)")
    p.set_defaults(fn=_cmd)
