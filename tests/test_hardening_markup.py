"""Issue 14, finding 2: one partner planted links and styling in other partners' charts and board
packs. Plotly renders <a href>, <b> and <span style> in axis labels, legends, hover text and titles,
so every data-derived string reaching a figure goes through csp.safety.label; HTML (the board pack)
through the same helper; Markdown through csp.safety.markdown. Each route is tested with hostile
strings: the figures' JSON (builders, and the pages' charts through AppTest), the board pack's
HTML (its tables and the figures embedded in it), and Markdown."""
from __future__ import annotations

import html
import json
import re

import polars as pl
import pytest
from hypothesis import given, strategies as st

from apptest_helpers import across_views, go, login
from conftest import GEOGRAPHY, W1, W2, crime_frame, publish_frame

from csp import boardpack, figures, figures_themes, safety
from csp.ui.common import md_escape

LINK = '<a href="https://evil.example/phish">Abbey</a>'
BOLD = "<b>Robbery</b>"
STYLE = '<span style="font-size:60px;color:red">Burglary</span>'
HOSTILE = [LINK, BOLD, STYLE]
RAW = re.compile(r"<\s*(a|b|span|br|i|sup|sub|em)\b[^<>]*>", re.I)  # any tag Plotly would render


def no_markup(text: str) -> None:
    """No tag from the hostile strings survives anywhere in ``text`` (JSON-escaped or not), and
    the hostile strings are there, escaped (so the check is not vacuous)."""
    plain = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)  # JSON's \u002f ...
    plain = plain.replace('\\"', '"').replace("\\/", "/")
    for h in HOSTILE:
        assert h not in plain
    assert "evil.example" in plain and "&lt;a href=&#34;https://evil.example/phish&#34;&gt;" in plain


def fig_json(fig) -> str:
    return fig.to_json()


# ---- the helper ---------------------------------------------------------------------------


@given(st.text(max_size=60))
def test_label_is_literal_text_in_html_and_plotly(text):
    out = safety.label(text)
    assert not set(out) & set("<>\"'")
    assert html.unescape(out) == text  # what HTML shows is exactly the text
    assert re.sub(r"&(#\d+|[a-z]+);", "", out).count("&") == 0  # every & starts an entity


@given(st.text(max_size=60))
def test_markdown_escape_leaves_no_markup(text):
    out = md_escape(text)
    assert re.sub(r"\\(.)", "", out).translate(str.maketrans("", "", "\\`*_{}[]()#+-.!|<>~$:")) == \
        re.sub(r"\\(.)", "", out)  # nothing special is left unescaped
    assert re.sub(r"\\(.)", r"\1", out) == text


# ---- route 1: the figure builders ------------------------------------------------------------


def test_every_figure_builder_escapes_its_text():
    months = [pl.date(2024, m, 1) for m in range(1, 13)]
    series = pl.select(pl.date_range(pl.date(2024, 1, 1), pl.date(2024, 12, 1), "1mo").alias("month")).with_columns(
        crimes=pl.lit(5), rolling_12_months=pl.lit(None, pl.Int64), centre_line=pl.lit(5.0),
        upper_limit=pl.lit(11.7), lower_limit=pl.lit(0.0), outside_limits=pl.lit(False))
    cats = pl.DataFrame({"outcome": HOSTILE + ["fine"], "crimes": [4, None, 7, 2]})
    areas = pl.DataFrame({"ward_code": [W1, W2], "ward_name": [LINK, BOLD], "crimes": [9, None],
                          "rate_per_1000": [3.0, None], "vs_benchmark": [STYLE, None]})
    geo = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": c}, "geometry": {"type": "Polygon", "coordinates": [
            [[0 + i, 52], [0.1 + i, 52], [0.1 + i, 52.1], [0 + i, 52]]]}} for i, c in enumerate((W1, W2))]}
    rates = pl.DataFrame({"q": [1, 2, 1, 2], "rate": [0.3, 0.4, 0.2, 0.5], "lo": [0.1] * 4, "hi": [0.6] * 4,
                          "group": [LINK, LINK, BOLD, BOLD]})
    built = [
        figures.monthly_chart(series, "crimes", LINK, title=STYLE),
        figures.bar_chart(cats, "outcome", "crimes", LINK, title=BOLD),
        figures.choropleth(areas, geo, "ward_code", "ward_name", "crimes", LINK, title=STYLE),
        figures_themes.rate_lines(rates, "q", "rate", "lo", "hi", "group", LINK),
        figures_themes.bars(cats.drop_nulls(), "outcome", "crimes", LINK),
        figures_themes.bars(cats.drop_nulls(), "outcome", "crimes", LINK, horizontal=True),
        figures_themes.benchmark_lines(rates, "q", "rate", "group", LINK),
        figures_themes.sparkline([1, 2], [3, 4], label=LINK),
    ]
    assert months  # (the dates above are real months)
    for fig in built:
        no_markup(fig_json(fig))


# ---- route 2: the pages' charts and Markdown, through the app ------------------------------------


@pytest.fixture
def hostile_area(tiny, monkeypatch):
    """The tiny area with a ward named as a link and outcomes holding markup, ward boundaries
    so the map is drawn, and a crime version whose source file name is a Markdown link."""
    monkeypatch.setenv("CSP_COOKIE_KEY", "test-cookie-key-9f3Kq2LmZ7xW4vB8nR1pY6dH0sJ5gTcE")
    geo = GEOGRAPHY.with_columns(ward_name=pl.when(pl.col("ward_code") == W1).then(pl.lit(LINK))
                                 .otherwise(pl.col("ward_name")))
    publish_frame("geography", geo)
    crimes = crime_frame()
    crimes = crimes.with_columns(outcome=pl.Series([HOSTILE[i % 3] for i in range(crimes.height)]))
    from csp import store

    store.publish("crime", write=lambda cur, out: crimes.write_parquet(out), published_by="test",
                  source="[click](https://evil.example/phish) <a href='https://evil.example'>x</a>.csv")
    bdir = tiny["dir"] / "boundaries"
    bdir.mkdir(exist_ok=True)
    (bdir / "ward.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": c, "name": c}, "geometry": {"type": "Polygon", "coordinates": [
            [[-0.5 + i / 10, 53.2], [-0.45 + i / 10, 53.2], [-0.45 + i / 10, 53.25], [-0.5 + i / 10, 53.2]]]}}
        for i, c in enumerate((W1, W2))]}))
    return tiny


def test_crime_page_charts_and_notes_carry_no_markup(hostile_area):
    at = go(login("pc.owner", hostile_area["password"]), "crime")
    assert not at.exception, at.exception
    charts = across_views(at, "plotly_chart")
    specs = [c.proto.spec for c in charts]
    assert len(specs) >= 3  # trend, types, outcomes (and the ward map)
    no_markup("\n".join(specs))
    # Markdown: the version's source file name is shown escaped in every "What this shows" note.
    notes = [m.value for m in across_views(at, "markdown") if "Source:" in m.value]
    assert notes, [m.value for m in at.markdown]
    for n in notes:
        assert "\\[click\\]\\(https\\:" in n and not re.search(r"(?<!\\)<a", n), n


# ---- route 3: the board pack ---------------------------------------------------------------------


def test_board_pack_html_and_its_figures_carry_no_markup(hostile_area):
    page = boardpack.build(hostile_area["users"]["police"])
    text = page if isinstance(page, str) else page.decode()
    no_markup(text)
    # The pack's own markup is still there: escaping applies to data only.
    assert "<section id='crime'>" in text and "<table>" in text
