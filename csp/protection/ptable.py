"""Perturbation tables for count cells: maximum-entropy noise, as in sdcTools' ``ptable``.

Follows ``create_cnt_ptable(D, V, js)`` of the sdcTools R package ``ptable`` (Giessing & Tent
2019, "Concepts for generalising tools implementing the cell key method to the case of continuous
variables"; Giessing 2016, PSD, LNCS 9867). For each original count ``i = 1 .. ncat`` (ncat =
D + js + 1; every larger count reuses row ncat) the noise ``d = j - i`` has a distribution over
the allowed published values j with:

- ``|d| <= D``, ``j >= 0`` and j not in 1..js (small counts are never published);
- zero mean and variance at most V (sdcTools' standard ``optim = 1``); where the band 1..js makes
  V impossible (``i <= js`` has no ``d = 0``) the smallest feasible variance, ``-a*b`` for the
  nearest allowed ``a < 0 < b``, is used instead and the row is marked;
- maximum entropy under those constraints: ``p(d) ~ exp(l1*d + l2*d**2)``, solved through its
  convex dual; with sdcTools' monotony option (``mono``, on by default) the probabilities may not
  fall between the most negative deviation and 0, and where the exponential form breaks that the
  primal problem is solved with SLSQP, as sdcTools does.

Each row is then laid onto the cell keys 0..255: key ranges follow the cumulative probability in
order of increasing deviation (sdcTools' ``p_int_lb``/``p_int_ub`` intervals), every row in that
same order. The number of keys per deviation is the integer allocation closest (L1) to
``256 * p`` that keeps the mean exactly 0 (and the variance at most V, and the monotony): noise
then has zero mean over the keys themselves, not only before rounding to 1/256.

Output is ONS layout (``pcv,ckey,pvalue``; pcv 1..750, ckey 0..255, ``pvalue = j - i``) that the
ONS ``cell-key-perturbation`` package reads unchanged, plus a JSON sidecar with the parameters,
the per-row figures and the CSV's sha256. ``python -m csp ptable`` makes and checks tables.
"""
from __future__ import annotations

import json
import os
import sys
import uuid
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .cellkey import MAX_PCV, PTable, PTableError, load_ptable, sidecar_path

GENERATOR = "csp.protection.ptable"
GENERATOR_VERSION = 1
KEYS = 256
LARGE = 50  # "large cells" in the utility figures: counts of 50 and more
SHOW_ROWS = 40


@dataclass(frozen=True)
class Params:
    threshold: int   # T: published counts 1..T-1 never occur (js = T - 1)
    max_dev: int     # D: largest absolute noise
    variance: float  # V: target noise variance
    mono: bool = True

    @property
    def js(self) -> int:
        return self.threshold - 1

    @property
    def ncat(self) -> int:
        """Rows computed; every count above ncat reuses row ncat (sdcTools' rule)."""
        return self.max_dev + self.js + 1 if self.js > 0 else self.max_dev

    def validate(self) -> None:
        if not 1 <= self.threshold <= 100:
            raise PTableError(f"threshold must be 1..100, got {self.threshold}")
        if not 1 <= self.max_dev <= 100:
            raise PTableError(f"maximum deviation must be 1..100, got {self.max_dev}")
        if self.js > 0 and self.max_dev < self.threshold:
            # a count of 1 can only go to 0 or to T and beyond, and its noise must average 0 over
            # 256 keys; D >= T leaves two neighbouring upward moves, which always allows that
            raise PTableError(f"maximum deviation {self.max_dev} is too small for threshold "
                              f"{self.threshold}: a count of 1 must be able to reach {self.threshold} "
                              f"and {self.threshold + 1}, so use at least {self.threshold}")
        if not 0 < self.variance <= self.max_dev * (self.max_dev + 1) / 3:
            raise PTableError(f"variance must be above 0 and at most D(D+1)/3 = "
                              f"{self.max_dev * (self.max_dev + 1) / 3:g} (uniform noise on -D..D), "
                              f"got {self.variance:g}")


