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
    assert "Smallest: Adults, not IOM 23." in text and text.endswith(" Not drawn, as low: Youth.")


def test_line_summary_names_each_point_as_its_period():
    """A cohort quarter dated by its first day read 'in Oct 2024'; it is the Oct–Dec cohorts."""
    import datetime as dt
    from csp import themes

    frame = pl.DataFrame({"q": [dt.date(2021, 1, 1), dt.date(2024, 10, 1)], "rate": [24.3, 28.0],
                          "group": ["All offenders", "All offenders"]})
    name, text = chart_text.lines(frame, "q", "rate", "group", "reoffending rate, %", unit="%",
                                  when=themes.cohorts_words)
    assert text == ("All offenders: 28% for the Oct–Dec 2024 cohorts "
                    "(from 24.3% for the Jan–Mar 2021 cohorts).")
    assert name == "Line chart: reoffending rate, %, Jan 2021 to Oct 2024, 1 line"
    _, plain = chart_text.lines(frame, "q", "rate", "group", "rate", unit="%")
    assert plain.startswith("All offenders: 28% in Oct 2024")


def test_one_area_map_says_its_rate_and_no_comparison_it_did_not_make():
    import polars as pl
    from csp import chart_text
    one = pl.DataFrame({"ward_name": ["Eastfield"], "crimes": [900], "rate_per_1000": [85.5],
                        "vs_benchmark": [None]}, schema_overrides={"vs_benchmark": pl.String})
    _, text = chart_text.areas(one, "ward_name", "crimes", "ward", "Crimes", "your ward")
    assert text == "Eastfield: 85.5 per 1,000."
    judged = one.with_columns(pl.lit("worse").alias("vs_benchmark"))
    _, text = chart_text.areas(judged, "ward_name", "crimes", "ward", "Crimes", "the partnership")
    assert text == ("Eastfield: 85.5 per 1,000. Against the partnership: 1 ward significantly higher, "
                    "0 significantly lower, 0 similar.")
    two = pl.concat([judged, judged.with_columns(pl.lit("Abbey").alias("ward_name"), pl.lit(40.0).alias("rate_per_1000"),
                                                 pl.lit("better").alias("vs_benchmark"))])
    _, text = chart_text.areas(two, "ward_name", "crimes", "ward", "Crimes", "the partnership")
    assert text.startswith("Highest rate: Eastfield 85.5 per 1,000; lowest: Abbey 40.0.")
