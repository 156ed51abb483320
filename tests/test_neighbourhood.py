"""Neighbourhood, rebuilt for an officer with five minutes (issue 17): the queries against an
independent count of the published rows, the comparator each kind of user gets (the partnership,
their other wards, or plainly nothing), what changed most, the trend against the same month a
year before, the LSOA hotspots, and the page itself through AppTest, names escaped."""
from __future__ import annotations

import datetime as dt
import json
import re

import polars as pl
import pytest

from apptest_helpers import demo_area, go, login
from conftest import GEOGRAPHY, POPULATION, W1, W2, crime_frame, publish_frame

from csp import access, stats
from csp import neighbourhood as nb
from csp.themes import TableResult

HOUSING = ("E05999001", "E05999002")
FIRE = "E05999003"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with demo_area(tmp_path_factory, "demo_neighbourhood"):
        yield


def user(name):
    from csp import users
    return users.get_user(name)


def rows_of(dataset: str) -> pl.DataFrame:
    """The published rows, read directly (not through the query layer under test)."""
    from csp import store
    return pl.read_parquet(store.current(dataset).files)


def last12(frame: pl.DataFrame) -> tuple[dt.date, pl.DataFrame, pl.DataFrame]:
    last = frame["month"].max()
    cut12 = dt.date(last.year - 1, last.month, 1)
    cut24 = dt.date(last.year - 2, last.month, 1)
    return last, frame.filter(pl.col("month") > cut12), frame.filter((pl.col("month") > cut24) & (pl.col("month") <= cut12))


# ---- the queries, against the rows ---------------------------------------------------------------


def test_summary_counts_equal_the_rows_for_the_owner(demo):
    crime, asb = rows_of("crime"), rows_of("asb")
    areas = rows_of("areas")
    ward = "E05999009"  # Marsh End
    res = {r["category"]: r for r in nb.queries.run(user("board.police"), "neighbourhood_summary", {"ward": ward}).frame.to_dicts()}
    _, cur, prev = last12(crime)
    assert res["All crime"]["ward_current"] == cur.filter(pl.col("ward_code") == ward).height
    assert res["All crime"]["ward_previous"] == prev.filter(pl.col("ward_code") == ward).height
    assert res["All crime"]["comparator_current"] == cur.filter(pl.col("district_code").is_not_null()).height
    burglary = cur.filter((pl.col("ward_code") == ward) & (pl.col("crime_type") == "Burglary")).height
    assert res["Burglary"]["ward_current"] == burglary
    _, acur, _ = last12(asb)
    assert res["Anti-social behaviour"]["ward_current"] == acur.filter(pl.col("ward_code") == ward).height
    pops = dict(zip(areas["area_code"], areas["population"]))
    assert res["All crime"]["ward_population"] == pops[ward]
    assert res["All crime"]["comparator_population"] == pops["E07999001"]
    assert res["All crime"]["comparator"] == "partnership" and res["All crime"]["comparator_wards"] == 20


def test_a_scoped_user_is_compared_with_their_other_wards_only(demo):
    crime = rows_of("crime")
    pops = dict(zip(rows_of("areas")["area_code"], rows_of("areas")["population"]))
    res = nb.queries.run(user("officer.housing"), "neighbourhood_summary", {"ward": HOUSING[0]})
    row = next(r for r in res.frame.to_dicts() if r["category"] == "All crime")
    assert row["comparator"] == "other wards" and row["comparator_wards"] == 1
    assert row["comparator_population"] == pops[HOUSING[1]]  # the other ward, not the district
    _, cur, _ = last12(crime)
    true_other = cur.filter(pl.col("ward_code") == HOUSING[1]).height
    # perturbed for housing: close to the other ward's count, nowhere near the partnership's
    assert abs(row["comparator_current"] - true_other) <= 10 < cur.height / 4
    # a ward outside the scope returns nothing at all (no names, no populations, no zeros)
    for name in ("neighbourhood_summary", "neighbourhood_lsoas"):
        assert nb.queries.run(user("officer.housing"), name, {"ward": "E05999017"}).frame.height == 0
    fire = nb.queries.run(user("officer.fire"), "neighbourhood_summary", {"ward": FIRE}).frame.row(0, named=True)
    assert fire["comparator_wards"] == 0 and fire["comparator_population"] is None


