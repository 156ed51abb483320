"""Account safety: lockout, password rules, cookie revocation, idle limit, admin changes."""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import jwt
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from csp import accounts, audit, users

APP = str(Path(__file__).resolve().parents[1] / "app.py")
KEY = "test-cookie-key-9f3Kq2LmZ7xW4vB8nR1pY6dH0sJ5gTcE"
PW = "correct-horse-battery"


def token(username: str, issued: float, days: float = 1, key: str = KEY) -> str:
    """The re-login cookie the app writes after a password login at ``issued``: a new
    server-side session and a JWT naming it, with its own issue time."""
    sid = accounts.start_session(username, now=issued)
    return accounts.issue_cookie(username, sid, key, days, now=issued)


@pytest.fixture
def jo(data_dir):
    return users.add_user("joe", PW, role="board", partner="council")


def test_good_password_logs_in_and_is_audited(jo):
    assert accounts.authenticate("Joe ", PW) == jo  # the form's username is trimmed, lower-cased
    assert [(r["actor"], r["action"]) for r in audit.search()] == [("joe", "login")]


def test_five_failures_lock_the_account_even_for_the_right_password(jo):
    now = time.time()
    for i in range(accounts.LOCK_AFTER):
        assert accounts.locked_until("joe", now) is None
        assert accounts.authenticate("joe", f"wrong-{i}", now=now) is None
    assert accounts.locked_until("joe", now) == pytest.approx(now + accounts.LOCK_SECONDS)
    assert accounts.authenticate("joe", PW, now=now + 60) is None
    assert accounts.authenticate("joe", PW, now=now + accounts.LOCK_SECONDS - 1) is None
    # The lock ends after 15 minutes.
    assert accounts.authenticate("joe", PW, now=now + accounts.LOCK_SECONDS + 1) == jo
    reasons = [r["details"] for r in audit.search(action="login_failed")]
    assert sum('"locked"' in d for d in reasons) == 2 and sum("locked_now" in d for d in reasons) == 1


def test_four_failures_then_success_resets_the_count(jo):
    for _ in range(4):
        accounts.authenticate("joe", "nope-nope-nope")
    assert accounts.authenticate("joe", PW) == jo
    for _ in range(4):
        accounts.authenticate("joe", "nope-nope-nope")
    assert accounts.locked_until("joe") is None


def test_lock_persists_in_the_database(jo, monkeypatch):
    for _ in range(5):
        accounts.authenticate("joe", "wrong-password")
    # A "restart": nothing is held in memory, the state is read back from the database.
    import importlib

    importlib.reload(accounts)
    assert accounts.locked_until("joe") is not None
    assert accounts.authenticate("joe", PW) is None


def test_unknown_user_is_counted_like_a_known_one(jo):
    assert accounts.authenticate("nobody", "whatever-pass") is None
    assert audit.search(action="login_failed")[0]["details"] == '{"reason":"unknown_user"}'
    for _ in range(4):
        accounts.authenticate("nobody", "whatever-pass")
    assert accounts.locked_until("nobody") is not None  # no difference an attacker could observe


@pytest.mark.parametrize("password, ok", [
    ("short", False), ("password123", False), ("Password2024!", False), ("qwertyuiop", False),
    ("joe-the-user", True), ("fenmouth-demo", True), ("x" * 73, False),
])
def test_password_rules(password, ok):
    assert (users.password_problem(password, "joe") is None) is ok


def test_password_equal_to_username_is_refused():
    assert users.password_problem("jonathan.smith", "jonathan.smith") is not None


def test_common_password_list_is_a_real_list():
    words = users._common_passwords()
    assert len(words) >= 300 and "123456" in words and "password" in words


def test_add_user_refuses_common_password(data_dir):
    with pytest.raises(users.UserError, match="too common"):
        users.add_user("sam", "password1234", role="board", partner="council")


def test_cookie_accepted_until_logout_then_refused_even_if_replayed(jo):
    issued = time.time() - 10
    t = token("joe", issued)
    assert accounts.cookie_login(t, KEY, 1) == "joe"
    accounts.end_sessions("joe")  # what Log out does
    assert accounts.cookie_login(t, KEY, 1) is None
    assert accounts.cookie_login(t, KEY, 1) is None  # and again: no state was consumed
    assert accounts.cookie_login(token("joe", time.time() + 1), KEY, 1) == "joe"  # a new login


