"""The data supply tracker (csp.supply): due dates by the regulations' rule, each period's status
(on time, late, missing, not yet due, first load) for monthly and quarterly datasets across year
ends, with versions published through the real store and upload path at controlled times, a
history with a revision and a rollback, the page through AppTest for an analyst, a board member
and a practitioner, "the data this view rests on" on the Overview, and the board pack section.

Expected due dates and statuses are worked out here from the rule in words (a quarter is due by
the end of the following quarter; a month by the end of the following month), not read off the
code's output."""
from __future__ import annotations

from html import escape as html_escape

import dataclasses
import datetime as dt
import json

import polars as pl
import pytest

from conftest import D1, GEOGRAPHY, POPULATION, publish_frame
from upload_fixtures import crime_csv, crime_rows

from csp import catalog, quality, store, supply, upload, users

D = dt.date
UTC = dt.timezone.utc


def at(y, m, d, hh=12, mm=0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=UTC)


def end_of_month(y, m) -> dt.date:
    return (D(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1))


def statuses(s: supply.Supply) -> dict[str, str]:
    return {p.label: p.status for p in s.periods}


def with_rule(monkeypatch, dataset: str, **spec) -> None:
    """The dataset's contract with this supply rule, for the test only."""
    c = catalog.contract(dataset)
    monkeypatch.setitem(catalog.contracts(), dataset, dataclasses.replace(c, supply=spec or None))


# ---- the rule -------------------------------------------------------------------------------------

def test_due_dates_follow_the_rule_across_year_ends():
    q = supply.parse_period
    # A quarter: by the end of the following quarter.
    assert supply.due_date(q("2024 Q1"), 3, 3) == end_of_month(2024, 6)
    assert supply.due_date(q("2024 Q4"), 3, 3) == end_of_month(2025, 3)
    # A month: by the end of the following month (December's falls in the next year; February's
    # end in a leap year).
    assert supply.due_date(q("2024-12"), 1, 1) == end_of_month(2025, 1)
    assert supply.due_date(q("2024-01"), 1, 1) == D(2024, 2, 29)
    # A financial year (from April) due within 12 months of its end (31 March).
    assert supply.due_date(q("2017/18"), 12, 12) == end_of_month(2019, 3)
    # 0: by the end of the period itself.
    assert supply.due_date(q("2024 Q3"), 3, 0) == end_of_month(2024, 9)


@pytest.mark.parametrize("text,step,label", [
    ("2024-05", 1, "2024-05"), ("2024-05-01", 1, "2024-05"), ("2024 Q2", 3, "2024 Q2"),
    ("2024-04", 3, "2024 Q2"), ("2017/18", 12, "2017/18"), ("2019", 12, "2019")])
def test_periods_read_and_named_as_their_publishers_do(text, step, label):
    assert supply.period_label(supply.parse_period(text), step) == label


def test_unreadable_periods_are_none():
    assert [supply.parse_period(t) for t in ("2024-13", "Q2 2024", "spring", "")] == [None] * 4


def test_rule_defaults_come_from_the_contract():
    # No rule written: quarterly data is due by the end of the following quarter.
    r = supply.rule("substance_misuse")
    assert (r.cadence, r.step, r.due_within, r.start, r.tracked) == ("quarterly", 3, 3, None, True)
    assert "by the end of the following quarter" in r.text
    # Written in the contract: reoffending cohorts are due 21 months after the quarter.
    assert supply.rule("reoffending").due_within == 21
    # No period field: nothing to supply.
    assert not supply.rule("geography").tracked


@pytest.mark.parametrize("spec,words", [
    ({"cadence": "weekly"}, "cadence must be monthly, quarterly or annual"),
    ({"due_within_months": -1}, "due_within_months must be a whole number"),
    ({"due_within_months": "3"}, "due_within_months must be a whole number"),
    ({"from": "spring 2024"}, "from must be a period"),
    ({"tracked": "no"}, "tracked must be true or false"),
    ({"due": 3}, "unknown keys due"),
])
def test_bad_rules_are_refused_with_a_reason(monkeypatch, spec, words):
    with_rule(monkeypatch, "substance_misuse", **spec)
    with pytest.raises(supply.SupplyRuleError, match=words):
        supply.rule("substance_misuse")


def test_a_bad_rule_shows_as_not_tracked_with_its_reason(data_dir, monkeypatch):
    with_rule(monkeypatch, "substance_misuse", cadence="weekly")
    s = supply.dataset_supply("substance_misuse", D(2025, 1, 15))
    assert not s.tracked and "cadence must be monthly, quarterly or annual" in s.sentence


