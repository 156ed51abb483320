"""A curious partner attacking disclosure control across queries (issue 12).

The attacker is a logged-in partner using the runner every page, download, CLI export and the
board pack use (csp.queries.run). They run many parameter combinations and write every figure
they get as a linear equation over the *unknowns* of a target family: the finest cells they want
(crimes per month, ward and crime type; reoffenders per cohort quarter and breakdown ...). Then:

- under perturbation they solve by least squares over every equation (each figure = the sum of
  its cells plus noise), which is what averaging many differences amounts to, and round;
- under suppression they solve by linear programming: a withheld base cell lies in 1..t-1, every
  exact figure is an equation, a figure marked partial is the sum of the cells shown; a cell is
  recovered when its lower and upper bounds meet.

The truth comes from the owner's published records. :func:`assess` reports, per family, how many
small cells (1..t-1) were recovered exactly, next to what one published cell on its own allows: the
best guess from that figure and the perturbation table, for an attacker who knows the true
distribution of small values (so the baseline is as strong as it can be).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.linalg import lsqr

from csp import access, config, queries, store
from csp.protection import cellkey


# ---- the attacker's unknowns -----------------------------------------------------------------


@dataclass
class Space:
    """The unknowns: every combination of ``dims`` (one row of ``cells`` each), with the truth."""

    name: str
    dims: tuple[str, ...]
    cells: pl.DataFrame  # dims + "truth"
    codes: dict = field(default_factory=dict)  # dim -> (np codes per cell, {value: code})

    def __post_init__(self):
        for d in self.dims:
            values = self.cells[d].to_list()
            lookup = {v: i for i, v in enumerate(dict.fromkeys(values))}
            self.codes[d] = (np.array([lookup[v] for v in values]), lookup)

    @property
    def truth(self) -> np.ndarray:
        return self.cells["truth"].to_numpy()

    def mask(self, cond: dict) -> np.ndarray:
        """Cells where each dim in ``cond`` takes one of the given values."""
        m = np.ones(self.cells.height, dtype=bool)
        for d, allowed in cond.items():
            codes, lookup = self.codes[d]
            wanted = [lookup[v] for v in allowed if v in lookup]
            m &= np.isin(codes, wanted)
        return m


def grid_space(name: str, rows: pl.DataFrame, dims: tuple[str, ...], domains: dict,
               measure: str | None = None) -> Space:
    """All combinations of the dims' domains, with the true count (rows, or a measure's sum)."""
    grid = None
    for d in dims:
        col = pl.DataFrame({d: domains[d]}, schema={d: rows.schema[d]})
        grid = col if grid is None else grid.join(col, how="cross")
    agg = pl.len().alias("truth") if measure is None else pl.col(measure).sum().alias("truth")
    counts = rows.group_by(list(dims)).agg(agg)
    cells = grid.join(counts, on=list(dims), how="left", nulls_equal=True).with_columns(
        pl.col("truth").fill_null(0).cast(pl.Int64))
    return Space(name, dims, cells)


# ---- what the attacker collects ----------------------------------------------------------------


@dataclass
class Obs:
    cells: np.ndarray  # bool mask over the space's cells: the figure adds these up
    value: int | None  # the published figure (None: withheld)
    partial: bool  # a suppression total that leaves out withheld cells
    view: str


@dataclass
class Harvest:
    space: Space
    rule: object  # csp.protection.cells.Rule of the dataset for this user
    obs: list[Obs] = field(default_factory=list)
    calls: int = 0

    def add(self, cond: dict, value, withheld: bool, partial: bool, view: str) -> None:
        m = self.space.mask(cond)
        if m.any():
            self.obs.append(Obs(m, None if withheld else int(value), bool(partial), view))

    def run(self, user, name: str, params: dict, each_row) -> None:
        """Run a query as the user; ``each_row(row) -> [(cond, column)]`` maps output figures
        to the cells they add up."""
        try:
            r = queries.run(user, name, params)
        except (access.AccessDenied, queries.QueryError):
            return
        self.calls += 1
        for i, row in enumerate(r.frame.iter_rows(named=True)):
            for cond, col in each_row(row):
                self.add(cond, row[col], r.suppressed[col][i], r.partial[col][i] if r.partial.width else False,
                         name)


# ---- solving ----------------------------------------------------------------------------------


def least_squares(h: Harvest) -> np.ndarray:
    """The attacker's estimate of every cell from every published figure (noise averaged out)."""
    shown = [o for o in h.obs if o.value is not None]
    if not shown:
        return np.full(h.space.cells.height, np.nan)
    rows, cols = [], []
    for i, o in enumerate(shown):
        idx = np.flatnonzero(o.cells)
        rows.append(np.full(idx.size, i))
        cols.append(idx)
    a = sparse.csr_matrix((np.ones(sum(c.size for c in cols)), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(len(shown), h.space.cells.height))
    b = np.array([o.value for o in shown], dtype=float)
    x = lsqr(a, b, atol=1e-10, btol=1e-10, iter_lim=20000)[0]
    covered = np.asarray(a.sum(axis=0)).ravel() > 0
    return np.where(covered, x, np.nan)


def lp_bounds(h: Harvest, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Under suppression: the tightest bounds on each target cell from every figure published."""
    t = h.rule.threshold
    n = h.space.cells.height
    hidden = np.zeros(n, dtype=bool)
    known = np.full(n, np.nan)
    eq_rows, eq_vals = [], []
    for o in h.obs:
        single = o.cells.sum() == 1
        if o.value is None:
            if single:
                hidden |= o.cells  # a base cell withheld: 1..t-1
            continue
        if o.partial:
            continue  # the sum of the cells shown: no word about the withheld ones
        if single:
            known[np.flatnonzero(o.cells)[0]] = o.value
        eq_rows.append(o.cells.astype(float))
        eq_vals.append(float(o.value))
    lo = np.where(hidden, 1.0, 0.0)
    hi = np.where(hidden, float(t - 1), np.inf)
    fixed = ~np.isnan(known)
    lo[fixed], hi[fixed] = known[fixed], known[fixed]
    a_eq = np.array(eq_rows) if eq_rows else None
    b_eq = np.array(eq_vals) if eq_vals else None
    mins, maxs = np.full(len(targets), np.nan), np.full(len(targets), np.nan)
    in_equation = (np.array(eq_rows).sum(axis=0) > 0) if eq_rows else np.zeros(n, dtype=bool)
    for k, i in enumerate(targets):
        if not in_equation[i]:
            # In no exact figure: nothing ties it to anything but its own bounds.
            mins[k], maxs[k] = lo[i], hi[i]
            continue
        c = np.zeros(n)
        c[i] = 1.0
        for sign, out in ((1.0, mins), (-1.0, maxs)):
            res = linprog(sign * c, A_eq=a_eq, b_eq=b_eq, bounds=list(zip(lo, hi)), method="highs")
            out[k] = sign * res.fun if res.status == 0 else np.nan
    return mins, maxs


def single_cell_baseline(h: Harvest, targets: np.ndarray, single: dict[int, int | None]) -> float:
    """Share of targets an attacker gets right from the target's own published figure alone:
    the most likely true value given that figure, the perturbation table, the true distribution
    of small values and the fact that the cell is listed (so not zero)."""
    table = cellkey.load_ptable(config.CONFIG_DIR / "ptables" / f"{h.rule.ptable}.csv")
    t = h.rule.threshold
    truth = h.space.truth
    prior = np.bincount(np.clip(truth[truth > 0], 0, 60), minlength=61).astype(float)
    prior /= prior.sum()
    values = np.arange(61)
    # P(published | true v), over the 256 cell keys, for each v
    keys = np.arange(256)
    published = {v: cellkey.perturb(np.full(256, v), keys, table, t) for v in values}
    right = 0
    for i in targets:
        p = single.get(int(i), "missing")
        if p == "missing":  # no figure of its own: the prior alone
            right += int(np.argmax(prior) == truth[i])
            continue
        like = np.array([np.mean(np.where(published[v][1], p is None, published[v][0] == (p if p is not None else -1)))
                         for v in values])
        post = prior * like
        right += int(np.argmax(post) == truth[i])
    return right / max(1, len(targets))


@dataclass
class Assessment:
    space: str
    user: str
    method: str
    threshold: int
    targets: int  # small cells (1..t-1)
    exact: int  # recovered exactly by combining views
    baseline: float  # share a single figure allows (perturbation); 0 under suppression
    figures: int  # published figures used
    calls: int

    @property
    def rate(self) -> float:
        return self.exact / self.targets if self.targets else 0.0


def assess(h: Harvest, user: str) -> Assessment:
    truth = h.space.truth
    t = h.rule.threshold
    real = np.ones(truth.size, dtype=bool)
    if "ward_code" in h.space.dims:  # "OTHER" stands for several wards' cells: not a real cell
        real = (h.space.cells["ward_code"] != "OTHER").fill_null(True).to_numpy()
    targets = np.flatnonzero((truth > 0) & (truth < t) & real)
    if h.rule.method == "suppress":
        lo, hi = lp_bounds(h, targets)
        exact = int(np.sum((lo == hi) & (lo == truth[targets])))
        return Assessment(h.space.name, user, "suppress", t, len(targets), exact, 0.0, len(h.obs), h.calls)
    est = least_squares(h)
    single = {}
    for o in h.obs:
        if o.cells.sum() == 1:
            single.setdefault(int(np.flatnonzero(o.cells)[0]), o.value)
    base = single_cell_baseline(h, targets, single)
    # The strongest attacker combines every view with the true distribution of small values:
    # the least-squares estimate, its actual error spread (measured against the truth, which only
    # makes the attacker stronger), and the prior, as a most-likely value.
    covered = ~np.isnan(est)
    err = est[covered] - truth[covered]
    sigma = max(float(np.sqrt(np.mean(err ** 2))), 1e-3) if err.size else np.inf
    values = np.arange(61)
    prior = np.bincount(np.clip(truth[truth > 0], 0, 60), minlength=61).astype(float)
    prior /= prior.sum()
    exact = 0
    for i in targets:
        if np.isnan(est[i]):
            continue
        post = prior * np.exp(-0.5 * ((est[i] - values) / sigma) ** 2)
        exact += int(np.argmax(post) == truth[i])
    return Assessment(h.space.name, user, h.rule.method, t, len(targets), exact, base, len(h.obs), h.calls)


# ---- the owner's truth, the user's rule ---------------------------------------------------------


def published_rows(dataset: str) -> pl.DataFrame:
    v = store.current(dataset)
    return pl.read_parquet(v.path / "data.parquet")


def rule_for(user, dataset: str):
    from csp.protection import cells

    g = access.grant(user, dataset)
    if g is None:
        return None
    return cells.Rule(dataset, "none" if g.owner else g.protection, 0 if g.owner else g.threshold, g.ptable)


def months_of(rows: pl.DataFrame, col: str = "month") -> list[dt.date]:
    return sorted(rows[col].unique().to_list())


def ym(d: dt.date) -> str:
    return d.strftime("%Y-%m")


def add_months(d: dt.date, n: int) -> dt.date:
    k = d.year * 12 + d.month - 1 + n
    return dt.date(k // 12, k % 12 + 1, 1)
