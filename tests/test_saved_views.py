"""Saved views (csp.saved_views) and My dashboard: views survive a restart (a new process), are
visible to exactly the users they are shared with, are run as whoever opens them so a grant that
narrows later shows a plain refusal and no figures, and the dashboard opens as it was left.
Policy changes are made to a copy of the policy through CSP_POLICY, as tests/test_disclosure.py
does."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apptest_helpers import demo_area, go, login
from csp import access, audit, config, explore, queries, saved_views, users

ROOT = Path(__file__).resolve().parents[1]
Spec = explore.Spec


def spec(**params) -> Spec:
    return Spec.from_params(params)


@pytest.fixture
def people(tiny):
    """The tiny area's users plus a second council user and a council practitioner."""
    pw = tiny["password"]
    more = {
        "council2": users.add_user("council.analyst", pw, role="analyst", partner="council"),
        "probation": users.add_user("probation.analyst", pw, role="analyst", partner="probation"),
    }
    return {**tiny["users"], **more}


@pytest.fixture
def policy_copy(tmp_path, monkeypatch):
    path = tmp_path / "policy.toml"
    path.write_text(config.policy_path().read_text())
    monkeypatch.setenv("CSP_POLICY", str(path))
    return path


def edit_policy(path: Path, old: str, new: str, bump: int) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))


COUNCIL_CRIME = 'council = { geography = "lsoa", protection = "perturb", threshold = 5, ptable = "ptable_t5", tiers = ["public"] }\nhousing'


# ---- saving, sharing, deleting -------------------------------------------------------------------


def test_save_list_get_delete_and_the_audit_trail(people):
    council = people["council"]
    s = spec(ds="crime", b1="ward", b2="crime_type", p="all")
    v = saved_views.save(council, "  Crime by ward  and type ", s, "private")
    assert v.name == "Crime by ward and type" and v.owner == council.username and v.partner == "council"
    assert v.spec() == s and v.dataset == "crime"
    assert [x.id for x in saved_views.list_visible(council)] == [v.id]
    assert saved_views.get(v.id, council) == v
    # Saving again under the same name replaces the view (same id).
    s2 = spec(ds="crime", b1="month", p="all")
    again = saved_views.save(council, "Crime by ward and type", s2, "partner")
    assert again.id == v.id and again.spec() == s2 and again.sharing == "partner"
    saved_views.delete(v.id, council)
    assert saved_views.list_visible(council) == []
    with pytest.raises(saved_views.ViewError):
        saved_views.get(v.id, council)
    trail = [e for e in audit.search(actor=council.username) if e["action"].startswith("view_")]
    assert [e["action"] for e in reversed(trail)] == ["view_save", "view_update", "view_delete"]
    details = json.loads(trail[-1]["details"])
    assert details["spec"] == s.to_params() and trail[-1]["data_owner"] == "police"
    assert audit.verify().intact


def test_views_pins_and_layouts_on_both_state_backends(state_db, request):
    """The same calls on SQLite and a real PostgreSQL (issue 16: saved views are app state), and
    what was kept survives a new process's connection (state.reset)."""
    from csp import state

    people = request.getfixturevalue("people")  # after state_db: users land in that database
    council, other = people["council"], people["council2"]
    a = saved_views.save(council, "Crime by ward", spec(ds="crime", b1="ward", p="all"), "partner")
    b = saved_views.save(council, "Crime by month", spec(ds="crime", b1="month", p="all"), "private")
    assert b.id > a.id
    saved_views.pin(a.id, council), saved_views.pin(b.id, council), saved_views.pin(a.id, council)
    saved_views.move(b.id, council, -1)
    saved_views.remember(council, columns=2)
    state.reset()
    assert [p.view_id for p in saved_views.pinned(council)] == [b.id, a.id]
    assert saved_views.layout(council) == {"columns": 2}
    assert [v.id for v in saved_views.list_visible(other)] == [a.id]  # partner-shared only
    saved_views.delete(a.id, council)
    assert [p.view_id for p in saved_views.pinned(council)] == [b.id]
    with state.connect() as con:
        assert con.dialect == state_db