def deviations(i: int, D: int, js: int) -> np.ndarray:
    """Allowed noise for count i: published j in max(i-D,0)..i+D, j not in 1..js."""
    j = np.arange(max(i - D, 0), i + D + 1)
    return j[~((j >= 1) & (j <= js))] - i


def min_variance(d: np.ndarray) -> float:
    """Smallest variance of a zero-mean distribution on d: 0 if 0 is allowed, else -a*b."""
    if (d == 0).any():
        return 0.0
    return float(-d[d < 0].max() * d[d > 0].min())


def _gibbs(x, x2, logw, l1, l2):
    from scipy.special import logsumexp

    a = logw + l1 * x + l2 * x2
    return np.exp(a - logsumexp(a))


def _maxent_dual(x, x2, logw, V: float) -> tuple[np.ndarray, tuple[float, float]]:
    """Max entropy over units with features x (deviation), x2 (squared), prior weights exp(logw),
    mean 0 and variance <= V: P ~ exp(logw + l1 x + l2 x2), l2 <= 0, by the convex dual."""
    from scipy import optimize
    from scipy.special import logsumexp

    l1 = optimize.brentq(lambda t: _gibbs(x, x2, logw, t, 0.0) @ x, -60, 60, xtol=1e-15, rtol=1e-15)
    P = _gibbs(x, x2, logw, l1, 0.0)
    if P @ x2 <= V:  # the variance bound is not binding
        return P, (l1, 0.0)

    def f(lam):
        return logsumexp(logw + lam[0] * x + lam[1] * x2) - lam[1] * V

    def grad(lam):
        q = _gibbs(x, x2, logw, *lam)
        return np.array([q @ x, q @ x2 - V])

    def hess(lam):
        q = _gibbs(x, x2, logw, *lam)
        m1, m2 = q @ x, q @ x2
        c12 = q @ (x * x2) - m1 * m2
        return np.array([[q @ (x * x) - m1 * m1, c12], [c12, q @ (x2 * x2) - m2 * m2]])

    r = optimize.minimize(f, [l1, 0.0], jac=grad, hess=hess, method="trust-exact",
                          options={"gtol": 1e-13, "maxiter": 1000})
    lam = r.x
    for _ in range(20):  # Newton on the gradient: the objective's own precision stops the above early
        g = grad(lam)
        if np.abs(g).max() < 1e-13:
            break
        lam = lam - np.linalg.solve(hess(lam), g)
    if np.abs(grad(lam)).max() > 1e-10:
        raise PTableError(f"maximum-entropy solver did not converge (variance {V})")
    return _gibbs(x, x2, logw, *lam), (float(lam[0]), float(lam[1]))


def _mono_pairs(d: np.ndarray) -> list[tuple[int, int]]:
    """Index pairs (a, b) with p[a] <= p[b]: from the most negative deviation up to 0 (sdcTools)."""
    if not (d == 0).any():
        return []
    z = int(np.flatnonzero(d == 0)[0])
    return [(k, k + 1) for k in range(z)]


def _pooled(d: np.ndarray, V: float, blocks: list[list[int]]):
    """Max entropy where each block of deviations shares one probability: in each block,
    p = exp(l1 * mean(d) + l2 * mean(d^2)) / Z (the stationarity condition with the block's
    monotony constraints active)."""
    x = np.array([d[b].mean() for b in blocks], dtype=float)
    x2 = np.array([(d[b] ** 2).mean() for b in blocks], dtype=float)
    sizes = np.array([len(b) for b in blocks], dtype=float)
    P, lam = _maxent_dual(x, x2, np.log(sizes), V)
    p = np.empty(len(d))
    for b, pb, n in zip(blocks, P, sizes):
        p[b] = pb / n
    return p, lam


