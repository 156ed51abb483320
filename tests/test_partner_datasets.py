"""Every partner's data (issue 15): each dataset the Crime and Disorder (Prescribed Information)
Regulations and the Home Office guidance name is a contract and policy lines, gets its queries and
dashboard from them, is uploaded through the real upload path (CSV and XLSX) as its owner's
analyst, and is shown to each demo persona as the sharing policy allows.

Expected answers come from the policy file (read with tomllib), from the published Parquet counted
with Polars, and for perturbed figures from the ONS ``cell-key-perturbation`` package
(tests/protection_oracle.py), never from csp.access or from constants copied off a screen.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import tomllib

import polars as pl
import pytest

from apptest_helpers import across_views, demo_area, go, login
from protection_oracle import ons_counts, suppressed_base
from csp import __main__ as cli
from csp import catalog, config, explore, incidents, queries, store, users

PARTNER_DATASETS = ("fires", "council_asb", "environmental_crime", "ae_assaults", "ambulance_assaults",
                    "housing_asb", "youth_first_time_entrants", "youth_reoffending")
DEMO = {u[0]: u for u in users.DEMO_USERS}
ANALYST = {"fire": "analyst.fire", "council": "analyst.council", "health": "analyst.health",
           "housing": "analyst.housing", "youth_justice": "analyst.youth"}


def policy() -> dict:
    with config.policy_path().open("rb") as fh:
        return tomllib.load(fh)


def rule_of(dataset: str, partner: str) -> dict | None:
    """The policy file's rule for a partner (the owner: everything, exact), or None."""
    spec = policy()["datasets"][dataset]
    if spec["owner"] == partner:
        return {"owner": True, "protection": "none", "threshold": 0, "geography": "finest"}
    return spec.get("partners", {}).get(partner) or spec.get("everyone")