def test_lsoas_are_every_lsoa_of_the_ward_with_names_and_counts(demo):
    crime, areas = rows_of("crime"), rows_of("areas")
    ward = "E05999017"
    res = nb.queries.run(user("board.police"), "neighbourhood_lsoas", {"ward": ward}).frame
    mine = areas.filter((pl.col("area_level") == "lsoa") & (pl.col("ward_code") == ward))
    assert sorted(res["lsoa_code"]) == sorted(mine["area_code"])
    assert dict(zip(res["lsoa_code"], res["lsoa_name"])) == dict(zip(mine["area_code"], mine["area_label"]))
    _, cur, _ = last12(crime)
    counts = dict(cur.filter(pl.col("ward_code") == ward).group_by("lsoa_code").len().iter_rows())
    assert {r["lsoa_code"]: r["crimes"] for r in res.to_dicts()} == {c: counts.get(c, 0) for c in mine["area_code"]}
    assert res["crime_rate_per_1000"].to_list() == sorted(res["crime_rate_per_1000"].to_list(), reverse=True)
    with pytest.raises(access.AccessDenied, match="LSOA detail"):
        nb.queries.run(user("officer.fire"), "neighbourhood_lsoas", {"ward": FIRE})


# ---- the computations ----------------------------------------------------------------------------


def _summary(rows, comparator="partnership"):
    cols = ["category", "ward_current", "ward_previous", "comparator_current", "ward_population",
            "comparator_population"]
    frame = pl.DataFrame([dict(zip(cols, r)) for r in rows], schema={
        "category": pl.String, "ward_current": pl.Int64, "ward_previous": pl.Int64,
        "comparator_current": pl.Int64, "ward_population": pl.Int64, "comparator_population": pl.Int64})
    frame = frame.with_columns(pl.lit(dt.date(2026, 9, 1)).alias("last_month"), pl.lit(12).alias("current_months_held"),
                               pl.lit(12).alias("previous_months_held"), pl.lit(comparator).alias("comparator"),
                               pl.lit(2024).alias("population_year"))
    mask = frame.select([pl.col(c).is_null().alias(c) for c in cols[1:4]])
    return TableResult(frame, mask)


def test_comparison_rates_judgements_and_changes():
    # Ward: 60 crimes in 2,000 residents = 30.0 per 1,000; comparator: 1,000 in 100,000 = 10.0.
    # The exact 95% interval for 60 (Garwood) is 45.8-77.2, i.e. 22.9-38.6 per 1,000: above 10.
    res = nb.comparison(_summary([("All crime", 60, 40, 1000, 2000, 100000),
                                  ("Drugs", 3, None, 300, 2000, 100000),
                                  ("Burglary", 40, 10, 100, 2000, 100000),
                                  ("Bicycle theft", 2, 2, 100, 2000, 100000)]), "the partnership area (X)")
    rows = {r["category"]: r for r in res.frame.to_dicts()}
    lo, hi = stats.exact_poisson_ci(60)
    assert rows["All crime"]["ward_rate_per_1000"] == 30.0 and rows["All crime"]["comparator_rate_per_1000"] == 10.0
    assert rows["All crime"]["ward_rate_ci"] == f"{lo / 2:.1f} to {hi / 2:.1f}"
    assert rows["All crime"]["against_comparator"] == "worse"
    assert rows["Bicycle theft"]["against_comparator"] == "similar"
    # a withheld previous count leaves the change withheld, never guessed
    assert rows["Drugs"]["ward_change"] is None and res.suppressed["ward_change"].to_list()[1]
    assert rows["Burglary"]["ward_change"] == "significant rise"
    # 60 against 40: the exact (conditional binomial) test, by SciPy, decides
    from scipy.stats import binomtest
    p = binomtest(60, 100, 0.5).pvalue
    assert rows["All crime"]["ward_change"] == ("significant rise" if p < 0.05 else "no significant change")
    changes = nb.biggest_changes(res)
    # 'All crime' is the headline, not a type; Drugs cannot be tested; Burglary rose 30 (significant)
    assert [c["category"] for c in changes] == ["Burglary"]
    assert nb.change_line(changes[0]) == "Burglary: up 30 (10 to 40, +300%)"
    # From a handful the count says it: no '+217%' on a base of 6.
    assert nb.change_line({**changes[0], "previous": 6, "current": 19, "change": 13, "pct": 216.7}) == \
        "Burglary: up 13 (6 to 19)"
    sentence = nb.sentence("Abbey", res, "the partnership area (X)")
    assert sentence.startswith("Abbey had 30.0 recorded crimes per 1,000 residents in the 12 months to Sep 2026")
    assert "higher than the partnership area (X) (10.0)" in sentence


