"""The audit trail: append-only, hash-chained, searchable, and fed by the CLI export."""
from __future__ import annotations

import json
import sqlite3

import pytest

from csp import audit, config


def test_record_and_verify_intact(data_dir):
    assert audit.verify().intact and audit.verify().entries == 0
    a = audit.record("jo", "login")
    b = audit.record("jo", "view", target="crime", details={"filters": {"area": "E05000901"}},
                     data_owner=["police"])
    assert (a, b) == (1, 2)
    v = audit.verify()
    assert v.intact and v.entries == 2 and str(v).startswith("intact")
    rows = audit.search(actor="jo")
    assert [r["action"] for r in rows] == ["view", "login"]  # newest first
    assert json.loads(rows[0]["details"]) == {"filters": {"area": "E05000901"}}
    assert rows[0]["data_owner"] == "police"


def test_update_and_delete_are_refused(data_dir):
    audit.record("jo", "login")
    con = sqlite3.connect(config.app_db_path())
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE audit_log SET actor='someone-else'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM audit_log")
    con.close()
    assert audit.search()[0]["actor"] == "jo"


def _tamper(sql: str, *args):
    # Someone with the database file can drop the triggers; the chain still gives them away.
    con = sqlite3.connect(config.app_db_path())
    con.execute("DROP TRIGGER audit_log_no_update")
    con.execute("DROP TRIGGER audit_log_no_delete")
    con.execute(sql, args)
    con.commit()
    con.close()


@pytest.mark.parametrize("sql, broken", [
    ("UPDATE audit_log SET actor='mallory' WHERE seq=2", 2),
    ("UPDATE audit_log SET details='{}' WHERE seq=3", 3),
    ("DELETE FROM audit_log WHERE seq=2", 2),
])
def test_tampering_is_found_at_the_first_broken_link(data_dir, sql, broken):
    for i in range(4):
        audit.record("jo", "view", target=f"page{i}", details={"i": i})
    _tamper(sql)
    v = audit.verify()
    assert not v.intact and v.broken_at == broken


def test_rewriting_a_hash_does_not_hide_an_edit(data_dir):
    for i in range(3):
        audit.record("jo", "view", target=f"page{i}")
    con = sqlite3.connect(config.app_db_path())
    row = dict(zip(["seq", "at", "actor", "action", "target", "details", "data_owner", "prev_hash"],
                   con.execute("SELECT seq, at, actor, action, target, details, data_owner, prev_hash"
                               " FROM audit_log WHERE seq=2").fetchone()))
    con.close()
    row["actor"] = "mallory"
    new_hash = audit.entry_hash(row, row["prev_hash"])
    _tamper("UPDATE audit_log SET actor='mallory', hash=? WHERE seq=2", new_hash)
    v = audit.verify()
    assert not v.intact and v.broken_at == 3  # entry 3 no longer links to entry 2


def test_search_filters_by_owner_text_and_action(data_dir):
    audit.record("a", "view", target="crime", data_owner=["police"])
    audit.record("b", "view", target="reoffending", data_owner=["probation", "police"])
    audit.record("c", "download", target="crime_by_ward.csv", data_owner="police")
    audit.record("d", "view", target="substance", data_owner="health")
    assert [r["actor"] for r in audit.search(data_owner="police")] == ["c", "b", "a"]
    assert [r["actor"] for r in audit.search(data_owner="probation")] == ["b"]
    assert [r["actor"] for r in audit.search(action="download")] == ["c"]
    assert [r["actor"] for r in audit.search(text="REOFF")] == ["b"]


def test_csv_export_of_the_log_is_formula_safe(data_dir):
    audit.record("jo", "view", target="=HYPERLINK(\"http://evil\")")
    text = audit.to_csv(audit.search())
    assert "'=HYPERLINK" in text and text.splitlines()[0] == ",".join(audit.FIELDS)


def test_cli_verify_and_export_is_audited(tiny, capsys):
    from csp.__main__ import main

    assert main(["export", "crime_by_type", "--as", "council.board", "--param", "from=2024-01", "--param", "to=2024-01"]) == 0
    capsys.readouterr()
    rows = audit.search(action="export")
    assert len(rows) == 1 and rows[0]["actor"] == "council.board" and rows[0]["target"] == "crime_by_type"
    assert rows[0]["data_owner"] == "police"
    assert json.loads(rows[0]["details"])["params"] == ["from=2024-01", "to=2024-01"]
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith("intact")
    _tamper("UPDATE audit_log SET target='x' WHERE seq=1")
    assert main(["audit", "verify"]) == 1
    assert "broken at entry 1" in capsys.readouterr().out


