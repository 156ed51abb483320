"""Which areas a user may pick for a dataset, and what they are called.

Only areas at or above the geography the user's grant allows are offered (a district-level grant
is never offered a ward: picking one would match nothing and read as a false zero); names that
repeat are told apart ("Abbey (Lincoln)"); values are codes, so a link says exactly which area,
and an old link that names an area still resolves when the name is unambiguous."""
from __future__ import annotations

from dataclasses import dataclass

from . import access, partnership, queries

ALL = "all"


@dataclass(frozen=True)
class Choice:
    code: str | None  # None: the default (the partnership, or the user's own wards)
    label: str
    level: str  # default | all | district | ward


def choices(user: access.User | None, dataset: str) -> list[Choice]:
    g = access.grant(user, dataset)
    if g is None:
        return []
    try:
        areas = queries.run(user, "areas").frame
    except (access.AccessDenied, queries.QueryError):
        areas = None
    if user is not None and user.areas:
        out = [Choice(None, "Your wards" if len(user.areas) > 1 else "Your ward", "default")]
    else:
        # Short and led by what it is: a long partnership name was cut off in the filter box.
        where = partnership.district_words()
        out = [Choice(None, f"Whole partnership ({where})" if where else "Every district held", "default")]
        if partnership.districts():
            out.append(Choice(ALL, "All data held (with areas outside the partnership and no location)", "all"))
    if areas is None or areas.height == 0:
        return out
    districts = areas.filter(areas["area_level"] == "district")
    wards = areas.filter(areas["area_level"] == "ward")
    if not (user and user.areas) and districts.height > 1:
        out += [Choice(r["area_code"], r["label"], "district") for r in districts.iter_rows(named=True)]
    if g.geography in ("lsoa", "ward") and not (user and user.areas and len(user.areas) == 1):
        out += [Choice(r["area_code"], r["label"], "ward") for r in wards.iter_rows(named=True)]
    return out


def resolve(value: str | None, options: list[Choice]) -> str | None:
    """A URL's area value as one of the options' codes: a code, or a label or plain name that
    names exactly one option (links made when names were in the URL). Anything else: default."""
    if not value:
        return None
    by_code = {o.code: o for o in options if o.code}
    if value in by_code:
        return value
    named = [o.code for o in options if o.code and (o.label == value or o.label.split(" (")[0] == value)]
    return named[0] if len(named) == 1 else None
