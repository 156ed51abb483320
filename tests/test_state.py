"""App state on both backends: the same tests against SQLite and a real PostgreSQL (Debian's
package, a private cluster started by the ``postgres`` fixture). Migrations, accounts, sessions,
mappings, retention, settings, saved views, and the audit chain: append-only, one chain under
concurrent writers from several processes, and its signed head (issue 14, finding 8)."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from csp import accounts, audit, config, settings, state, upload, users
from csp.state import migrations

ROOT = Path(__file__).resolve().parents[1]
PW = "correct-horse-battery"


def raw(*statements: str) -> None:
    """Run SQL straight on the database, as someone with write access to it would (not through
    the app), each statement committed."""
    url = state.url()
    if state.backend(url) == "sqlite":
        con = sqlite3.connect(state.sqlite.path_of(url))
        try:
            for sql in statements:
                con.execute(sql)
            con.commit()
        finally:
            con.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as con:
            for sql in statements:
                con.execute(sql)


def drop_audit_triggers() -> None:
    if state.backend() == "sqlite":
        raw("DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete")
    else:
        raw("ALTER TABLE audit_log DISABLE TRIGGER USER")


def refused(sql: str) -> str:
    """The error a raw statement raises (it must raise)."""
    with pytest.raises(Exception) as e:
        raw(sql)
    return str(e.value)


# ---- schema ---------------------------------------------------------------------------------


def test_migrations_are_recorded_and_applied_once(state_db):
    with state.connect() as con:
        first = migrations.applied(con)
    assert sorted(first) == [v for v, _, _ in migrations.MIGRATIONS] == [1, 2, 3]
    state.reset()  # a new process: connecting again applies nothing
    with state.connect() as con:
        assert migrations.applied(con) == first
        assert con.dialect == state_db


def test_a_database_from_a_newer_app_is_refused_clearly(state_db):
    with state.connect() as con:
        con.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')")
    state.reset()
    with pytest.raises(state.StateError, match="schema version 99, newer than this app"):
        users.get_user("anyone")


def test_database_url_is_checked_and_never_echoes_the_password(data_dir, monkeypatch):
    monkeypatch.setenv("CSP_DATABASE_URL", "mysql://u:p@db/x")
    with pytest.raises(config.ConfigError, match="postgresql://"):
        state.url()
    monkeypatch.setenv("CSP_DATABASE_URL", "postgresql://csp:hunter2-secret@127.0.0.1:1/csp")
    with pytest.raises(state.StateError) as e:
        users.get_user("jo")
    assert "hunter2" not in str(e.value) and "127.0.0.1:1/csp" in str(e.value)
    state.reset()


# ---- accounts and sessions -------------------------------------------------------------------


def test_users_lockout_and_sessions(state_db):
    jo = users.add_user("jo.user", PW, role="board", partner="council", areas=["E05000901"])
    assert users.get_user("jo.user") == jo and users.list_users() == [jo]
    with pytest.raises(users.UserError, match="already exists"):
        users.add_user("jo.user", PW, role="board", partner="council")
    users.add_user("jo.user", PW, role="analyst", partner="police", replace=True)
    assert users.get_user("jo.user").role == "analyst"
    users.update_user("jo.user", disabled=True)
    assert users.get_user("jo.user") is None and users.list_all()[0]["disabled"] is True
    users.update_user("jo.user", disabled=False)

    now = time.time()
    for i in range(accounts.LOCK_AFTER):
        assert accounts.authenticate("jo.user", f"wrong-{i}", now=now) is None
    assert accounts.locked_until("jo.user", now) == pytest.approx(now + accounts.LOCK_SECONDS)
    assert accounts.authenticate("jo.user", PW, now=now + 1) is None
    accounts.unlock("admin", "jo.user")
    assert accounts.authenticate("jo.user", PW) is not None

    key = "state-test-key-" + "Zx9Qw2Er7Ty4Ui1Op6As3Df8Gh5Jk0L"
    sid = accounts.start_session("jo.user")
    cookie = accounts.issue_cookie("jo.user", sid, key, 1)
    assert accounts.cookie_session(cookie, key, 1) == ("jo.user", sid)
    accounts.end_sessions("jo.user")
    assert accounts.cookie_login(cookie, key, 1) is None
    with state.connect() as con:
        row = con.execute("SELECT end_reason, ended_at FROM sessions WHERE sid=?", (sid,)).fetchone()
    assert row["end_reason"] == "logout" and row["ended_at"] >= now


def test_mappings_retention_settings_and_saved_views(state_db):
    upload.remember_mapping("police", "crime", {"Offence": "crime_type", "LSOA": "lsoa_code"}, "ann")
    upload.remember_mapping("police", "crime", {"Offence": "crime_category"}, "bob")  # replaces one
    assert upload.remembered_mapping("police", "crime") == {"Offence": "crime_category", "LSOA": "lsoa_code"}
    assert upload.retention_days("crime") is None
    upload.set_retention("crime", 30, by="ann")
    upload.set_retention("crime", 90, by="ann")
    assert upload.retention_days("crime") == 90

    assert settings.get("partnership.districts", []) == []
    settings.set("partnership.districts", ["E07000138", "E07000136"], by="ada")
    settings.set("partnership.name", "Lincoln & Boston CSP", by="ada")
    settings.set("partnership.districts", ["E07000138"], by="bob")
    assert settings.get("partnership.districts") == ["E07000138"]
    assert settings.all() == {"partnership.districts": ["E07000138"], "partnership.name": "Lincoln & Boston CSP"}
    change = audit.search(action="setting_change", actor="bob")[0]
    assert change["target"] == "partnership.districts"
    assert json.loads(change["details"]) == {"before": ["E07000138", "E07000136"], "after": ["E07000138"]}
    for key, value, message in [("Bad Key!", 1, "lower-case words"),
                                ("x.y", float("nan"), "cannot be stored as JSON"),
                                ("x.y", "z" * 70_000, "larger than 64 KB")]:
        with pytest.raises(settings.SettingError, match=message):
            settings.set(key, value, by="ada")
    assert "x.y" not in settings.all()  # refused changes changed nothing
    settings.set("partnership.name", None, by="ada")  # null: unset
    assert settings.get("partnership.name", "unnamed") == "unnamed"
    assert len(audit.search(action="setting_change")) == 4

    now = "2026-01-01T00:00:00+00:00"
    with state.connect() as con:
        for sharing in ("private", "partnership"):
            con.execute("INSERT INTO saved_views (owner, name, dataset, spec, sharing, pinned, created_at,"
                        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        ("jo", f"burglary {sharing}", "crime", json.dumps({"type": "Burglary"}), sharing, 1, now, now))
    with state.connect() as con:
        rows = con.execute("SELECT id, name, sharing FROM saved_views WHERE owner=? ORDER BY id", ("jo",)).fetchall()
    assert [r["sharing"] for r in rows] == ["private", "partnership"] and rows[1]["id"] > rows[0]["id"]
    with pytest.raises(Exception, match="(?i)check"):
        with state.connect() as con:
            con.execute("INSERT INTO saved_views (owner, name, dataset, sharing, created_at, updated_at)"
                        " VALUES ('jo', 'x', 'crime', 'everyone', ?, ?)", (now, now))


# ---- the audit chain ------------------------------------------------------------------------


def test_audit_log_is_append_only_and_searchable(state_db):
    audit.record("jo", "view", target="Crime", details={"filters": {"area": "E05000901"}}, data_owner=["police"])
    audit.record("ann", "download", target="100%_of_it.csv", data_owner="police,health")
    assert "append-only" in refused("UPDATE audit_log SET actor='mallory'")
    assert "append-only" in refused("DELETE FROM audit_log")
    if state_db == "postgresql":
        assert "append-only" in refused("TRUNCATE audit_log")
    assert [r["actor"] for r in audit.search(text="CRIME")] == ["jo"]
    assert [r["actor"] for r in audit.search(text="100%")] == ["ann"]  # '%' is text, not a wildcard
    assert [r["actor"] for r in audit.search(text="0_o")] == []  # nor is '_'
    assert [r["actor"] for r in audit.search(data_owner="health")] == ["ann"]
    v = audit.verify()
    assert v.intact and v.entries == 2


def _entries(n: int) -> None:
    for i in range(n):
        audit.record("jo", "view", target=f"page{i}", details={"i": i})


def test_cutting_off_the_tail_is_detected_and_stays_on_record(state_db):
    """Issue 14, finding 8: deleting the last entries used to verify as intact."""
    _entries(5)
    drop_audit_triggers()
    raw("DELETE FROM audit_log WHERE seq >= 4")
    v = audit.verify()
    assert not v.intact and v.broken_at == 4 and "entries 4-5 are missing from the end" in v.reason
    # Moving the checkpoint back needs the audit key, which is not in the database.
    raw("UPDATE audit_head SET seq=3, hash=(SELECT hash FROM audit_log WHERE seq=3)")
    v = audit.verify()
    assert not v.intact and "signature does not match" in v.reason
    # The app carries on, but the next append writes what it found into the chain first.
    seq = audit.record("jo", "login")
    assert seq == 5
    v = audit.verify()
    assert not v.intact and v.broken_at == 4 and "signature does not match" in v.reason
    assert audit.search(action=audit.CHECKPOINT_FAILED)[0]["actor"] == "system"


@pytest.mark.parametrize("touch_head", [False, True])
def test_rebuilding_the_chain_with_recomputed_hashes_is_detected(state_db, touch_head):
    """Issue 14, finding 8: edit an entry and recompute every hash after it: the chain links,
    but its head is not the signed one (and cannot be re-signed without the key)."""
    _entries(4)
    with state.connect() as con:
        rows = [dict(r) for r in con.execute("SELECT * FROM audit_log ORDER BY seq")]
    drop_audit_triggers()
    prev = rows[1]["prev_hash"]
    updates = []
    for row in rows[1:]:
        if row["seq"] == 2:
            row["actor"] = "mallory"
        row["prev_hash"] = prev
        row["hash"] = prev = audit.entry_hash(row, prev)
        updates.append(f"UPDATE audit_log SET actor='{row['actor']}', prev_hash='{row['prev_hash']}',"
                       f" hash='{row['hash']}' WHERE seq={row['seq']}")
    raw(*updates)
    if touch_head:
        raw(f"UPDATE audit_head SET hash='{prev}'")
    v = audit.verify()
    assert not v.intact and v.broken_at == 4
    assert ("signature does not match" if touch_head else "the log was rebuilt") in v.reason


def test_appending_without_the_key_is_detected(state_db):
    _entries(2)
    with state.connect() as con:
        last = con.execute("SELECT * FROM audit_log WHERE seq=2").fetchone()
    fake = {"seq": 3, "at": last["at"], "actor": "mallory", "action": "login", "target": "",
            "details": "{}", "data_owner": ""}
    h = audit.entry_hash(fake, last["hash"])
    raw("INSERT INTO audit_log (seq, at, actor, action, target, details, data_owner, prev_hash, hash) VALUES "
        f"(3, '{last['at']}', 'mallory', 'login', '', '{{}}', '', '{last['hash']}', '{h}')")
    v = audit.verify()
    assert not v.intact and "added without the audit key" in v.reason


def test_verify_against_a_head_recorded_earlier(state_db, capsys):
    from csp.__main__ import main

    _entries(3)
    head = audit.verify()
    recorded = f"{head.entries}:{head.head}"
    _entries(2)
    assert main(["audit", "verify", "--expect", recorded]) == 0
    assert capsys.readouterr().out.startswith("intact: 5 entries")
    assert main(["audit", "verify", "--expect", "3:" + "f" * 64]) == 1
    assert "differs from the head recorded earlier" in capsys.readouterr().out
    assert main(["audit", "verify", "--expect", "9:" + head.head]) == 1
    assert "entry 9 recorded earlier" in capsys.readouterr().out


def test_a_process_with_another_audit_key_writes_nothing(state_db, monkeypatch):
    _entries(1)
    monkeypatch.setenv("CSP_AUDIT_KEY", "another-audit-key-Qm3Xz8Lw1Rt6Yp0Vn5Kb2Hc7")
    with pytest.raises(config.ConfigError, match="different audit key"):
        audit.record("jo", "login")
    monkeypatch.delenv("CSP_AUDIT_KEY")
    assert audit.verify().intact and audit.verify().entries == 1
    # And a process that has no key at all (none configured, the key file gone) says so.
    (config.data_dir() / ".audit_key").rename(config.data_dir() / "moved")
    with pytest.raises(config.ConfigError, match="No audit key"):
        audit.record("jo", "login")


WORKER = """
import sys
from csp import accounts, audit
who, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    audit.record(who, "view", target=f"page{i}", details={"i": i})
accounts.authenticate("lock.me", "wrong-password-" + who)
"""


def test_concurrent_writers_in_several_processes_keep_one_chain_and_count_every_failure(state_db):
    users.add_user("lock.me", PW, role="board", partner="council")
    audit.record("setup", "start")  # the database and its key exist before the workers start
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, f"w{i}", "40"], cwd=ROOT, env=env)
             for i in range(accounts.LOCK_AFTER)]
    assert [p.wait(timeout=300) for p in procs] == [0] * accounts.LOCK_AFTER
    v = audit.verify()
    # 1 + 5 x 40 views + 5 failed logins, in one unbroken chain
    assert v.intact and v.entries == 1 + accounts.LOCK_AFTER * 41, str(v)
    assert {r["actor"] for r in audit.search(action="view", limit=10_000)} == {f"w{i}" for i in range(5)}
    # One failure from each process: all five counted, so the account is locked.
    assert accounts.locked_until("lock.me") is not None
    assert len(audit.search(action="login_failed")) == accounts.LOCK_AFTER


# ---- an app.db from before migrations --------------------------------------------------------

OLD_SCHEMA = """
CREATE TABLE users (username TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL, role TEXT NOT NULL, partner TEXT NOT NULL,
    areas TEXT NOT NULL DEFAULT '[]', disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (datetime('now')));
