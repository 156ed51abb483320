"""csp.themes: change tests, tiles, polarity, sentences and the neighbourhood comparison,
against published worked examples, SciPy, and hand-computed figures."""
from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from scipy import stats as sst

from csp import access, stats, themes


# ---- proportions ------------------------------------------------------------------------

def test_wilson_intervals_match_newcombe_worked_examples():
    # Newcombe RG (1998), "Two-sided confidence intervals for the single proportion: comparison
    # of seven methods", Stat Med 17:857-872, Table II, method 3 (Wilson score, no correction):
    # 81/263 -> 0.2553 to 0.3662; 15/148 -> 0.0624 to 0.1605.
    t = themes.proportion_change(81, 263, 15, 148)
    assert t["current_ci"] == pytest.approx((0.2553, 0.3662), abs=5e-5)
    assert t["previous_ci"] == pytest.approx((0.0624, 0.1605), abs=5e-5)


@pytest.mark.parametrize("x1,n1,x0,n0", [(98, 341, 80, 348), (81, 263, 15, 148), (10, 37, 9, 40), (0, 20, 3, 25)])
def test_two_proportion_test_matches_scipy_chi_square(x1, n1, x0, n0):
    # Pearson's chi-square on the 2x2 table (no continuity correction) is the square of the
    # pooled two-proportion z statistic, so the p-values must agree.
    table = [[x1, n1 - x1], [x0, n0 - x0]]
    expected = sst.chi2_contingency(table, correction=False).pvalue
    got = themes.proportion_change(x1, n1, x0, n0)
    assert got["p_value"] == pytest.approx(expected, rel=1e-9)
    assert got["significant"] == (expected < 0.05)
    assert got["change_points"] == pytest.approx(100 * (x1 / n1 - x0 / n0))


def test_proportion_change_refuses_suppressed_inputs():
    assert themes.proportion_change(None, 100, 20, 100) is None
    assert themes.proportion_change(10, 100, 20, float("nan")) is None
    assert themes.proportion_change(0, 0, 20, 100) is None


def test_count_change_is_the_exact_poisson_test_and_refuses_suppressed():
    t = themes.count_change(150, 100)
    assert t["p_value"] == pytest.approx(sst.binomtest(150, 250, 0.5).pvalue)
    assert themes.count_change(None, 100) is None
    assert themes.count_change(100, None) is None


# ---- monthly series ---------------------------------------------------------------------

def test_monthly_window_keeps_gaps_as_missing_and_rolling_skips_them():
    frame = pl.DataFrame({"month": [dt.date(2024, 1, 1), dt.date(2024, 3, 1)], "n": [5, None]})
    months, values = themes.monthly_window(frame, "month", "n")
    assert months == [dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)]
    assert values == [5, None, None]
    vals = list(range(1, 15))
    rolled = themes.rolling_12(vals)
    assert rolled[:11] == [None] * 11
    assert rolled[11] == sum(range(1, 13)) and rolled[13] == sum(range(3, 15))
    vals[12] = None  # a suppressed month spoils every window that holds it
    assert themes.rolling_12(vals)[12:] == [None, None]


def _monthly(values: list[int], start=dt.date(2023, 1, 1)) -> themes.TableResult:
    return themes.TableResult(pl.DataFrame({
        "month": [themes.add_months(start, i) for i in range(len(values))], "crimes": values}))


def _wards(rows: list[tuple[str, int | None, int | None]]) -> themes.TableResult:
    return themes.TableResult(pl.DataFrame(
        {"ward_name": [r[0] for r in rows], "current": [r[1] for r in rows], "previous": [r[2] for r in rows]},
        schema={"ward_name": pl.String, "current": pl.Int64, "previous": pl.Int64}))


