"""Explore (csp.explore and its page): specs are checked against the contract and the user's
grant with plain refusals; the SQL is made only of contract identifiers with every value bound;
answers are the same cells as the named queries (so perturbed and suppressed figures read the
same); quarter and year breakdowns only ever show whole named periods; the page draws what the
query layer returns, for several personas, with the view in the URL. Expected figures come from
the named queries run as the same user, never from constants."""
from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import demo_area, go, login
from conftest import W1, W2
from csp import access, catalog, explore, queries
from csp.protection import periods

Spec = explore.Spec


def spec(**params) -> Spec:
    return Spec.from_params(params)


# ---- the spec and its URL ------------------------------------------------------------------------


@pytest.mark.parametrize("params", [
    {"ds": "crime"},
    {"ds": "crime", "b1": "ward", "b2": "crime_type", "p": "fy2024", "a": "E05999001"},
    {"ds": "crime", "b1": "month", "f": ["crime_type:Violence and sexual offences", "outcome:Under investigation"]},
    {"ds": "crime", "f": ["crime_type:Odd: value, with colon", "crime_type:Another"]},
    {"ds": "reoffending", "m": "reoffenders", "b1": "quarter", "p": "all", "a": "all"},
])
def test_spec_round_trips_through_url_params_and_json(params):
    s = Spec.from_params(params)
    assert Spec.from_params(s.to_params()) == s
    assert Spec.from_json(s.to_json()) == s
    # Filters come back grouped by field, whatever order the URL gave them in.
    assert {f for f, _ in s.filters} == {x.split(":", 1)[0] for x in params.get("f", [])}


@pytest.mark.parametrize("params, words", [
    ({}, "dataset"),
    ({"ds": "crime; DROP TABLE x"}, "dataset"),
    ({"ds": "crime", "b1": 'ward" OR 1=1 --'}, "breakdown"),
    ({"ds": "crime", "b1": "ward", "b2": "ward"}, "differ"),
    ({"ds": "crime", "f": "crime_type"}, "field:value"),
    ({"ds": "crime", "f": "crime type:Burglary"}, "filter"),
    ({"ds": "crime", "f": "crime_type:\x00bad"}, "not an accepted value"),
    ({"ds": "crime", "f": "crime_type:" + "x" * 500}, "not an accepted value"),
    ({"ds": "crime", "p": "2024-01..2024-05"}, "period"),
    ({"ds": "crime", "p": "2024-13"}, "period"),
    ({"ds": "crime", "a": "E05999001' OR 'x"}, "area"),
    ({"ds": ["crime", "asb"]}, "one value"),
])
def test_malformed_specs_are_refused_with_a_message_that_does_not_echo_them(params, words):
    with pytest.raises(explore.SpecError) as e:
        Spec.from_params(params)
    assert words in str(e.value)
    for v in params.values():
        for item in (v if isinstance(v, list) else [v]):
            if len(item) > 3 and item not in ("crime", "ward"):
                assert item not in str(e.value)


# ---- checking a spec against the contract and the grant (the tiny area) ---------------------------


def test_undeclared_and_restricted_fields_are_refused_for_everyone(tiny):
    owner, council = tiny["users"]["police"], tiny["users"]["council"]
    for user in (owner, council):
        for field in ("location", "crime_id"):  # restricted tier: record-level detail
            with pytest.raises(explore.SpecError, match="not offered"):
                explore.plan(user, spec(ds="crime", b1=field))
            with pytest.raises(explore.SpecError, match="cannot be filtered"):
                explore.plan(user, spec(ds="crime", f=f"{field}:x"))
        # A public field the contract does not declare as a category, and no field at all.
        with pytest.raises(explore.SpecError, match="not offered"):
            explore.plan(user, spec(ds="crime", b1="falls_within"))
        with pytest.raises(explore.SpecError, match="cannot be broken down by that"):
            explore.plan(user, spec(ds="crime", b1="nonexistent"))
        with pytest.raises(explore.SpecError, match="not one Explore can show"):
            explore.plan(user, spec(ds="geography"))  # reference data: nothing to count
        with pytest.raises(explore.SpecError, match="measure"):
            explore.plan(user, spec(ds="crime", m="crime_id"))