def test_lowering_the_cookie_lifetime_never_revives_a_logged_out_cookie(jo):
    """Issue 14, finding 3: the issue time used to be inferred as exp_date - expiry setting, so a
    30-day cookie refused after logout came back when the setting was lowered to 1 day."""
    # The lifetime set now bounds cookies, counted from their own issue time.
    old = token("joe", time.time() - 2 * 86400, days=30)
    accounts.touch("joe", sid=jwt.decode(old, KEY, algorithms=["HS256"])["sid"])  # (idle is another rule)
    assert accounts.cookie_login(old, KEY, 30) == "joe"
    assert accounts.cookie_login(old, KEY, 1) is None
    issued = time.time() - 120
    t = token("joe", issued, days=30)
    assert accounts.cookie_login(t, KEY, 30) == "joe"
    accounts.end_sessions("joe", now=issued + 60)  # logged out a minute after logging in
    for days in (30, 7, 1, 0.5):
        assert accounts.cookie_login(t, KEY, days) is None
    assert accounts.cookie_login(token("joe", time.time() - 30, days=30), KEY, 1) == "joe"


def test_cookie_without_a_signed_issue_time_or_session_is_refused(jo):
    """A cookie in the old form (what streamlit-authenticator writes: username and expiry only)
    or naming a session the server never started is refused, even with the right key."""
    now = time.time()
    old = jwt.encode({"username": "joe", "exp_date": now + 86400}, KEY, algorithm="HS256")
    assert accounts.cookie_login(old, KEY, 1) is None
    made_up = jwt.encode({"username": "joe", "sid": "not-a-session", "iat": now, "exp_date": now + 86400},
                         KEY, algorithm="HS256")
    assert accounts.cookie_login(made_up, KEY, 1) is None
    other = users.add_user("ann.other", PW, role="board", partner="council")
    sid = accounts.start_session(other.username, now)  # someone else's session id
    stolen = jwt.encode({"username": "joe", "sid": sid, "iat": now, "exp_date": now + 86400}, KEY, algorithm="HS256")
    assert accounts.cookie_login(stolen, KEY, 1) is None
    assert accounts.cookie_login(accounts.issue_cookie("ann.other", sid, KEY, 1, now), KEY, 1) == "ann.other"


def test_idle_limit_is_kept_server_side_per_session(jo, monkeypatch):
    monkeypatch.setenv("CSP_IDLE_MINUTES", "5")
    now = time.time()
    t = token("joe", now - 3600)  # session last active an hour ago
    assert accounts.cookie_login(t, KEY, 1) is None
    # Refused for good: the session was ended as idle, so later activity elsewhere cannot revive it.
    accounts.touch("joe")
    assert accounts.cookie_login(t, KEY, 1) is None
    fresh = token("joe", now - 240)
    assert accounts.cookie_login(fresh, KEY, 1) == "joe"


def test_cookie_refused_when_forged_expired_disabled_revoked_or_idle(jo, monkeypatch):
    now = time.time()
    assert accounts.cookie_login(token("joe", now, key="x" * 40), KEY, 1) is None  # wrong key
    assert accounts.cookie_login(token("joe", now - 2 * 86400), KEY, 1) is None  # expired
    assert accounts.cookie_login("not-a-jwt", KEY, 1) is None
    monkeypatch.setenv("CSP_IDLE_MINUTES", "5")
    idle = token("joe", now - 599)
    assert accounts.cookie_login(idle, KEY, 1) is None  # its session idle for 10 minutes
    busy = token("joe", now - 599)
    sid = jwt.decode(busy, KEY, algorithms=["HS256"])["sid"]
    accounts.touch("joe", sid=sid)
    assert accounts.cookie_login(busy, KEY, 1) == "joe"
    accounts.revoke_sessions("admin", "joe")
    assert accounts.cookie_login(token("joe", now - 1), KEY, 1) is None
    assert accounts.cookie_login(token("joe", now + 1), KEY, 1) == "joe"
    accounts.set_disabled("admin", "joe", True)
    assert accounts.cookie_login(token("joe", now + 2), KEY, 1) is None
    accounts.set_disabled("admin", "joe", False)
    assert accounts.cookie_login(token("joe", now + 3), KEY, 1) == "joe"


