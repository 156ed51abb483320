"""The perturbation-table generator and the shipped tables in config/ptables/."""
from __future__ import annotations

import itertools
import json
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from csp.__main__ import main
from csp.protection import ptable
from csp.protection.cellkey import PTable, load_ptable, sidecar_path

PTABLES = Path(__file__).resolve().parents[1] / "config" / "ptables"
SHIPPED = sorted(PTABLES.glob("*.csv"))


def test_a_table_for_each_policy_threshold_is_shipped():
    thresholds = {load_ptable(p).meta["params"]["threshold"] for p in SHIPPED}
    assert thresholds == {3, 5, 10}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_table_is_exactly_what_its_parameters_generate(path):
    meta = json.loads(sidecar_path(path).read_text())
    csv_text, side_text = ptable.generate(ptable.params_from_sidecar(meta))
    assert csv_text.encode() == path.read_bytes()
    assert side_text.encode() == sidecar_path(path).read_bytes()


def _row_moments(row: np.ndarray) -> tuple[Fraction, Fraction]:
    mean = Fraction(int(row.sum()), len(row))
    return mean, Fraction(int((row.astype(np.int64) ** 2).sum()), len(row)) - mean ** 2


def _least_key_variance(d: list[int]) -> Fraction:
    """By enumeration (rows of up to 4 deviations): the least variance of any zero-mean split of
    256 keys. The first len(d)-2 counts are enumerated; the last two follow from the sum and the
    zero mean."""
    assert len(d) <= 4
    *head, a, b = d
    best = None
    for n in itertools.product(range(257), repeat=len(head)):
        rest, moment = 256 - sum(n), -sum(c * x for c, x in zip(n, head))
        na, r = divmod(b * rest - moment, b - a)  # na*a + nb*b = moment, na + nb = rest
        if rest < 0 or r or not 0 <= na <= rest:
            continue
        counts = (*n, na, rest - na)
        v = Fraction(sum(c * x * x for c, x in zip(counts, d)), 256)
        best = v if best is None or v < best else best
    return best


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_table_properties(path):
    """Checked here from the CSV itself, independently of ptable.check()."""
    df = pd.read_csv(path)
    meta = json.loads(sidecar_path(path).read_text())
    p = meta["params"]
    T, js, D, V = p["threshold"], p["js"], p["max_dev"], p["variance"]
    assert js == T - 1 and D >= T
    assert list(df.columns) == ["pcv", "ckey", "pvalue"]
    sizes = df.groupby("pcv").ckey.agg(["size", "nunique", "min", "max"])
    assert list(sizes.index) == list(range(1, 751))
    assert (sizes["size"] == 256).all() and (sizes["nunique"] == 256).all()
    assert (sizes["min"] == 0).all() and (sizes["max"] == 255).all()
    published = df.pcv + df.pvalue
    assert (published >= 0).all()
    assert not published.between(1, js).any()
    assert (df.pvalue.abs() <= D).all()
    assert 0 not in set(df.pcv)  # no row for 0: the ONS rule gives 0 noise, zero stays zero

    rows = {r["i"]: r for r in meta["rows"]}
    table = df.sort_values(["pcv", "ckey"]).pvalue.to_numpy().reshape(750, 256)
    ncat = meta["ncat"]
    for i in range(1, 751):
        row = table[i - 1]
        mean, var = _row_moments(row)
        # over equally likely keys the mean is a multiple of 1/256; the generator solves for the
        # integer sum to be 0, so the tolerance is exactly 0 (sdcTools-style rounding of interval
        # ends would allow up to (max d - min d)/512: ptable.mean_tolerance)
        assert mean == 0, f"pcv {i}"
        r = rows[min(i, ncat)]
        assert float(var) == r["variance"], f"pcv {i}"
        if r["variance_feasible"]:
            assert var <= Fraction(V), f"pcv {i}"
        else:  # V must be impossible for this row: prove it
            d = r["deviations"]
            assert 1 <= i <= js, "only rows inside the protected band can miss V"
            if ptable.min_variance(np.array(d)) < V:
                assert _least_key_variance(d) > V and var == _least_key_variance(d)
            else:
                assert var > V
        assert (np.diff(row) >= 0).all(), "keys run in order of increasing noise"
        if i >= ncat:
            assert (row == table[ncat - 1]).all(), "rows from ncat repeat"
    assert meta["rows_above_variance"] == [i for i, r in rows.items() if not r["variance_feasible"]]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_table_passes_the_checker(path):
    pt = load_ptable(path)
    problems, figures = ptable.check(pt)
    assert problems == []
    assert [f["i"] for f in figures] == list(range(1, pt.meta["ncat"] + 1))