def test_status_colours_are_the_colour_blind_safe_palette():
    from csp.ui.common import PALETTE
    assert set(supply.STATUS_COLOURS.values()) <= set(PALETTE)
    assert set(supply.STATUS_COLOURS) == {supply.ON_TIME, supply.LATE, supply.MISSING, supply.NOT_YET_DUE}


# ---- quarterly, through the store ------------------------------------------------------------------

def treatment(*quarters: str) -> pl.DataFrame:
    rows = [{"quarter": D(int(q[:4]), (int(q[-1]) - 1) * 3 + 1, 1), "district_code": D1, "substance_group": "opiate",
             "in_treatment": 40, "successful_completions": 8, "representations": 1} for q in quarters]
    return pl.DataFrame(rows, schema={"quarter": pl.Date, "district_code": pl.String, "substance_group": pl.String,
                                      "in_treatment": pl.Int64, "successful_completions": pl.Int64,
                                      "representations": pl.Int64})


def publish_at(name: str, frame: pl.DataFrame, when: dt.datetime) -> store.Version:
    return store.publish(name, write=lambda cur, out: frame.write_parquet(out), published_by="analyst.health",
                         source="fixture", now=when)


@pytest.fixture
def quarterly(data_dir):
    """substance_misuse: held Q3 2023 to Q1 2024 from 10 May 2024; Q2 2024 on its due date; Q3 2024
    six days after its due date (over the new year); Q4 2024 never."""
    publish_at("substance_misuse", treatment("2023 Q3", "2023 Q4", "2024 Q1"), at(2024, 5, 10))
    publish_at("substance_misuse", treatment("2023 Q3", "2023 Q4", "2024 Q1", "2024 Q2"), at(2024, 9, 30, 23, 59))
    publish_at("substance_misuse", treatment("2023 Q3", "2023 Q4", "2024 Q1", "2024 Q2", "2024 Q3"), at(2025, 1, 6))


def test_quarterly_statuses_over_time(quarterly):
    s = supply.dataset_supply("substance_misuse", D(2025, 4, 15))
    got = statuses(s)
    # Already due when the first upload brought them: history, not judged.
    assert got["2023 Q3"] == got["2023 Q4"] == supply.FIRST_LOAD
    assert got["2024 Q1"] == supply.ON_TIME  # due 30 June 2024, arrived 10 May
    assert got["2024 Q2"] == supply.ON_TIME  # arrived on its due date, one minute before midnight
    assert got["2024 Q3"] == supply.LATE     # due 31 December 2024, arrived 6 January 2025
    q3 = next(p for p in s.periods if p.label == "2024 Q3")
    assert q3.days_late == (D(2025, 1, 6) - end_of_month(2024, 12)).days and q3.version == "v000003"
    assert got["2024 Q4"] == supply.MISSING  # due 31 March 2025
    assert got["2025 Q1"] == supply.NOT_YET_DUE and s.next_due.label == "2025 Q1"
    assert s.next_due.due == end_of_month(2025, 6)
    assert s.status == supply.MISSING and [p.label for p in s.missing] == ["2024 Q4"]
    assert s.last_period.label == "2024 Q3" and s.last_period.supplied_at == at(2025, 1, 6)
    assert "Oct–Dec 2024 missing" in s.sentence  # a quarter in months, as months are written


def test_quarterly_boundaries_on_the_due_date(quarterly):
    # On the due date a period is not yet due; the day after, it is missing.
    assert statuses(supply.dataset_supply("substance_misuse", end_of_month(2025, 3)))["2024 Q4"] == supply.NOT_YET_DUE
    assert statuses(supply.dataset_supply("substance_misuse", D(2025, 4, 1)))["2024 Q4"] == supply.MISSING
    # As at the new year, Q3 2024 was missing; once it arrived (6 January) it is late, and the
    # dataset's status is late (the latest period due arrived late).
    assert statuses(supply.dataset_supply("substance_misuse", D(2025, 1, 1)))["2024 Q3"] == supply.MISSING
    s = supply.dataset_supply("substance_misuse", D(2025, 1, 6))
    assert statuses(s)["2024 Q3"] == supply.LATE and s.status == supply.LATE
    # As at a date before the later versions, only what had arrived by then counts.
    early = supply.dataset_supply("substance_misuse", D(2024, 7, 1))
    assert early.last_period.label == "2024 Q1" and early.version == "v000001"
    assert early.as_at == at(2024, 5, 10) and early.status == supply.ON_TIME