def test_no_comparator_means_no_comparison_and_says_so():
    res = nb.comparison(_summary([("All crime", 60, 40, 60, 2000, None)], "other wards"), None)
    assert res.frame["comparator_rate_per_1000"].to_list() == [None]
    assert res.frame["against_comparator"].to_list() == [None]
    assert "than" not in nb.sentence("Eastfield", res, None)
    assert "nothing fair to compare" in nb.no_comparator_reason(None)


def test_comparator_words():
    one = access.User("u", "U", "practitioner", "housing", HOUSING)
    assert nb.comparator_words(one, {"comparator": "other wards", "comparator_wards": 1,
                                     "comparator_population": 5000}, HOUSING[0],
                               {HOUSING[1]: "Castle"}) == "your other ward (Castle)"
    assert nb.comparator_words(access.User("u", "U", "practitioner", "fire", (FIRE,)),
                               {"comparator": "other wards", "comparator_wards": 0,
                                "comparator_population": None}, FIRE, {}) is None


def test_hotspots_are_above_the_wards_own_rate_and_never_withheld():
    frame = pl.DataFrame({"lsoa_code": ["a", "b", "c", "d"], "lsoa_name": ["A", "B", "C", "D"],
                          "crimes": [90, None, 50, 40], "rate_per_1000": [90.0, None, 50.0, 40.0]})
    ranked = TableResult(frame, frame.select(pl.col("crimes").is_null()))
    assert [h["lsoa_code"] for h in nb.hotspots(ranked, "crimes", ward_rate=55.0)] == ["a"]
    assert [h["lsoa_code"] for h in nb.hotspots(ranked, "crimes", ward_rate=10.0)] == ["a", "c", "d"]


def test_trend_has_the_same_month_a_year_before(demo):
    crime = rows_of("crime")
    ward = "E05999009"
    t = nb.trend(user("board.police"), ward, "crime", "crimes")
    frame = t.series.frame
    assert frame.height == nb.TREND_MONTHS
    counts = dict(crime.filter(pl.col("ward_code") == ward).group_by("month").len().iter_rows())
    for r in frame.to_dicts():
        before = dt.date(r["month"].year - 1, r["month"].month, 1)
        assert r["crimes"] == counts.get(r["month"], 0)
        assert r["same_month_last_year"] == counts.get(before, 0)
    assert set(frame["vs_last_year"].drop_nulls()) <= {"higher", "lower", "similar"}
    assert t.latest["month"] == crime["month"].max()
    words = nb.latest_month_sentence(t, "crimes")
    assert f"there were {t.latest['crimes']:,} crimes" in words and "a year before" in words


# ---- the page ------------------------------------------------------------------------------------


