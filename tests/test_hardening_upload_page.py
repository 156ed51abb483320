"""The Upload page and CLI after issue 14 (finding 10 and the upload-size widget; finding 9's
confirm step) and issue 13's upload gate: one audit entry per upload attempt, however often the
page reruns; a month whose rows match no area, years before the series, is refused unless
confirmed with its figures in front of the analyst; a rollback is confirmed before it happens."""
from __future__ import annotations

import json

import pytest

from apptest_helpers import go, login
from conftest import GEOGRAPHY, L1
from upload_fixtures import crime_csv, crime_rows, police_uk_csv

from csp import audit, catalog, store, upload, users
from csp.__main__ import main

UNKNOWN_LSOA = "E01009999"  # a well-formed LSOA code that is not in the tiny area's lookup


@pytest.fixture
def app_env(tiny, monkeypatch):
    monkeypatch.setenv("CSP_COOKIE_KEY", "test-cookie-key-9f3Kq2LmZ7xW4vB8nR1pY6dH0sJ5gTcE")
    tiny["analyst"] = users.add_user("analyst.police", tiny["password"], role="analyst", partner="police")
    return tiny


def texts(at) -> str:
    return "\n".join([e.value for e in at.error] + [w.value for w in at.warning] + [s.value for s in at.success])


def upload_rows() -> list[dict]:
    return [r for r in audit.search(action="upload")]


def lost_month() -> bytes:
    """2019-01: every row in an LSOA the lookup does not hold, four years before the series
    (the tiny area's crime runs 2023-02 to 2024-02)."""
    return crime_csv([r.replace(L1, UNKNOWN_LSOA).replace("E01000902", UNKNOWN_LSOA).replace("E01000903", UNKNOWN_LSOA)
                      for r in crime_rows(6, month="2019-01")])


# ---- finding 10: one audit row per upload attempt ---------------------------------------------


def test_one_audit_entry_per_upload_attempt_however_often_the_page_reruns(app_env):
    at = go(login("analyst.police", app_env["password"]), "upload")
    for i in range(6):
        at.file_uploader[0].set_value((f"f{i}.csv", crime_csv(crime_rows(3 + i)), "text/csv"))
        at.run()
        assert "Validation passed" in texts(at)
        at.run()  # any later click reruns the page: not another attempt
        at.selectbox(key="up_dataset").set_value(at.selectbox(key="up_dataset").value).run()
    assert [json.loads(r["details"])["file"] for r in reversed(upload_rows())] == [f"f{i}.csv" for i in range(6)]


