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
from protection_oracle import ons_counts, suppressed_base

DEMO = {u[0]: u for u in users.DEMO_USERS}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    import os

    from csp import demo as demo_mod, queries

    d = tmp_path_factory.mktemp("demo")
    old = os.environ.get("CSP_DATA_DIR")
    os.environ["CSP_DATA_DIR"] = str(d)
    os.environ["CSP_RECORD_KEY_SECRET"] = "test-record-key-secret"  # the same noise every run
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
        return {"geography": "lsoa", "threshold": 0, "protection": "none"}
    return spec.get("partners", {}).get(partner) or spec.get("everyone")


def scoped_rows(dataset: str, username: str) -> pl.DataFrame:
    """The records a view with no area chosen covers for the user, straight from the published
    Parquet (keys included): the partnership's districts (the demo: Fenmouth), within the
    user's wards if they have a scope. Records with no location are counted apart."""
    from csp import partnership

    areas = DEMO[username][4]
    rows = pl.read_parquet(store.current(dataset).files)
    rows = rows.filter(pl.col("district_code").is_in(partnership.districts()))
    if areas:
        rows = rows.filter(pl.col("ward_code").is_in(areas))
    return rows.with_columns(pl.col("month").cast(pl.String))


def expected(dataset: str, username: str, rule: dict, keys: list[str]) -> dict:
    """What each cell must read for this user, computed independently of the app: exact for the
    owner; the ONS package's perturbed count under perturbation ('low' when withheld); under
    suppression, the sum of the protected base cells shown ('suppressed' when all are withheld,
    '≥N' when some are)."""
    rows = scoped_rows(dataset, username)
    if rule["protection"] == "none":
        return {(tuple(r[c] for c in keys) if len(keys) > 1 else r[keys[0]]): str(r["n"])
                for r in rows.group_by(keys).agg(pl.len().alias("n")).iter_rows(named=True)}
    if rule["protection"] == "perturb":
        got = ons_counts(rows, keys, rule["ptable"], rule["threshold"])
        return {(k if len(keys) > 1 else k[0]): ("low" if v is None else str(v)) for k, v in got.items()}
    base = ["month", "district_code"] + (["crime_type", "crime_category"] if dataset == "crime" else [])
    cells = suppressed_base(rows, base, rule["threshold"])
    out = {}
    for r in cells.group_by(keys).agg(pl.col("shown").sum(), pl.col("hidden").sum()).iter_rows(named=True):
        k = tuple(r[c] for c in keys)
        k = k if len(keys) > 1 else k[0]
        out[k] = ("suppressed" if r["shown"] == 0 else f"≥{r['shown']}") if r["hidden"] else str(r["shown"])
    return out


@pytest.mark.parametrize("username", sorted(DEMO))
@pytest.mark.parametrize("dataset,query,by_type", [("crime", "crime_monthly", True), ("asb", "asb_monthly_total", False)])
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
    got_cells = {(tuple(r[c] for c in keys) if by_type else r[keys[0]]): r[value]
                 for r in got.iter_rows(named=True)}
    want = expected(dataset, username, rule, keys)
    # Same cells (nothing outside scope, none lost), each reading what the method gives.
    assert got_cells == want
    # Never a small count shown as itself: every true count of 1..t-1 reads 'low',
    # 'suppressed', a total marked ≥, or (perturbed) a figure of at least t.
    t = rule["threshold"]
    truth = {(tuple(r[c] for c in keys) if by_type else r[keys[0]]): r["n"] for r in
             scoped_rows(dataset, username).group_by(keys).agg(pl.len().alias("n")).iter_rows(named=True)}
    small = {k for k, n in truth.items() if 0 < n < t}
    for k in small:
        v = got_cells[k]
        assert v in ("low", "suppressed") or v.startswith("≥") or int(v) >= t, (k, v)
    if t and by_type and DEMO[username][4]:
        assert small, "the demo has small crime cells in a ward, so this test bites"


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