def all_text(at) -> str:
    parts = [str(d.value.to_dict()) for d in at.dataframe]
    parts += [str(e.value) for kind in ("markdown", "caption", "info", "header", "subheader", "title")
              for e in getattr(at, kind)]
    parts += [m.label + str(m.value) for m in at.metric]
    return "\n".join(parts)


def plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def themes_own(username, ward):
    from csp import themes
    return [t for t in themes.own_tiles(user(username), area=ward) if t.available and not t.lower_bound]


def test_page_for_a_board_member(demo):
    at = go(login("board.council"), "neighbourhood")
    at.selectbox(key="ward").select("E05999009").run()
    assert not at.exception, at.exception
    page = nb.build(user("board.council"), "E05999009", "Marsh End")
    assert page.compared_with == "the partnership area (Fenmouth)"
    assert plain(at.markdown[0].value) == nb.sentence("Marsh End", page.compared, page.compared_with)
    heads = [h.value for h in at.header]
    assert not any("istrict" in h for h in heads), heads  # no heading says District for something else
    assert "What changed most" in heads and any(h.startswith("Where in Marsh End") for h in heads)
    changes = nb.biggest_changes(page.compared)
    bullets = next(m.value for m in at.markdown if m.value.startswith("- "))
    # The crime types first, then the council's own data where its change is significant.
    own = [t for t in themes_own("board.council", "E05999009") if t.direction in ("up", "down")]
    assert [plain(b)[2:] for b in bullets.splitlines()] == (
        [nb.change_line(c) for c in changes] + [nb.own_change_line(t) for t in own])
    assert any(c["category"] == "Burglary" and c["direction"] == "rise" for c in changes)  # the demo's spike
    # trend charts (crime, ASB and the council's own datasets) and the labelled LSOA map
    from csp import themes
    own = themes.own_datasets(user("board.council"))
    assert {d["name"] for d in own} == {"council_asb", "environmental_crime"}
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(charts) == 2 + len(own) + 1
    names = {t.get("name") for c in charts[:2] for t in c["data"]}
    assert "Same month a year before" in names
    lsoas = nb.queries.run(user("board.council"), "neighbourhood_lsoas", {"ward": "E05999009"}).frame
    labels = " ".join(a["text"] for a in charts[-1]["layout"]["annotations"])
    hover = " ".join(h for t in charts[-1]["data"] for h in (t.get("hovertext") or []) if isinstance(h, str))
    for name in lsoas["lsoa_name"]:
        # every LSOA named on the map, not only coded: on its label where one fits without
        # covering another, else on pointing at it (and in the table beside)
        assert name in labels or name in hover
    metrics = {m.label: m for m in at.metric}
    assert set(metrics) == {"Recorded crimes, 12 months to Sep 2026", "ASB incidents, 12 months to Sep 2026"} | {
        f"{t.title}, {t.period_label}" for t in themes.own_tiles(user("board.council"), area="E05999009")}
    assert len(at.get("download_button")) >= 3


@pytest.fixture
def no_comparator_policy(monkeypatch, tmp_path):
    """The sharing policy without `partnership_comparator`: scoped users compare only within
    their own wards."""
    from csp import config
    text = config.policy_path().read_text()
    assert "partnership_comparator = true" in text
    path = tmp_path / "policy.toml"
    path.write_text(text.replace("partnership_comparator = true", ""))
    monkeypatch.setenv("CSP_POLICY", str(path))
    nb.queries.clear_cache()
    yield
    nb.queries.clear_cache()