def test_upload_widget_states_the_apps_limit(app_env, monkeypatch):
    monkeypatch.setenv("CSP_UPLOAD_MAX_MB", "100")
    at = go(login("analyst.police", app_env["password"]), "upload")
    assert at.file_uploader[0].proto.max_upload_size_mb == 100  # was Streamlit's 200
    import tomllib

    from csp import config

    server = tomllib.loads((config.ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["maxUploadSize"] == 100  # the server's own cap on the upload request agrees


# ---- issue 13: the upload gate ----------------------------------------------------------------


def test_gate_refuses_a_lost_month_unless_confirmed(app_env):
    analyst = app_env["analyst"]
    plan = upload.prepare("crime", lost_month(), "2019-01.csv", user=analyst)
    codes = {p.code for p in plan.errors}
    assert codes == {"unmatched_areas", "periods_outside"}, plan.report()
    unmatched = next(p for p in plan.errors if p.code == "unmatched_areas")
    assert "6 of 6 rows (100%) match no area" in unmatched.message
    outside = next(p for p in plan.errors if p.code == "periods_outside")
    assert "2019-01" in outside.message and "first published period (2023-02)" in outside.message
    assert not plan.ok and "Validation passed" not in plan.report()

    plan = upload.prepare("crime", lost_month(), "2019-01.csv", user=analyst, accept_unmatched=True)
    assert {p.code for p in plan.errors} == {"periods_outside"}  # each figure is confirmed on its own
    plan = upload.prepare("crime", lost_month(), "2019-01.csv", user=analyst,
                          accept_unmatched=True, accept_periods=True)
    assert plan.ok, plan.report()
    assert {p.code for p in plan.warnings} >= {"unmatched_areas", "periods_outside"}
    v = upload.publish(plan, analyst.username)["crime"]
    assert v.meta["coverage"]["first"] == "2019-01"
    assert any("confirmed" in w for w in v.meta["validation"]["warnings"])
    assert "confirmed" in upload_rows()[0]["details"]


def test_gate_limits_are_settings_and_a_normal_month_passes(app_env, monkeypatch):
    analyst = app_env["analyst"]
    # 1 row of 20 with an unknown LSOA: 5% is not more than 5%.
    rows = crime_rows(20, month="2024-03")
    rows[0] = rows[0].replace(L1, UNKNOWN_LSOA)
    assert upload.prepare("crime", crime_csv(rows), "mar.csv", user=analyst).ok
    monkeypatch.setenv("CSP_UPLOAD_MAX_UNMATCHED_PCT", "2")
    assert [p.code for p in upload.prepare("crime", crime_csv(rows), "mar.csv", user=analyst).errors] == ["unmatched_areas"]
    monkeypatch.setenv("CSP_UPLOAD_PERIOD_GAP_MONTHS", "60")
    plan = upload.prepare("crime", lost_month(), "2019-01.csv", user=analyst, accept_unmatched=True)
    assert plan.ok, plan.report()  # 49 months before the series is within 60


def test_gate_on_the_cli(app_env, tmp_path, capsys):
    f = tmp_path / "2019-01.csv"
    f.write_bytes(lost_month())
    before = store.current_version_id("crime")
    assert main(["upload", "crime", str(f), "--as", "analyst.police"]) == 1
    out = capsys.readouterr().out
    assert "100%" in out and "--accept-unmatched and --accept-periods" in out
    assert store.current_version_id("crime") == before
    assert main(["upload", "crime", str(f), "--as", "analyst.police", "--accept-unmatched", "--accept-periods"]) == 0
    assert store.current_version_id("crime") != before


def test_gate_on_the_page_shows_the_figures_to_confirm(app_env):
    at = go(login("analyst.police", app_env["password"]), "upload")
    at.file_uploader[0].set_value(("2019-01.csv", lost_month(), "text/csv"))
    at.run()
    assert "problem(s) must be fixed" in texts(at)
    boxes = {c.key: c for c in at.checkbox}
    assert set(boxes) == {"up_accept_unmatched_crime", "up_accept_periods_crime"}
    assert "100%" in boxes["up_accept_unmatched_crime"].label
    assert not [b for b in at.button if b.label == "Publish"]
    boxes["up_accept_unmatched_crime"].check().run()
    assert not [b for b in at.button if b.label == "Publish"]  # one of two figures confirmed
    at.checkbox(key="up_accept_periods_crime").check().run()
    assert not at.exception, at.exception
    assert "Validation passed" in texts(at)
    [b for b in at.button if b.label == "Publish"][0].click().run()
    assert "Published Police recorded crime" in texts(at)
    assert store.current("crime").meta["coverage"]["first"] == "2019-01"
    # Three attempts: the file, then each confirmation; no more for the reruns in between.
    assert len(upload_rows()) == 3


# ---- finding 9 on the page: rollback is confirmed and says what it did -------------------------


def test_rollback_on_the_page_is_confirmed_first(app_env):
    analyst = app_env["analyst"]
    for tag, n in (("a", 9), ("b", 15)):
        plan = upload.prepare("crime", police_uk_csv(n, ["2024-03"], tag), f"{tag}.csv", user=analyst)
        upload.publish(plan, analyst.username)
    crime_now, asb_now = store.current_version_id("crime"), store.current_version_id("asb")
    at = go(login("analyst.police", app_env["password"]), "upload")
    at.selectbox(key="up_rb_crime").set_value("v000002")
    at.button(key="up_rbbtn_crime").click().run()
    assert (store.current_version_id("crime"), store.current_version_id("asb")) == (crime_now, asb_now)
    warning = texts(at).replace("\\", "")  # shown through Markdown, escaped
    crime_t, asb_t = (catalog.contract(d).title for d in ("crime", "asb"))
    v = store.version_words
    assert f"{crime_t}: {v(crime_now)} → version 2" in warning and f"{asb_t}: {v(asb_now)} → version 1" in warning
    assert "rolled back together" in warning
    at.button(key="up_rbyes_crime").click().run()
    assert not at.exception, at.exception
    assert (store.current_version_id("crime"), store.current_version_id("asb")) == ("v000002", "v000001")
    assert (f"Rolled back: {crime_t}: version 3 → version 2; {asb_t}: version 2 → version 1"
            in texts(at).replace("\\", ""))
