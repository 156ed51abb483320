"""For every demo user, `python -m csp export` returns exactly what the sharing policy allows.

The expected answers are computed independently here, straight from the published Parquet with
Polars and the policy file, and compared with what the CLI prints through the access layer.
"""
from __future__ import annotations

import contextlib
import io
import tomllib

import polars as pl
import pytest

from csp import __main__ as cli
from csp import config, store, users

DEMO = {u[0]: u for u in users.DEMO_USERS}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    import os

    from csp import demo as demo_mod, queries

    d = tmp_path_factory.mktemp("demo")
    old = os.environ.get("CSP_DATA_DIR")
    os.environ["CSP_DATA_DIR"] = str(d)
    queries.clear_cache()
    rounds, users.BCRYPT_ROUNDS = users.BCRYPT_ROUNDS, 4
    demo_mod.publish_demo()
    users.ensure_demo_users()
    users.BCRYPT_ROUNDS = rounds
    yield d
    os.environ.pop("CSP_DATA_DIR") if old is None else os.environ.__setitem__("CSP_DATA_DIR", old)


def export(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["export", *args])
    return code, out.getvalue(), err.getvalue()


def policy_rule(dataset: str, partner: str) -> dict | None:
    with open(config.policy_path(), "rb") as fh:
        spec = tomllib.load(fh)["datasets"][dataset]
    if spec["owner"] == partner:
        return {"geography": "lsoa", "threshold": 0}
    return spec.get("partners", {}).get(partner) or spec.get("everyone")


def true_monthly(dataset: str, username: str, by_type: bool) -> pl.DataFrame:
    """The true counts the user's scope covers, straight from the published Parquet."""
    areas = DEMO[username][4]
    rows = pl.read_parquet(store.current(dataset).files)
    if areas:
        rows = rows.filter(pl.col("ward_code").is_in(areas))
    keys = ["month", "crime_type"] if by_type else ["month"]
    return (rows.group_by(keys).agg(pl.len().alias("true")).sort(keys)
            .with_columns(pl.col("month").cast(pl.String)))


@pytest.mark.parametrize("username", sorted(DEMO))
@pytest.mark.parametrize("dataset,query,by_type", [("crime", "crime_monthly", True), ("asb", "asb_monthly", False)])
def test_export_matches_policy(demo, username, dataset, query, by_type):
    code, out, err = export(query, "--as", username)
    rule = policy_rule(dataset, DEMO[username][3])
    if rule is None:
        assert code != 0 and "sharing agreement" in err and out == ""
        return
    assert code == 0, err
    value = "crimes" if by_type else "incidents"
    keys = ["month", "crime_type"] if by_type else ["month"]
    got = pl.read_csv(io.StringIO(out), infer_schema=False)
    assert got.columns == keys + [value]
    truth = true_monthly(dataset, username, by_type)
    both = truth.join(got, on=keys, how="full", coalesce=True)
    assert both.height == truth.height == got.height  # same cells: nothing outside scope, none lost
    t = rule["threshold"]
    shown = both.filter(pl.col(value) != "suppressed")
    # Every number shown is the true count, and never a small one.
    assert (shown[value].cast(pl.Int64) == shown["true"]).all()
    assert not ((shown["true"] > 0) & (shown["true"] < t)).any()
    # Every small count is suppressed (primary suppression)...
    small = both.filter((pl.col("true") > 0) & (pl.col("true") < t))
    assert (small[value] == "suppressed").all()
    if t and by_type:
        assert small.height > 0  # the demo has small crime cells, so this test bites
        # ...and no month or crime type has a single suppressed cell, or suppressed cells
        # adding up to a small number, which its visible total would give away (secondary).
        for group in ("month", "crime_type"):
            sup = (both.filter(pl.col(value) == "suppressed")
                   .group_by(group).agg(pl.len().alias("n"), pl.col("true").sum().alias("sum")))
            totals = both.group_by(group).agg(pl.len().alias("cells"))
            sup = sup.join(totals, on=group)
            lone = sup.filter((pl.col("n") < pl.col("cells")) & ((pl.col("n") == 1) | (pl.col("sum") < t)))
            assert lone.height == 0, lone


@pytest.mark.parametrize("username", sorted(DEMO))
def test_ward_table_needs_ward_level_access(demo, username):
    code, out, err = export("crime_by_ward", "--as", username)
    _, _, role, partner, areas = DEMO[username]
    rule = policy_rule("crime", partner)
    if rule["geography"] == "district":
        assert code != 0 and "ward" in err.lower() and out == ""
        return
    got = pl.read_csv(io.StringIO(out), infer_schema=False)
    wards = set(got["ward_code"].drop_nulls().to_list())
    if areas:
        assert wards == set(areas)
    else:
        assert len(wards) == 20  # every Fenmouth ward


def test_cli_errors_are_one_line(demo):
    for args, needle in [
        (["crime_monthly", "--as", "nobody"], "unknown user"),
        (["no_such_query", "--as", "board.police"], "Unknown query"),
        (["crime_monthly", "--as", "board.police", "--param", "colour=red"], "no parameter 'colour'"),
        (["crime_monthly", "--as", "board.police", "--param", "from=2024-13"], "YYYY-MM"),
        (["crime_monthly", "--as", "board.police", "--param", "area=1 OR 1=1"], "ward or district code"),
        (["crime_monthly", "--as", "board.police", "--param", "-x=1"], "expected one argument"),
    ]:
        code, out, err = export(*args)
        assert code != 0 and out == "" and needle in err and len(err.strip().splitlines()) == 1, (args, err)
