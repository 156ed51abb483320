"""A rate from perturbed counts is judged with the perturbation allowed for. A reader of a
youth reoffending rate under the t10 table sees a cohort of about 70 and its reoffenders each
moved by cell-key noise (variance about 8): tested as if exact, a year with no real change came
out "significant" about one time in ten, and the 95% interval missed the owner's rate more than
one time in ten. Simulated here with the policy's own ptable and random record keys, against
the truth the simulation knows."""
from __future__ import annotations

import types

import numpy as np
import pytest

from csp import stats, themes
from csp.protection import cellkey, cells

TRIALS = 3000
P, N1, N0 = 0.3, 70, 64


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(20261202)
    rule = cells.Rule("youth_reoffending", "perturb", 10, "ptable_t10")
    published_in = types.SimpleNamespace(rules={rule.dataset: rule})
    table = cells._ptable(rule.ptable)

    def publish(values):
        out, withheld = cellkey.perturb(np.array(values), rng.integers(0, 2**31, size=len(values)), table, 10)
        return None if withheld.any() else [int(v) for v in out]

    tallies = {"allowed": [0, 0], "ignored": [0, 0]}  # [significant, interval covers the truth]
    shown = 0
    for _ in range(TRIALS):
        figures = publish([rng.binomial(N1, P), N1, rng.binomial(N0, P), N0])  # no real change
        if figures is None or themes.proportion_change(*figures, noise_from=published_in) is None:
            continue  # withheld, or a count perturbation may have raised from under the threshold
        shown += 1
        for how, source in (("allowed", published_in), ("ignored", None)):
            test = themes.proportion_change(*figures, noise_from=source)
            lo, hi = test["current_ci"]
            tallies[how][0] += test["significant"]
            tallies[how][1] += lo <= P <= hi
    assert shown > TRIALS * 0.9  # the rest withheld: a count under the threshold, or possibly one raised
    return {k: (sig / shown, cover / shown) for k, (sig, cover) in tallies.items()}


def test_no_real_change_reads_significant_about_one_time_in_twenty(simulated):
    false_alarms, _ = simulated["allowed"]
    assert false_alarms <= 0.07, simulated
    assert simulated["ignored"][0] > 0.09, simulated  # the defect this guards against


def test_the_interval_covers_the_owners_rate_about_95_times_in_100(simulated):
    _, coverage = simulated["allowed"]
    assert 0.92 <= coverage <= 0.985, simulated  # Wilson alone is about 94% at n = 70, p = 0.3
    assert simulated["ignored"][1] < 0.90, simulated


def test_exact_figures_are_tested_as_before():
    """The owner (and suppression) publish exact counts: no noise, the Wilson interval itself."""
    owner = types.SimpleNamespace(rules={"youth_reoffending": cells.Rule("youth_reoffending", "none", 0)})
    test = themes.proportion_change(23, 71, 19, 62, noise_from=owner)
    assert not test["noise"] and test["current_ci"] == stats.wilson_ci(23, 71)
    assert test == themes.proportion_change(23, 71, 19, 62)


def test_a_rate_on_a_count_that_may_be_a_small_one_raised_is_not_given():
    """Under the t10 table a true 1 can read 10 or 11; a rate on such a count (2 of 17 reading
    11 of 17) is noise, so no rate and no test is given; 12 and over cannot come from under 10."""
    rule = cells.Rule("d", "perturb", 10, "ptable_t10")
    src = types.SimpleNamespace(rules={"d": rule})
    reach = cells.small_count_reach(rule)
    table = cells._ptable("ptable_t10").pvalues
    assert reach - 1 == max(v + int(table[v].max()) for v in range(1, 10))
    assert themes.proportion_change(reach - 1, 70, 20, 64, noise_from=src) is None
    assert themes.proportion_change(reach, 70, 20, 64, noise_from=src) is not None
    assert themes.proportion_change(reach - 1, 70, 20, 64) is not None  # exact counts: a rate


def test_noise_variance_is_the_ptable_rows_own():
    rule = cells.Rule("d", "perturb", 10, "ptable_t10")
    meta = {r["i"]: r["variance"] for r in cells._ptable("ptable_t10").meta["rows"]}
    assert cells.noise_variance(rule, 15) == pytest.approx(meta[15])
    assert cells.noise_variance(cells.Rule("d", "suppress", 10), 15) == 0.0


