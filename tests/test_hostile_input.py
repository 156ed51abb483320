"""Hostile input: arbitrary strings and SQL fragments thrown at every query parameter and the
CLI never leak internals and never change what a query returns the shape of; allowed-value
checks; uploaded file names cannot leave the data directory; data text cannot become Markdown."""
from __future__ import annotations

import contextlib
import io
import shutil

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from csp import access, config, queries, safety
from csp.__main__ import main
from csp.ui.common import md_escape

SQL_FRAGMENTS = [
    "' OR 1=1 --", "'; DROP TABLE crime; --", "E05000901' OR '1'='1", "2024-01' UNION SELECT * FROM crime --",
    "$area", "${area}", "read_parquet('/etc/passwd')", "1; ATTACH '/tmp/x.db'", "\\x00", "NULL",
    "2024-13", "2024-1", "E05000901,E05000902", "E0500090", "E05000901\n", "Burglary\x00", "%", "_",
    "Robbery) OR (1=1", "../../../etc/passwd", "<script>alert(1)</script>", "[x](javascript:alert(1))",
    "=HYPERLINK(\"http://x\")", "9" * 40, "-1", "0", "２０２４-０１", "Е05000901",  # Cyrillic E
]
values = st.one_of(st.sampled_from(SQL_FRAGMENTS), st.text(max_size=80),
                   st.lists(st.sampled_from(SQL_FRAGMENTS + ["Burglary"]), max_size=3))
INTERNALS = ("Traceback", "duckdb", "Binder Error", "Parser Error", "Catalog Error", "read_parquet",
             "Conversion Error", "sqlite", "File \"", "Exception")
QUERIES = [q.name for q in queries.all_queries() if q.params]


def assert_safe_message(msg: str, data_dir) -> None:
    assert msg and not any(s.lower() in msg.lower() for s in INTERNALS), msg
    assert str(data_dir) not in msg and str(config.ROOT) not in msg


VALID = {"month": "2024-01", "area": "E05000901", "int": "1", "text": "x", "text_list": None}


def required(q) -> dict:
    return {n: VALID[p.type] for n, p in q.params.items() if p.required}


@pytest.fixture
def baselines(tiny):
    council = tiny["users"]["council"]
    out = {}
    for name in QUERIES:
        try:
            out[name] = queries.run(council, name, required(queries.get(name))).frame.schema
        except access.AccessDenied:
            out[name] = None
    return out


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_arbitrary_parameter_values_are_refused_cleanly_or_change_nothing_in_shape(tiny, baselines, data):
    name = data.draw(st.sampled_from(QUERIES))
    q = queries.get(name)
    pname = data.draw(st.sampled_from(sorted(q.params) + ["not_a_param", "area; drop"]))
    value = data.draw(values)
    try:
        r = queries.run(tiny["users"]["council"], name, required(q) | {pname: value})
    except (queries.QueryError, access.AccessDenied) as e:
        assert_safe_message(str(e), tiny["dir"])
        return
    assert baselines[name] is not None
    assert r.frame.schema == baselines[name]  # same columns, same types: the SQL did not change
    assert list(r.frame.columns) == [c for c in q.columns if c in r.frame.columns]


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_cli_export_never_leaks_internals(tiny, data):
    name = data.draw(st.one_of(st.sampled_from(QUERIES), st.sampled_from(SQL_FRAGMENTS)))
    pname = data.draw(st.one_of(st.sampled_from(["from", "to", "area", "crime_type"]), st.text(max_size=20)))
    value = data.draw(st.one_of(st.sampled_from(SQL_FRAGMENTS), st.text(max_size=40)))
    args = ["export", name, "--as", data.draw(st.sampled_from(["council.board", "nobody' --"])),
            "--param", f"{pname}={value}".replace("\x00", "")]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    assert code in (0, 2)
    if code:
        assert err.getvalue().startswith("error: ") and out.getvalue() == ""
        assert_safe_message(err.getvalue(), tiny["dir"])


# ---- allowed values ---------------------------------------------------------------------------


@pytest.fixture
def query_dir(tmp_path, monkeypatch):
    d = tmp_path / "queries"
    shutil.copytree(config.QUERIES_DIR, d)
    monkeypatch.setattr(config, "QUERIES_DIR", d)
    queries._registry.clear()
    yield d
    queries._registry.clear()