def test_shared_views_are_visible_to_exactly_the_right_users(people):
    owner = people["council"]
    views = {sharing: saved_views.save(owner, f"view {sharing}", spec(ds="crime", p="all"), sharing)
             for sharing in saved_views.SHARING}
    everyone = list(people.values())
    want = {
        "private": {owner.username},
        "partner": {u.username for u in everyone if u.partner == "council"},
        "partnership": {u.username for u in everyone},
    }
    assert len(want["partner"]) == 2 and len(want["partnership"]) == len(everyone) >= 6
    for sharing, v in views.items():
        for u in everyone:
            visible = v.id in {x.id for x in saved_views.list_visible(u)}
            assert visible == (u.username in want[sharing]), (sharing, u.username)
            if visible:
                assert saved_views.get(v.id, u).id == v.id
            else:  # one message for missing and not shared: nobody learns which views exist
                with pytest.raises(saved_views.ViewError, match="does not exist or is not shared"):
                    saved_views.get(v.id, u)
    # Only the owner changes or deletes a view, even one shared with everyone.
    other = people["council2"]
    with pytest.raises(saved_views.ViewError, match="Only the person who saved"):
        saved_views.delete(views["partnership"].id, other)
    with pytest.raises(saved_views.ViewError, match="Only the person who saved"):
        saved_views.update(views["partner"].id, other, sharing="partnership")
    # Making a view private takes it away from the others at once.
    saved_views.update(views["partnership"].id, owner, sharing="private")
    assert views["partnership"].id not in {x.id for x in saved_views.list_visible(people["health"])}


@pytest.mark.parametrize("name, sharing, words", [
    ("", "private", "Give the view a name"),
    ("x" * 81, "private", "at most 80"),
    ("bad\x00name", "private", "plain text"),
    ("ok", "public", "nobody, your partner or the whole partnership"),
])
def test_bad_input_saves_nothing(people, name, sharing, words):
    council = people["council"]
    with pytest.raises(saved_views.ViewError, match=words):
        saved_views.save(council, name, spec(ds="crime"), sharing)
    assert saved_views.list_visible(council) == []


def test_a_view_the_user_may_not_see_cannot_be_saved(people):
    health = people["health"]
    with pytest.raises(access.AccessDenied, match="down to district level"):
        saved_views.save(health, "wards", spec(ds="crime", b1="ward"))
    with pytest.raises(explore.SpecError, match="one value at a time"):
        saved_views.save(people["council"], "two", spec(ds="crime", f=["crime_type:Burglary", "crime_type:Drugs"]))
    assert saved_views.list_visible(health) == [] and saved_views.list_visible(people["council"]) == []


@pytest.mark.parametrize("junk", ["1 OR 1=1", "-1", "0", str(10**30), None, "", "1.5", "[1]"])
def test_junk_view_ids_are_not_found(people, junk):
    v = saved_views.save(people["council"], "v", spec(ds="crime"), "partnership")
    assert v.id == 1
    with pytest.raises(saved_views.ViewError, match="does not exist"):
        saved_views.get(junk, people["council"])
    with pytest.raises(saved_views.ViewError):
        saved_views.delete(junk, people["council"])
    assert saved_views.get(1, people["council"]).id == 1


def test_the_number_of_views_is_bounded(people, monkeypatch):
    monkeypatch.setattr(saved_views, "MAX_VIEWS", 3)
    for i in range(3):
        saved_views.save(people["council"], f"v{i}", spec(ds="crime"))
    with pytest.raises(saved_views.ViewError, match="delete some"):
        saved_views.save(people["council"], "one more", spec(ds="crime"))
    saved_views.save(people["council"], "v1", spec(ds="crime", p="all"))  # replacing is fine
    assert len(saved_views.list_visible(people["council"])) == 3


# ---- pins and the layout -------------------------------------------------------------------------