def _kkt_ok(d: np.ndarray, p: np.ndarray, lam, blocks, pairs) -> bool:
    """The monotony holds, and every pooled block's multipliers are >= 0: for a block a..b the
    multiplier between k and k+1 is the running sum of (h_t - mean of h over the block), with
    h = l1 d + l2 d^2 the unconstrained log-probability (up to a constant)."""
    if any(p[a] > p[b] * (1 + 1e-9) for a, b in pairs):
        return False
    h = lam[0] * d + lam[1] * d * d
    for b in blocks:
        if len(b) > 1 and (np.cumsum(h[b] - h[b].mean())[:-1] < -1e-9).any():
            return False
    return True


def _maxent_primal(d: np.ndarray, V: float, pairs, start: np.ndarray) -> np.ndarray:
    """The problem with the monotony constraints, by SLSQP (sdcTools uses nloptr's SLSQP)."""
    from scipy import optimize

    x = d.astype(float)
    cons = [{"type": "eq", "fun": lambda p: p.sum() - 1, "jac": lambda p: np.ones_like(p)},
            {"type": "eq", "fun": lambda p: p @ x, "jac": lambda p: x},
            {"type": "ineq", "fun": lambda p: V - p @ (x * x), "jac": lambda p: -(x * x)}]
    for a, b in pairs:
        g = np.zeros(len(x))
        g[a], g[b] = -1.0, 1.0
        cons.append({"type": "ineq", "fun": lambda p, a=a, b=b: p[b] - p[a], "jac": lambda p, g=g: g})
    r = optimize.minimize(lambda p: p @ np.log(p), start, jac=lambda p: np.log(p) + 1,
                          bounds=[(1e-8, 1.0)] * len(x), constraints=cons, method="SLSQP",
                          options={"ftol": 1e-12, "maxiter": 2000})
    return r.x


def maxent_row(d: np.ndarray, V: float, mono: bool) -> tuple[np.ndarray, bool]:
    """The row's continuous distribution and whether the monotony constraint was active."""
    vmin = min_variance(d)
    if V <= vmin and not (d == 0).any():  # only the two-point distribution on a < 0 < b is left
        a, b = d[d < 0].max(), d[d > 0].min()
        p = np.zeros(len(d))
        p[d == a], p[d == b] = b / (b - a), -a / (b - a)
        return p, False
    singles = [[k] for k in range(len(d))]
    p, _ = _pooled(d, V, singles)
    pairs = _mono_pairs(d) if mono else []
    if not any(p[a] > p[b] * (1 + 1e-9) for a, b in pairs):
        return p, False
    # SLSQP finds which monotony constraints bind; the exact solution pools those deviations
    rough = _maxent_primal(d, V, pairs, p)
    blocks: list[list[int]] = []
    for k in range(len(d)):
        if blocks and (k - 1, k) in pairs and abs(rough[k] - rough[k - 1]) <= 1e-6:
            blocks[-1].append(k)
        else:
            blocks.append([k])
    p, lam = _pooled(d, V, blocks)
    if not _kkt_ok(d, p, lam, blocks, pairs):
        raise PTableError(f"maximum-entropy solution with monotony not found for deviations "
                          f"{d.tolist()} (V = {V}); try --no-mono")
    return p, True