def test_audit_and_data_use_pages(tiny, monkeypatch):
    from streamlit.testing.v1 import AppTest
    from streamlit.util import calc_hash

    from csp import users

    monkeypatch.setenv("CSP_COOKIE_KEY", "test-cookie-key-9f3Kq2LmZ7xW4vB8nR1pY6dH0sJ5gTcE")
    users.add_user("ada.admin", tiny["password"], role="admin", partner="council")
    audit.record("council.board", "download", target="crime_by_ward.csv", data_owner=["police"])
    audit.record("council.board", "view", target="<b>x</b>", data_owner=["health"])

    def open_page(username, page):
        at = AppTest.from_file("../app.py", default_timeout=30).run()
        inputs = {t.label: t for t in at.text_input}
        inputs["Username"].input(username)
        inputs["Password"].input(tiny["password"])
        at.button[0].click()
        at.run()
        at._page_hash = calc_hash(page)
        return at.run()

    at = open_page("ada.admin", "audit_log")
    assert not at.exception, at.exception
    log = at.dataframe[0].value
    assert {"Download", "View", "Login"} <= set(log["Action"])
    # readable: times as dates (no bare ISO), details in words (no JSON braces)
    raw = audit.search(limit=5000)
    assert list(log["#"]) == sorted(log["#"], reverse=True) and set(log["#"]) <= {r["seq"] for r in raw}
    assert not any("{" in d for d in log["Details"]) and not any("T" in w[:12] for w in log["When"])
    assert all(w.endswith("UTC") for w in log["When"])
    # who by name and partner, with the login the User box searches by
    from csp import users as users_mod
    known = {u.username: u for u in users_mod.list_users()}
    actor = {r["seq"]: r["actor"] for r in raw}
    shown = [(w, actor[n]) for n, w in zip(log["#"], log["Who"]) if actor[n] in known]
    assert shown and all(w.endswith(f", {a}") and known[a].name in w for w, a in shown)
    at = open_page("pc.owner", "access_log")  # police board: sees who used police data
    assert not at.exception, at.exception
    assert at.title[0].value == "Use of Police data"
    every = at.dataframe[1].value
    # the council user's download of police data is there, by the person's name and partner (an
    # owner knows people, not login ids); the view of health data is not
    from csp import users
    council = users.get_user("council.board")
    named = council.name if council.name.endswith("(Council)") else f"{council.name} (Council)"
    assert (named, "Download", "crime_by_ward.csv") in set(
        zip(every["Who"], every["Action"], every["What"]))
    assert not set(every["Who"]) & {u.username for u in users.list_users()}
    assert "<b>x</b>" not in set(every["What"])


def test_readable_times_details_and_scopes():
    from csp.ui import readable

    assert readable.when("2026-12-01T17:46:06.123456+00:00") == "01 Dec 2026 17:46:06 UTC"
    assert readable.when("2026-12-01T18:46:06+01:00") == "01 Dec 2026 17:46:06 UTC"
    assert readable.when("2026-12-01") == "01 Dec 2026"  # a date has no 00:00:00
    assert readable.details('{"query": "crime_monthly_total", "rows": 12, "served": true, '
                            '"filters": {"Ward": "Abbey (E05000901)"}}') == (
        "Query: crime_monthly_total; Rows: 12; Served: yes; Filters: ward Abbey (E05000901)")
    # A period filter reads as the months it names, never its URL key.
    assert readable.details('{"period": "latest24", "filters": {"period": "2025q3"}}') == (
        "Period: latest 24 months; Filters: period Jul–Sep 2025")
    assert readable.details('{"period": "fy2024"}') == "Period: financial year 2024/25"
    frame = readable.users_frame(
        [{"username": "jo.smith", "name": "Jo", "email": None, "role": "practitioner", "partner": "youth_justice",
          "areas": ("E05000901", "E05000999"), "disabled": False, "created_at": "2026-11-30T09:05:00+00:00"}],
        {"E05000901": "Abbey (E05000901)"}, lambda u: "active")
    row = frame.row(0, named=True)
    assert row["Area scope"] == "Abbey (E05000901), E05000999"  # a code the lookup lacks stays a code
    assert (row["Role"], row["Partner"], row["Created"]) == ("practitioner", "Youth justice", "30 Nov 2026 09:05:00 UTC")


def test_whose_data_is_named_as_people_name_the_partners():
    from csp.ui import readable

    rows = [{"seq": 1, "at": "2026-12-01T10:00:00+00:00", "actor": "a", "action": "board_pack",
             "target": "pack", "details": "{}", "data_owner": "council,fire,health,youth_justice"}]
    assert readable.audit_frame(rows)["Whose data"][0] == "Council, Fire and rescue, Health, Youth justice"


def test_audit_codes_read_as_names():
    from csp.ui import readable

    rows = [{"seq": 7, "at": "2026-12-01T10:00:00+00:00", "actor": "ada", "action": "view",
             "target": "admin_users", "details": '{"filters": {"ds": "crime", "ward": "E05000901"}}',
             "data_owner": "police"}]
    names = {"admin_users": "Users", "crime": "Police recorded crime", "E05000901": "Abbey"}
    row = readable.audit_frame(rows, names).row(0, named=True)
    assert row["What"] == "Users"
    assert row["Details"] == "Filters: dataset Police recorded crime, ward Abbey"
    assert readable.audit_frame(rows).row(0, named=True)["What"] == "admin_users"  # unknown stays


def test_a_use_of_lookups_is_no_use_of_the_councils_data(tiny):
    """A download or board pack reads the areas and population lookups (the council's) beside
    the data it shows: the council's "Use of our data" listed every partner's downloads of police
    data. Uses count only partner datasets; a publish of the lookup is still the council's."""
    from csp import audit, boardpack, queries
    assert audit.owners_of(["crime_ward_cube", "areas", "geography"]) == ["council", "police"]
    assert audit.owners_of(["crime_ward_cube", "areas", "geography"], uses=True) == ["police"]
    assert audit.owners_of(["geography"], uses=True) == []
    # A board pack is recorded against what it read: no reference data, nothing not shown.
    from csp import users
    board = users.get_user("council.board")
    with queries.tracking_reads() as read:
        boardpack.build(board)
    assert read and "crime" in read
    assert audit.owners_of(sorted(read), uses=True) == audit.owners_of(sorted(read))
    assert all(catalog_kind(d) != "reference" for d in read)


def catalog_kind(d):
    from csp import catalog
    return catalog.contract(d).kind