def test_count_tile_figures_sentence_and_polarity():
    prev, cur = [100] * 12, [80] * 12  # a fall of 20%, hand-computed: 960 against 1,200
    wards = _wards([("Abbey", 300, 500), ("Castle", 10, 8), ("Hidden", None, 4), ("Dock", 650, 692)])
    tile = themes.count_tile("crime", "Recorded crime", "Burglary", _monthly(prev + cur), "crimes", wards)
    assert tile.available and tile.value_label == "960" and tile.change_label == "-20.0%"
    test = stats.poisson_change_test(960, 1200)
    assert tile.significant is test["significant"] is True
    assert tile.p_value == pytest.approx(test["p_value"])
    # Lower is better: a significant fall is good, coloured blue. The largest fall among the
    # wards is Abbey (-200); 'Hidden' is suppressed, so fell by at most 4.
    assert tile.colour == "good" and tile.metric_colour == "blue" and tile.arrow == "▼"
    assert tile.sentence == (f"Burglary fell {abs(test['pct_change']):.1f}% (significant) in the "
                             "12 months to Dec 2024; the largest fall was in Abbey ward.")
    assert tile.spark_y[-1] == 960 and tile.spark_y[0] == 1200 and len(tile.spark_y) == 13
    # The same fall for an indicator where higher is better is bad.
    flipped = themes.count_tile("x", "X", "X", _monthly(prev + cur), "crimes", polarity="higher_is_better")
    assert flipped.colour == "bad" and flipped.metric_colour == "orange"


def test_count_tile_small_change_is_neutral_and_says_so():
    tile = themes.count_tile("asb", "ASB", "Anti-social behaviour", _monthly([50] * 12 + [52] * 12), "crimes",
                             _wards([("Abbey", 30, 20), ("Castle", 5, 9)]))
    test = stats.poisson_change_test(52 * 12, 600)
    assert not test["significant"]
    assert tile.colour == "neutral" and tile.arrow == "▲" and tile.direction == "none"
    assert f"rose {test['pct_change']:.1f}% (not significant" in tile.sentence
    assert tile.sentence.endswith("the largest rise was in Abbey ward.")


def test_the_largest_rise_is_named_only_where_protection_cannot_have_chosen_it():
    """Police (exact) and a perturbed partner once named different wards: Fenside and Marsh End
    truly tied (+81 each); the t5 table read them +77 and +80. A ward is named only when its
    smallest possible change beats every other ward's largest."""
    from csp.protection.cells import Rule

    rows = [("Fenside", 905, 828), ("Marsh End", 498, 418), ("Priory", 648, 571)]
    perturbed = {"crime": Rule("crime", "perturb", 5, "ptable_t5")}  # each count off by up to 5
    monthly = _monthly([100] * 12 + [110] * 12)

    def named(rows, rules, partial=None):
        wards = _wards(rows)
        wards.rules = rules
        if partial is not None:
            wards.partial = partial
        tile = themes.count_tile("crime", "Recorded crime", "Crime", monthly, "crimes", wards)
        return tile.sentence.split("the largest rise was in ")[1].removesuffix(" ward.") if ";" in tile.sentence else None

    assert named(rows, perturbed) is None  # +80 against +77: within what noise can do
    exact = {"crime": Rule("crime", "none", 0)}
    assert named([("Fenside", 907, 826), ("Marsh End", 498, 417)], exact) is None  # a true tie
    assert named([("Fenside", 907, 826), ("Marsh End", 498, 418)], exact) == "Fenside"
    # A lead of more than four adjustments survives any perturbation.
    assert named([("Fenside", 905, 800), ("Marsh End", 498, 418), ("Priory", 648, 571)], perturbed) == "Fenside"
    assert named([("Fenside", 905, 808), ("Marsh End", 498, 417)], perturbed) is None  # lead 16: 4x5 = 20
    # A withheld ward may have risen from 0 to under the threshold (plus noise).
    assert named([("Castle", 20, 10), ("Hidden", None, None)], perturbed) is None
    assert named([("Castle", 40, 10), ("Hidden", None, None)], perturbed) == "Castle"
    # The total's direction must survive protection too: +1 under the t5 table may be a fall.
    wards = _wards([("Fenside", 905, 800), ("Marsh End", 498, 418)])
    wards.rules = perturbed
    flat = themes.TableResult(_monthly([100] * 23 + [101]).frame, rules=perturbed)
    tile = themes.count_tile("crime", "Recorded crime", "Crime", flat, "crimes", wards)
    assert " rose " in tile.sentence and "largest" not in tile.sentence
    # Under suppression a withheld ward may add up many small cells: no bound, no name.
    suppressed = {"crime": Rule("crime", "suppress", 5)}
    hidden = pl.DataFrame({"current": [False, True], "previous": [False, True]})
    wards = _wards([("Castle", 400, 10), ("Dock", None, None)])
    wards.rules, wards.suppressed = suppressed, hidden
    assert "largest" not in themes.count_tile("crime", "Recorded crime", "Crime", monthly, "crimes", wards).sentence
    # Under suppression a floor ("at least") may hide any rise.
    floors = pl.DataFrame({"current": [False, True], "previous": [False, False]})
    assert named([("Castle", 40, 10), ("Dock", 12, 11)], {"crime": Rule("crime", "suppress", 5)}, floors) is None


