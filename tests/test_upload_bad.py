"""The bad-file corpus: every file gets its own specific message, through the CLI and the API,
and the published data stays byte-for-byte as it was."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from conftest import GEOGRAPHY, crime_frame, publish_frame
from upload_fixtures import BAD_FILES, BadFile, Nonsense

from csp import access, queries, upload, users
from csp.__main__ import main

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad") / "data"
    d.mkdir()
    old = os.environ.get("CSP_DATA_DIR")
    os.environ["CSP_DATA_DIR"] = str(d)
    queries.clear_cache()
    rounds, users.BCRYPT_ROUNDS = users.BCRYPT_ROUNDS, 4
    publish_frame("geography", GEOGRAPHY)
    publish_frame("crime", crime_frame())
    for name, partner in (("analyst.police", "police"), ("analyst.probation", "probation")):
        users.add_user(name, PASSWORD, role="analyst", partner=partner)
    users.BCRYPT_ROUNDS = rounds
    yield d
    if old is None:
        os.environ.pop("CSP_DATA_DIR", None)
    else:
        os.environ["CSP_DATA_DIR"] = old


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under datasets/ with its SHA-256 (lock files excluded: opening one changes nothing)."""
    out = {}
    for p in sorted((root / "datasets").rglob("*")):
        if p.is_file() and p.name != ".lock":
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def codes(plan: upload.Plan) -> set[str]:
    return {p.code for p in plan.errors} | {f"pii:{f.kind}" for f in plan.findings}


def messages(plan: upload.Plan) -> str:
    return "\n".join([p.text() for p in plan.problems] + [f.message for f in plan.findings])


def test_corpus_is_big_and_names_are_unique():
    assert len(BAD_FILES) >= 40
    assert len({b.name for b in BAD_FILES}) == len(BAD_FILES)


@pytest.mark.parametrize("bad", BAD_FILES, ids=lambda b: b.name)
def test_bad_file_gets_its_message_and_changes_nothing(env, bad: BadFile, tmp_path, capsys):
    before = tree_digest(env)
    user = users.get_user(bad.user)
    source = bad.data() if callable(bad.data) else bad.data
    if bad.code == "access":
        with pytest.raises(access.AccessDenied, match=bad.text):
            upload.prepare(bad.dataset, source, bad.file_name, user=user)
    else:
        plan = upload.prepare(bad.dataset, source, bad.file_name, user=user, mapping=bad.mapping,
                              max_bytes=10_000_000 if isinstance(source, Nonsense) else None)
        assert bad.code in codes(plan), messages(plan)
        assert bad.text in messages(plan)
        assert not plan.ok
        with pytest.raises(upload.UploadError):
            upload.publish(plan, "test")
        if isinstance(source, Nonsense):
            # Streamed, and the reader stopped just past the limit: 1 GB was never read.
            assert source.served <= 10_000_000 + source.chunk
    if not callable(bad.data):
        path = tmp_path / bad.file_name
        path.write_bytes(bad.data)
        argv = ["upload", bad.dataset, str(path), "--as", bad.user]
        for k, v in (bad.mapping or {}).items():
            argv += ["--map", f"{k}={v}"]
        rc = main(argv)
        out = capsys.readouterr()
        assert rc != 0
        assert bad.text in out.out + out.err
    assert tree_digest(env) == before


def test_rows_are_spreadsheet_rows(env):
    from upload_fixtures import crime_csv, crime_rows

    data = crime_csv(crime_rows(3) + [r.replace("2024-03", "2099-01") for r in crime_rows(2)])
    plan = upload.prepare("crime", data, "f.csv", user=users.get_user("analyst.police"))
    fut = next(p for p in plan.errors if p.code == "future_month")
    # Header is row 1, so data rows 4 and 5 are spreadsheet rows 5 and 6.
    assert fut.rows == [5, 6] and fut.count == 2
    pii_plan = upload.prepare("crime", crime_csv(crime_rows(2) + [crime_rows(1)[0].replace(
        "On or near High Street", "12 Acacia Avenue")]), "f.csv", user=users.get_user("analyst.police"))
    assert pii_plan.findings[0].rows == [4]
    assert "row 4" in pii_plan.findings[0].message


def test_every_problem_is_listed_not_just_the_first(env):
    from upload_fixtures import crime_csv, crime_rows

    rows = crime_rows(6)
    rows[1] = rows[1].replace("2024-03", "2024-13")
    rows[2] = rows[2].replace("Robbery", "Robery")
    rows[3] = rows[3].replace("E01000901", "X")
    rows[4] = rows[4].replace("2024-03", "2099-02")
    plan = upload.prepare("crime", crime_csv(rows), "many.csv", user=users.get_user("analyst.police"))
    got = {p.code: p.rows for p in plan.errors}
    assert got == {"bad_month": [3], "unknown_category": [4], "bad_geo_code": [5], "future_month": [6]}


def test_values_with_braces_and_markup_are_quoted_not_interpreted(env):
    from upload_fixtures import crime_csv, crime_rows

    rows = crime_rows(3)
    rows[0] = rows[0].replace("Burglary", "{0} <b>x</b> [link](http://e.example)")
    plan = upload.prepare("crime", crime_csv(rows), "b.csv", user=users.get_user("analyst.police"))
    bad = next(p for p in plan.errors if p.code == "unknown_category")
    assert "'{0} <b>x</b> [link](http://e.example)'" in bad.message and bad.rows == [2]


@pytest.mark.parametrize("heading", ["^[$", "^$", "^.*$"])
def test_headings_polars_reads_as_regex_are_refused_clearly(env, heading):
    """Polars reads a column name like "^…$" as a pattern in column selections (found by the PII
    property test): such a heading gets a clear message and the store is unchanged, instead of
    a crash or a check run against the wrong columns."""
    from upload_fixtures import with_extra

    before = tree_digest(env)
    plan = upload.prepare("crime", with_extra(heading, ["x"] * 6), "f.csv", user=users.get_user("analyst.police"))
    assert [p.code for p in plan.errors] == ["unreadable"]
    assert "read as a pattern: rename" in plan.errors[0].message and heading in plan.errors[0].message
    assert tree_digest(env) == before