def test_scoped_officers_compare_with_the_partnership_as_their_partner_reads_it(demo):
    """With `partnership_comparator` in the policy, a ward-scoped officer compares their ward
    with the partnership's totals: exactly what their partner's unscoped users read (the same
    cells, the same protection), and nothing about any one area."""
    from csp import users
    for username in ("officer.fire", "officer.housing"):
        officer = user(username)
        whole = nb.queries.run(officer, "neighbourhood_partnership")
        unscoped = access.User("x.unscoped", "X", officer.role, officer.partner)
        same = nb.queries.run(unscoped, "neighbourhood_partnership")
        assert whole.frame.equals(same.frame) and whole.suppressed.equals(same.suppressed), username
        assert not any(c.endswith(("_code", "_name")) for c in whole.frame.columns)
        page = nb.build(officer, officer.areas[0], "x")
        assert page.compared_with == nb.partnership_words()
        row = next(r for r in page.compared.frame.to_dicts() if r["category"] == "All crime")
        mine = next(r for r in whole.frame.to_dicts() if r["category"] == "All crime")
        assert row["comparator_current"] == mine["comparator_current"]
        assert row["comparator_population"] == mine["comparator_population"]
        # The same total as the Crime page's headline for the partnership, read by that partner.
        head = nb.queries.run(unscoped, "crime_headline").frame.row(0, named=True)
        assert mine["comparator_current"] == head["current"]
    assert {u.username for u in users.list_users() if u.areas} == {"officer.fire", "officer.housing"}


def test_scoped_officers_rank_their_wards_against_the_partnership_on_the_incident_pages(demo):
    """The Crime and ASB pages' by-ward view: a ward-scoped officer's wards are judged against the
    partnership (as their partner's unscoped users read it), not against themselves; datasets
    whose owner did not set `partnership_comparator` keep the officer's own wards."""
    from csp import indicators
    params = {}  # everything held: a quarter may hold no fires in a ward
    for username in ("officer.fire", "officer.housing"):
        officer = user(username)
        unscoped = access.User("x.unscoped", "X", officer.role, officer.partner)
        for ds in ("crime", "asb", "fires", "council_asb", "housing_asb"):
            if access.grant(officer, ds) is None or not access.partnership_comparator(ds):
                continue
            col = nb.queries.get(f"{ds}_benchmark").count_columns[0]
            name = indicators.benchmark_query(officer, ds)
            assert name == f"{ds}_partnership_benchmark"
            assert indicators.benchmark_query(unscoped, ds) == f"{ds}_benchmark"
            mine = nb.queries.run(officer, name, params).frame.row(0, named=True)
            theirs = nb.queries.run(unscoped, f"{ds}_benchmark", params).frame.row(0, named=True)
            assert theirs["comparator"] == "partnership"
            for k in (col, "population", "months", "wards", "rate_per_1000"):
                assert mine[k] == theirs[k], (username, ds, k)
            bench = indicators.benchmark_rate(nb.queries.run(officer, name, params), col)
            wards = nb.queries.run(officer, f"{ds}_by_ward", params)
            ranked, _ = indicators.ranked_areas(wards, col, bench)
            rows = [r for r in ranked.frame.to_dicts() if r["row_kind"] == "ward"]
            assert rows and {r["ward_code"] for r in rows} <= set(officer.areas), (username, ds)
            # Each ward has a verdict against the partnership (none is withheld in the demo).
            assert all(r["vs_benchmark"] in ("better", "similar", "worse") for r in rows), rows
        # Where the owner has not set it, the officer's own wards stay the comparator.
        for ds in ("ae_assaults", "youth_first_time_entrants"):
            if not access.partnership_comparator(ds):
                assert indicators.benchmark_query(officer, ds) == f"{ds}_benchmark"


def test_a_partnership_scope_query_cannot_name_an_area():
    """`scope: partnership` lifts a user's ward scope, so such a query may not take an area, have
    a grain, or put an area in its rows (checked when the file is read)."""
    head = ("-- datasets: [crime_ward_cube]\n-- system: [partnership, held]\n-- held_of: crime\n"
            "-- scope: partnership\n")
    body = ("SELECT {cols} total(n) AS crimes FROM crime_ward_cube WHERE "
            "($partnership IS NULL OR list_contains($partnership, district_code)) AND month <= CAST($held_last AS DATE) {where}"
            "GROUP BY ALL")
    ok = head + "-- columns:\n--   crimes: {type: count}\n" + body.format(cols="", where="")
    assert nb.queries.from_text("ok_q", ok).scope == "partnership"
    with pytest.raises(ValueError, match="area columns"):
        nb.queries.from_text("bad_q", head + "-- columns:\n--   ward_code: {type: dimension}\n--   crimes: {type: count}\n"
                             + body.format(cols="ward_code,", where=""))
    with pytest.raises(ValueError, match="takes no area"):
        nb.queries.from_text("bad_q", head + "-- parameters:\n--   area: {type: area}\n-- columns:\n--   crimes: {type: count}\n"
                             + body.format(cols="", where="AND ward_code = $area "))


