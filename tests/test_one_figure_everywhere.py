"""The same figure reads the same wherever a person meets it. Under perturbation a sum of twelve
published months differs from the published 12-month total, so the Overview tile once showed
crime as 15,301 (+1.8%) while the Crime page said 15,294 (+1.7%) to the same board member. Here
the Overview tile, the theme page's headline and the board pack's summary are read as each
persona sees them (AppTest and the built pack) and compared; a total with withheld figures
inside it is a floor ("≥"), and no view tests its change."""
from __future__ import annotations

import html
import re

import pytest

from apptest_helpers import demo_area, go, login
from csp import indicators

PERSONAS = ["board.police", "board.council", "board.health", "officer.housing", "officer.fire"]
THEMES = [("Recorded crime", "crime"), ("Anti-social behaviour", "asb")]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with demo_area(tmp_path_factory):
        yield


def _metric(at, starts: str):
    found = [m for m in at.metric if m.label.startswith(starts)]
    assert len(found) == 1, [m.label for m in at.metric]
    return found[0]


@pytest.mark.parametrize("username", PERSONAS)
def test_overview_tile_theme_headline_and_board_pack_agree(demo, username):
    from csp import access, boardpack, users

    overview = go(login(username), "overview")
    assert not overview.exception, overview.exception
    user = users.get_user(username)
    summary = None  # practitioners make no board pack
    if access.can(user, "board_pack"):
        pack = html.unescape(boardpack.build(user))
        summary = pack[pack.index("id='summary'"):]
    for title, page in THEMES:
        tile = _metric(overview, f"{title}, 12 months to")
        at = go(login(username), page)
        assert not at.exception, at.exception
        head = next(m for m in at.metric if "12 months to" in m.label)
        assert head.value == tile.value, (username, page, head.value, tile.value)
        assert tile.label.split(", ", 1)[1] == head.label.split(", ", 1)[1]  # the same 12 months
        row = summary and re.search(rf"<th scope='row'>{re.escape(title)}</th>(.*?)</tr>", summary, re.S)
        in_pack = row.group(1) if row else ""
        assert summary is None or f">{tile.value}<" in in_pack, (username, title, in_pack)
        captions = [c.value for c in at.caption]
        if tile.value.startswith("≥"):
            assert not head.proto.delta and indicators.LOWER_BOUND_WHY in captions
            assert "not tested" in tile.proto.delta and (summary is None or "Not tested" in in_pack)
        else:
            pct = re.match(r"[+-]\d+\.\d%", head.proto.delta).group(0)
            assert tile.proto.delta.startswith(pct) and (summary is None or f">{pct}<" in in_pack)