def _broken(pt: PTable, edit) -> PTable:
    tab = pt.pvalues.copy()
    edit(tab)
    return PTable(path="broken", pvalues=tab, modulus=pt.modulus, meta=pt.meta)


def _swap_keys(tab, i, a, b):
    tab[i, a], tab[i, b] = tab[i, b], tab[i, a]


BREAKS = {
    "band": (lambda t: t.__setitem__((40, 0), -38), "inside the never-published"),  # 40 -> 2
    "negative": (lambda t: t.__setitem__((2, 0), -3), "negative"),
    "beyond D": (lambda t: t.__setitem__((200, 255), 11), "maximum deviation"),
    "biased": (lambda t: t.__setitem__((100, slice(100, 110)), t[100, 100:110] + 1), "mean noise"),
    "unlike sidecar": (lambda t: t.__setitem__((4, 255), t[4, 255] - 1), "differ from the sidecar"),
    "no repeat": (lambda t: t.__setitem__((600, 255), t[600, 255] - 1), "do not all repeat"),
    "order": (lambda t: _swap_keys(t, 30, 0, 255), "key order"),
    "variance": (lambda t: (t.__setitem__((30, 100), -3), t.__setitem__((30, 200), 3)), "variance"),
}


@pytest.mark.parametrize("name", BREAKS)
def test_the_checker_finds_a_broken_table(name):
    pt = load_ptable(PTABLES / "ptable_t3.csv")
    edit, message = BREAKS[name]
    problems, _ = ptable.check(_broken(pt, edit))
    assert any(message in p for p in problems), problems


def test_the_checker_reports_the_ons_sample_as_biased():
    """The ONS package's ptable_10_5_rule.csv is deterministic rounding: not zero-mean."""
    from test_cellkey import ons_sample_table

    pt = load_ptable(ons_sample_table())
    assert pt.meta is None and pt.never_published == 9
    problems, _ = ptable.check(pt)
    assert any("pcv 1: mean noise -1.0000" in p for p in problems)
    assert main(["ptable", "--check", str(ons_sample_table())]) == 1


def test_cli_regenerates_a_shipped_table(tmp_path, capsys):
    src = PTABLES / "ptable_t5.csv"
    p = json.loads(sidecar_path(src).read_text())["params"]
    out = tmp_path / "t5.csv"
    rc = main(["ptable", "--threshold", str(p["threshold"]), "--max-dev", str(p["max_dev"]),
               "--variance", str(p["variance"]), "--out", str(out)])
    assert rc == 0
    assert out.read_bytes() == src.read_bytes()
    assert sidecar_path(out).read_bytes() == sidecar_path(src).read_bytes()
    text = capsys.readouterr().out
    assert "OK: all properties hold" in text and "never published 1..4" in text
    assert main(["ptable", "--check", str(out)]) == 0