def test_from_judges_the_first_upload_strictly(quarterly, monkeypatch):
    with_rule(monkeypatch, "substance_misuse", **{"from": "2023 Q1"})
    got = statuses(supply.dataset_supply("substance_misuse", D(2025, 4, 15)))
    # Never supplied, from the agreement's first quarter: missing.
    assert got["2023 Q1"] == got["2023 Q2"] == supply.MISSING
    # Supplied with the first upload after their due dates: late, not first load.
    assert got["2023 Q3"] == got["2023 Q4"] == supply.LATE
    with_rule(monkeypatch, "substance_misuse", **{"from": "2024 Q1"})
    got = statuses(supply.dataset_supply("substance_misuse", D(2025, 4, 15)))
    assert got["2023 Q3"] == got["2023 Q4"] == supply.NOT_TRACKED and got["2024 Q1"] == supply.ON_TIME


def test_a_longer_rule_moves_every_due_date(quarterly, monkeypatch):
    with_rule(monkeypatch, "substance_misuse", due_within_months=6)
    got = statuses(supply.dataset_supply("substance_misuse", D(2025, 4, 15)))
    # Q3 2024 is now due by 31 March 2025: 6 January was on time; Q4 2024 is not yet due.
    assert got["2024 Q3"] == supply.ON_TIME and got["2024 Q4"] == supply.NOT_YET_DUE


def test_nothing_published_is_missing_the_latest_period_due(data_dir):
    s = supply.dataset_supply("substance_misuse", D(2025, 1, 15))
    # By 15 January 2025 the latest quarter due is Q3 2024 (by 31 December).
    assert [(p.label, p.status) for p in s.periods] == [("2024 Q3", supply.MISSING), ("2024 Q4", supply.NOT_YET_DUE)]
    assert s.status == supply.MISSING and s.last_period is None and s.as_at is None
    assert s.sentence.startswith("Nothing supplied yet")


def test_versions_without_a_period_list_are_read_by_their_coverage(quarterly):
    # A version published before periods were listed in meta.json holds its coverage range.
    first = store.versions("substance_misuse")[0]
    meta = json.loads((first.path / "meta.json").read_text())
    assert meta["periods"] == ["2023-07", "2023-10", "2024-01"]  # what publish records now
    del meta["periods"]
    (first.path / "meta.json").write_text(json.dumps(meta))
    early = supply.dataset_supply("substance_misuse", D(2024, 7, 1))
    assert [p.label for p in early.periods if p.supplied_at] == ["2023 Q3", "2023 Q4", "2024 Q1"]


def test_an_annual_financial_year_dataset(data_dir):
    frame = pl.DataFrame({"area_code": [D1, D1], "area_name": ["Tinyshire"] * 2, "period": ["2016/17", "2017/18"],
                          "value": [600.0, 610.0], "significance": ["similar"] * 2})
    publish_at("alcohol_admissions", frame, at(2018, 11, 1))
    s = supply.dataset_supply("alcohol_admissions", D(2020, 6, 1))
    got = statuses(s)
    # 2016/17 was due by 31 March 2018, before the first upload; 2017/18 by 31 March 2019.
    assert got == {"2016/17": supply.FIRST_LOAD, "2017/18": supply.ON_TIME, "2018/19": supply.MISSING,
                   "2019/20": supply.NOT_YET_DUE}


# ---- monthly, through the upload path, with a revision and a rollback ---------------------------

@pytest.fixture
def monthly(data_dir):
    """crime, uploaded as CSV by the police analyst at controlled times (the tiny area's lookup)."""
    publish_frame("geography", GEOGRAPHY)
    publish_frame("population", POPULATION)
    from csp.geography import areas
    publish_frame("areas", areas.build(GEOGRAPHY, POPULATION))
    analyst = users.add_user("analyst.police", "correct-horse-battery", role="analyst", partner="police")

    def send(months: list[str], when: dt.datetime, n: int = 3) -> dict:
        rows = [r for m in months for r in crime_rows(n, month=m)]
        rows = [r.replace(",up", f",{m}-up", 1) for m, r in zip([m for m in months for _ in range(n)], rows)]
        plan = upload.prepare("crime", crime_csv(rows), f"crime-{months[0]}.csv", user=analyst, today=when.date())
        assert plan.ok, plan.report()
        return upload.publish(plan, analyst.username, now=when)

    return send


