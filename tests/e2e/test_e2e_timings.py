"""Speed a person feels (issue 17), measured inside the browser suite with bench/feel.py's method:
click on a dashboard's link to its last chart drawn, and a Period filter change on Crime and ASB,
as board.police on the demo data, 3 rounds. The medians are printed, never asserted (they depend
on the machine; docs/performance.md has the targets and the figures). What is asserted is that
every measurement finished: each dashboard drew all its charts and each filter change ended."""
from __future__ import annotations

from bench import feel


def test_click_to_chart_and_filter_change_are_measured(base_url, page, capsys):
    feel.login(page, base_url, "board.police", "fenmouth-demo")
    rounds = 3
    times = feel.measure(page, repeat=rounds, log=lambda line: None)
    with capsys.disabled():
        print(f"\nbrowser timings, board.police on the demo data, {rounds} rounds:")
        for line in feel.summary(times):
            print("  " + line)
    assert {f"open {t}" for t in feel.DASHBOARDS} <= set(times)
    assert {f"filter {t}" for t in feel.FILTERED} <= set(times)
    assert all(len(v) == rounds * (2 if k.startswith("filter") else 1) for k, v in times.items())
    assert all(s > 0 for v in times.values() for s in v)
