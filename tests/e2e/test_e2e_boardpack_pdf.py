"""The board pack a chair takes into a meeting, printed as a person would print it: Debian
chromium's print to PDF (A4 landscape, the pack's own @page rules), read back with pypdf. A typical
partner's pack is at most ten pages, with the partnership's name and the period on its cover, the
judgement and interval in the summary, and no labels from the data model (snake_case)."""
from __future__ import annotations

import re

import pytest
from pypdf import PdfReader

MAX_PAGES = 10
SNAKE = re.compile(r"\b[a-z]+_[a-z0-9_]+\b")


def printed(browser, html: str, path) -> PdfReader:
    path.with_suffix(".html").write_text(html, encoding="utf-8")
    page = browser.new_page()
    try:
        page.goto(path.with_suffix(".html").as_uri())
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length"
                               " === document.querySelectorAll('figure.chart').length")
        page.pdf(path=str(path), prefer_css_page_size=True, print_background=True)
    finally:
        page.close()
    return PdfReader(str(path))


@pytest.mark.parametrize("username", ["board.council", "board.police"])
def test_board_pack_prints_to_ten_pages_or_fewer(app_data, browser, artifacts, username):
    from csp import boardpack, partnership, queries, users

    user = users.get_user(username)
    pdf = printed(browser, boardpack.build(user), artifacts / f"board-pack-{username}.pdf")
    pages = [p.extract_text() or "" for p in pdf.pages]
    print(f"\n{username}: board pack prints to {len(pages)} A4 pages")
    assert 1 < len(pages) <= MAX_PAGES
    cover = " ".join(pages[0].split())
    last = queries.run(user, "crime_facets").frame["last_month"].max()
    first = boardpack._add_months(last, -(boardpack.PERIOD_MONTHS - 1))
    assert partnership.name() and partnership.name() in cover
    assert f"{first:%b %Y} to {last:%b %Y}" in cover  # the period: the latest 24 months held
    for words in ("Summary", "95% interval", "Judgement", "The 12 months before"):
        assert words in cover, words
    assert re.search(r"Significantly (better|worse)|No significant change", cover)
    text = " ".join(" ".join(p.split()) for p in pages)
    assert not SNAKE.findall(text), SNAKE.findall(text)[:10]
    assert "court_order" not in text and "Court order" in text
    # the detailed tables come after the themes, in the appendix
    assert text.index("Appendix: detailed tables") > text.index("Substance misuse treatment")
    assert text.index("Appendix: detailed tables") > text.index("Anti-social behaviour")