def test_monthly_statuses_with_a_gap_a_revision_and_a_rollback(monthly):
    monthly(["2024-09", "2024-10", "2024-11"], at(2024, 12, 20))   # v1
    monthly(["2024-12", "2025-01"], at(2025, 2, 3))                # v2: December three days late
    monthly(["2025-03"], at(2025, 4, 10))                          # v3: February skipped
    monthly(["2025-01"], at(2025, 4, 11), n=5)                     # v4: January revised
    plan = upload.rollback_plan("crime", "v000002")
    upload.rollback("crime", "v000002", "analyst.police", expect=plan, at=at(2025, 4, 12))

    # As at 20 April: March was withdrawn by the rollback but is not due until 30 April.
    s = supply.dataset_supply("crime", D(2025, 4, 20))
    got = statuses(s)
    assert got["2024-09"] == got["2024-10"] == supply.FIRST_LOAD  # due 31 Oct / 30 Nov, first upload 20 Dec
    assert got["2024-11"] == supply.ON_TIME   # due 31 December
    assert got["2024-12"] == supply.LATE      # due 31 January, arrived 3 February
    assert got["2025-01"] == supply.ON_TIME   # due 28 February
    # The gap: the coverage (to March) would hide it; the periods listed per version do not.
    assert got["2025-02"] == supply.MISSING   # due 31 March, never supplied
    assert got["2025-03"] == supply.NOT_YET_DUE
    assert s.version == "v000002" and s.last_period.label == "2025-01"
    march = next(p for p in s.periods if p.label == "2025-03")
    assert [(e.what, e.at, e.version) for e in march.events] == [
        ("supplied", at(2025, 4, 10), "v000003"), ("withdrawn", at(2025, 4, 12), "v000002")]
    january = next(p for p in s.periods if p.label == "2025-01")
    assert [e.what for e in january.events] == ["supplied", "revised"]  # the rollback kept v2's January
    assert january.supplied_at == at(2025, 2, 3)

    # March arrives again on 2 May, after its due date: late, with its whole history.
    monthly(["2025-03"], at(2025, 5, 2))                           # v5
    s = supply.dataset_supply("crime", D(2025, 5, 5))
    march = next(p for p in s.periods if p.label == "2025-03")
    assert march.status == supply.LATE and march.days_late == 2 and march.version == "v000005"
    assert [e.what for e in march.events] == ["supplied", "withdrawn", "supplied again"]
    assert "withdrawn" in march.history_text and "rolled back from v000004 to v000002" in march.history_text
    assert s.status == supply.MISSING and [p.label for p in s.missing] == ["2025-02"]
    # As at 5 May, March was missing in between (due 30 April, withdrawn 12 April).
    assert statuses(supply.dataset_supply("crime", D(2025, 5, 1)))["2025-03"] == supply.MISSING
    # The history rows say the same, newest first.
    rows = supply.history_rows(s)
    assert rows[0]["period"] == "Apr 2025" and rows[0]["status"] == supply.NOT_YET_DUE  # as people read it
    assert {r["period"]: r["status"] for r in rows} == {supply.period_words(k): v for k, v in statuses(s).items()}


def test_december_due_over_the_new_year(monthly):
    monthly(["2024-11"], at(2024, 12, 2))
    monthly(["2024-12"], at(2025, 1, 31, 23, 0))
    # Due 31 January: arriving that evening is on time; as at 31 January with nothing it would
    # not yet have been due.
    assert statuses(supply.dataset_supply("crime", D(2025, 2, 10)))["2024-12"] == supply.ON_TIME
    assert statuses(supply.dataset_supply("crime", D(2025, 1, 30)))["2024-12"] == supply.NOT_YET_DUE


def test_a_rollback_outside_the_upload_path_is_still_seen(monthly):
    monthly(["2024-11"], at(2024, 12, 2))
    monthly(["2024-12"], at(2025, 1, 10))
    store.rollback("crime", "v000001", by="cli:test")  # records no history event
    s = supply.dataset_supply("crime", D(2025, 3, 1))
    assert s.version == "v000001" and statuses(s)["2024-12"] == supply.MISSING
    assert any("does not record" in n for n in s.notes)