def test_pins_are_per_user_ordered_and_follow_sharing(people):
    owner, other = people["council"], people["police"]
    a = saved_views.save(owner, "a", spec(ds="crime"), "partnership")
    b = saved_views.save(owner, "b", spec(ds="crime", b1="month"), "partnership")
    c = saved_views.save(other, "c", spec(ds="crime", b1="ward"), "private")
    for v in (a, b):
        saved_views.pin(v.id, owner)
    saved_views.pin(a.id, owner)  # twice changes nothing
    saved_views.pin(b.id, other)
    saved_views.pin(c.id, other)
    assert [p.view_id for p in saved_views.pinned(owner)] == [a.id, b.id]
    assert [p.view_id for p in saved_views.pinned(other)] == [b.id, c.id]
    with pytest.raises(saved_views.ViewError):  # not shared with the council user
        saved_views.pin(c.id, owner)
    saved_views.move(b.id, owner, -1)
    assert [p.view_id for p in saved_views.pinned(owner)] == [b.id, a.id]
    saved_views.move(b.id, owner, -5)  # already first
    assert [p.view_id for p in saved_views.pinned(owner)] == [b.id, a.id]
    # The owner makes b private: the police user's pin stays, with no view behind it.
    saved_views.update(b.id, owner, sharing="private")
    pins = saved_views.pinned(other)
    assert [(p.view_id, p.view is None) for p in pins] == [(b.id, True), (c.id, False)]
    # Deleting a view removes every pin of it.
    saved_views.delete(b.id, owner)
    assert [p.view_id for p in saved_views.pinned(owner)] == [a.id]
    assert [p.view_id for p in saved_views.pinned(other)] == [c.id]
    saved_views.unpin(a.id, owner)
    assert saved_views.pinned(owner) == []


def test_layout_is_remembered_per_user_and_bounded(people):
    council, police = people["council"], people["police"]
    saved_views.remember(council, columns=1, modes={"3": "table"})
    saved_views.remember(council, explore={"ds": "crime", "b1": "ward"})
    assert saved_views.layout(council) == {"columns": 1, "modes": {"3": "table"},
                                           "explore": {"ds": "crime", "b1": "ward"}}
    assert saved_views.layout(police) == {}
    with pytest.raises(saved_views.ViewError, match="too large"):
        saved_views.set_layout(council, {"x": "y" * 20_000})
    assert saved_views.layout(council)["columns"] == 1


# ---- restarts and narrowing grants -----------------------------------------------------------------


CHILD = """
import json, sys
from csp import explore, saved_views, users
out = {}
for name in sys.argv[1:]:
    u = users.get_user(name)
    rows = []
    for v in saved_views.list_visible(u):
        try:
            plan, result = explore.run(u, v.spec())
            figures = [None if x is None else int(x) for x in result.frame[plan.count].to_list()]
        except Exception as e:
            figures = type(e).__name__ + ": " + str(e)
        rows.append({"id": v.id, "name": v.name, "sharing": v.sharing, "figures": figures})
    out[name] = {"views": rows, "pinned": [p.view_id for p in saved_views.pinned(u)],
                 "layout": saved_views.layout(u)}
print(json.dumps(out))
"""


def in_process(names) -> dict:
    out = {}
    for name in names:
        u = users.get_user(name)
        rows = []
        for v in saved_views.list_visible(u):
            try:
                plan, result = explore.run(u, v.spec())
                figures = [None if x is None else int(x) for x in result.frame[plan.count].to_list()]
            except Exception as e:
                figures = type(e).__name__ + ": " + str(e)
            rows.append({"id": v.id, "name": v.name, "sharing": v.sharing, "figures": figures})
        out[name] = {"views": rows, "pinned": [p.view_id for p in saved_views.pinned(u)],
                     "layout": saved_views.layout(u)}
    return out


