"""The Upload, Catalogue and Data quality pages through AppTest on the tiny fixture."""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import go, login
from csp.ui.common import md_escape as ui_escape

from upload_fixtures import crime_csv, crime_rows, with_extra

from csp import catalog, store, users



@pytest.fixture
def app_env(tiny, monkeypatch):
    monkeypatch.setenv("CSP_COOKIE_KEY", "test-cookie-key-9f3Kq2LmZ7xW4vB8nR1pY6dH0sJ5gTcE")
    users.add_user("analyst.police", tiny["password"], role="analyst", partner="police")
    users.add_user("analyst.probation", tiny["password"], role="analyst", partner="probation")
    return tiny


def texts(at: AppTest) -> str:
    return "\n".join([e.value for e in at.error] + [w.value for w in at.warning] + [s.value for s in at.success])


def test_upload_page_rejects_then_publishes(app_env):
    at = go(login("analyst.police", app_env["password"]), "upload")
    assert not at.exception, at.exception
    assert at.selectbox(key="up_dataset").options == ["Police recorded crime (street level)",
                                                       "Anti-social behaviour incidents"]
    before = store.current_version_id("crime")

    at.file_uploader[0].set_value(("bad.csv", crime_csv(crime_rows(3, month="2099-01")), "text/csv"))
    at.run()
    assert not at.exception, at.exception
    assert "problem(s) must be fixed" in texts(at)
    report = at.dataframe[1].value  # [0] is the expected-columns table
    assert any("after this month" in p for p in report["problem"])
    assert not [b for b in at.button if b.label == "Publish"]

    at.file_uploader[0].set_value(("pc.csv", with_extra("postcode", ["LN1 3AB"]), "text/csv"))
    at.run()
    assert "personal-data finding" in texts(at)
    at.button(key="FormSubmitter:up_fix_crime-Apply fixes").click()
    at.run()
    assert not at.exception, at.exception
    assert "Validation passed" in texts(at)
    publish = [b for b in at.button if b.label == "Publish"][0]
    publish.click()
    at.run()
    assert "Published Police recorded crime" in texts(at)
    assert store.current_version_id("crime") != before
    assert store.current("crime").meta["published_by"] == "analyst.police"
    # The versions table says who published by name and partner, not by login.
    from csp import users
    me = users.get_user("analyst.police")
    versions = next(d.value for d in at.dataframe if "Serving" in d.value.columns)
    by = dict(zip(versions["Serving"], versions["By"]))["Yes"]
    assert me.name in by and "Police" in by and by != "analyst.police"


def test_upload_page_hidden_from_board_and_other_partners_datasets(app_env):
    at = go(login("council.board", app_env["password"]), "upload")
    assert not [t for t in at.title if t.value == "Upload data"]
    at = go(login("analyst.probation", app_env["password"]), "upload")
    assert at.selectbox(key="up_dataset").options == ["Proven reoffending cohorts"]


def test_catalogue_lists_every_dataset(app_env):
    at = go(login("council.board", app_env["password"]), "catalogue")
    assert not at.exception, at.exception
    summary = at.dataframe[0].value
    assert len(summary) == len(catalog.contracts())  # with population and areas
    crime = summary[summary["title"] == "Police recorded crime (street level)"].iloc[0]
    assert crime["owner"] == "Police"
    # How often and which version: in the dataset's own box (the table kept to what fits)
    box = next(e for e in at.expander if e.label == "Police recorded crime (street level)")
    assert "**Latest version:** Version 1" in box.markdown[0].value and "**Updated:** monthly" in box.markdown[0].value
    assert crime["coverage"] == "Feb 2023 to Feb 2024"
    assert "perturbed" in crime["access"]


def test_data_quality_page(app_env):
    at = go(login("analyst.police", app_env["password"]), "data-quality")
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    # 2024-02: 15 crimes, 3 with no LSOA -> 80% located, flagged under 85%.
    feb = table[table["Period"].astype(str).str.startswith("2024-02")].iloc[0]
    assert feb["Records"] == 15 and feb["With valid geography"] == 12 and feb["Below 85%"] == "Yes"
    assert "below 85%" in texts(at)
    # 2023-03 .. 2023-12 are missing: one run, not ten labels; the count and the words are Data
    # supply's own, so the two pages agree.
    from csp import supply

    owed = supply.dataset_supply("crime")
    assert "Mar 2023 to Dec 2023 (10 months)" in owed.sentence
    assert ui_escape(owed.sentence) in texts(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Periods missing"] == str(len(owed.missing)) and len(owed.missing) >= 10
    assert metrics["Periods late"] == str(len(owed.late))
    cats = json.loads(at.dataframe[-1].proto.columns)
    assert cats["first_month"]["type_config"]["format"] == "MMM YYYY", cats  # no 00:00:00
    # Monthly periods read as months, not as midnight timestamps.
    period = json.loads(at.dataframe[0].proto.columns)["Period"]
    assert period["type_config"]["format"] == "MMM YYYY", period
    # Newest first, as on Data supply: the period checked after an upload is the latest.
    assert table["Period"].is_monotonic_decreasing and len(table) > 1
    ids = next(d.value for d in at.dataframe if "duplicate_ids" in d.value.columns)
    assert ids["month"].is_monotonic_decreasing and len(ids) > 1


def test_upload_page_mapping_is_offered_and_remembered(app_env):
    from csp import upload
    from upload_fixtures import CRIME_HEADER

    at = go(login("analyst.police", app_env["password"]), "upload")
    data = crime_csv(crime_rows(3), header=CRIME_HEADER.replace("crime_type", "Offence *group*"))
    at.file_uploader[0].set_value(("mapped.csv", data, "text/csv"))
    at.run()
    assert "problem(s) must be fixed" in texts(at)
    at.selectbox(key="up_mapsel_crime_crime_type").set_value("Offence *group*")
    at.button(key="FormSubmitter:up_mapform_crime-Apply mapping").click()
    at.run()
    assert not at.exception, at.exception
    assert "Validation passed" in texts(at)
    assert upload.remembered_mapping("police", "crime") == {"Offence *group*": "crime_type"}


def test_versions_table_reads_as_dates_and_numbers(app_env):
    """Published times as dates (not ISO strings), rows with thousands separators, the retention
    box not contradicting its own value."""
    import re

    at = go(login("analyst.police", app_env["password"]), "upload")
    assert not at.exception, at.exception
    versions = next(d.value for d in at.dataframe if "Published" in d.value.columns)
    meta = store.current("crime").meta
    row = versions[versions["Version"] == store.version_words(store.current_version_id("crime")).capitalize()].iloc[0]
    assert not versions["Version"].str.startswith("v0").any()  # counted as people count, not ids
    assert re.fullmatch(r"\d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d UTC", row["Published"]), row["Published"]
    assert row["Rows"] == f"{meta['rows']:,}" and row["Serving"] == "Yes"
    box = at.number_input(key="up_ret_crime")
    assert box.label == "Keep old versions for (days)" and "every old version is kept" in box.help