def test_quality_schedule_uses_the_same_rule(quarterly, monkeypatch):
    # The Data quality page's "expected latest" is the supply rule's latest period due.
    today = D(2025, 4, 15)
    sched = quality.schedule("substance_misuse", [D(2024, 1, 1), D(2024, 4, 1)], today=today)
    due = [p.label for p in supply.dataset_supply("substance_misuse", today).periods if p.due < today]
    assert sched.expected_latest == due[-1] == "2024 Q4"
    with_rule(monkeypatch, "substance_misuse", due_within_months=6)
    assert quality.schedule("substance_misuse", [D(2024, 1, 1)], today=today).expected_latest == "2024 Q3"


def test_every_declared_dataset_is_listed_and_no_other(quarterly):
    listed = [s.dataset for s in supply.all_supply(D(2025, 4, 15))]
    assert sorted(listed) == sorted(catalog.contracts())
    assert [s.dataset for s in supply.due_from("health", D(2025, 4, 15))] == \
        sorted((d for d, c in catalog.contracts().items() if c.owner == "health" and supply.rule(d).tracked),
               key=lambda d: catalog.contract(d).title)


# ---- the page, the overview note and the board pack on the demo ------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from apptest_helpers import demo_area
    with demo_area(tmp_path_factory, "demo_supply"):
        yield


def page_text(at_) -> str:
    parts = [str(d.value.to_dict()) for d in at_.dataframe]
    parts += [str(e.value) for kind in ("markdown", "caption", "info", "warning", "header", "subheader", "title")
              for e in at_.get(kind)]
    parts += [e.label for e in at_.expander]
    return "\n".join(parts)


def shown_statuses(at_) -> dict[str, str]:
    """The supply table's statuses by dataset (the table with partner, dataset and status)."""
    frame = next(d.value for d in at_.dataframe if {"Partner", "Dataset", "Status"} <= set(d.value.columns))
    return dict(zip(frame["Dataset"], frame["Status"]))


def in_expander(at_, starts: str):
    return next(e for e in at_.expander if e.label.startswith(starts))


def expected_statuses(owner: str | None = None) -> dict[str, str]:
    return {s.title: s.status for s in supply.all_supply() if s.tracked and (owner is None or s.owner == owner)}


def test_analyst_sees_what_is_due_from_them_first(demo):
    from apptest_helpers import go, login
    at_ = go(login("analyst.police"), "data-supply")
    assert not at_.exception, at_.exception
    heads = [h.value for h in at_.header]
    assert heads[0] == "What is due from you (Police)" and "Every partner" in heads
    # Their own datasets, each with its status in words, before everything else.
    own = expected_statuses("police")
    assert catalog.contract("crime").title in own and catalog.contract("asb").title in own
    boxes = [m.value for m in at_.markdown if "· status:" in m.value]
    assert len(boxes) == len(own)
    from csp.ui.common import md_escape
    for title, status in own.items():
        assert any(md_escape(title) in b and f"status: **{md_escape(status)}**" in b for b in boxes)
    # Then the whole partnership, with every tracked dataset and its status.
    assert shown_statuses(at_) == expected_statuses()


def test_board_member_sees_every_partner_and_the_history(demo):
    from apptest_helpers import go, login
    at_ = go(login("board.council"), "data-supply")
    assert not at_.exception, at_.exception
    assert not any(h.value.startswith("What is due from you") for h in at_.header)
    assert shown_statuses(at_) == expected_statuses()
    # One history per tracked dataset, every period with its status.
    tracked = [s for s in supply.all_supply() if s.tracked]
    assert len([e for e in at_.expander if e.label.endswith(tuple(supply.STATUSES))]) == len(tracked)
    crime = next(s for s in tracked if s.dataset == "crime")
    frame = in_expander(at_, crime.title).dataframe[0].value
    assert dict(zip(frame["Period"], frame["Status"])) == {p.words: p.status for p in crime.periods}
    # Reference data is listed with its as-at date, not judged.
    assert "Not tracked" in [h.value for h in at_.header]


def test_practitioner_may_see_supply_too(demo):
    from apptest_helpers import go, login
    at_ = go(login("officer.fire"), "data-supply")
    assert not at_.exception, at_.exception
    assert at_.title[0].value == "Data supply"
    assert shown_statuses(at_) == expected_statuses()