def test_count_tile_never_uses_a_suppressed_month():
    values = [100] * 24
    values[20] = None
    tile = themes.count_tile("crime", "Recorded crime", "Crime", _monthly(values), "crimes")
    assert not tile.available and tile.value_label == "" and "suppressed" in tile.reason
    short = themes.count_tile("crime", "Recorded crime", "Crime", _monthly([5] * 20), "crimes")
    assert not short.available and "20" in short.reason
    denied = themes.count_tile("crime", "Recorded crime", "Crime", None, "crimes")
    assert not denied.available and "sharing agreement" in denied.reason


def test_proportion_tile_polarity_both_ways():
    test = themes.proportion_change(150, 1000, 200, 1000)  # 15% against 20%: significant fall
    assert test["significant"] and test["direction"] == "down"
    completions = themes._proportion_tile(themes.Tile("substance", "S", "higher_is_better"), test,
                                          "the 12 months to Jun 2026", "Completions", "")
    reoffending = themes._proportion_tile(themes.Tile("reoffending", "R", "lower_is_better"),
                                          themes.proportion_change(150, 1000, 200, 1000),
                                          "the cohorts of 2024", "The reoffending rate", "")
    assert completions.colour == "bad" and reoffending.colour == "good"
    assert completions.value_label == "15.0%" and completions.change_label == "-5.0 points"
    assert completions.sentence == "Completions fell from 20.0% to 15.0% for the 12 months to Jun 2026 (significant)."
    missing = themes._proportion_tile(themes.Tile("s", "S", "higher_is_better"), None, "p", "S", "")
    assert not missing.available and missing.value_label == ""


def test_derived_result_withholds_columns_whose_source_is_suppressed():
    frame = pl.DataFrame({"n": [None, 40], "x": [None, 10], "rate": [None, 25.0]})
    mask = pl.DataFrame({"n": [False, False], "x": [True, False]})
    base = themes.TableResult(frame, mask)
    out = themes.derived_result(base, frame.with_columns(pl.Series("extra", [99.0, 1.0])), {"extra": ["x", "n"]})
    assert out.frame["extra"].to_list() == [None, 1.0]
    assert out.suppressed["extra"].to_list() == [True, False]


# ---- reoffending ------------------------------------------------------------------------

def test_cohort_age_explains_the_18_month_lag():
    # A cohort of Oct-Dec 2024: the last entrant (31 Dec 2024) is followed to 31 Dec 2025, and
    # offences have until 30 Jun 2026 to be proven. By 24 Nov 2026 the cohort closed 22 full
    # calendar months ago (Jan 2025 .. Nov 2026).
    age = themes.cohort_age(dt.date(2024, 10, 1), dt.date(2026, 11, 24))
    assert age["follow_up_end"] == dt.date(2026, 1, 1) and age["proven_by"] == dt.date(2026, 7, 1)
    assert age["months_old"] == 22
    for phrase in ("Oct–Dec 2024", "until Dec 2025", "until Jun 2026", "22 months ago", "12 months", "6 months"):
        assert phrase in age["text"]


# ---- figures ----------------------------------------------------------------------------