def test_page_for_a_two_ward_officer(demo):
    at = go(login("officer.housing"), "neighbourhood")
    assert not at.exception, at.exception
    text = all_text(at)
    assert "the partnership area (Fenmouth)" in plain(text)
    from csp import demo as demo_mod
    for name, code in demo_mod.WARD_CODES.items():
        if code not in HOUSING:
            assert name not in text and code not in text


def test_without_the_comparator_policy_scoped_officers_compare_within_their_wards(demo, no_comparator_policy):
    with pytest.raises(access.AccessDenied):
        nb.queries.run(user("officer.fire"), "neighbourhood_partnership")
    at = go(login("officer.housing"), "neighbourhood")
    assert not at.exception, at.exception
    assert "your other ward (Castle)" in plain(all_text(at))
    at = go(login("officer.fire"), "neighbourhood")
    assert not at.exception, at.exception
    text = plain(all_text(at))
    assert "nothing fair to compare this ward with" in text
    assert not any("comparator" in c for d in at.dataframe for c in d.value.columns)
    assert "Vs comparator" not in text
    # Unscoped users are not affected: they see the partnership anyway.
    assert nb.queries.run(user("board.council"), "neighbourhood_partnership").frame.height


def test_page_for_a_one_ward_officer(demo):
    at = go(login("officer.fire"), "neighbourhood")
    assert not at.exception, at.exception
    text = plain(all_text(at))
    assert "the partnership area (Fenmouth)" in text and "nothing fair to compare" not in text
    assert "Figures by LSOA are not shared with you" in text and "shows the ward as a whole" in text
    assert "LSOA detail" not in text  # no note on what is not there
    assert any(h.value == "Eastfield on the map" for h in at.header)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    # the trend (crime, ASB and the officer's own fires, each against the same month a year
    # before) and the ward's map
    trends = [c for c in charts if "Same month a year before" in {t.get("name") for t in c["data"]}]
    assert len(trends) == 3 and len(charts) == 4
    fires = nb.trend(user("officer.fire"), FIRE, "fires", "incidents")
    drawn = next(tr for tr in trends[2]["data"] if tr.get("name") == "Incidents a month")
    assert drawn["y"] == fires.series.frame["incidents"].to_list()
    t = nb.trend(user("officer.fire"), FIRE, "crime", "crimes")
    drawn = next(tr for tr in trends[0]["data"] if tr.get("name") == "Crimes a month")
    assert len(drawn["y"]) == t.series.frame.height == nb.TREND_MONTHS
    assert any("Eastfield" in a["text"] for c in charts for a in c["layout"].get("annotations", []))


def test_an_officer_sees_their_own_partners_data_for_the_ward(demo):
    """A fire officer sees the ward's fires, a housing officer the ward's cases opened (the
    Housing ASB page's default), beside police crime and ASB: the dashboards' own headline
    figures for that ward, as the user."""
    for username, ward, dataset, params, title in (
            ("officer.fire", FIRE, "fires", {}, "Fires"),
            ("officer.housing", HOUSING[1], "housing_asb", {"case_event": ["Opened"]}, "Housing ASB cases (opened)")):
        at = go(login(username), "neighbourhood")
        if ward != HOUSING[0] and username == "officer.housing":
            at.selectbox(key="ward").select(ward).run()
        assert not at.exception, at.exception
        head = nb.queries.run(user(username), f"{dataset}_headline", params | {"area": ward}).frame.row(0, named=True)
        metric = next(m for m in at.metric if m.label.startswith(title))
        assert metric.value == f"{head['current']:,}", (username, metric.value, head)
        assert title.removesuffix(" (opened)") in [t.label for t in at.tabs]
    # Other partners' officers never see a dataset that is not their partner's.
    at = go(login("officer.fire"), "neighbourhood")
    assert not any(m.label.startswith("Housing ASB") for m in at.metric)