def _key_milp(d: np.ndarray, p: np.ndarray | None, max_var: float | None, mono: bool):
    """Integer keys per deviation summing to KEYS with mean exactly 0 (and monotony, symmetry
    where the deviations are symmetric, ``sum d^2 n <= max_var``); with ``p``, closest in L1 to
    KEYS*p, else the smallest variance."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    m = len(d)
    d2 = (d * d).astype(float)
    # variables: n (m integers), e (m continuous, e >= |n - KEYS*p|)
    c = np.concatenate([np.zeros(m), np.ones(m)]) if p is not None else np.concatenate([d2, np.zeros(m)])
    target = KEYS * p if p is not None else np.zeros(m)
    rows, lo, hi = [], [], []

    def add(row, lower, upper):
        rows.append(row)
        lo.append(lower)
        hi.append(upper)

    add(np.concatenate([np.ones(m), np.zeros(m)]), KEYS, KEYS)
    add(np.concatenate([d.astype(float), np.zeros(m)]), 0, 0)
    if max_var is not None:
        add(np.concatenate([d2, np.zeros(m)]), -np.inf, max_var)
    eye = np.eye(m)
    if p is not None:
        for k in range(m):
            add(np.concatenate([eye[k], -eye[k]]), -np.inf, target[k])
            add(np.concatenate([-eye[k], -eye[k]]), -np.inf, -target[k])
    for a, b in (_mono_pairs(d) if mono else []):
        add(np.concatenate([eye[a] - eye[b], np.zeros(m)]), -np.inf, 0)
    if np.array_equal(d, -d[::-1]):  # symmetric deviations (the repeat row): symmetric noise, and
        for k in range(m // 2):      # no tie between an allocation and its mirror image
            add(np.concatenate([eye[k] - eye[m - 1 - k], np.zeros(m)]), 0, 0)
    return milp(c, constraints=LinearConstraint(np.array(rows), lo, hi),
                integrality=np.concatenate([np.ones(m), np.zeros(m)]),
                bounds=Bounds(np.zeros(2 * m), np.concatenate([np.full(m, KEYS), np.full(m, np.inf)])),
                options={"mip_rel_gap": 0.0})


def allocate_keys(d: np.ndarray, p: np.ndarray, V: float, mono: bool) -> tuple[np.ndarray, bool]:
    """Keys per deviation for a row, and whether its variance over the keys could stay <= V.

    The mean over the keys is exactly 0. Where no such allocation has variance <= V (rows the
    band 1..js pushes away, or whose two-point minimum 256 keys cannot split exactly), the
    smallest variance an allocation can have is the cap instead.
    """
    least = _key_milp(d, None, None, mono)
    if least.status != 0:
        raise PTableError(f"no zero-mean allocation of {KEYS} keys for deviations {d.tolist()}: {least.message}")
    floor_var = float(np.round(least.fun))  # an integer: sum of d^2 n
    cap = np.floor(KEYS * V + 1e-9)
    feasible = floor_var <= cap
    res = _key_milp(d, p, cap if feasible else floor_var, mono)
    if res.status != 0:
        raise PTableError(f"key allocation failed for deviations {d.tolist()}: {res.message}")
    return np.round(res.x[: len(d)]).astype(np.int64), bool(feasible)


@dataclass
class Row:
    i: int
    deviations: list[int]
    probabilities: list[float]     # the continuous max-entropy solution (6 decimals, for reading)
    keys: list[int]                # keys per deviation
    target_variance: float         # of the continuous solution: V, or the least possible if more
    variance_feasible: bool        # False where no zero-mean key allocation has variance <= V
    mono_active: bool
    mean: float                    # over the 256 keys
    variance: float                # over the 256 keys
    p_stay: float
    max_abs_dev: int


def _key_stats(d: np.ndarray, n: np.ndarray) -> tuple[Fraction, Fraction]:
    mean = Fraction(int((d * n).sum()), KEYS)
    var = Fraction(int((d * d * n).sum()), KEYS) - mean * mean
    return mean, var


def build_rows(params: Params) -> list[Row]:
    params.validate()
    out = []
    for i in range(1, params.ncat + 1):
        d = deviations(i, params.max_dev, params.js)
        target = max(params.variance, min_variance(d))
        p, mono_active = maxent_row(d, target, params.mono)
        n, feasible = allocate_keys(d, p, params.variance, params.mono)
        mean, var = _key_stats(d, n)
        used = d[n > 0]
        out.append(Row(i=i, deviations=d.tolist(), probabilities=[round(float(x), 6) for x in p],
                       keys=n.tolist(), target_variance=float(target), variance_feasible=bool(feasible),
                       mono_active=mono_active, mean=float(mean), variance=float(var),
                       p_stay=float(Fraction(int(n[d == 0].sum()), KEYS)),
                       max_abs_dev=int(np.abs(used).max())))
    return out


def dense_table(rows: list[Row]) -> np.ndarray:
    """pvalues[pcv, ckey] for pcv 0..750 (row 0 zeros), keys in order of increasing deviation."""
    table = np.zeros((MAX_PCV + 1, KEYS), dtype=np.int16)
    for r in rows:
        table[r.i] = np.repeat(r.deviations, r.keys)
    last = rows[-1].i
    table[last + 1:] = table[last]
    return table


def to_csv(table: np.ndarray) -> str:
    pcv = np.repeat(np.arange(1, MAX_PCV + 1), KEYS)
    ckey = np.tile(np.arange(KEYS), MAX_PCV)
    body = "\n".join(f"{a},{b},{c}" for a, b, c in zip(pcv.tolist(), ckey.tolist(), table[1:].ravel().tolist()))
    return "pcv,ckey,pvalue\n" + body + "\n"


def large_cell_figures(table: np.ndarray) -> dict:
    """Noise on counts LARGE..750 (each count weighted alike; larger counts reuse rows 501..750).

    ``p_same_noise``: the chance two such cells with independent keys get the same noise, i.e.
    that differencing them gives the hidden difference exactly.
    """
    rows = table[LARGE:MAX_PCV + 1].astype(np.int64)
    counts = np.arange(LARGE, MAX_PCV + 1)
    mags = np.abs(rows)
    same = [float((np.bincount(r - r.min()) ** 2).sum()) / r.size ** 2 for r in rows]
    return {"from_count": LARGE, "p_no_change": float((rows == 0).mean()),
            "mean_abs_change": float(mags.mean()), "max_abs_change": int(mags.max()),
            "largest_relative_change": float((mags.max(axis=1) / counts).max()),
            "mean_relative_change_at_50": float(mags[0].mean() / LARGE),
            "mean_relative_change_at_100": float(mags[100 - LARGE].mean() / 100),
            "p_same_noise": float(np.mean(same))}


def sidecar(params: Params, rows: list[Row], table: np.ndarray, csv_sha256: str) -> dict:
    return {
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "method": "maximum entropy (Giessing & Tent 2019; sdcTools ptable create_cnt_ptable), "
                  "zero-mean integer key allocation",
        "params": {"threshold": params.threshold, "js": params.js, "max_dev": params.max_dev,
                   "variance": params.variance, "mono": params.mono},
        "keys": KEYS, "max_pcv": MAX_PCV, "ncat": params.ncat,
        "repeat_from": params.ncat,
        "rows_above_variance": [r.i for r in rows if not r.variance_feasible],
        "large_cells": large_cell_figures(table),
        "rows": [asdict(r) for r in rows],
        "csv_sha256": csv_sha256,
    }


def generate(params: Params) -> tuple[str, str]:
    """The CSV text and the sidecar JSON text for these parameters (deterministic)."""
    import hashlib

    rows = build_rows(params)
    table = dense_table(rows)
    csv_text = to_csv(table)
    meta = sidecar(params, rows, table, hashlib.sha256(csv_text.encode()).hexdigest())
    return csv_text, json.dumps(meta, indent=1) + "\n"


def params_from_sidecar(meta: dict) -> Params:
    p = meta["params"]
    return Params(threshold=int(p["threshold"]), max_dev=int(p["max_dev"]),
                  variance=float(p["variance"]), mono=bool(p["mono"]))


def _stage(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp


def write(params: Params, out: str | os.PathLike) -> Path:
    """Generate and write the table and its sidecar. Both are written in full beside the
    targets first, then moved into place, so a failure leaves the previous pair untouched (and a
    crash between the two moves leaves a pair whose sha256 differs, which load_ptable refuses)."""
    out = Path(out)
    if out.suffix != ".csv":
        raise PTableError(f"--out must name a .csv file, got {out}")
    if not out.parent.is_dir():
        raise PTableError(f"folder {out.parent} does not exist")
    csv_text, side_text = generate(params)
    staged = []
    try:
        staged = [(_stage(out, csv_text), out), (_stage(sidecar_path(out), side_text), sidecar_path(out))]
        for tmp, final in staged:
            os.replace(tmp, final)
    except OSError as e:
        raise PTableError(f"cannot write {out}: {e.strerror}") from None
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return out


# ---- checking ---------------------------------------------------------------------------------

def row_stats(row: np.ndarray) -> tuple[Fraction, Fraction]:
    """Exact mean and variance of a row's noise over its (equally likely) keys."""
    mean = Fraction(int(row.sum()), len(row))
    return mean, Fraction(int((row * row).sum()), len(row)) - mean * mean