def test_admin_changes_are_applied_and_audited(jo):
    accounts.set_access("admin", "joe", role="practitioner", partner="housing", areas=["E05000901"])
    u = users.get_user("joe")
    assert (u.role, u.partner, u.areas) == ("practitioner", "housing", ("E05000901",))
    accounts.reset_password("admin", "joe", "a-brand-new-secret")
    assert accounts.authenticate("joe", PW) is None
    assert accounts.authenticate("joe", "a-brand-new-secret") is not None
    with pytest.raises(users.UserError):
        accounts.reset_password("admin", "joe", "letmein123")
    accounts.set_disabled("admin", "joe", True)
    assert users.get_user("joe") is None and accounts.authenticate("joe", "a-brand-new-secret") is None
    actions = [r["action"] for r in audit.search(actor="admin")]
    assert actions == ["user_disable", "password_reset", "user_change"]
    change = audit.search(action="user_change")[0]
    assert '"before":{"areas":[],"partner":"council","role":"board"}' in change["details"]
    assert audit.verify().intact


# ---- through the app ----------------------------------------------------------------------


@pytest.fixture
def app_env(tiny, monkeypatch):
    monkeypatch.setenv("CSP_COOKIE_KEY", KEY)
    return tiny


def login(at, username, password):
    inputs = {t.label: t for t in at.text_input}
    inputs["Username"].input(username)
    inputs["Password"].input(password)
    at.button[0].click()
    return at.run()


def logged_in(at) -> bool:
    return any(b.label == "Log out" for b in at.button)


def test_locked_account_gets_the_same_message_in_the_app(app_env):
    for _ in range(5):
        accounts.authenticate("council.board", "wrong-password")
    at = login(AppTest.from_file(APP, default_timeout=30).run(), "council.board", app_env["password"])
    assert [e.value for e in at.error] == ["Username or password is incorrect."]
    assert not logged_in(at)


def test_revoked_session_ends_on_next_interaction(app_env):
    at = login(AppTest.from_file(APP, default_timeout=30).run(), "council.board", app_env["password"])
    assert logged_in(at)
    time.sleep(0.01)
    accounts.revoke_sessions("admin", "council.board")
    at.run()
    assert not logged_in(at) and [t.label for t in at.text_input] == ["Username", "Password"]
    assert "Your session has ended" in at.info[0].value


def test_idle_session_is_logged_out(app_env, monkeypatch):
    at = login(AppTest.from_file(APP, default_timeout=30).run(), "council.board", app_env["password"])
    assert logged_in(at)
    monkeypatch.setenv("CSP_IDLE_MINUTES", "1")
    at.session_state["csp_last_activity"] = time.time() - 61
    at.run()
    assert not logged_in(at)
    assert "without activity" in at.info[0].value
    assert audit.search(action="logout")[0]["details"] == '{"reason":"idle"}'


def test_login_logout_and_page_view_are_audited(app_env):
    at = login(AppTest.from_file(APP, default_timeout=30).run(), "council.board", app_env["password"])
    assert logged_in(at)
    views = audit.search(action="view", actor="council.board")
    assert len(views) == 1
    from pages import PAGES

    spec = next(p for p in PAGES if views[0]["target"] in (p.url_path, p.title))
    # whose data it was: the owners of the datasets the page read (its themes' and the
    # council's own datasets, for a council board member's Overview)
    from csp import queries, themes
    with queries.tracking_reads() as read:
        board = users.get_user("council.board")
        themes.overview_tiles(board) + themes.own_tiles(board)
    assert set(spec.datasets) <= read
    assert views[0]["data_owner"] == ",".join(audit.owners_of(read)) != ""
    at.run()  # a rerun showing the same view is not logged again
    assert len(audit.search(action="view", actor="council.board")) == 1
    [b for b in at.button if b.label == "Log out"][0].click()
    at.run()
    assert [r["action"] for r in audit.search(actor="council.board")][:1] == ["logout"]
    assert audit.verify().intact