def test_geography_finer_than_the_grant_is_refused_in_plain_words(tiny):
    u = tiny["users"]
    with pytest.raises(access.AccessDenied, match="down to district level, so it cannot be broken down by ward"):
        explore.plan(u["health"], spec(ds="crime", b1="ward"))
    with pytest.raises(access.AccessDenied, match="down to ward level, so it cannot be broken down by LSOA"):
        explore.plan(u["fire"], spec(ds="crime", b1="lsoa"))
    with pytest.raises(access.AccessDenied, match="by district, not by ward"):
        explore.plan(u["health"], spec(ds="crime", a=W1))
    assert explore.plan(u["police"], spec(ds="crime", b1="lsoa")).grain == "lsoa"
    offered, held = explore.breakdowns(u["health"], "crime")
    assert {o.key for o in offered} >= {"month", "district", "crime_type"}
    assert not {"ward", "lsoa", "outcome", "domestic_abuse", "hate_crime"} & {o.key for o in offered}
    # The crime extract's flags (issue 15) are outside health's protected base, like outcomes.
    assert {h.label for h in held} == {"LSOA", "Ward", "Outcomes", "Domestic abuse", "Hate crime"} \
        and all(h.why for h in held)


def test_the_runner_refuses_a_grain_below_the_grant_even_if_explore_did_not(tiny):
    # Defence in depth: the generated query declares its grain, and the runner checks it.
    plan = explore.plan(tiny["users"]["police"], spec(ds="crime", b1="ward"))
    text, params = explore.query_text(plan)
    with pytest.raises(access.AccessDenied, match="ward detail"):
        queries.run_query(tiny["users"]["health"], queries.from_text("t", text), params)


def test_fields_outside_a_suppressed_grant_are_refused(tiny):
    health = tiny["users"]["health"]
    with pytest.raises(access.AccessDenied, match="Crime by outcomes is not shared with you"):
        explore.plan(health, spec(ds="crime", b1="outcome"))
    with pytest.raises(access.AccessDenied, match="not shared with you"):
        explore.plan(health, spec(ds="crime", f="outcome:Under investigation"))


def test_free_period_windows_are_refused_and_named_ones_accepted(tiny):
    council = tiny["users"]["council"]
    held = periods.held(["crime"])
    named = {p.key for p in periods.named_periods(*held)}
    assert {p.key for p in explore.period_options("crime")} == named
    for key in sorted(named):
        explore.plan(council, spec(ds="crime", p=key))
    for key in ("fy2010", "2019q1", "2030-01"):  # well formed, but not a period of the data held
        with pytest.raises(explore.SpecError, match="not one of the periods offered"):
            explore.plan(council, spec(ds="crime", p=key))
    # Defence in depth: the generated query declares its window as a period, so the runner
    # itself refuses a free window bound to it.
    plan, q, params = explore.compile(council, spec(ds="crime", b1="crime_type"))
    with pytest.raises(queries.QueryError, match="totals over a period"):
        queries.run_query(council, q, {**params, "from": "2023-03", "to": "2024-01"})


def test_multi_value_filters_are_refused_for_protected_users_only(tiny):
    u = tiny["users"]
    two = spec(ds="crime", f=["crime_type:Burglary", "crime_type:Drugs"])
    for who in ("council", "health", "fire"):
        with pytest.raises(explore.SpecError, match="one value at a time"):
            explore.plan(u[who], two)
    explore.plan(u["police"], two)  # the owner sees exact figures: nothing to difference
    # The runner refuses it too, whatever builds the query.
    plan, q, params = explore.compile(u["police"], two)
    with pytest.raises(queries.QueryError, match="one value at a time"):
        queries.run_query(u["council"], q, params)


def test_hostile_values_are_bound_never_written_into_the_sql(tiny):
    council = tiny["users"]["council"]
    hostile = ["'); DROP TABLE crime; --", "Burglary' OR '1'='1", "%", "$from", "\\'", "Ｂurglary"]
    plain, _ = explore.query_text(explore.plan(council, spec(ds="crime", b1="crime_type", f="crime_type:x")))
    for value in hostile:
        s = spec(ds="crime", b1="crime_type", f=f"crime_type:{value}")
        plan, result = explore.run(council, s)
        text, params = explore.query_text(plan)
        # The query text does not depend on the value at all; the value is a bound parameter.
        assert text == plain and params["f_crime_type"] == [value]
        assert result.frame.height == 0  # matched no crime type: nothing, and no error
    # The same filter with a real value finds it.
    _, result = explore.run(tiny["users"]["police"], spec(ds="crime", b1="crime_type", f="crime_type:Burglary"))
    assert result.frame["crime_type"].to_list() == ["Burglary"]