def test_page_for_a_district_only_partner(demo):
    """A page that could only refuse is not in the menu; its URL says why, in words."""
    at = go(login("board.health"), "neighbourhood")
    assert not at.exception
    assert at.title[0].value == "You don't have access to this page"
    assert "only by district" in all_text(at) and "Health partner" in all_text(at)
    assert len(at.dataframe) == 0 and len(at.get("plotly_chart")) == 0
    menu = [str(link.proto.label) for link in at.get("page_link")]
    assert "Neighbourhood" not in menu and "Crime" in menu


def test_ward_names_are_escaped_everywhere_on_the_page(tiny, monkeypatch):
    """A ward named as a Markdown link and bold text reaches the metric help, headings, captions
    and chart labels only as literal text."""
    from csp.geography import areas

    monkeypatch.setenv("CSP_COOKIE_KEY", "test-cookie-key-9f3Kq2LmZ7xW4vB8nR1pY6dH0sJ5gTcE")
    hostile = "**Abbey** [x](https://evil.example) <b>y</b>"
    geo = GEOGRAPHY.with_columns(ward_name=pl.when(pl.col("ward_code") == W1).then(pl.lit(hostile))
                                 .otherwise(pl.col("ward_name")))
    publish_frame("geography", geo)
    publish_frame("areas", areas.build(geo, POPULATION))
    at = go(login("pc.owner", tiny["password"]), "neighbourhood")
    at.selectbox(key="ward").select(W1).run()
    assert not at.exception, at.exception
    shown = [h.value for h in at.header] + [m.value for m in at.markdown] + [c.value for c in at.caption]
    hits = [s for s in shown if "evil" in s]
    assert hits  # the name is shown, so the check below checks something
    for s in hits:
        assert "\\[x\\]\\(https\\:" in s and "**Abbey**" not in s, s
    for c in at.get("plotly_chart"):
        spec = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), c.proto.spec)
        assert "<b>y</b>" not in spec


def test_a_hotspot_names_what_it_is_compared_with():
    """Above its own ward's rate yet below the comparator: the line says which comparator, so it
    does not read as a contradiction of the heading ("more crime per resident than the ward")."""
    row = {"lsoa_name": "Castle 002A", "crimes": 140, "rate_per_1000": 61.25, "vs_benchmark": "better"}
    line = nb.hotspot_line(row, "crimes", "the partnership area")
    assert line == ("Castle 002A: 140 crimes, 61.2 per 1,000 residents; significantly lower than "
                    "the partnership area")
    assert nb.hotspot_line({**row, "vs_benchmark": None}, "crimes", "x").endswith("per 1,000 residents")


def test_an_own_data_change_reads_as_a_crime_types_does():
    from csp.themes import Tile
    t = Tile("fires", "Environmental crime", "lower_is_better", value_label="1,118", previous_label="985",
             change_label="+13.5%", direction="up")
    assert nb.own_change_line(t) == "Environmental crime: up 133 (985 to 1,118, +13.5%)"
    t.value_label = "≥1,118"  # a floor: no difference to give
    assert nb.own_change_line(t) == "Environmental crime: up (985 to ≥1,118, +13.5%)"
    small = Tile("fires", "Fires", "lower_is_better", value_label="19", previous_label="6",
                 change_label="+216.7%", direction="up")
    assert nb.own_change_line(small) == "Fires: up 13 (6 to 19)"