def test_choices_from_refuses_values_the_user_cannot_see(tiny, query_dir):
    p = query_dir / "incident" / "by_type.sql"  # crime_by_type is this template made for crime
    p.write_text(p.read_text().replace(
        '{{cat}}: {type: text_list, description: "{{cat_label}}s to include (default: all)"}',
        '{{cat}}: {type: text_list, choices_from: "{{ds}}_facets.{{cat}}", description: "x"}'))
    police = tiny["users"]["police"]
    ok = queries.run(police, "crime_by_type", {"crime_type": ["Burglary", "Drugs"]})
    assert set(ok.frame["crime_type"]) == {"Burglary", "Drugs"}
    for bad in (["Burglary", "Robbery"], "Burglary' OR '1'='1", ["<script>"]):
        with pytest.raises(queries.QueryError, match="not one of its allowed values") as e:
            queries.run(police, "crime_by_type", {"crime_type": bad})
        assert "script" not in str(e.value) and "OR" not in str(e.value)  # never echoed


def test_fixed_choices(tiny, query_dir):
    p = query_dir / "incident" / "by_type.sql"  # crime_by_type is this template made for crime
    p.write_text(p.read_text().replace(
        '{{cat}}: {type: text_list, description: "{{cat_label}}s to include (default: all)"}',
        '{{cat}}: {type: text_list, choices: [Burglary], description: "x"}'))
    assert queries.run(tiny["users"]["police"], "crime_by_type", {"crime_type": "Burglary"}).frame.height == 1
    with pytest.raises(queries.QueryError):
        queries.run(tiny["users"]["police"], "crime_by_type", {"crime_type": "Drugs"})


# ---- file names and text ------------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("crime.csv", "crime.csv"), ("../../app.db", "app.db"), ("/etc/passwd", "passwd"),
    ("C:\\Windows\\win.ini", "win.ini"), ("..\\..\\x.csv", "x.csv"), ("a/../../b.csv", "b.csv"),
    ("ok name (1).csv", "ok name _1_.csv"), ("ｃｒｉｍｅ．ｃｓｖ", "crime.csv"), ("x\x00.csv", "x.csv"),
    ("..／..／etc／passwd", "passwd"), ("con.csv", "_con.csv"), ("<script>.csv", "_script_.csv"),
])
def test_upload_names_are_reduced_to_a_plain_name(data_dir, name, expected):
    path = safety.safe_upload_path(name)
    assert path.name == expected and path.parent == (data_dir / "uploads").resolve()


@pytest.mark.parametrize("name", ["", "..", ".", "/", "../..", "\x00", "..\\", " . "])
def test_unusable_names_are_refused(data_dir, name):
    with pytest.raises(safety.UnsafeName):
        safety.safe_upload_path(name)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=300))
def test_no_name_escapes_the_upload_directory(data_dir, name):
    try:
        path = safety.safe_upload_path(name)
    except safety.UnsafeName:
        return
    root = (data_dir / "uploads").resolve()
    assert path.parent == root and len(path.name) <= safety.MAX_NAME and path.name not in (".", "..")


@settings(database=None)
@given(text=st.text(max_size=100))
def test_md_escape_leaves_no_markdown_or_html_active(text):
    out = md_escape(text)
    # Every Markdown/HTML metacharacter is preceded by a backslash, so st.markdown shows it literally.
    i = 0
    while i < len(out):
        if out[i] == "\\":
            i += 2
            continue
        assert out[i] not in "\\`*_{}[]()#+-.!|<>~$:", out
        i += 1
    assert out.replace("\\", "") == text.replace("\\", "")



def test_a_window_that_runs_backwards_is_refused_for_everyone(tiny, tmp_path):
    """from after to read '-46 months' and a rate of -0.0 (an attack helper found it on the
    partnership comparator): every query with a period window refuses it, owner or partner."""
    windowed = [q for q in queries.all_queries()
                if {p.period for p in q.params.values()} >= {"start", "end"}]
    assert windowed
    for user in tiny["users"].values():
        for q in windowed:
            params = {**required(q), **{n: v for n, p in q.params.items()
                                        for v in [{"start": "2024-02", "end": "2023-03"}.get(p.period)] if v}}
            try:
                queries.run(user, q.name, params)
            except access.AccessDenied:
                continue
            except queries.QueryError as e:
                assert "after the last" in str(e), (q.name, str(e))
                continue
            raise AssertionError(f"{q.name} ran a backwards window for {user.username}")