def mean_tolerance(row: np.ndarray) -> Fraction:
    """How far from 0 a row's mean over the keys may be only because keys come in 1/256 steps.

    Cutting cumulative probabilities at multiples of 1/256 (sdcTools' intervals, rounded) moves
    each cut by at most 1/512; a cut between deviations a < b changes the mean by (b - a) times
    its shift, and the shifts add up along the row: |mean| <= (max d - min d) / 512. This
    generator does better (exactly 0: the allocation solves for it), but any table within the
    bound is unbiased up to what 256 keys can express.
    """
    return Fraction(int(row.max() - row.min()), 2 * len(row))


def check(pt: PTable, meta: dict | None = None) -> tuple[list[str], list[dict]]:
    """Problems with a table (empty = fine) and per-row figures for rows 1..repeat point."""
    meta = pt.meta if meta is None else meta
    problems: list[str] = []
    tab = pt.pvalues.astype(np.int64)
    pcv = np.arange(MAX_PCV + 1)[:, None]
    published = (pcv + tab)[1:]
    if meta is not None:
        params = params_from_sidecar(meta)
        js, D, ncat, V = params.js, params.max_dev, params.ncat, params.variance
        if pt.modulus != meta.get("keys", KEYS):
            problems.append(f"{pt.modulus} keys per row, sidecar says {meta.get('keys')}")
    else:  # a table from elsewhere (the ONS sample): describe what it does
        js, D, ncat, V = pt.never_published, pt.max_dev, _repeat_point(tab), None
    if (published < 0).any():
        problems.append("some (pcv, ckey) publishes a negative count")
    band = (published >= 1) & (published <= js)
    if band.any():
        a, b = np.argwhere(band)[0]
        problems.append(f"pcv {a + 1}, ckey {b} publishes {published[a, b]}, inside the never-published 1..{js}")
    if (np.abs(tab) > D).any():
        problems.append(f"some |pvalue| exceeds the maximum deviation {D}")
    if ncat < MAX_PCV and not (tab[ncat:] == tab[ncat]).all():
        problems.append(f"rows above {ncat} do not all repeat row {ncat}")
    if not (np.diff(tab[1:], axis=1) >= 0).all():
        problems.append("key order: within a row, pvalue must not decrease as ckey grows")
    recorded = {r["i"]: r for r in meta["rows"]} if meta is not None else {}
    figures = []
    for i in range(1, MAX_PCV + 1):
        mean, var = row_stats(tab[i])
        tol = mean_tolerance(tab[i])
        if i <= ncat:
            figures.append({"i": i, "mean": float(mean), "variance": float(var),
                            "p_stay": float((tab[i] == 0).mean()), "max_abs_dev": int(np.abs(tab[i]).max()),
                            "mean_tolerance": float(tol)})
        if abs(mean) > tol:
            problems.append(f"pcv {i}: mean noise {float(mean):+.4f} exceeds the 1/256 rounding bound {float(tol):.4f}")
        if meta is None:
            continue
        r = recorded.get(min(i, ncat))
        if r is None:
            problems.append(f"pcv {i}: not in the sidecar")
            continue
        if r["mean"] != float(mean) or r["variance"] != float(var):
            problems.append(f"pcv {i}: mean/variance over keys {float(mean)}/{float(var)} differ from "
                            f"the sidecar's {r['mean']}/{r['variance']}")
        if i <= ncat and not np.array_equal(tab[i], np.repeat(r["deviations"], r["keys"])):
            problems.append(f"pcv {i}: keys differ from the sidecar's allocation")
        if r["variance_feasible"] and var > Fraction(V):
            problems.append(f"pcv {i}: variance {float(var):.4f} exceeds V = {V}")
    return problems, figures