def test_admin_adds_user_and_views_as_them_without_password(app_env):
    admin = users.add_user("ada.admin", PW, role="admin", partner="council")
    at = login(AppTest.from_file(APP, default_timeout=30).run(), "ada.admin", PW)
    assert logged_in(at)
    at._page_hash = calc_hash("admin_users")  # st.Page(callable) routes by the url_path's hash
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Users"
    at.selectbox(key="view_as_user").set_value("housing.officer")
    at.button(key="view_as_start").click()
    at.run()  # (the landing page itself is another module's business; we look at the frame)
    # Now the app is exactly housing.officer's: their scope, no admin pages.
    assert any("Viewing as" in w.value for w in at.warning)
    # The ward by name (markdown-escaped: names are data).
    assert "Your ward: Abbey" in [c.value for c in at.caption]
    at._page_hash = calc_hash("admin_users")
    at.run()
    assert not [t for t in at.title if t.value == "Users"]  # not a page they have
    entry = audit.search(action="view_as")[0]
    assert (entry["actor"], entry["target"], entry["data_owner"]) == ("ada.admin", "housing.officer", "housing")
    at.button(key="stop_view_as").click()
    at.run()
    assert not any("Viewing as" in w.value for w in at.warning)
    assert audit.search(action="view_as_end")[0]["actor"] == "ada.admin"


@pytest.mark.parametrize("key, accepted", [
    ("a" * 32, False), ("ab" * 20, False), ("password" * 5, False), ("0123456789abcdef" * 2, False),
    ("tooshort", False), ("9f86d081884c7d659a2feaa0c55ad015", True),  # 32 random hex characters
    (KEY, True),
])
def test_cookie_key_must_be_random_not_just_long(data_dir, monkeypatch, key, accepted):
    """Issue 14, finding 10: 32 x "a" was accepted as a cookie-signing key."""
    from csp import config

    monkeypatch.setenv("CSP_COOKIE_KEY", key)
    if accepted:
        assert config.cookie_settings().key == key
    else:
        with pytest.raises(config.ConfigError, match="too predictable|at least 32"):
            config.cookie_settings()


def test_page_views_are_audited_under_one_name_per_page(app_env):
    """Issue 14, finding 10: the landing page was audited by its title ("Neighbourhood") and the
    same page opened by its link by its URL path ("neighbourhood")."""
    from pages import PAGES

    at = login(AppTest.from_file(APP, default_timeout=30).run(), "housing.officer", app_env["password"])
    assert logged_in(at)  # a practitioner lands on Neighbourhood, the app root
    for page in ("neighbourhood", "crime", "neighbourhood"):
        at._page_hash = calc_hash(page)
        at.run()
        assert not at.exception, at.exception
    targets = [r["target"] for r in audit.search(action="view", actor="housing.officer")]
    assert targets[-1] == "neighbourhood" and set(targets) == {"neighbourhood", "crime"}
    assert set(targets) <= {p.url_path for p in PAGES}


def test_a_view_is_a_use_of_only_the_data_it_read(app_env):
    """Explore may read any dataset, but a view of one dataset is a use of its owner's data
    only ("Use of our data" for the other partners does not list it)."""
    at = login(AppTest.from_file(APP, default_timeout=30).run(), "council.board", app_env["password"])
    assert logged_in(at)
    from apptest_helpers import go
    at = go(at, "explore")
    assert not at.exception, at.exception
    view = audit.search(action="view", actor="council.board")[0]
    assert view["target"] == "explore"
    from csp import queries
    with queries.tracking_reads() as read:  # what the page reads, run directly as the user
        queries.run(users.get_user("council.board"), "crime_facets")
    assert read == {"crime"}
    owners = set(view["data_owner"].split(",")) if view["data_owner"] else set()
    from pages import PAGES
    spec = next(p for p in PAGES if p.url_path == "explore")
    assert owners < set(audit.owners_of(spec.datasets)), (owners, spec.datasets)