def _quoted(text: str) -> set[str]:
    return set(re.findall(r'"([^"]*)"', text.split("\nWITH", 1)[1]))


@pytest.mark.parametrize("who", ["police", "council", "health", "fire"])
def test_the_sql_names_only_contract_identifiers(tiny, who):
    user = tiny["users"][who]
    allowed = set()
    for c in [catalog.contract("crime"), *catalog.cubes("crime").values()]:
        allowed |= {c.name, *c.field_names}
    offered, _ = explore.breakdowns(user, "crime")
    allowed |= {"financial_year", "quarter", "crimes", *(f"{lv}_{s}" for lv in ("lsoa", "ward", "district")
                                                           for s in ("code", "name"))}
    keys = [o.key for o in offered]
    checked = 0
    for b1 in [None, *keys]:
        for b2 in [None, *keys]:
            params = {"ds": "crime", **({"b1": b1} if b1 else {}), **({"b2": b2} if b2 and b2 != b1 else {})}
            try:
                plan = explore.plan(user, Spec.from_params(params))
            except explore.SpecError:
                continue  # two periods or two geographies
            text, _ = explore.query_text(plan)
            assert _quoted(text) <= allowed, _quoted(text) - allowed
            assert "$" not in text.replace("$from", "").replace("$to", "").replace("$area", "") \
                .replace("$partnership", "").replace("$f_", "")
            checked += 1
    assert checked >= len(keys) ** 2 // 2


def test_a_view_with_too_many_rows_is_refused(tiny, monkeypatch):
    police = tiny["users"]["police"]
    _, full = explore.run(police, spec(ds="crime", b1="lsoa", b2="month", p="all"))
    assert full.frame.height > 3
    monkeypatch.setattr(explore, "MAX_ROWS", 3)
    with pytest.raises(explore.SpecError, match="more than 3 rows"):
        explore.run(police, spec(ds="crime", b1="lsoa", b2="month", p="all"))
    _, small = explore.run(police, spec(ds="crime", b1="district", p="all"))
    assert small.frame.height <= 3


def test_ward_scope_holds_in_explore(tiny):
    fire = tiny["users"]["fire"]  # ward W2 only
    _, result = explore.run(fire, spec(ds="crime", b1="ward", p="all"))
    assert result.frame["ward_code"].to_list() == [W2]
    _, whole = explore.run(fire, spec(ds="crime", p="all"))
    named = queries.run(fire, "crime_headline", {})
    assert whole.frame.height == 1 and named.frame.height == 1


# ---- the same cells as the named queries (the demo area) -------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with demo_area(tmp_path_factory, "demo_explore"):
        yield


def user(username):
    from csp import users
    return users.get_user(username)


def cells(result, keys, count) -> dict:
    """key -> (published figure, withheld, partial) for every row."""
    out = {}
    partial = result.partial[count] if result.partial.width else [False] * result.frame.height
    for row, w, p in zip(result.frame.iter_rows(named=True), result.suppressed[count], partial):
        out[tuple(row[k] for k in keys)] = (row[count], bool(w), bool(p))
    return out


PERSONAS = ["board.police", "board.council", "board.health", "analyst.probation", "officer.housing", "officer.fire"]