def _repeat_point(tab: np.ndarray) -> int:
    """The smallest pcv from which every row is the same (MAX_PCV if none)."""
    i = MAX_PCV
    while i > 1 and (tab[i - 1] == tab[MAX_PCV]).all():
        i -= 1
    return i


def describe(pt: PTable, problems: list[str], figures: list[dict]) -> str:
    meta = pt.meta
    lines = [f"table {pt.path}: pcv 1..{MAX_PCV}, ckey 0..{pt.modulus - 1}"]
    if meta:
        p = meta["params"]
        lines.append(f"parameters: threshold {p['threshold']} (never published 1..{p['js']}), "
                     f"D {p['max_dev']}, V {p['variance']}, mono {p['mono']}; rows repeat from "
                     f"{meta['ncat']}; generator {meta['generator']} v{meta['generator_version']}")
        if meta["rows_above_variance"]:
            lines.append(f"rows where V is infeasible (smallest feasible variance used): "
                         f"{', '.join(map(str, meta['rows_above_variance']))}")
    else:
        lines.append(f"no sidecar: inferred never-published 1..{pt.never_published}, "
                     f"max |pvalue| {pt.max_dev}")
    lines.append(f"{'pcv':>5} {'mean':>8} {'variance':>9} {'P(same)':>8} {'max|d|':>6}")
    for f in figures[:SHOW_ROWS]:
        lines.append(f"{f['i']:>5} {f['mean']:>+8.4f} {f['variance']:>9.4f} {f['p_stay']:>8.3f} {f['max_abs_dev']:>6}")
    big = large_cell_figures(pt.pvalues)
    if len(figures) > SHOW_ROWS:
        lines.append(f"  ... {len(figures) - SHOW_ROWS} more rows (no repeat point)")
    lines.append(f"cells >= {LARGE}: P(no change) {big['p_no_change']:.3f}, mean |change| "
                 f"{big['mean_abs_change']:.3f}, max |change| {big['max_abs_change']}, largest relative "
                 f"change {big['largest_relative_change']:.1%}, mean relative change at 50 "
                 f"{big['mean_relative_change_at_50']:.2%}, at 100 {big['mean_relative_change_at_100']:.2%}; "
                 f"P(two cells get the same noise) {big['p_same_noise']:.3f}")
    lines.append("OK: all properties hold" if not problems else f"{len(problems)} problem(s):")
    lines.extend(f"  - {p}" for p in problems[:50])
    return "\n".join(lines)


