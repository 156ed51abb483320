"""Crime and ASB pages through AppTest on the Fenmouth demo, for several roles: what each sees,
what is suppressed, what is refused, and that a practitioner sees nothing outside their scope.
Expected figures come from running the named queries as the same user (the layer the pages
must use) and from csp.demo's ward list, never from constants copied out of the screen."""
from __future__ import annotations


import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import across_views, demo_area, each_view, go, login, table_with

FIRE_WARD = "E05999003"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with demo_area(tmp_path_factory):
        yield


def open_page(username: str, page: str = "crime") -> AppTest:
    at = go(login(username), page)
    assert not at.exception, at.exception
    return at


frame_with = table_with


def all_text(at: AppTest) -> str:
    parts = []
    for view in each_view(at):
        parts += [str(d.value.to_dict()) for d in view.dataframe]
        parts += [str(e.value) for kind in ("markdown", "caption", "info", "header", "subheader", "title",
                                            "metric") for e in view.get(kind)]
        parts += [str(m.label) for m in view.metric]
        parts += [str(c.proto.spec) for c in view.get("plotly_chart")]
    return "\n".join(parts)


def user(username):
    from csp import users
    return users.get_user(username)


def test_crime_owner_sees_everything_unsuppressed(demo):
    from csp import queries
    at = open_page("board.police")
    assert at.title[0].value == "Crime"
    head = queries.run(user("board.police"), "crime_headline", {}).frame.row(0, named=True)
    metric = next(m for m in at.metric if m.label.startswith("Crimes, 12 months to"))
    assert metric.value == f"{head['current']:,}"
    wards = frame_with(at, "ward_code")
    assert len(wards) >= 20 and "suppressed" not in set(wards["crimes"].astype(str))
    lsoas = frame_with(at, "lsoa_name")
    assert len(lsoas) == 113
    # trend, type breakdown, the domestic-abuse and hate-crime flags (the demo's police extract
    # carries them), ward map, LSOA map, outcomes
    assert len(across_views(at, "plotly_chart")) == 7
    assert any("statistically significant" in c.value or "normal variation" in c.value
               for c in at.caption)


def test_crime_ward_table_matches_query_and_ranks_by_rate(demo):
    from csp import queries
    at = open_page("board.council")
    wards = frame_with(at, "ward_code")
    expect = queries.run(user("board.council"), "crime_by_ward", {
        "from": "2024-10", "to": "2026-09"}).frame
    want = {r["ward_name"]: r["crimes"] for r in expect.iter_rows(named=True)}
    got = dict(zip(wards["ward_name"], wards["crimes"]))
    assert {k: int(v) for k, v in got.items() if str(v) != "low"} == \
        {k: v for k, v in want.items() if v is not None}
    assert all(int(v) >= 5 for v in got.values() if str(v) != "low")
    rates = [float(r) for r, n in zip(wards["rate_per_1000"], wards["ward_name"])
             if str(r) not in ("suppressed", "None", "nan") and n != "Unknown area"]
    assert rates == sorted(rates, reverse=True)
    assert set(wards["vs_benchmark"].dropna()) <= {"better", "similar", "worse", "low"}
    # St Botolph's is the demo's violence hotspot: its rate must be significantly worse.
    row = wards[wards["ward_name"] == "St Botolph's"].iloc[0]
    assert row["vs_benchmark"] == "worse"


def test_council_sees_low_cells_as_low(demo):
    at = open_page("board.council")
    outcomes = frame_with(at, "outcome")
    lsoas = frame_with(at, "lsoa_name")
    # Demo LSOAs include some with 1-4 crimes of a type; a rare type finds some for sure.
    at.multiselect(key="type").set_value(["Possession of weapons"]).run()
    assert not at.exception
    lsoas = frame_with(at, "lsoa_name")
    cells = set(lsoas["crimes"].astype(str))
    assert "low" in cells  # perturbed under the threshold: no figure, never a zero
    assert not cells & {"1", "2", "3", "4"}  # no published count under the threshold
    # A withheld count withholds its rate, interval and comparison too.
    hidden = lsoas[lsoas["crimes"].astype(str) == "low"]
    for col in ("rate_per_1000", "lower_95", "upper_95", "vs_benchmark"):
        assert set(hidden[col].astype(str)) == {"low"}
    assert any("cell-key perturbation" in c.value for c in across_views(at, "caption"))
    assert outcomes is not None