def cli_run(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


# ---- the contracts --------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", PARTNER_DATASETS)
def test_contract_declares_what_a_data_owner_signs(dataset):
    c = catalog.contract(dataset)
    pol = policy()["datasets"][dataset]
    assert pol["owner"] == c.owner and c.owner in ANALYST
    assert c.period_grain in ("month", "quarter") and c.legal_basis
    assert dt.date.fromisoformat(c.review_date) > dt.date(2026, 1, 1)
    assert c.kind in ("events", "counts") and c.dashboard
    # Every category is a closed list, so an upload can be checked against it.
    for f in (*c.categories, *c.breakdowns):
        assert c.field(f).values, f
    # Below district level, or for health and youth justice data, other partners get perturbation.
    for partner, rule in pol.get("partners", {}).items():
        if rule["geography"] != "district" or c.owner in ("health", "youth_justice"):
            assert rule["protection"] == "perturb", (dataset, partner)


def test_every_dataset_gets_its_queries_from_its_contract():
    made = incidents.instances()
    for name in PARTNER_DATASETS:
        c = catalog.contract(name)
        mine = {n for n, i in made.items() if i.dataset == name}
        assert f"{name}_headline" in mine and f"{name}_facets" in mine
        if c.layout == "cohort":
            assert {f"{name}_quarterly", *(f"{name}_by_{f}" for f in c.categories)} <= mine
            continue
        assert f"{name}_monthly_total" in mine and f"{name}_by_type" in mine
        assert {f"{name}_by_{b}" for b in (*c.breakdowns, *incidents.filters(c))} <= mine
        # Views need the geography the data has: no ward view of district data, no LSOA view
        # of ward data.
        assert (f"{name}_by_ward" in mine) == bool(c.geo_field("ward"))
        assert (f"{name}_by_lsoa" in mine) == bool(c.geo_field("lsoa"))
    for q in queries.all_queries():  # every one parses and declares what it reads
        assert q.datasets


# ---- the demo, each persona ----------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with demo_area(tmp_path_factory, "partners"):
        yield


def rows_for(dataset: str, username: str) -> pl.DataFrame:
    """The published records a view with no area chosen covers for a user: the partnership's
    district, within the user's wards where the data has wards."""
    c = catalog.contract(dataset)
    rows = pl.read_parquet(store.current(dataset).files)
    areas = DEMO[username][4]
    if areas and c.geo_field("ward"):
        rows = rows.filter(pl.col("ward_code").is_in(areas))
    return rows.rename({c.period_field: "month"}).with_columns(pl.col("month").cast(pl.String))


def expected_cells(dataset: str, username: str, rule: dict, keys: list[str], measure: str | None) -> dict:
    """What each cell of a table by ``keys`` must read for this user, computed independently:
    the records counted (or a pre-counted dataset's ``measure`` added up) exactly for the owner;
    the ONS package's figure under perturbation ('low' when withheld); under suppression the
    protected base's cells shown ('suppressed' when all are withheld, '≥N' when some are)."""
    c = catalog.contract(dataset)
    rows = rows_for(dataset, username)
    weight = pl.len() if measure is None else pl.col(measure).sum()
    if rule["protection"] == "none":
        return {tuple(r[k] for k in keys): str(r["n"])
                for r in rows.group_by(keys).agg(weight.alias("n")).iter_rows(named=True)}
    if rule["protection"] == "perturb":
        if measure is not None:
            rows, key = _as_records(rows, measure, keys), "rk"
        else:
            key = "rkey"
        got = ons_counts(rows, keys, rule["ptable"], rule["threshold"], record_key=key)
        return {k: ("low" if v is None else str(v)) for k, v in got.items()}
    base = ["month", "district_code", *c.base_dims]
    cells = suppressed_base(rows, base, rule["threshold"])
    out = {}
    for r in cells.group_by(keys).agg(pl.col("shown").sum(), pl.col("hidden").sum()).iter_rows(named=True):
        out[tuple(r[k] for k in keys)] = (("suppressed" if r["shown"] == 0 else f"≥{r['shown']}")
                                          if r["hidden"] else str(r["shown"]))
    return out


def _as_records(rows: pl.DataFrame, measure: str, keys: list[str]) -> pl.DataFrame:
    """Pre-counted rows as microdata for the ONS package: a cell of value v whose rows' keys add
    up to k (zeros too, as the published cell's key does) is v records, the first keyed k mod
    256 and the rest 0, so the package sees the same count and the same cell key."""
    cells = rows.group_by(keys).agg(pl.col(measure).sum().alias("v"),
                                    pl.col(f"{measure}_rkey").cast(pl.Int64).sum().alias("k"))
    out = []
    for r in cells.iter_rows(named=True):
        for i in range(int(r["v"])):
            out.append({**{k: r[k] for k in keys}, "rk": int(r["k"]) % 256 if i == 0 else 0})
    return pl.DataFrame(out, schema={**{k: pl.String for k in keys}, "rk": pl.Int64})


def _monthly_query(dataset: str) -> tuple[str, list[str], str, str | None]:
    """(query, keys, its count column, the measure it adds up or None for records)."""
    c = catalog.contract(dataset)
    if c.layout == "cohort":
        size = c.dashboard["cohort"]["size"]
        return f"{dataset}_quarterly", ["month"], size, size
    return (f"{dataset}_monthly", ["month", c.categories[0]], incidents.count_column(c),
            c.measure if c.kind == "counts" else None)


@pytest.mark.parametrize("username", sorted(DEMO))
@pytest.mark.parametrize("dataset", PARTNER_DATASETS)
def test_export_matches_policy(demo, dataset, username):
    """`python -m csp export` of the by-period table, as every demo user: refused without a
    grant; with one, every cell reads exactly what the policy's method gives it."""
    query, keys, value, measure = _monthly_query(dataset)
    rule = rule_of(dataset, DEMO[username][3])
    code, out, err = cli_run("export", query, "--as", username)
    if rule is None:
        assert code != 0 and "sharing agreement" in err and out == ""
        return
    assert code == 0, err
    c = catalog.contract(dataset)
    got = pl.read_csv(io.StringIO(out), infer_schema=False)
    got = got.rename({c.period_field: "month"}) if c.period_field in got.columns else got
    cells = {tuple(r[k] for k in keys): r[value] for r in got.iter_rows(named=True)}
    want = expected_cells(dataset, username, rule, keys, measure)
    if measure is not None:  # a cell of pre-counted zeros: 0 to the owner, under any threshold
        want |= {k: "0" if rule["protection"] == "none" else "low" for k in cells if k not in want}
    assert cells == want
    t = int(rule["threshold"])
    small = [v for v in cells.values() if v not in ("low", "suppressed") and 0 < int(v.lstrip("≥")) < t]
    assert not small, small


@pytest.mark.parametrize("username", sorted(DEMO))
def test_dashboards_for_each_persona(demo, username):
    """Each partner dashboard through the app as each demo persona: listed exactly when the
    policy grants the dataset; then its headline is the runner's figure for that user, and the
    geography it shows stops at the grant (and at the user's wards)."""
    user = users.get_user(username)
    partner, areas = DEMO[username][3], DEMO[username][4]
    at = login(username)
    seen = 0
    for name in PARTNER_DATASETS:
        c = catalog.contract(name)
        d = c.dashboard
        at = go(at, d["url"])
        assert not at.exception, (name, at.exception)
        rule = rule_of(name, partner)
        on_page = bool(at.title) and at.title[0].value == d["title"]
        assert on_page == (rule is not None), (name, username)
        if rule is None:
            continue
        seen += 1
        frames = [x.value for x in across_views(at, "dataframe")]
        if c.layout == "cohort":
            head = queries.run(user, f"{name}_headline").frame.row(0, named=True)
            size = c.dashboard["cohort"]["size"]
            metric = next(m for m in at.metric if m.label.endswith("latest year") and "Rate" not in m.label
                          and "rate" not in m.label)
            assert metric.value == ("low" if head[size] is None and rule["protection"] == "perturb"
                                    else "suppressed" if head[size] is None else f"{head[size]:,}")
            continue
        # The page opens on the contract's default categories (Housing ASB: cases opened).
        cat = c.categories[0] if c.categories else None
        defaults = {k: v for k, v in (c.dashboard.get("defaults") or {}).items() if k == cat}
        result = queries.run(user, f"{name}_headline", {"area": None, **defaults})
        head = result.frame.row(0, named=True)
        metric = next(m for m in at.metric if ", 12 months to" in m.label)
        if head["current"] is not None:  # a total leaving out suppressed cells reads '≥N'
            mark = "≥" if result.partial.width and result.partial["current"][0] else ""
            assert metric.value == f"{mark}{head['current']:,}", name
        # Geography: never finer than the grant, never outside the user's wards.
        geo = "finest" if rule.get("owner") else rule["geography"]
        has_ward = any("ward_name" in f.columns for f in frames)
        has_lsoa = any("lsoa_name" in f.columns for f in frames)
        assert has_lsoa == (bool(c.geo_field("lsoa")) and geo in ("finest", "lsoa")), name
        assert has_ward == (bool(c.geo_field("ward")) and geo in ("finest", "lsoa", "ward")), name
        if areas and has_ward:
            wards = next(f for f in frames if "ward_code" in f.columns)
            assert set(wards["ward_code"].dropna()) <= set(areas), name
        # No published count under the threshold, anywhere on the page.
        t = int(rule["threshold"])
        count = incidents.count_column(c)
        for f in frames:
            if count in f.columns:
                shown = [v for v in f[count].astype(str) if v.lstrip("≥").isdigit()]
                assert not [v for v in shown if 0 < int(v.lstrip("≥")) < t], (name, f.columns)
    expected_seen = sum(rule_of(n, partner) is not None for n in PARTNER_DATASETS)
    assert seen == expected_seen


def test_crime_flags_filter_the_dashboard(demo):
    """The police extract's domestic-abuse flag filters every view of the crime page; partners
    whose grant keeps the protected base only (health) are not offered it and cannot ask."""
    at = go(login("board.council"), "crime")
    at.multiselect(key="domestic_abuse").set_value(["Yes"]).run()
    assert not at.exception
    council = users.get_user("board.council")
    head = queries.run(council, "crime_headline", {"domestic_abuse": ["Yes"]}).frame.row(0, named=True)
    metric = next(m for m in at.metric if m.label.startswith("Crimes, 12 months to"))
    assert metric.value == f"{head['current']:,}"
    everything = queries.run(council, "crime_headline").frame.row(0, named=True)
    assert head["current"] < everything["current"] / 2  # a share of crime, not all of it
    health = go(login("board.health"), "crime")
    assert not [w for w in health.multiselect if w.key == "domestic_abuse"]
    assert any("domestic abuse flag" in i.value.lower() and "not shared with you" in i.value
               for i in across_views(health, "info"))
    code, out, err = cli_run("export", "crime_headline", "--as", "board.health", "--param", "domestic_abuse=Yes")
    assert code != 0 and out == "" and "allowed values" in err


def test_quarterly_periods_are_offered_in_quarters(demo):
    """First-time entrants are counted by quarter: the period picker offers whole quarters,
    labelled by the months they cover, and the headline's year ends with a quarter's last month."""
    at = go(login("board.council"), "first-time-entrants")
    assert not at.exception
    options = at.selectbox(key="period").options
    assert options and all("Q" not in o or "–" in o for o in options)
    assert not any(o.endswith(("January 2026", "February 2026", "August 2026")) for o in options)
    first, last = (dt.date.fromisoformat(x + "-01") for x in
                   (store.current("youth_first_time_entrants").meta["coverage"][k] for k in ("first", "last")))
    end = dt.date(last.year, last.month + 2, 1) if last.month <= 10 else dt.date(last.year + 1, last.month - 10, 1)
    assert any(m.label.endswith(end.strftime("%b %Y")) for m in at.metric)
    table = next((x.value for x in at.dataframe if "quarter" in x.value.columns), None)
    assert table is not None, ([list(x.value.columns) for x in at.dataframe], [c.value for c in at.caption],
                               [i.value for i in at.info], [w.value for w in at.warning])
    # The chosen period's quarters only (the default: the latest 8), each read whole.
    assert len(table) == 8, table
    assert str(table["quarter"].iloc[-1]).endswith(end.strftime("%b %Y"))


def test_catalogue_shows_each_sharing_agreement(demo):
    at = go(login("board.council"), "catalogue")
    assert not at.exception
    # Data text is Markdown-escaped on the page ("2027\\-03\\-31"): compare it unescaped.
    text = "\n".join(m.value for m in at.markdown).replace("\\", "")
    for name in PARTNER_DATASETS:
        c = catalog.contract(name)
        assert c.legal_basis in text and c.review_date in text, name
    summary = at.dataframe[0].value
    assert {catalog.contract(d).title for d in PARTNER_DATASETS} <= {x.label for x in at.expander}
    assert len(summary) == len(catalog.contracts())


# ---- uploads through the real path ----------------------------------------------------------


@pytest.fixture(scope="module")
def trimmed(tmp_path_factory):
    """The demo with each partner dataset's latest quarter held back, for its analyst to upload."""
    from csp import demo as demo_mod

    with demo_area(tmp_path_factory, "uploads"):
        frames = demo_mod.build_frames()
        held_back = {}
        for name in PARTNER_DATASETS:
            c = catalog.contract(name)
            full = frames[name]
            last = full[c.period_field].max()
            cut = dt.date(last.year, last.month, 1)
            start = cut if c.grain_months == 3 else _minus(cut, 2)
            held_back[name] = full.filter(pl.col(c.period_field) >= start)
            rest = full.filter(pl.col(c.period_field) < start)
            store.publish(name, write=lambda cur, out, f=rest: f.write_parquet(out), published_by="test",
                          source="demo less its latest quarter")
        queries.clear_cache()
        yield held_back, frames


def _minus(d: dt.date, n: int) -> dt.date:
    k = d.year * 12 + d.month - 1 - n
    return dt.date(k // 12, k % 12 + 1, 1)


def _extract(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The quarter as an analyst would export it: periods as YYYY-MM, coarser areas left for the
    lookup to fill in, headings as people write them ('Incident type')."""
    c = catalog.contract(name)
    derived = [f for f in ("ward_code", "district_code") if c.geo_field("lsoa") or (f == "district_code" and c.geo_field("ward"))]
    out = frame.drop([d for d in derived if d in frame.columns]).with_columns(pl.col(c.period_field).dt.strftime("%Y-%m"))
    return out.rename({col: col.replace("_", " ").capitalize() for col in out.columns})


def _write_xlsx(frame: pl.DataFrame, path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Extract"
    ws.append(frame.columns)
    for row in frame.iter_rows():
        ws.append(list(row))
    wb.save(path)


def _published(name: str) -> pl.DataFrame:
    c = catalog.contract(name)
    keys = [f for f in c.field_names]
    return pl.read_parquet(store.current(name).files).select(keys).sort(keys, nulls_last=True)


@pytest.mark.parametrize("dataset", PARTNER_DATASETS)
def test_owner_analyst_uploads_a_quarter_as_csv_and_xlsx(trimmed, tmp_path, dataset):
    held_back, frames = trimmed
    c = catalog.contract(dataset)
    analyst = ANALYST[c.owner]
    quarter = held_back[dataset]
    extract = _extract(dataset, quarter)
    csv_path = tmp_path / f"{dataset}.csv"
    extract.write_csv(csv_path)
    # Another partner's analyst may not upload it; nothing changes.
    before = store.current_version_id(dataset)
    stranger = "analyst.police"
    code, out, err = cli_run("upload", dataset, str(csv_path), "--as", stranger)
    assert code != 0 and store.current_version_id(dataset) == before
    # The owner's analyst: validated, published, merged with the periods already held.
    code, out, err = cli_run("upload", dataset, str(csv_path), "--as", analyst)
    assert code == 0, out + err
    assert "Validation passed" in out and f"Published {dataset}" in out
    v = store.current(dataset)
    assert v.meta["published_by"] == analyst and v.version != before
    full = frames[dataset]
    assert _published(dataset).equals(full.select(c.field_names).sort(c.field_names, nulls_last=True))
    # The same quarter again as an Excel workbook, a third of its rows removed (a corrected
    # extract): the quarter's figures are the new file's, the rest of the series unchanged.
    smaller = quarter.filter(pl.int_range(pl.len()) % 3 != 0) if c.kind == "events" else \
        quarter.with_columns(pl.col(m) // 2 for m in c.measures)
    xlsx_path = tmp_path / f"{dataset}.xlsx"
    _write_xlsx(_extract(dataset, smaller), xlsx_path)
    code, out, err = cli_run("upload", dataset, str(xlsx_path), "--as", analyst)
    assert code == 0, out + err
    kept = full.filter(~pl.col(c.period_field).is_in(quarter[c.period_field].unique().implode()))
    want = pl.concat([kept, smaller.select(full.columns)]).select(c.field_names).sort(c.field_names, nulls_last=True)
    assert _published(dataset).equals(want)
    # ...and the owner's own figures for the quarter are the file's, through the runner.
    owner = users.get_user(analyst)
    if c.layout == "cohort":
        got = queries.run(owner, f"{dataset}_quarterly").frame
        size = c.dashboard["cohort"]["size"]
        q0 = smaller[c.period_field].max()
        assert got.filter(pl.col(c.period_field) == q0)[size][0] == smaller[size].sum()
        return
    got = queries.run(owner, f"{dataset}_monthly_total", {"area": "all"}).frame
    count = incidents.count_column(c)
    per = (smaller.group_by(c.period_field).len() if c.kind == "events"
           else smaller.group_by(c.period_field).agg(pl.col(c.measure).sum().alias("len")))
    for r in per.iter_rows(named=True):
        assert got.filter(pl.col("month") == r[c.period_field])[count][0] == r["len"]


def test_upload_refuses_values_outside_the_contract(trimmed, tmp_path):
    held_back, _ = trimmed
    bad = _extract("fires", held_back["fires"]).with_columns(
        pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("Chip pan fire")).otherwise(pl.col("Incident type"))
        .alias("Incident type"))
    path = tmp_path / "bad.csv"
    bad.write_csv(path)
    before = store.current_version_id("fires")
    code, out, err = cli_run("upload", "fires", str(path), "--as", "analyst.fire")
    assert code == 1 and "not a known category" in out and "Chip pan fire" in out and "row 4" in out
    assert store.current_version_id("fires") == before


# ---- done when: a fire analyst uploads, the council board member sees it ----------------------


def _texts(at) -> str:
    return "\n".join([e.value for e in at.error] + [w.value for w in at.warning] + [s.value for s in at.success])


def test_fire_analyst_uploads_and_the_council_board_member_sees_it(trimmed, tmp_path):
    """Issue 15, done when: a new fire analyst, as a new user would, uploads a quarter's fires
    extract on the Upload page (as XLSX, then the next as CSV), and the council board member sees
    it on the Fires dashboard the same minute, perturbed as the council's grant says."""
    held_back, frames = trimmed
    # Start a quarter further back, so two quarters arrive: one as XLSX, one as CSV.
    full = frames["fires"]
    last = held_back["fires"]["month"].min()
    earlier = full.filter((pl.col("month") >= _minus(last, 3)) & (pl.col("month") < last))
    store.publish("fires", write=lambda cur, out: full.filter(pl.col("month") < _minus(last, 3)).write_parquet(out),
                  published_by="test", source="demo less two quarters")
    queries.clear_cache()
    # A new account, made by an administrator; everything after is done as the analyst would.
    users.add_user("fran.new", "a-long-fire-password", name="Fran New (Fire)", role="analyst", partner="fire")
    council = users.get_user("board.council")

    for quarter, fmt in ((earlier, "xlsx"), (held_back["fires"], "csv")):
        path = tmp_path / f"fires-{quarter['month'].min():%Y-%m}.{fmt}"
        if fmt == "xlsx":
            _write_xlsx(_extract("fires", quarter), path)
            mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            _extract("fires", quarter).write_csv(path)
            mime = "text/csv"
        at = go(login("fran.new", "a-long-fire-password"), "upload")
        assert not at.exception, at.exception
        assert at.selectbox(key="up_dataset").options == ["Fire and rescue incidents"]
        at.file_uploader[0].set_value((path.name, path.read_bytes(), mime))
        at.run()
        assert not at.exception, at.exception
        assert "Validation passed" in _texts(at), _texts(at)
        [b for b in at.button if b.label == "Publish"][0].click()
        at.run()
        assert "Published Fire and rescue incidents" in _texts(at)
        v = store.current("fires")
        assert v.meta["published_by"] == "fran.new"
        assert v.meta["coverage"]["last"] == f"{quarter['month'].max():%Y-%m}"

        board = go(login("board.council"), "fires")
        assert not board.exception, board.exception
        newest = quarter["month"].max()
        head = queries.run(council, "fires_headline").frame.row(0, named=True)
        assert head["last_month"] == newest  # the runner as the council sees it: the new quarter
        metric = next(m for m in board.metric if m.label.startswith("Incidents, 12 months to"))
        assert metric.label.endswith(newest.strftime("%b %Y")) and metric.value == f"{head['current']:,}"
        # The council's grant: perturbed. Each month of the new quarter reads the ONS package's
        # figure for its records, on the page as through the runner.
        rows = pl.read_parquet(v.files)
        got = queries.run(council, "fires_monthly_total", {"from": f"{quarter['month'].min():%Y-%m}",
                                                           "to": f"{newest:%Y-%m}"}).frame
        assert got.height == 3
        wanted = {}
        series = next(x.value for x in board.dataframe if "rolling_12_months" in x.value.columns)
        shown = dict(zip(series["month"].astype(str).str[:7], series["incidents"].astype(str)))
        for r in got.iter_rows(named=True):
            month_rows = rows.filter(pl.col("month") == r["month"]).with_columns(pl.lit("m").alias("m"))
            want = ons_counts(month_rows, ["m"], "ptable_t5", 5)[("m",)]
            assert r["incidents"] == want
            assert shown[f"{r['month']:%Y-%m}"] == (str(want) if want is not None else "low")
            wanted[f"{r['month']:%Y-%m}"] = str(want) if want is not None else "low"
        # ...and in Explore (fires by month, everything held), the same figures.
        ex = go(login("board.council"), "explore")
        for k, val in {"ds": "fires", "b1": "month", "p": "all"}.items():
            ex.query_params[k] = val
        ex.run()
        assert not ex.exception, ex.exception
        col = explore.count_column(catalog.contract("fires"), "n")
        table = next(x.value for x in ex.dataframe if "month" in x.value.columns and col in x.value.columns)
        in_explore = dict(zip(table["month"].astype(str).str[:7], table[col].astype(str)))
        assert {m: in_explore.get(m) for m in wanted} == wanted
        # ...and the page says which version, published by whom, it shows.
        assert f"({store.version_words(v.version)})" in "\n".join(m.value for m in board.markdown)


def test_fire_analyst_bad_extract_is_refused_on_the_upload_page(trimmed, tmp_path):
    """A fire extract with a category outside the contract, as XLSX on the Upload page: a plain
    message naming the value and row, no Publish button, and nothing changes (the published
    version, its files' bytes, and what the council board member sees). A file that is not a
    workbook at all gets a plain message too, not a stack trace."""
    held_back, _ = trimmed
    before = store.current("fires")
    files_before = {str(f): f.read_bytes() for f in map(_path, before.files)}
    council = users.get_user("board.council")
    seen_before = queries.run(council, "fires_headline").frame
    bad = _extract("fires", held_back["fires"]).with_columns(
        pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("Chip pan fire")).otherwise(pl.col("Incident type"))
        .alias("Incident type"))
    path = tmp_path / "fires-bad.xlsx"
    _write_xlsx(bad, path)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    at = go(login("analyst.fire"), "upload")
    assert not at.exception, at.exception
    at.file_uploader[0].set_value((path.name, path.read_bytes(), xlsx))
    at.run()
    assert not at.exception, at.exception
    assert "problem(s) must be fixed" in _texts(at), _texts(at)
    report = next(x.value for x in at.dataframe if "problem" in x.value.columns)
    bad_row = report[report["problem"].str.contains("not a known category")]
    assert len(bad_row) == 1 and "Chip pan fire" in bad_row["problem"].iloc[0], report
    assert bad_row["rows"].iloc[0] == "7", report  # the header is row 1: data row index 5 is row 7
    assert not [b for b in at.button if b.label == "Publish"]

    at.file_uploader[0].set_value(("fires.xlsx", b"PK\x03\x04 this is not a workbook", xlsx))
    at.run()
    assert not at.exception, at.exception
    assert at.error and "Traceback" not in _texts(at)
    assert not [b for b in at.button if b.label == "Publish"]

    after = store.current("fires")
    assert after.version == before.version
    assert {str(f): f.read_bytes() for f in map(_path, after.files)} == files_before
    queries.clear_cache()
    assert queries.run(council, "fires_headline").frame.equals(seen_before)


def _path(f):
    from pathlib import Path

    return Path(f)


# ---- a contract that grew: `python -m csp upgrade` -------------------------------------------


@pytest.fixture
def legacy(tmp_path_factory, monkeypatch):
    """A demo whose crime version was published under the contract as it was before the
    domestic-abuse and hate-crime flags: a copy of config/datasets.toml without them."""
    from csp import config as cfg

    with demo_area(tmp_path_factory, "legacy"):
        real = cfg.contracts_path()
        old = tmp_path_factory.mktemp("contract") / "datasets.toml"
        text = "".join(line for line in real.read_text().splitlines(keepends=True)
                       if not line.lstrip().startswith(('{ name = "domestic_abuse"', '{ name = "hate_crime"',
                                                        "filters = [\"domestic_abuse\"", "filter_labels = { domestic_abuse")))
        flags = '["crime_type", "crime_category", "domestic_abuse", "hate_crime"]'
        assert flags in text  # the crime contract as this test knows it
        old.write_text(text.replace(flags, '["crime_type", "crime_category"]'))
        rows = pl.read_parquet(store.current("crime").files)
        monkeypatch.setattr(cfg, "contracts_path", lambda: old)
        catalog._load.cache_clear()
        assert "domestic_abuse" not in catalog.contract("crime").field_names  # the old contract
        store.publish("crime", write=lambda cur, out: rows.drop("domestic_abuse", "hate_crime").write_parquet(out),
                      published_by="test", source="before the flags")
        monkeypatch.setattr(cfg, "contracts_path", lambda: real)
        catalog._load.cache_clear()
        queries.clear_cache()
        yield rows
    catalog._load.cache_clear()


def test_upgrade_republishes_data_from_before_its_contract_grew(legacy):
    from csp import upgrade

    rows = legacy
    before = store.current("crime")
    assert upgrade.stale("crime") == ["domestic_abuse", "hate_crime"]
    code, out, err = cli_run("upgrade", "--by", "admin")
    assert code == 0, err
    after = store.current("crime")
    assert after.version != before.version and f"crime {after.version}" in out
    assert after.meta["published_by"] == "admin" and before.version in after.meta.get("note", "")
    assert upgrade.stale("crime") == []
    # The same records, the flags blank (the old extract never said).
    keys = [f for f in catalog.contract("crime").field_names if f not in ("domestic_abuse", "hate_crime")]
    got = pl.read_parquet(after.files)
    assert got["domestic_abuse"].null_count() == got.height and got["hate_crime"].null_count() == got.height
    assert got.select(keys).sort(keys, nulls_last=True).equals(rows.select(keys).sort(keys, nulls_last=True))
    # Queries read it again: the owner's headline counts the records of its 12 months.
    queries.clear_cache()
    head = queries.run(users.get_user("analyst.police"), "crime_headline", {"area": "all"}).frame.row(0, named=True)
    last = got["month"].max()
    first = _minus(dt.date(last.year, last.month, 1), 11)
    assert head["current"] == got.filter(pl.col("month") >= first).height
    # Nothing left to do: a second run publishes nothing.
    code, out, err = cli_run("upgrade")
    assert code == 0 and "matches its contract" in out and store.current("crime").version == after.version


def test_housing_asb_opens_on_cases_opened_even_after_another_dashboard(demo):
    """The contract's default (cases opened) holds when one arrives from Crime with no crime
    type chosen: an empty list carried over from Crime once counted opened and closed together."""
    from csp import queries, users

    at = go(login("board.council"), "crime")
    assert not at.exception, at.exception
    at = go(at, "housing-asb")
    assert not at.exception, at.exception
    box = at.multiselect(key="type")
    assert box.value == ["Opened"] and box.placeholder == "All"
    opened = queries.run(users.get_user("board.council"), "housing_asb_headline",
                         {"case_event": ["Opened"]}).frame.row(0, named=True)["current"]
    metric = next(m for m in at.metric if "12 months to" in m.label)
    assert metric.value == f"{opened:,}"


def test_age_bands_and_times_keep_their_natural_order(demo):
    """Ordinal categories (declared `ordered` in the contract) are drawn in their order, not
    sorted by size (age bands read 18-24, 25-34, 35-49, 0-17, 50+ before)."""
    import json

    from apptest_helpers import open_view
    from csp import catalog

    c = catalog.contract("ae_assaults")
    for field, view in (("age_band", "Age band"), ("time_band", "Time of assault")):
        at = open_view(go(login("board.police"), "ae-assaults"), view)
        assert not at.exception, at.exception
        chart = json.loads(at.get("plotly_chart")[0].proto.spec)
        drawn = [y.split(" (")[0] for y in chart["data"][0]["y"]][::-1]  # Plotly lists bottom-up
        expected = [v for v in c.field(field).values if v in drawn]
        assert drawn == expected and len(drawn) >= 3, (field, drawn)


def test_a_cohort_breakdown_says_which_groups_are_not_drawn(demo):
    """A partner's youth reoffending breakdown draws only the groups big enough to show: the
    page names the others, so a chart of one bar does not read as the whole cohort."""
    from csp import catalog, incidents
    c = catalog.contract("youth_reoffending")
    d = c.dashboard["cohort"]
    at = go(login("board.council"), "youth-reoffending")
    assert not at.exception, at.exception
    import re
    said = [re.sub(r"\\(.)", r"\1", x.value) for x in at.caption
            if x.value.startswith("Not drawn, as too few to show safely: ")]
    expected = []
    for f in incidents.filters(c):
        b = incidents.with_wilson(queries.run(users.get_user("board.council"), f"youth_reoffending_by_{f}"),
                                  d["outcome"], d["size"])
        gone = [str(v) for v, r in zip(b.frame[f].to_list(), b.frame["rate_pct"].to_list()) if r is None]
        if gone and b.frame["rate_pct"].drop_nulls().len():
            expected.append(set(gone))
    assert expected, "no group is withheld for the council: the test proves nothing"
    assert [set(x.removeprefix("Not drawn, as too few to show safely: ").rstrip(".").split(", ")) for x in said] == expected


def test_an_analyst_checks_their_own_partners_data_quality_first(demo):
    """Data quality lists every incident dataset (its contract's quality query), and the youth
    justice analyst lands on their own data, not on police crime."""
    from csp import quality
    at = go(login("analyst.youth"), "data-quality")
    assert not at.exception, at.exception
    box = at.selectbox(key="dq_dataset")
    assert box.value == "youth_first_time_entrants", box.options
    assert "youth_first_time_entrants" in quality.quality_queries() and "fires" in quality.quality_queries()
    table = at.dataframe[0].value
    expected = queries.run(users.get_user("analyst.youth"), "quality_youth_first_time_entrants").frame
    # Newest first, each quarter in its months.
    assert len(table) == expected.height and list(table["Table rows"]) == expected["records"].to_list()[::-1]
    from csp import supply
    assert list(table["Period"]) == [supply.held_words(d, d, 3).split(" to ")[0] for d in expected["month"]][::-1]
    assert "in_partnership" not in table.columns and "In the partnership area" in table.columns


def test_data_quality_of_a_counts_dataset_counts_table_rows_not_records(demo):
    """Reoffending is published as counts (a row per district and cohort breakdown): its quality
    table says 'Table rows' beside 'Offenders', not 'Records', which read as people."""
    at = go(login("analyst.probation"), "data-quality")
    assert not at.exception, at.exception
    assert at.selectbox(key="dq_dataset").value == "reoffending"
    table = at.dataframe[0].value
    assert "Table rows" in table.columns and "Offenders" in table.columns and "Records" not in table.columns


def test_own_partner_tiles_read_the_dashboards_default_figure(demo):
    """The housing analyst's Overview tile for Housing ASB counts the cases opened, as the Housing
    ASB page opens on (its contract's default), not opened and closed cases added together."""
    from csp import themes
    analyst = users.get_user("analyst.housing")
    tile = next(t for t in themes.own_tiles(analyst) if t.source == "housing_asb")
    defaults = catalog.contract("housing_asb").dashboard["defaults"]
    page = queries.run(analyst, "housing_asb_headline", {k: list(v) for k, v in defaults.items()}).frame.row(0, named=True)
    both = queries.run(analyst, "housing_asb_headline", {}).frame.row(0, named=True)
    assert tile.value_label == f"{page['current']:,}" and page["current"] < both["current"]


def test_data_quality_labels_monthly_rows_as_months(demo):
    """Fires are monthly data supplied quarterly: the quality table labels its rows by month."""
    import json
    at = go(login("analyst.fire"), "data-quality")
    assert not at.exception, at.exception
    assert at.selectbox(key="dq_dataset").value == "fires"
    period = json.loads(at.dataframe[0].proto.columns)["Period"]
    assert period["type_config"]["format"] == "MMM YYYY", period
    latest = next(m for m in at.metric if m.label == "Latest period").value
    assert "Q" not in latest and latest[:3].isalpha(), latest


def test_months_that_leave_out_suppressed_counts_are_floors_on_the_trend(demo):
    """Health reads fires suppressed at district level: every month is a floor ('≥31'). The
    trend drew control limits round the floors and called months exceptional; now no limits
    are drawn, the rolling totals over a floor are floors too, and the chart's words say so."""
    from csp import chart_text, disclosure, indicators, queries, users
    health = users.get_user("board.health")
    r = queries.run(health, "fires_monthly_total", {"from": "2023-10"})
    assert r.partial.width and r.partial["incidents"].any()
    series, note = indicators.monthly_series(r, "incidents", "2024-10", "2026-09")
    floors = series.partial["incidents"].to_list()
    assert sum(floors) == sum(1 for m, p in zip(r.frame["month"], r.partial["incidents"])
                              if p and m.strftime("%Y-%m") >= "2024-10")
    assert series.frame["centre_line"].drop_nulls().len() == 0 and "control limits are not shown" in note
    shown = disclosure.display(series)
    rolled = series.partial["rolling_12_months"].to_list()
    for i, v in enumerate(shown["rolling_12_months"].to_list()):
        if v is not None:
            assert v.startswith("≥") == rolled[i]
    assert any(rolled)
    name, _ = chart_text.monthly(series.frame, "incidents", "Incidents")
    assert "control limits" not in name
    # The owner's exact months still get their control chart.
    owner, _ = indicators.monthly_series(queries.run(users.get_user("analyst.fire"), "fires_monthly_total",
                                                     {"from": "2023-10"}), "incidents", "2024-10", "2026-09")
    assert owner.frame["centre_line"].drop_nulls().len() > 0 and not owner.partial["incidents"].any()


def test_the_trend_chart_says_when_quarters_may_stand_for_fewer_than_the_threshold(demo):
    """A partner's first-time entrants chart showed quarters of exactly 10 with the caveat only in
    the Table tab: the chart view says it under the chart too, the owner's does not."""
    from csp import disclosure, queries, users
    partner = users.get_user("board.police")
    words = disclosure.near_threshold_words(queries.run(partner, "youth_first_time_entrants_monthly_total", {}))
    at = go(login("board.police"), "first-time-entrants")
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption]
    assert (words in captions) == bool(words)
    owner = go(login("analyst.youth"), "first-time-entrants")
    assert not any("may stand for fewer" in c.value for c in owner.caption)
