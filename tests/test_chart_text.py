"""csp.chart_text: the text alternatives of charts say what the chart shows, in words a screen
reader user can follow."""
from __future__ import annotations

import polars as pl

from csp import chart_text


def test_bar_summary_names_the_largest_and_smallest_and_what_is_withheld():
    frame = pl.DataFrame({"group": ["Adults, not IOM", "Released from custody", "IOM", "Youth"],
                          "rate": [23.0, 42.0, 63.0, None]})
    name, text = chart_text.bars(frame, "group", "rate", "Reoffending rate", withheld="low", top=2)
    assert name == "Bar chart: reoffending rate by group, 4 bars"
    # Items are separated by semicolons: a group's name can carry a comma.
    assert text.startswith("Largest: IOM 63; Released from custody 42.")
    assert "Smallest: Adults, not IOM 23." in text and "1 is low (not drawn)." in text
