"""A map's legend reads as distinct classes, and its colours cannot be mistaken for withheld.
Rates of a few per 1,000 (ASB in a quiet ward, fires) rounded to whole numbers once gave classes
such as "2–2 per 1,000"; Cividis's middle classes were the grey of a withheld area."""
from __future__ import annotations

import re

import polars as pl
from plotly.colors import hex_to_rgb, unlabel_rgb

from csp import figures


def _square(i: int) -> dict:
    return {"type": "Polygon", "coordinates": [[[i, 52], [i + 0.9, 52], [i + 0.9, 52.9], [i, 52.9], [i, 52]]]}


def _map(rates: list):
    codes = [f"E0100{i:04d}" for i in range(len(rates))]
    frame = pl.DataFrame({"code": codes, "name": [f"Area {i}" for i in range(len(rates))],
                          "n": [None if r is None else 5 for r in rates], "rate_per_1000": rates},
                         schema_overrides={"rate_per_1000": pl.Float64, "n": pl.Int64})
    geo = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": c}, "geometry": _square(i)} for i, c in enumerate(codes)]}
    return figures.choropleth(frame, geo, "code", "name", "n", "Fires")


def test_small_rates_give_legend_classes_that_read_differently():
    fig = _map([1.55, 1.8, 2.05, 2.3, 2.45, 2.7, 3.1, 3.4, 3.9, 4.4])
    ranges = [t.name.split(" per 1,000")[0] for t in fig.data if " per 1,000 (" in (t.name or "")]
    assert len(ranges) >= 3
    assert all(a != b for a, b in (r.split("–") for r in ranges if "–" in r)), ranges
    assert len(set(ranges)) == len(ranges), ranges
    assert all(re.fullmatch(r"\d+\.\d(–\d+\.\d)?", r) for r in ranges), ranges  # one decimal is enough


def test_large_rates_stay_whole_numbers():
    assert figures.rate_decimals([12.0, 35.4, 80.2, 140.9]) == 0
    assert figures.rate_decimals([1.6, 2.4, 3.3]) == 1
    assert figures.rate_decimals([1.61, 1.64, 1.7]) == 2


def test_no_rate_class_is_grey_like_a_withheld_area():
    fig = _map([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, None])
    fills = {t.name: t.fillcolor for t in fig.data if getattr(t, "fill", None) == "toself"}
    for name, colour in fills.items():
        if "per 1,000" not in name:
            continue
        r, g, b = unlabel_rgb(colour) if colour.startswith("rgb") else hex_to_rgb(colour)
        assert max(r, g, b) - min(r, g, b) > 40, (name, colour)  # saturated, not a grey


def test_legend_classes_never_share_a_value():
    # Quantile edges are shared by neighbouring classes ("2.0–3.5", "3.5–5.0"): a reader could
    # not tell which class an area of 3.5 was in. Each class now reads as its own areas' range.
    rates = [1.0, 1.4, 2.0, 2.6, 3.5, 3.5, 4.1, 5.0, 6.2, 7.7, 9.0, 12.4]
    fig = _map(rates)
    spans = []
    for t in fig.data:
        if " per 1,000 (" not in (t.name or ""):
            continue
        text = t.name.split(" per 1,000")[0]
        lo, hi = (float(v) for v in (text.split("–") if "–" in text else (text, text)))
        spans.append((lo, hi))
    spans.sort()
    assert len(spans) >= 3
    assert all(a_hi < b_lo for (_, a_hi), (b_lo, _) in zip(spans, spans[1:])), spans
    assert spans[0][0] == min(rates) and spans[-1][1] == max(rates)


def test_a_few_areas_each_get_their_own_colour():
    # An officer's two wards at 78 and 173 per 1,000 were one class, one colour ('78–173 (2)').
    for rates in ([78.3, 173.2], [2.0, 5.0, 9.0], [1.0, 2.0, 3.0, 4.0, 5.0]):
        fig = _map(rates)
        classes = [t for t in fig.data if " per 1,000 (" in (t.name or "")]
        assert len(classes) == len(rates), [t.name for t in classes]
        assert len({t.fillcolor for t in classes}) == len(rates)
        assert all(t.name.endswith("(1)") for t in classes)
    # Two areas with the same rate are one class.
    assert len([t for t in _map([4.0, 4.0]).data if " per 1,000 (" in (t.name or "")]) == 1


def test_a_small_rate_is_never_written_as_zero():
    # Castle's 0.2 per 1,000 read "0" beside whole-number rates.
    fig = _map([0.2, 12.0, 35.0, 60.0, 80.0, 140.0])
    texts = [t for tr in fig.data if tr.name == "areas" for t in tr.text if t]
    assert "0" not in texts and "0.2" in texts, texts


def test_one_small_rate_reads_as_the_sentence_gives_it():
    assert figures.rate_decimals([2.6]) == 1  # a single ward's 2.6 read "3" beside "2.6" in words
    fig = _map([2.6])
    assert [t.name for t in fig.data if " per 1,000 (" in (t.name or "")] == ["2.6 per 1,000 (1)"]