def test_counts_a_small_count_can_become_are_flagged_under_the_table(tmp_path_factory):
    """A partner reading the youth justice service's first-time entrants (t10 table) sees
    quarters of exactly 10: the note under the table says which shown counts may stand for fewer
    than the threshold, with the reach read from the ptable file itself; the owner, who sees exact
    counts, gets no such note."""
    import csv

    from apptest_helpers import demo_area
    from csp import config, disclosure, queries, users

    with demo_area(tmp_path_factory, "near_threshold"):
        rows = list(csv.DictReader(open(config.ROOT / "config" / "ptables" / "ptable_t10.csv")))
        # The largest value a true count of 1..9 can be published as, from the file.
        top = max(int(r["pcv"]) + int(r["pvalue"]) for r in rows if 1 <= int(r["pcv"]) <= 9)
        partner = queries.run(users.get_user("board.police"), "youth_first_time_entrants_monthly_total")
        shown = [v for v in partner.frame["entrants"].to_list() if v is not None]
        near = disclosure.near_threshold(partner)
        if any(10 <= v <= top for v in shown):
            assert near == (10, top + 1)
            assert f"may stand for fewer than 10, which protection can raise as far as {top}" in \
                disclosure.protection_note(partner)
        else:
            assert near is None
        owner = queries.run(users.get_user("analyst.youth"), "youth_first_time_entrants_monthly_total")
        assert disclosure.near_threshold(owner) is None
        assert "may stand for fewer" not in disclosure.protection_note(owner)
        # Large counts (the crime cube) carry no such flag for the same partner.
        crime = queries.run(users.get_user("board.council"), "crime_monthly_total")
        assert crime.methods() == {"perturb"}
        assert disclosure.near_threshold(crime) is None


def _coverage(seed: int, truth: tuple[int, int], words, error, slack: float) -> float:
    """Publish two true counts 2,000 times through the real t10 ptable with fresh keys; the share
    of draws whose stated move (the first '±N' in ``words(published_in, a, b)``) covers how far
    ``error(a, b)`` puts the published figure from the owner's (``slack``: the words' rounding)."""
    import re as _re
    rng = np.random.default_rng(seed)
    rule = cells.Rule("youth_reoffending", "perturb", 10, "ptable_t10")
    published_in = types.SimpleNamespace(rules={rule.dataset: rule})
    table = cells._ptable(rule.ptable)
    covered = shown = 0
    for _ in range(2000):
        out, withheld = cellkey.perturb(np.array(truth), rng.integers(0, 2**31, size=2), table, 10)
        if withheld.any():
            continue
        a, b = int(out[0]), int(out[1])
        move = float(_re.search(r"±([0-9.]+)", words(published_in, a, b)).group(1))
        shown += 1
        covered += error(a, b) <= move + slack
    assert shown > 1800
    return covered / shown


def test_a_ratio_of_perturbed_counts_says_how_far_protection_can_move_it():
    """'Reoffences per reoffender' is two perturbed counts divided: a partner read 3.95 where the
    owner read 3.22. The stated move (from the ptable's variance at the published counts) must
    cover the owner's ratio about 95 times in 100, and nothing is said for exact figures."""
    share = _coverage(7, (74, 23), themes.ratio_noise_words, lambda e, m: abs(e / m - 74 / 23), 0.05)
    assert 0.9 <= share <= 0.995, share
    rule = cells.Rule("youth_reoffending", "perturb", 10, "ptable_t10")
    assert themes.ratio_noise_words(types.SimpleNamespace(rules={}), 74, 23) == ""
    assert themes.ratio_noise_words(types.SimpleNamespace(rules={rule.dataset: rule}), 74, None) == ""


def test_a_small_count_change_says_how_far_protection_can_move_it():
    """First-time entrants: partners read 44 against 45 (-2.2%) where the owner read 39 against 50
    (-22%). The stated move must cover the owner's change about 95 times in 100; crime's
    thousands say nothing."""
    share = _coverage(11, (39, 50), themes.count_noise_words, lambda c, p: abs((c - p) - (39 - 50)), 0.5)
    assert 0.9 <= share <= 0.995, share
    rule = cells.Rule("youth_first_time_entrants", "perturb", 10, "ptable_t10")
    assert themes.count_noise_words(types.SimpleNamespace(rules={rule.dataset: rule}), 15298, 15032) == ""
    assert themes.count_noise_words(types.SimpleNamespace(rules={}), 39, 50) == ""