def test_ward_maps_label_every_hotspot_and_no_label_covers_another(demo):
    """The Neighbourhood map labels LSOAs by name and rate; in a narrow ward two labels covered
    each other and a hotspot's number. Every hotspot keeps its number, an LSOA is labelled once
    at most, and no two labels' boxes (at the phone width the map is planned for) overlap."""
    from csp import figures, figures_neighbourhood, indicators
    analyst = user("analyst.police")
    checked = 0
    for code, name in nb.ward_names(analyst).items():
        page = nb.build(analyst, code, name)
        lsoas = nb.queries.run(analyst, "neighbourhood_lsoas", {"ward": code})
        if lsoas.frame.height == 0:
            continue
        rows = {r["category"]: r for r in page.compared.frame.to_dicts()}
        ward_rate = rows[nb.CRIME]["ward_rate_per_1000"]
        ranked, _ = indicators.ranked_areas(lsoas, "crimes", None)
        hot = [h["lsoa_code"] for h in nb.hotspots(ranked, "crimes", ward_rate)]
        fig = figures_neighbourhood.ward_map(code, name, ranked.frame, "crimes", "Crimes", hot=hot)
        notes = [a.text for a in fig.layout.annotations]
        for i in range(1, len(hot) + 1):
            assert sum(t.startswith(f"<b>{i}</b>") for t in notes) == 1, (name, notes)
        names = [n for n in ranked.frame["lsoa_name"].to_list() for t in notes if n in t]
        assert len(names) == len(set(names)) and len(notes) <= ranked.frame.height
        # The choropleth's own rate texts are not drawn under the labels.
        assert not any(t.text for t in fig.data if t.name == "areas" and t.text is not None and any(t.text))
        geo = figures.load_boundaries("lsoa")
        feats = [f for f in geo["features"] if f["properties"]["code"] in set(ranked.frame["lsoa_code"])]
        box_at = figures._label_fits(figures._bounds(feats), 440)
        boxes = []
        for a in fig.layout.annotations:
            lines = a.text.split("<br>")
            chars = max(len(re.sub("<[^>]+>", "", ln)) for ln in lines)
            x0, y0, x1, y1 = box_at(a.x, a.y, chars)
            grow = (y1 - y0) * (len(lines) - 1) / 2
            boxes.append((x0, y0 - grow, x1, y1 + grow))
        for i, p in enumerate(boxes):
            for q in boxes[i + 1:]:
                assert not (p[0] < q[2] and q[0] < p[2] and p[1] < q[3] and q[1] < p[3]), (name, notes)
        checked += 1
    assert checked >= 10


def test_counts_in_tables_read_with_separators(demo):
    """The ward's by-type table read 'Count 1108' under a tile reading '1,108': a page's own
    number column gets the separators, a column made text by a withheld cell is right-aligned
    with them, and downloads keep plain digits."""
    import streamlit as st
    from csp import disclosure, export, themes
    from csp.ui import common
    officer = user("officer.fire")
    page = nb.build(officer, officer.areas[0], "Eastfield")
    shown = themes.select_columns(page.compared, ["category", "ward_current", "ward_change_pct"])
    cfg = common._count_columns(shown, {"ward_current": st.column_config.NumberColumn("Count", width=58)})
    assert cfg["ward_current"]["type_config"]["format"] == "localized" and cfg["ward_current"]["width"] == 58
    # A partner's table with a withheld ('low') cell: text, with separators, right-aligned.
    council = user("board.council")
    wards = nb.queries.run(council, "crime_by_type", {})
    if wards.suppressed["crimes"].any():
        cfg = common._count_columns(wards, {})
        assert cfg["crimes"]["type_config"]["type"] == "text" and cfg["crimes"]["alignment"] == "right"
        big = [v for v in common._display(wards)["crimes"].to_list() if v not in disclosure.WITHHELD_LABELS]
        assert all("," in v for v in big if int(v.replace(",", "").lstrip("≥")) >= 1000)
        assert "," not in export.to_csv(wards).split("\n", 1)[1]  # the download: plain digits
