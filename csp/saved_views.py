"""Saved Explore views, who may see them, what each user pinned to "My dashboard", and how they
left it. Kept in the app state database; saves, changes and deletes are audited.

A saved view is a spec (csp.explore.Spec, stored as its URL parameters), never figures: whoever
opens it runs it as themselves, through their own grant, so sharing a view shares the question,
not the answer. A view shared with someone whose grant does not cover it (or no longer does)
shows them a plain refusal.

Sharing: ``private`` (the owner only), ``partner`` (everyone of the owner's partner when it was
saved), ``partnership`` (every user of the app). Pins are per user (anyone may pin a view they can
see), with an order. Stored through csp.state, so SQLite or PostgreSQL (schema: migration 3).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from . import access, explore, state

SHARING = ("private", "partner", "partnership")
MAX_NAME = 80
MAX_VIEWS = 200  # per owner: bounded storage whatever a client sends
MAX_LAYOUT_BYTES = 16_384

_COLUMNS = "id, owner, partner, name, dataset, spec, sharing, created_at, updated_at"


class ViewError(ValueError):
    """The view cannot be saved, found or changed; the message is safe to show."""


NOT_FOUND = "This view does not exist or is not shared with you."


@dataclass(frozen=True)
class SavedView:
    id: int
    owner: str
    partner: str
    name: str
    dataset: str
    params: dict  # the spec as URL parameters (csp.explore.Spec.to_params)
    sharing: str
    created_at: str
    updated_at: str

    def spec(self) -> explore.Spec:
        """The spec (SpecError if it no longer reads, e.g. the contract changed)."""
        return explore.Spec.from_params(self.params)

    def mine(self, user: access.User | None) -> bool:
        return user is not None and user.username == self.owner


@dataclass(frozen=True)
class Pin:
    view_id: int
    position: int
    view: SavedView | None  # None: deleted, or no longer shared with this user


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _row(r) -> SavedView:
    try:
        params = json.loads(r[5])
    except ValueError:
        params = {}
    return SavedView(int(r[0]), r[1], r[2], r[3], r[4], params if isinstance(params, dict) else {},
                     r[6], r[7], r[8])


def _name(name: str) -> str:
    name = " ".join(str(name or "").split())
    if not name:
        raise ViewError("Give the view a name.")
    if len(name) > MAX_NAME or any(ord(ch) < 32 or 0x7f <= ord(ch) < 0xa0 for ch in name):
        raise ViewError(f"A view's name is at most {MAX_NAME} characters of plain text.")
    return name


def _sharing(sharing: str) -> str:
    if sharing not in SHARING:
        raise ViewError("Share a view with nobody, your partner or the whole partnership.")
    return sharing


def _user(user: access.User | None) -> access.User:
    if user is None:
        raise ViewError("Log in to keep views.")
    return user


def _audit(user: access.User, action: str, view: SavedView) -> None:
    from . import audit

    audit.record(user.username, action, target=f"saved view {view.id}",
                 details={"name": view.name, "dataset": view.dataset, "sharing": view.sharing,
                          "spec": view.params},
                 data_owner=audit.owners_of([view.dataset]))


def save(user: access.User | None, name: str, spec: explore.Spec, sharing: str = "private") -> SavedView:
    """Save a view the user can see now (checked as them), under a name; a view of theirs with
    the same name is replaced. Audited."""
    user = _user(user)
    name, sharing = _name(name), _sharing(sharing)
    explore.plan(user, spec)  # AccessDenied / SpecError: nothing saved
    text = spec.to_json()
    now = _now()
    with state.connect() as con:
        old = con.execute(f"SELECT {_COLUMNS} FROM saved_views WHERE owner = ? AND name = ?",
                          (user.username, name)).fetchone()
        if old is not None:
            con.execute("UPDATE saved_views SET dataset = ?, spec = ?, sharing = ?, partner = ?, updated_at = ? "
                        "WHERE id = ?", (spec.dataset, text, sharing, user.partner, now, old[0]))
            view_id, action = int(old[0]), "view_update"
        else:
            (count,) = con.execute("SELECT count(*) FROM saved_views WHERE owner = ?", (user.username,)).fetchone()
            if count >= MAX_VIEWS:
                raise ViewError(f"You have {MAX_VIEWS} saved views: delete some first.")
            row = con.execute(
                "INSERT INTO saved_views (owner, partner, name, dataset, spec, sharing, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (user.username, user.partner, name, spec.dataset, text, sharing, now, now)).fetchone()
            view_id, action = int(row[0]), "view_save"
        view = _row(con.execute(f"SELECT {_COLUMNS} FROM saved_views WHERE id = ?", (view_id,)).fetchone())
    _audit(user, action, view)
    return view


def update(view_id: int, user: access.User | None, *, name: str | None = None,
           sharing: str | None = None) -> SavedView:
    """Rename a view of one's own or change whom it is shared with. Audited."""
    user = _user(user)
    view = _own(view_id, user)
    name = _name(name) if name is not None else view.name
    sharing = _sharing(sharing) if sharing is not None else view.sharing
    with state.connect() as con:
        clash = con.execute("SELECT id FROM saved_views WHERE owner = ? AND name = ? AND id <> ?",
                            (user.username, name, view.id)).fetchone()
        if clash:
            raise ViewError("You already have a view with that name.")
        con.execute("UPDATE saved_views SET name = ?, sharing = ?, partner = ?, updated_at = ? WHERE id = ?",
                    (name, sharing, user.partner, _now(), view.id))
        view = _row(con.execute(f"SELECT {_COLUMNS} FROM saved_views WHERE id = ?", (view.id,)).fetchone())
    _audit(user, "view_update", view)
    return view