def test_health_is_district_only(demo):
    at = open_page("board.health")
    assert at.title[0].value == "Crime"
    infos = [i.value for i in across_views(at, "info")]
    assert any("Figures by ward and LSOA are not shared with you" in i and "Health partner by district" in i
               for i in infos)
    # No tab that could only refuse: ward, LSOA, flags and outcomes are said once, under Trend.
    from apptest_helpers import views
    assert views(at) == ["Trend", "By crime type"], views(at)
    assert not any("ward_name" in d.value.columns or "lsoa_name" in d.value.columns
                   for d in across_views(at, "dataframe"))
    assert len(across_views(at, "plotly_chart")) == 2  # trend and types; no maps, no outcomes
    # Outcomes are finer than health's protected base (period x district x crime type).
    assert any("outcomes are not shared with you" in i and "too small to protect" in i for i in infos)
    asb = open_page("board.health", "asb")
    assert asb.title[0].value == "Anti-social behaviour"
    assert any("Figures by ward and LSOA are not shared" in i.value for i in across_views(asb, "info"))
    assert len(across_views(asb, "plotly_chart")) == 1


def test_fire_practitioner_sees_only_their_ward(demo):
    from csp import demo as demo_mod
    for page in ("crime", "asb"):
        at = open_page("officer.fire", page)
        wards = frame_with(at, "ward_code")
        assert list(wards["ward_name"]) == ["Eastfield"]
        assert [o for o in at.selectbox(key="area").options] == ["Your ward"]  # one ward: nothing to pick
        assert not any("lsoa_name" in d.value.columns for d in across_views(at, "dataframe"))  # ward grant
        text = all_text(at)
        others = [(n, c) for n, c in demo_mod.WARD_CODES.items() if c != FIRE_WARD]
        assert len(others) == 19
        for name, code in others:
            assert name not in text and code not in text, (page, name)
        # One ward in scope: compared with the partnership (the policy sets
        # partnership_comparator for crime and ASB), never with itself.
        assert not any("single ward" in c.value for c in across_views(at, "caption"))
        assert any(c.value.startswith("Rate for the partnership:") for c in across_views(at, "caption"))
        assert wards["vs_benchmark"].iloc[0] in ("better", "similar", "worse")


def test_fire_practitioner_cannot_reach_another_ward_by_url(demo):
    at = open_page("officer.fire")
    # A URL naming another ward is not among the options, so Streamlit drops it.
    at.query_params["area"] = "E05999017"
    at.run()
    wards = frame_with(at, "ward_code")
    assert list(wards["ward_name"]) == ["Eastfield"]


def test_asb_page_for_council(demo):
    from csp import queries
    at = open_page("board.council", "asb")
    assert at.title[0].value == "Anti-social behaviour"
    head = queries.run(user("board.council"), "asb_headline", {}).frame.row(0, named=True)
    metric = next(m for m in at.metric if m.label.startswith("ASB incidents, 12 months to"))
    assert metric.value == f"{head['current']:,}"
    wards = frame_with(at, "ward_code")
    # Harbourside is the demo's ASB hotspot.
    assert wards.iloc[0]["ward_name"] == "Harbourside" and wards.iloc[0]["vs_benchmark"] == "worse"
    assert len(across_views(at, "plotly_chart")) == 3  # trend, ward map, LSOA map
    assert len([b for b in across_views(at, "download_button") if b.key != "board_pack"]) == 3


def test_area_filter_changes_every_view(demo):
    from csp import queries
    at = open_page("board.council")
    at.selectbox(key="area").set_value("E05999009").run()
    assert not at.exception
    wards = frame_with(at, "ward_code")
    assert list(wards["ward_name"]) == ["Marsh End"]
    series = frame_with(at, "rolling_12_months")
    from csp.protection import periods
    chosen = at.selectbox(key="period").value
    p = {x.key: x for x in periods.named_periods(*periods.held(["crime"]))}[chosen]
    expect = queries.run(user("board.council"), "crime_monthly_total",
                         {"from": p.start.strftime("%Y-%m"), "to": p.end.strftime("%Y-%m"),
                          "area": "E05999009"}).frame
    assert [int(v) for v in series["crimes"]] == expect["crimes"].to_list()


def test_a_breakdown_says_which_months_its_totals_cover(demo):
    """A bar is the whole period's count: the section says which months, as the Period box does."""
    from apptest_helpers import open_view

    at = open_view(open_page("board.police"), "By crime type")
    assert not at.exception, at.exception
    period = at.selectbox(key="period").value if any(s.key == "period" for s in at.selectbox) else None
    said = [c.value for c in at.caption if c.value.startswith("Totals for ")]
    assert len(said) == 1, [c.value for c in at.caption]
    months = int(said[0].rsplit("(", 1)[1].split()[0])
    assert months == 24 and (period is None or str(months) in str(period)), (said, period)


def test_a_tab_chosen_on_one_dashboard_does_not_open_the_next_there(demo):
    from apptest_helpers import open_view

    at = open_view(open_page("board.police", "asb"), "By ward")
    assert any("by ward" in h.value for h in at.header), [h.value for h in at.header]
    at = go(at, "fires")
    assert not at.exception, at.exception
    headers = [h.value for h in at.header]
    assert any(h.startswith(("Monthly trend", "Trend by quarter")) for h in headers), headers
    assert not any("by ward" in h for h in headers), headers