CREATE TABLE audit_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', details TEXT NOT NULL DEFAULT '{}',
    data_owner TEXT NOT NULL DEFAULT '', prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE account_state (username TEXT PRIMARY KEY, failed INTEGER NOT NULL DEFAULT 0,
    locked_until REAL NOT NULL DEFAULT 0, sessions_valid_after REAL NOT NULL DEFAULT 0,
    last_seen REAL NOT NULL DEFAULT 0);
"""


def test_an_app_db_from_before_migrations_is_adopted_with_its_audit_chain(data_dir):
    con = sqlite3.connect(config.app_db_path())
    con.executescript(OLD_SCHEMA)
    prev = audit.GENESIS
    for seq in (1, 2, 3):
        entry = {"seq": seq, "at": f"2025-01-0{seq}T00:00:00+00:00", "actor": "old", "action": "login",
                 "target": "", "details": "{}", "data_owner": ""}
        h = audit.entry_hash(entry, prev)
        con.execute("INSERT INTO audit_log VALUES (?,?,?,?,?,?,?,?,?)", (*entry.values(), prev, h))
        prev = h
    con.execute("INSERT INTO users (username, name, password_hash, role, partner) VALUES "
                "('old.user', 'Old', ?, 'board', 'council')", (users.hash_password(PW),))
    con.commit()
    con.close()
    assert accounts.authenticate("old.user", PW) is not None  # the existing account works
    v = audit.verify()
    assert v.intact and v.entries == 4  # the three old entries, now anchored, and the login
    with state.connect() as con:
        assert sorted(migrations.applied(con)) == [1, 2, 3]