@pytest.mark.parametrize("username", PERSONAS)
def test_explore_answers_equal_the_named_queries(demo, username):
    u = user(username)
    first, last = periods.held(["crime"])
    opts = {p.key: p for p in explore.period_options("crime")}
    l12 = opts["latest12"]
    window = {"from": l12.start.strftime("%Y-%m"), "to": l12.end.strftime("%Y-%m")}
    compared = 0
    # Crime by ward for the latest 12 months = crime_by_ward's ward rows.
    try:
        named = queries.run(u, "crime_by_ward", window)
    except access.AccessDenied:
        with pytest.raises(access.AccessDenied):
            explore.run(u, spec(ds="crime", b1="ward"))
    else:
        _, mine = explore.run(u, spec(ds="crime", b1="ward"))
        wards = named.frame.with_row_index("i").filter(pl.col("row_kind") == "ward")["i"].to_list()
        want = {k: v for i, (k, v) in enumerate(cells(named, ["ward_code"], "crimes").items()) if i in wards}
        assert cells(mine, ["ward_code"], "crimes") == want
        compared += 1
    # By crime type for a financial year (protected figures: perturbed, or suppressed with ≥).
    fy = next(k for k in opts if k.startswith("fy"))
    f = opts[fy]
    named = queries.run(u, "crime_by_type", {"from": f.start.strftime("%Y-%m"), "to": f.end.strftime("%Y-%m")})
    _, mine = explore.run(u, spec(ds="crime", b1="crime_type", p=fy))
    assert cells(mine, ["crime_type"], "crimes") == cells(named, ["crime_type"], "crimes")
    compared += 1
    # The latest 12 months in one total = the headline's current 12 months.
    head = queries.run(u, "crime_headline", {})
    _, mine = explore.run(u, spec(ds="crime"))
    assert cells(mine, [], "crimes")[()] == cells(head, [], "current")[()]
    compared += 1
    # Monthly totals over everything held.
    named = queries.run(u, "crime_monthly_total", {"from": first.strftime("%Y-%m"), "to": last.strftime("%Y-%m")})
    _, mine = explore.run(u, spec(ds="crime", b1="month", p="all"))
    assert cells(mine, ["month"], "crimes") == cells(named, ["month"], "crimes")
    compared += 1
    # ASB by ward, one quarter.
    q = next(k for k in opts if re.fullmatch(r"\d{4}q\d", k))
    try:
        named = queries.run(u, "asb_by_ward", {"from": opts[q].start.strftime("%Y-%m"), "to": opts[q].end.strftime("%Y-%m")})
    except access.AccessDenied:
        pass
    else:
        _, mine = explore.run(u, spec(ds="asb", b1="ward", p=q))
        counts = [c for c in named.query.count_columns][0]
        assert {k: v for k, v in cells(named, ["ward_code"], counts).items() if k[0]} == \
            cells(mine, ["ward_code"], explore.count_column(catalog.contract("asb"), "n"))
        compared += 1
    # Outcomes, where shared.
    if access.shares_field(u, "crime", "outcome"):
        named = queries.run(u, "crime_by_outcome", window)
        _, mine = explore.run(u, spec(ds="crime", b1="outcome"))
        assert cells(mine, ["outcome"], "crimes") == cells(named, ["outcome"], "crimes")
        compared += 1
    # LSOAs, where shared: the LSOA view lists every LSOA (empty ones as 0); Explore the ones with crimes.
    if access.grant(u, "crime").geography == "lsoa":
        named = queries.run(u, "crime_by_lsoa", window)
        _, mine = explore.run(u, spec(ds="crime", b1="lsoa"))
        want = {k: v for k, v in cells(named, ["lsoa_code"], "crimes").items() if k in
                {(c,) for c in mine.frame["lsoa_code"].to_list()}}
        assert cells(mine, ["lsoa_code"], "crimes") == want and len(want) == mine.frame.height > 0
        compared += 1
    assert compared >= 3  # the three every grant allows, plus those the grant allows


@pytest.mark.parametrize("username", ["board.council", "analyst.probation", "board.police"])
def test_reoffending_by_quarter_equals_the_named_query(demo, username):
    u = user(username)
    named = queries.run(u, "reoffending_quarterly")
    for m in ("offenders", "reoffenders", "reoffences"):
        want = {f"{q.year} Q{(q.month - 1) // 3 + 1}": v
                for (q, age), v in cells(named, ["cohort_quarter", "age_group"], m).items() if age == "all"}
        assert len(want) >= 8
        _, mine = explore.run(u, spec(ds="reoffending", m=m, b1="quarter", p="all"))
        assert {k[0]: v for k, v in cells(mine, ["quarter"], m).items()} == want


def test_perturbed_figures_read_the_same_wherever_the_cell_appears(demo):
    council = user("board.council")
    opts = {p.key: p for p in explore.period_options("crime")}
    # One ward's year, three ways: as a row of a ward breakdown, as the one total of that ward,
    # and as the row of a district breakdown limited to that ward. Same records: same figure.
    _, by_ward = explore.run(council, spec(ds="crime", b1="ward", p="latest12"))
    ward = by_ward.frame.row(0, named=True)
    _, alone = explore.run(council, spec(ds="crime", p="latest12", a=ward["ward_code"]))
    _, district = explore.run(council, spec(ds="crime", b1="district", p="latest12", a=ward["ward_code"]))
    assert alone.frame["crimes"][0] == ward["crimes"] == district.frame["crimes"][0]
    # A year's quarters are cells of their own; each equals the total asked for that quarter.
    _, quarters = explore.run(council, spec(ds="crime", b1="quarter", p="latest12"))
    for row in quarters.frame.iter_rows(named=True):
        y, qn = row["quarter"].split(" Q")
        _, one = explore.run(council, spec(ds="crime", p=f"{y}q{qn}"))
        assert one.frame["crimes"][0] == row["crimes"]
    assert quarters.frame.height == 4 and opts["latest12"].label