def test_saved_views_survive_a_restart(people):
    council, health = people["council"], people["health"]
    a = saved_views.save(council, "Crime by ward", spec(ds="crime", b1="ward", p="all"), "partnership")
    b = saved_views.save(council, "Crime by type, FY", spec(ds="crime", b1="crime_type", p="all"), "partner")
    saved_views.pin(a.id, council)
    saved_views.pin(b.id, council)
    saved_views.pin(a.id, health)
    saved_views.remember(council, columns=1)
    names = [council.username, health.username, people["council2"].username]
    before = in_process(names)
    # A new process over the same data directory: nothing is held in memory between them.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CHILD, *names], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    after = json.loads(done.stdout.strip().splitlines()[-1])
    assert after == before
    assert [v["id"] for v in after[council.username]["views"]] == [b.id, a.id]  # by name
    assert after[council.username]["pinned"] == [a.id, b.id] and after[council.username]["layout"] == {"columns": 1}
    assert after[health.username]["pinned"] == [a.id]
    # Health may not see crime by ward: the shared view is a plain refusal in both processes.
    health_view = after[health.username]["views"][0]
    assert health_view["figures"].startswith("AccessDenied") and "district level" in health_view["figures"]
    # Cleared caches in this process: the same again.
    queries.clear_cache()
    explore._parsed.cache_clear()
    assert in_process(names) == before


def test_a_narrowed_grant_turns_a_saved_view_into_a_plain_refusal(people, policy_copy):
    council = people["council"]
    v = saved_views.save(council, "LSOAs", spec(ds="crime", b1="lsoa", p="all"), "partnership")
    saved_views.pin(v.id, council)
    plan, before = explore.run(council, v.spec())
    assert before.frame.height > 0
    # The police narrow the council's crime grant to wards: the view still exists, but shows no data.
    edit_policy(policy_copy, COUNCIL_CRIME, COUNCIL_CRIME.replace('geography = "lsoa"', 'geography = "ward"'), 1)
    view = saved_views.get(v.id, council)
    with pytest.raises(access.AccessDenied, match="down to ward level, so it cannot be broken down by LSOA"):
        explore.run(council, view.spec())
    # The query layer refuses it too, whatever builds the query.
    text, params = explore.query_text(plan)
    with pytest.raises(access.AccessDenied):
        queries.run_query(council, queries.from_text("t", text), params)
    # Then they withdraw crime from the council entirely.
    edit_policy(policy_copy, COUNCIL_CRIME.replace('geography = "lsoa"', 'geography = "ward"'), "housing", 2)
    with pytest.raises(access.AccessDenied, match="does not share police recorded crime .* with the Council partner"):
        explore.run(council, saved_views.get(v.id, council).spec())
    assert [p.view_id for p in saved_views.pinned(council)] == [v.id]  # kept, in case it returns


PROBATION_CRIME = 'probation = { geography = "ward", protection = "perturb", threshold = 5, ptable = "ptable_t5", tiers = ["public"] }\nyouth_justice'


def test_a_view_shared_with_someone_whose_grant_narrows_shows_them_a_refusal(people, policy_copy):
    council, probation = people["council"], people["probation"]
    v = saved_views.save(council, "Crime by ward", spec(ds="crime", b1="ward", p="all"), "partnership")
    saved_views.pin(v.id, probation)
    _, theirs = explore.run(probation, saved_views.get(v.id, probation).spec())
    assert theirs.frame.height > 0
    # Probation's crime grant is coarsened to districts, then withdrawn: the same pinned view is
    # a plain refusal each time, and the owner's answer is unchanged.
    edit_policy(policy_copy, PROBATION_CRIME, PROBATION_CRIME.replace('"ward"', '"district"', 1), 1)
    with pytest.raises(access.AccessDenied, match="down to district level, so it cannot be broken down by ward"):
        explore.run(probation, saved_views.pinned(probation)[0].view.spec())
    edit_policy(policy_copy, PROBATION_CRIME.replace('"ward"', '"district"', 1), "youth_justice", 2)
    with pytest.raises(access.AccessDenied, match="does not share police recorded crime .* with the Probation partner"):
        explore.run(probation, saved_views.pinned(probation)[0].view.spec())
    _, mine = explore.run(council, v.spec())
    assert mine.frame.height > 0


