"""One colour language: a headline change is blue or orange only when it is statistically
significant (and which by the indicator's polarity), grey otherwise, with the judgement in words
beside the arrow; the same on the Crime and ASB pages as on the Overview. Expected colours come
from the exact Poisson test on the counts the named queries return, not from the screen."""
from __future__ import annotations

import pytest
from streamlit.proto.Metric_pb2 import Metric as MetricProto

from apptest_helpers import demo_area, go, login
from csp import indicators


@pytest.mark.parametrize("current, previous, polarity, colour, words, arrow", [
    (1018, 1000, "lower_is_better", "gray", "not significant", "up"),      # +1.8%: was red
    (982, 1000, "lower_is_better", "gray", "not significant", "down"),
    (1300, 1000, "lower_is_better", "orange", "significantly worse", "up"),
    (1300, 1000, "higher_is_better", "blue", "significantly better", "up"),
    (700, 1000, "lower_is_better", "blue", "significantly better", "down"),
    (700, 1000, "higher_is_better", "orange", "significantly worse", "down"),
])
def test_change_delta_colours_by_significance_and_polarity(current, previous, polarity, colour, words, arrow):
    test = indicators.change_test(current, previous)
    delta = indicators.change_delta(test, polarity)
    assert delta["colour"] == colour
    assert delta["arrow"] == arrow
    assert delta["label"].endswith(words)
    assert delta["label"].startswith(f"{test['pct_change']:+.1f}%")


def test_no_delta_without_a_testable_change():
    assert indicators.change_delta(None) is None  # a suppressed figure
    assert indicators.change_delta(indicators.change_test(5, 0)) is None  # nothing before


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with demo_area(tmp_path_factory):
        yield


COLOURS = {"gray": MetricProto.MetricColor.GRAY, "blue": MetricProto.MetricColor.BLUE,
           "orange": MetricProto.MetricColor.ORANGE}


@pytest.mark.parametrize("username, page, query", [
    ("board.police", "crime", "crime_headline"),
    ("board.police", "asb", "asb_headline"),
    ("board.council", "crime", "crime_headline"),
])
def test_headline_metric_follows_the_test(demo, username, page, query):
    from csp import queries, users

    at = go(login(username), page)
    assert not at.exception, at.exception
    row = queries.run(users.get_user(username), query, {}).frame.row(0, named=True)
    expected = indicators.change_delta(indicators.change_test(row["current"], row["previous"]))
    metric = next((m for m in at.metric if "12 months to" in m.label), None)
    assert metric is not None, [m.label for m in at.metric]
    assert expected is not None, row
    assert metric.proto.delta == expected["label"]
    assert metric.proto.color == COLOURS[expected["colour"]]
    assert metric.proto.color != MetricProto.MetricColor.RED  # the old red/green language is gone