def test_rate_lines_break_band_and_line_at_suppressed_points():
    from csp import figures_themes
    frame = pl.DataFrame({"q": [1, 2, 3, 4, 5], "g": ["a"] * 5, "y": [10.0, 11.0, None, 12.0, 13.0],
                          "lo": [8.0, 9.0, None, 10.0, 11.0], "hi": [12.0, 13.0, None, 14.0, 15.0]})
    fig = figures_themes.rate_lines(frame, "q", "y", "lo", "hi", "g", "%")
    bands = [t for t in fig.data if t.fill == "toself"]
    assert [list(b.x) for b in bands] == [[1, 2, 2, 1], [4, 5, 5, 4]]
    line = next(t for t in fig.data if t.name == "a")
    assert line.y[2] is None and line.connectgaps is False


def test_themes_with_nothing_published_say_so(tiny):
    # The tiny area publishes geography and crime only: the other tiles explain, never crash.
    from csp import users
    tiles = themes.overview_tiles(users.get_user("council.board"), dt.date(2024, 3, 1))
    by = {t.theme: t for t in tiles}
    assert not by["asb"].available and "Fewer than 24 months" in by["asb"].reason
    assert not by["reoffending"].available and "No reoffending data" in by["reoffending"].reason
    assert not by["substance"].available and "No treatment data" in by["substance"].reason
    # crime: 2023-02 .. 2024-02 is 13 months, too short for two full years
    assert not by["crime"].available and "13" in by["crime"].reason


def test_a_rate_perturbation_can_move_says_so_and_the_owners_does_not():
    """Youth reoffending read 38.6% to partners against the owner's 32.4% (a cohort of 71 under
    the t10 table). The change is tested with the noise allowed for; the sentence must also say
    how far protection alone can move the rate, so a board does not quote the rise."""
    from csp.protection.cells import Rule

    def sentence(rule, x1, n1, x0, n0):
        src = themes.TableResult(pl.DataFrame({"x": [x1]}), rules={"youth_reoffending": rule})
        test = themes.proportion_change(x1, n1, x0, n0, noise_from=src)
        return test, themes.proportion_sentence("The reoffending rate", test, "the latest year")

    t10 = Rule("youth_reoffending", "perturb", 10, "ptable_t10")
    # A change larger than the noise: its direction stands, and the sentence says the noise.
    test, text = sentence(t10, 45, 70, 22, 64)
    assert 5 <= test["noise_points"] <= 20 and f"±{test['noise_points']:.0f} points" in text
    assert " rose from " in text and "owner's exact rates may differ" in text and not test["unclear"]
    # Partners read 28.1% -> 38.6% where the owner's exact rates were 30.6% -> 32.4%: the noise
    # (about ±12 points) is larger than the change, so no direction is given at all.
    test, text = sentence(t10, 27, 70, 18, 64)
    assert test["unclear"] and test["noise_points"] > abs(test["change_points"])
    assert " rose " not in text and " fell " not in text and "cannot say which way" in text
    tile = themes._proportion_tile(themes.Tile("reoffending", "R", "lower_is_better"), test, "the year", "R", "")
    assert tile.raw_direction == "none" and tile.arrow not in ("▲", "▼")
    _, exact = sentence(Rule("youth_reoffending", "none", 0), 23, 71, 19, 62)
    assert "perturbed" not in exact and "±" not in exact
    big, text = sentence(t10, 2300, 7100, 2200, 7000)  # thousands: noise moves it well under a point
    assert big["noise_points"] < 1 and "±" not in text


def test_a_change_from_a_handful_reads_as_a_number():
    """Two cases to none read '-100.0%' beside 'not significant'; a change from fewer than ten
    reads as the number it is."""
    tile = themes.count_tile("x", "Cases", "Cases", _monthly([0] * 10 + [1, 1] + [0] * 12), "crimes")
    assert tile.value_label == "0" and tile.previous_label == "2" and tile.change_label == "-2"
    assert "fell by 2 (not significant" in tile.sentence and "%" not in tile.sentence
    big = themes.count_tile("x", "Cases", "Cases", _monthly([1] * 12 + [2] * 12), "crimes")
    assert big.change_label == "+100.0%"