# ---- My dashboard (AppTest, the demo area) ---------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with demo_area(tmp_path_factory, "demo_saved_views"):
        yield


def texts(at, *kinds) -> str:
    return "\n".join(str(e.value) for kind in kinds for e in at.get(kind))


def open_page(username: str, page: str, query: dict | None = None):
    at = go(login(username), page)
    if query:
        for k, v in query.items():
            at.query_params[k] = v
        at.run()
    assert not at.exception, at.exception
    return at


def test_dashboard_council_saves_pins_and_finds_it_as_left(demo):
    council = users.get_user("board.council")
    for p in saved_views.pinned(council):
        saved_views.unpin(p.view_id, council)
    at = open_page("board.council", "explore", {"ds": "crime", "b1": "ward", "p": "latest24"})
    at.text_input(key="x_save_name").input("Wards, two years")
    at.radio(key="x_save_sharing").set_value("partnership")
    at.checkbox(key="x_save_pin").check()
    next(b for b in at.button if b.label == "Save this view").click()
    at.run()
    assert not at.exception, at.exception
    view = next(v for v in saved_views.list_visible(council) if v.name == "Wards, two years")
    assert view.sharing == "partnership" and view.spec() == spec(ds="crime", b1="ward", p="latest24")
    assert view.id in saved_views.pinned_ids(council)
    # My dashboard shows it, with the figures the query layer gives the council.
    at = open_page("board.council", "my-dashboard")
    assert at.title[0].value == "My dashboard"
    assert "Wards, two years" in texts(at, "markdown")
    _, want = explore.run(council, view.spec())
    table_mode = at.segmented_control(key=f"d_mode_{view.id}")
    table_mode.set_value("table").run()
    table = at.dataframe[0].value
    shown = dict(zip(table["ward_code"], table["crimes"].astype(str)))
    assert shown == {r["ward_code"]: ("low" if w else str(r["crimes"]))
                     for r, w in zip(want.frame.iter_rows(named=True), want.suppressed["crimes"])}
    at.segmented_control(key="d_columns").set_value(1).run()
    assert not at.exception, at.exception
    # A new session opens as it was left: one column, this tile as a table.
    at = open_page("board.council", "my-dashboard")
    assert at.segmented_control(key="d_columns").value == 1
    assert at.segmented_control(key=f"d_mode_{view.id}").value == "table"
    assert len(at.dataframe) == 1 and not at.get("plotly_chart")


def test_dashboard_shared_view_outside_a_grant_is_a_plain_refusal(demo):
    council, health = users.get_user("board.council"), users.get_user("board.health")
    v = saved_views.save(council, "LSOA hotspots", spec(ds="crime", b1="lsoa", p="latest12"), "partnership")
    saved_views.pin(v.id, health)
    at = open_page("board.health", "my-dashboard")
    assert "LSOA hotspots" in texts(at, "markdown")
    assert "down to district level" in texts(at, "info")
    # No figures at all: no table, no chart, no download of this view.
    assert not at.dataframe and not at.get("plotly_chart")
    assert [b.key for b in at.get("download_button")] == ["board_pack"]  # the sidebar's, not this view's
    # Explore opened from the same link tells them why and offers what they may see.
    at = open_page("board.health", "explore", v.params)
    assert "not available to you" in texts(at, "info")
    assert "LSOA" not in at.selectbox(key="x_b1").options


def test_dashboard_explore_opens_where_it_was_left(demo):
    at = open_page("officer.fire", "explore", {"ds": "asb", "b1": "month", "p": "all"})
    assert "by month" in texts(at, "header").lower()
    fire = users.get_user("officer.fire")
    assert saved_views.layout(fire)["explore"] == {"ds": "asb", "b1": "month", "p": "all"}
    at = open_page("officer.fire", "explore")  # no link: the last view
    assert at.selectbox(key="x_ds").value == "asb" and at.selectbox(key="x_b1").value == "month"
    assert dict(at.query_params) in ({"ds": "asb", "b1": "month", "p": "all"},
                                     {"ds": ["asb"], "b1": ["month"], "p": ["all"]})