def _visible_where() -> str:
    return "(owner = ? OR sharing = 'partnership' OR (sharing = 'partner' AND partner = ?))"


def list_visible(user: access.User | None) -> list[SavedView]:
    """The user's own views, then those shared with them, each by name."""
    if user is None:
        return []
    with state.connect() as con:
        rows = con.execute(
            f"SELECT {_COLUMNS} FROM saved_views WHERE {_visible_where()} "
            "ORDER BY CASE WHEN owner = ? THEN 0 ELSE 1 END, lower(name), id",
            (user.username, user.partner, user.username)).fetchall()
    return [_row(r) for r in rows]


def get(view_id, user: access.User | None) -> SavedView:
    """One view the user may see (ViewError with one message for missing and not shared, so
    nobody learns which views exist)."""
    if user is None:
        raise ViewError(NOT_FOUND)
    vid = _id(view_id)
    with state.connect() as con:
        r = con.execute(f"SELECT {_COLUMNS} FROM saved_views WHERE id = ? AND {_visible_where()}",
                        (vid, user.username, user.partner)).fetchone()
    if r is None:
        raise ViewError(NOT_FOUND)
    return _row(r)


def _id(view_id) -> int:
    try:
        vid = int(view_id)
    except (TypeError, ValueError):
        raise ViewError(NOT_FOUND) from None
    if not 0 < vid < 2**62:
        raise ViewError(NOT_FOUND)
    return vid


def _own(view_id, user: access.User) -> SavedView:
    view = get(view_id, user)
    if not view.mine(user):
        raise ViewError("Only the person who saved a view can change or delete it.")
    return view


def delete(view_id, user: access.User | None) -> None:
    """Delete a view of one's own (and every pin of it). Audited."""
    user = _user(user)
    view = _own(view_id, user)
    with state.connect() as con:
        con.execute("DELETE FROM saved_view_pins WHERE view_id = ?", (view.id,))
        con.execute("DELETE FROM saved_views WHERE id = ?", (view.id,))
    _audit(user, "view_delete", view)


def pin(view_id, user: access.User | None) -> None:
    """Pin a view the user may see to their dashboard (last); pinning twice changes nothing."""
    user = _user(user)
    view = get(view_id, user)
    with state.connect() as con:
        (last,) = con.execute("SELECT coalesce(max(position), 0) FROM saved_view_pins WHERE username = ?",
                              (user.username,)).fetchone()
        con.execute("INSERT INTO saved_view_pins (username, view_id, position) VALUES (?, ?, ?) "
                    "ON CONFLICT (username, view_id) DO NOTHING", (user.username, view.id, last + 1))


def unpin(view_id, user: access.User | None) -> None:
    user = _user(user)
    with state.connect() as con:
        con.execute("DELETE FROM saved_view_pins WHERE username = ? AND view_id = ?",
                    (user.username, _id(view_id)))


def move(view_id, user: access.User | None, offset: int) -> None:
    """Move a pinned view up (offset -1) or down (+1) the dashboard."""
    user = _user(user)
    vid = _id(view_id)
    with state.connect() as con:
        order = [r[0] for r in con.execute(
            "SELECT view_id FROM saved_view_pins WHERE username = ? ORDER BY position, view_id",
            (user.username,))]
        if vid not in order:
            return
        i = order.index(vid)
        j = max(0, min(len(order) - 1, i + int(offset)))
        order.insert(j, order.pop(i))
        for k, v in enumerate(order):
            con.execute("UPDATE saved_view_pins SET position = ? WHERE username = ? AND view_id = ?",
                        (k + 1, user.username, v))


def pinned(user: access.User | None) -> list[Pin]:
    """The user's pins in order; a pin whose view was deleted or is no longer shared with them
    comes with no view (the dashboard says so, and offers to unpin it)."""
    if user is None:
        return []
    with state.connect() as con:
        pins = con.execute("SELECT view_id, position FROM saved_view_pins WHERE username = ? "
                           "ORDER BY position, view_id", (user.username,)).fetchall()
        rows = con.execute(f"SELECT {_COLUMNS} FROM saved_views WHERE {_visible_where()}",
                           (user.username, user.partner)).fetchall()
    views = {int(r[0]): _row(r) for r in rows}
    return [Pin(int(v), int(p), views.get(int(v))) for v, p in pins]


def pinned_ids(user: access.User | None) -> set[int]:
    return {p.view_id for p in pinned(user)}


def layout(user: access.User | None) -> dict:
    """How the user left their dashboard (columns, chart or table per view) and Explore (the
    last view they had open)."""
    if user is None:
        return {}
    with state.connect() as con:
        r = con.execute("SELECT layout FROM dashboard_layouts WHERE username = ?", (user.username,)).fetchone()
    try:
        value = json.loads(r[0]) if r else {}
    except ValueError:
        value = {}
    return value if isinstance(value, dict) else {}


def set_layout(user: access.User | None, value: dict) -> None:
    user = _user(user)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    if len(text) > MAX_LAYOUT_BYTES:
        raise ViewError("That layout is too large to keep.")
    with state.connect() as con:
        con.execute("INSERT INTO dashboard_layouts (username, layout, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (username) DO UPDATE SET layout = excluded.layout, updated_at = excluded.updated_at",
                    (user.username, text, _now()))


def remember(user: access.User | None, **changes) -> None:
    """Merge changes into the user's layout (only written when something changed)."""
    if user is None:
        return
    current = layout(user)
    merged = {**current, **changes}
    if merged != current:
        set_layout(user, merged)