# ---- command line -----------------------------------------------------------------------------

def cmd_ptable(args) -> int:
    try:
        if args.check:
            pt = load_ptable(args.check)
            problems, figures = check(pt)
            print(describe(pt, problems, figures))
            return 1 if problems else 0
        if args.threshold is None or args.max_dev is None or args.variance is None or not args.out:
            print("error: give --threshold, --max-dev, --variance and --out (or --check FILE)", file=sys.stderr)
            return 2
        params = Params(args.threshold, args.max_dev, args.variance, mono=not args.no_mono)
        out = write(params, args.out)
        pt = load_ptable(out)
        problems, figures = check(pt)
        print(describe(pt, problems, figures))
        return 1 if problems else 0
    except PTableError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def register_cli(sub) -> None:
    pt = sub.add_parser("ptable", help="make or check a cell-key perturbation table (ONS layout)")
    pt.add_argument("--threshold", type=int, help="T: counts 1..T-1 are never published")
    pt.add_argument("--max-dev", type=int, help="D: largest absolute noise")
    pt.add_argument("--variance", type=float, help="V: target noise variance")
    pt.add_argument("--no-mono", action="store_true", help="drop sdcTools' monotony condition")
    pt.add_argument("--out", help="the .csv to write (a .json sidecar is written beside it)")
    pt.add_argument("--check", metavar="FILE", help="print a table's properties; exit 1 if one fails")
    pt.set_defaults(fn=cmd_ptable)