@pytest.mark.parametrize("grain, period", [("quarter", "all"), ("quarter", "latest24"), ("fy", "all"), ("fy", "latest24")])
def test_quarter_and_year_rows_are_whole_named_periods(demo, grain, period):
    council = user("board.council")
    first, last = periods.held(["crime"])
    plan, result = explore.run(council, spec(ds="crime", b1=grain, p=period))
    assert result.frame.height >= 1
    col = plan.dims[0].columns[0]
    for label in result.frame[col].to_list():
        if grain == "quarter":
            y, q = label.split(" Q")
            start = dt.date(int(y), 3 * int(q) - 2, 1)
            end = periods.add_months(start, 2)
        else:
            start = dt.date(int(label[:4]), 4, 1)
            end = periods.add_months(start, 11)
        assert first <= start and end <= last, label
        assert periods.window_allowed(start, end, first, last), label
    # Everything held starts in October 2022 and ends in September 2026, so the first and last
    # financial years are part-years and are left out, with a note saying so.
    if grain == "fy" and period == "all":
        assert "whole financial years" in plan.note
        assert result.frame[col].to_list() == [f"{y}-{str(y + 1)[2:]}" for y in range(2023, 2026)]


def test_quarterly_data_offers_quarters_and_the_latest_quarter(demo):
    opts = explore.period_options("reoffending")
    first, last = periods.held(["reoffending"])
    keys = [o.key for o in opts]
    assert f"{last.year}q{(last.month - 1) // 3 + 1}" in keys  # the latest quarter held
    assert not any(re.fullmatch(r"\d{4}-\d{2}", k) for k in keys)  # no single months
    with pytest.raises(explore.SpecError, match="held by quarter"):
        explore.plan(user("board.council"), spec(ds="reoffending", b1="month"))
    for o in opts:  # every option is a window the runner accepts for a protected user
        explore.run(user("board.council"), spec(ds="reoffending", p=o.key))


def test_the_same_view_twice_reads_identically(demo):
    s = spec(ds="crime", b1="ward", b2="crime_type", p="fy2024")
    council = user("board.council")
    _, a = explore.run(council, s)
    queries.clear_cache()
    explore._parsed.cache_clear()
    _, b = explore.run(council, s)
    assert a.frame.equals(b.frame) and a.suppressed.equals(b.suppressed)
    assert a.suppressed["crimes"].any()  # small cells in ward x type read 'low'


# ---- the page (AppTest) ----------------------------------------------------------------------


def open_explore(username: str, query: dict | None = None) -> AppTest:
    at = go(login(username), "explore")
    if query:
        for k, v in query.items():
            at.query_params[k] = v
        at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest, *kinds) -> str:
    return "\n".join(str(e.value) for kind in kinds for e in at.get(kind))


def test_page_council_table_matches_the_query_and_the_url_follows_the_pickers(demo):
    at = open_explore("board.council", {"ds": "crime", "b1": "ward", "b2": "crime_type", "p": "fy2024"})
    _, want = explore.run(user("board.council"), spec(ds="crime", b1="ward", b2="crime_type", p="fy2024"))
    table = at.dataframe[0].value
    shown = {(r["ward_code"], r["crime_type"]): str(r["crimes"]) for _, r in table.iterrows()}
    expect = {(r["ward_code"], r["crime_type"]): ("low" if w else str(r["crimes"]))
              for r, w in zip(want.frame.iter_rows(named=True), want.suppressed["crimes"])}
    assert shown == expect and "low" in shown.values()
    assert len(at.get("plotly_chart")) == 1
    assert "cell-key perturbation" in texts(at, "caption")
    assert any(b.proto.label.startswith("Download") for b in at.get("download_button"))
    # Changing a picker changes the URL (the view is in the link).
    at.selectbox(key="x_b1").set_value("month").run()
    assert at.query_params["b1"] == ["month"] or at.query_params["b1"] == "month"
    assert "crimes by month and crime type" in texts(at, "header").lower()