@pytest.mark.parametrize("args,message", [
    (["--threshold", "5", "--max-dev", "4", "--variance", "2"], "too small for threshold 5"),
    (["--threshold", "3", "--max-dev", "3", "--variance", "0"], "variance must be above 0"),
    (["--threshold", "3", "--max-dev", "3", "--variance", "9"], "at most D(D+1)/3"),
    (["--threshold", "0", "--max-dev", "3", "--variance", "2"], "threshold must be"),
    (["--threshold", "3", "--max-dev", "3"], "give --threshold"),
])
def test_cli_refuses_bad_parameters_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "t.csv"
    assert main(["ptable", *args, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cli_check_of_an_edited_table_is_refused(tmp_path, capsys):
    dst = tmp_path / "t3.csv"
    shutil.copy(PTABLES / "ptable_t3.csv", dst)
    shutil.copy(sidecar_path(PTABLES / "ptable_t3.csv"), sidecar_path(dst))
    assert main(["ptable", "--check", str(dst)]) == 0
    text = dst.read_text().replace("\n6,0,-3\n", "\n6,0,-2\n", 1)
    assert text != dst.read_text()
    dst.write_text(text)
    assert main(["ptable", "--check", str(dst)]) == 2
    assert "sha256" in capsys.readouterr().err


# ---- the maximum-entropy rows ----------------------------------------------------------------

def _entropy(p):
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def _generic_maxent(d, V, mono):
    """An independent solve: SLSQP on the primal from a uniform start."""
    x = np.asarray(d, dtype=float)
    one, eye = np.ones(len(x)), np.eye(len(x))
    cons = [{"type": "eq", "fun": lambda p: p.sum() - 1, "jac": lambda p: one},
            {"type": "eq", "fun": lambda p: p @ x, "jac": lambda p: x},
            {"type": "ineq", "fun": lambda p: V - p @ (x * x), "jac": lambda p: -x * x}]
    if mono and 0 in d:
        z = list(d).index(0)
        cons += [{"type": "ineq", "fun": lambda p, k=k: p[k + 1] - p[k], "jac": lambda p, k=k: eye[k + 1] - eye[k]}
                 for k in range(z)]
    r = optimize.minimize(lambda p: (p * np.log(p)).sum(), np.full(len(x), 1 / len(x)),
                          jac=lambda p: np.log(p) + 1,
                          bounds=[(1e-10, 1)] * len(x), constraints=cons, method="SLSQP",
                          options={"ftol": 1e-12, "maxiter": 1000})
    return r.x


@pytest.mark.parametrize("T,D,V,binds", [(3, 3, 2.0, True), (5, 5, 3.0, True), (10, 10, 5.0, True),
                                         (3, 4, 1.0, False)])
def test_rows_are_the_maximum_entropy_distributions(T, D, V, binds):
    js = T - 1
    mono_rows = 0
    for i in range(T, D + js + 2):
        d = ptable.deviations(i, D, js)
        assert d.min() >= -min(i, D) and d.max() == D and not np.isin(d + i, range(1, T)).any()
        p, mono_active = ptable.maxent_row(d, V, mono=True)
        mono_rows += mono_active
        assert abs(p.sum() - 1) < 1e-12 and abs(p @ d) < 1e-9 and p @ (d * d) <= V + 1e-9
        z = list(d).index(0)
        assert (np.diff(p[: z + 1]) >= -1e-12).all()
        other = _generic_maxent(d, V, mono=True)
        assert _entropy(p) >= _entropy(other) - 1e-7, f"row {i}"
        np.testing.assert_allclose(p, other, atol=2e-4)
        if not mono_active:  # then p ~ exp(l1 d + l2 d^2): log p is quadratic in d
            coef = np.polyfit(d, np.log(p), 2)
            np.testing.assert_allclose(np.polyval(coef, d), np.log(p), atol=1e-8)
    assert (mono_rows >= 1) == binds  # rows just above the band may need the monotony condition


def test_band_rows_use_the_two_point_minimum():
    d = ptable.deviations(1, 5, 4)  # count 1, threshold 5: to 0, or to 5 and beyond
    assert d.tolist() == [-1, 4, 5]
    assert ptable.min_variance(d) == 4.0
    p, _ = ptable.maxent_row(d, 4.0, mono=True)
    np.testing.assert_allclose(p, [0.8, 0.2, 0.0])


def test_no_mono_changes_only_the_rows_where_it_binds():
    a = ptable.build_rows(ptable.Params(3, 3, 2.0))
    b = ptable.build_rows(ptable.Params(3, 3, 2.0, mono=False))
    differ = [x.i for x, y in zip(a, b) if x.keys != y.keys]
    assert differ == [x.i for x in a if x.mono_active] and differ


def test_large_cell_figures_are_what_the_table_does():
    pt = load_ptable(PTABLES / "ptable_t3.csv")
    fig = pt.meta["large_cells"]
    row = pt.pvalues[50]
    assert fig["p_no_change"] == (row == 0).mean()
    assert fig["max_abs_change"] == np.abs(pt.pvalues[50:]).max()
    assert fig["largest_relative_change"] == fig["max_abs_change"] / 50
    n = np.bincount(row - row.min())
    assert fig["p_same_noise"] == pytest.approx((n ** 2).sum() / 256 ** 2)