def test_overview_says_what_data_it_rests_on(demo):
    from apptest_helpers import go, login
    from csp import themes
    at_ = go(login("board.health"), "overview")
    assert not at_.exception, at_.exception
    line = next(c.value for c in at_.caption if c.value.startswith("The data this view rests on"))
    line = line.replace("\\", "")  # markdown escapes
    health = users.get_user("board.health")
    shown = [t.source for t in themes.overview_tiles(health) + themes.own_tiles(health) if t.available]
    assert shown
    for d in shown:
        s = supply.dataset_supply(d)
        assert s.title in line and f"as at {s.as_at:%d %b %Y}" in line
        # held to its last month (a quarter read 'to Oct–Dec 2024'), and what is missing named
        assert f"to {s.last_period.end_words}," in line
        if s.missing:
            assert f"{s.missing[0].words}" in line and "overdue" in line
        elif s.status in (supply.ON_TIME, supply.LATE):
            assert {supply.ON_TIME: "supplied on time", supply.LATE: "supplied late"}[s.status] in line
        assert "supply: " not in line
        assert "–" not in s.last_period.end_words
    frame = in_expander(at_, "The data this view rests on").dataframe[0].value
    assert list(frame["Dataset"]) == [supply.dataset_supply(d).title for d in shown]


def test_board_pack_has_a_supply_section_as_at_its_date(demo):
    from csp import boardpack
    produced = dt.datetime.now(UTC) + dt.timedelta(days=45)  # a later pack date: more is due
    html = boardpack.build(users.get_user("board.council"), now=produced)
    assert "<li><a href='#supply'>Data supply</a></li>" in html
    section = html[html.index("<section id='supply'>"):]
    section = section[:section.index("</section>")]
    assert f"As at {produced:%d %B %Y}" in section
    for s in supply.all_supply(produced.date()):
        if not s.tracked:
            assert s.title not in section
            continue
        colour = supply.STATUS_COLOURS.get(s.status)
        cell = (f"<td style='background:{colour};color:#000;font-weight:600'>" if colour else "<td>") + s.status
        row = section[section.index(f"<td>{html_escape(s.title)}</td>"):]  # "A&amp;E assault attendances"
        assert cell in row[:row.index("</tr>")]
    # The same pack on the demo's publication day judges fewer periods missing.
    today = supply.all_supply(supply.utc_today())
    later = supply.all_supply(produced.date())
    assert sum(len(s.missing) for s in later) > sum(len(s.missing) for s in today)


def test_what_is_held_reads_as_the_months_its_periods_span():
    """Quarterly data is dated by each quarter's first month: a last quarter of Oct 2024 holds
    October to December, and 'Jan 2021 to Oct 2024' understated it by two months."""
    assert supply.held_words("2022-10-01", "2026-09-01") == "Oct 2022 to Sep 2026"
    assert supply.held_words("2021-01-01", "2024-10-01", 3) == "Jan–Mar 2021 to Oct–Dec 2024"
    assert supply.held_words("2021-01", "2024-01", 12) == "Jan 2021 to Dec 2024"
    assert supply.held_words("?", "2024-10") == "? to 2024-10"
    # Financial years stay years: 2025/26 is not 'Apr 2025'.
    assert supply.held_words("2018/19", "2025/26") == "2018/19 to 2025/26"
    assert supply.held_words("2024 Q2", "2024 Q4", 3) == "Apr–Jun 2024 to Oct–Dec 2024"


def test_monthly_data_supplied_quarterly_is_judged_by_the_quarter(demo):
    """Fires, council ASB and the like hold months but are supplied by the quarter: the supply
    table lists quarters only (it read '2026-05', '2026 Q2', '2026-06' ...), and a quarter is
    held exactly when the served data holds one of its months."""
    import duckdb
    checked = 0
    for ds in store_datasets():
        r = supply.rule(ds)
        c = catalog.contract(ds)
        if not r.tracked or r.step != 3 or r.start is not None:
            continue
        cur = store.current(ds)
        months = duckdb.execute(f"SELECT DISTINCT strftime(\"{c.period_field}\", '%Y-%m') FROM read_parquet(?)",
                                [cur.files]).fetchall()
        truth = set()
        for (m,) in months:
            y, mo = int(m[:4]), int(m[5:])
            first = y * 12 + mo - 1
            truth.add(supply.period_label(first - first % r.step, r.step))
        s = supply.dataset_supply(ds, dt.date.today())
        labels = [p.label for p in s.periods]
        assert all(supply.parse_period(x) % 3 == 0 and " Q" in x for x in labels), (ds, labels)
        assert len(labels) == len(set(labels))
        assert {p.label for p in s.periods if p.supplied_at is not None} == truth, ds
        checked += 1
    assert checked >= 4  # fires, council ASB, housing ASB, environmental crime at least


def store_datasets() -> list[str]:
    return [d for d in catalog.contracts() if store.current(d) is not None]