def test_page_health_is_offered_only_its_grant_and_told_why(demo):
    at = open_explore("board.health", {"ds": "crime", "b1": "ward"})
    assert "down to district level" in texts(at, "info")
    b1 = at.selectbox(key="x_b1")
    assert "Ward" not in b1.options and "LSOA" not in b1.options and "District" in b1.options  # labels
    assert "Not offered to you" in texts(at, "caption")
    assert "one value at a time" in texts(at, "caption")
    for ms in at.multiselect:
        assert ms.proto.max_selections == 1
    # No dataset outside the grant is offered.
    names = set(at.selectbox(key="x_ds").options)
    want = {explore.title(c) for c in explore.datasets(user("board.health"))}
    assert names == want and "Proven reoffending cohorts" in names


def test_page_fire_officer_sees_only_their_ward(demo):
    at = open_explore("officer.fire", {"ds": "crime", "b1": "ward", "p": "all"})
    table = at.dataframe[0].value
    assert list(table["ward_code"]) == list(user("officer.fire").areas)
    # Crime and ASB, and the fire service's own data and what the council and housing share with
    # it (config/sharing_policy.toml, issue 15).
    assert set(at.selectbox(key="x_ds").options) == {"Crime", "Anti-social behaviour", "Fires", "Council ASB reports",
                                                     "Environmental crime", "Housing ASB cases"}


def test_page_owner_sees_exact_reoffending(demo):
    at = open_explore("analyst.probation", {"ds": "reoffending", "m": "reoffences", "b1": "quarter",
                                            "b2": "age_group", "p": "all"})
    _, want = explore.run(user("analyst.probation"), spec(ds="reoffending", m="reoffences", b1="quarter",
                                                          b2="age_group", p="all"))
    table = at.dataframe[0].value
    assert [int(x) for x in table["reoffences"]] == want.frame["reoffences"].to_list()
    assert "perturbation" not in texts(at, "caption")


@pytest.mark.parametrize("query", [
    {"ds": "crime", "b1": "location"},
    {"ds": "crime", "f": "crime_type:<script>alert(1)</script>"},
    {"ds": "crime", "p": "2024-01..2024-06"},
    {"ds": "nonexistent"},
    {"ds": "crime", "b1": "ward", "b2": "ward"},
])
def test_page_hostile_links_show_a_message_and_no_trace(demo, query):
    at = open_explore("board.council", query)
    assert not at.exception
    assert texts(at, "info", "warning")
    assert "Traceback" not in texts(at, "info", "warning", "error", "markdown")
    assert at.title[0].value == "Explore"


def test_protected_views_fix_at_most_two_categories_and_the_owner_any(demo):
    """Explore's windows over the finest cross-tabulation of a small pre-counted table, added to
    the pages' own, let least squares beat one figure (tests/test_attacks.py): a protected view
    fixes at most two categories, breakdowns and filters together; the owner is not limited."""
    three = spec(ds="reoffending", b1="age_group", b2="cohort_type", f="cohort_group:IOM", p="all")
    two = spec(ds="reoffending", b1="age_group", b2="cohort_type", p="all")
    council, probation = user("board.council"), user("analyst.probation")
    with pytest.raises(explore.SpecError, match="at most 2"):
        explore.plan(council, three)
    assert explore.run(council, two)[1].frame.height > 0
    assert explore.run(probation, three)[1].frame.height > 0


def test_page_offers_the_view_as_csv_with_the_published_figures(demo, monkeypatch):
    """Issue 15's CSV: the table as published (withheld cells read 'low', never the hidden value),
    next to the workbook that carries the filters and the protection note."""
    import io

    from csp.ui import downloads

    files = {}
    real = downloads.offer

    def capture(label, data, filename, *args, **kwargs):
        files[filename] = data
        return real(label, data, filename, *args, **kwargs)

    monkeypatch.setattr(downloads, "offer", capture)
    open_explore("board.council", {"ds": "crime", "b1": "ward", "b2": "crime_type", "p": "fy2024"})
    assert {"explore_crime.csv", "explore_crime.xlsx"} <= set(files)
    got = pl.read_csv(io.BytesIO(files["explore_crime.csv"]), infer_schema=False)
    _, want = explore.run(user("board.council"), spec(ds="crime", b1="ward", b2="crime_type", p="fy2024"))
    expect = {(r["ward_code"], r["crime_type"]): ("low" if w else str(r["crimes"]))
              for r, w in zip(want.frame.iter_rows(named=True), want.suppressed["crimes"])}
    shown = {(r["ward_code"], r["crime_type"]): r["crimes"] for r in got.iter_rows(named=True)}
    assert shown == expect and "low" in shown.values()
