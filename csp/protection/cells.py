"""Protected count cells: how a count travels from the published data to a partner's screen.

The query layer hands every named query its datasets as CTEs in which each count (an events
dataset's ``n``, a counts dataset's measures) is a *cell*: a struct of

    value   the count (under "suppress", the base cells under the threshold read 0)
    key     the sum of its records' keys (csp.protection.record_keys)
    hidden  how many withheld base cells it adds up ("suppress" only)
    ds      the dataset(s) it came from, one bit each (more than one bit: datasets were mixed)

A count cannot be summed with ``sum()`` (DuckDB refuses a struct): queries add cells up with
the macros below, which carry the key and the hidden-cell count along with the value. The runner
then turns each output cell into the published figure by the grant of the dataset it came from
(:func:`protect`), and only then computes the derived columns (rates, changes) from the published
figures, so no statistic is ever computed from a hidden or unperturbed value.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

FIELDS = ("value", "key", "hidden", "ds")

MACROS = (
    # The dataset is a bit per dataset, combined with bit_or: integers, not names, because every
    # total() runs it over every row (names cost more than the sums themselves in the bench).
    "CREATE OR REPLACE MACRO total(c) AS struct_pack("
    " value := CAST(coalesce(sum(c.value), 0) AS BIGINT), key := CAST(coalesce(sum(c.key), 0) AS BIGINT),"
    " hidden := CAST(coalesce(sum(c.hidden), 0) AS BIGINT), ds := coalesce(bit_or(c.ds), 0))",
    "CREATE OR REPLACE MACRO total_if(c, cond) AS struct_pack("
    " value := CAST(coalesce(sum(c.value) FILTER (WHERE cond), 0) AS BIGINT),"
    " key := CAST(coalesce(sum(c.key) FILTER (WHERE cond), 0) AS BIGINT),"
    " hidden := CAST(coalesce(sum(c.hidden) FILTER (WHERE cond), 0) AS BIGINT),"
    # The dataset of every row of the group, filtered or not: a zero is still "zero of X".
    " ds := coalesce(bit_or(c.ds), 0))",
    # An empty cell (e.g. an area with no rows after a LEFT JOIN): zero, from no dataset.
    "CREATE OR REPLACE MACRO no_cell() AS struct_pack(value := CAST(0 AS BIGINT), key := CAST(0 AS BIGINT),"
    " hidden := CAST(0 AS BIGINT), ds := CAST(0 AS INTEGER))",
    "CREATE OR REPLACE MACRO or_none(c) AS coalesce(c, no_cell())",
    # Not about cells, but every incident query needs it: is a row (ward w, district d) in the
    # area asked for? No area: the partnership's districts (all when none is set); 'all':
    # everything held, with or without a location; else the ward or district code.
    "CREATE OR REPLACE MACRO in_area(w, d, area, p) AS CASE WHEN area IS NULL THEN "
    "(p IS NULL OR list_contains(p, d)) WHEN area = 'all' THEN true ELSE (w = area OR d = area) END",
)


def install(con) -> None:
    for m in MACROS:
        con.execute(m)


def dataset_bits() -> dict[str, int]:
    """A bit for each protected dataset (stable within a process: the contracts' order)."""
    from .. import catalog

    names = [n for n, c in catalog.contracts().items() if c.protected]
    if len(names) > 30:
        raise ValueError("more than 30 protected datasets: widen the cell's dataset field")
    return {n: 1 << i for i, n in enumerate(names)}


def cell_sql(value: str, key: str, hidden: str, dataset: str) -> str:
    """The struct a CTE gives for one count (``dataset`` is a trusted contract name)."""
    return (f"struct_pack(value := CAST({value} AS BIGINT), key := CAST({key} AS BIGINT), "
            f"hidden := CAST({hidden} AS BIGINT), ds := CAST({dataset_bits()[dataset]} AS INTEGER))")


EMPTY_CELL_TYPE = "STRUCT(value BIGINT, key BIGINT, hidden BIGINT, ds INTEGER)"


class CellError(ValueError):
    """A query's count column is not a proper cell (a bug in the query, not the user's doing)."""


@dataclass(frozen=True)
class Rule:
    """How one dataset's counts are published for one user (from their grant)."""

    dataset: str
    method: str  # perturb | suppress | none
    threshold: int
    ptable: str | None = None


@dataclass
class Protected:
    values: pl.Series  # published figures (Int64), null where withheld
    withheld: np.ndarray  # bool: no figure shown ("low" under perturbation, "suppressed")
    partial: np.ndarray  # bool: "suppress" totals that leave out withheld base cells
    methods: np.ndarray  # per cell, the method applied (for labels and notes)


def _ptable(name: str):
    from .. import config
    from . import cellkey

    return cellkey.load_ptable(config.CONFIG_DIR / "ptables" / f"{name}.csv")


def noise_variance(rule: Rule | None, published) -> float:
    """The variance of the noise a count published under ``rule`` carries: 0 when exact
    (owner, suppression, no protection), else the ptable row's variance over its cell keys,
    read at the published value (the true one is not known to whoever reads the figure; rows
    past the smallest counts all carry about the table's target variance). Lets an interval or
    test say how far perturbation alone can move a rate."""
    from .cellkey import MAX_PCV, WRAP_FROM, WRAP_SPAN

    if rule is None or rule.method != "perturb" or not rule.ptable or published is None:
        return 0.0
    v = max(int(published), 1)
    pcv = v if v <= MAX_PCV else (v - 1) % WRAP_SPAN + WRAP_FROM
    row = _ptable(rule.ptable).pvalues[pcv].astype(float)  # one entry per cell key, equally likely
    return float(row.var())


def max_noise(rule: Rule | None) -> int:
    """The most perturbation can move one count published under ``rule`` (0 when exact): the
    ptable's largest absolute adjustment. Lets a page say something (which ward rose most) only
    where no perturbation could have changed it."""
    if rule is None or rule.method != "perturb" or not rule.ptable:
        return 0
    return _ptable(rule.ptable).max_dev


def small_count_reach(rule: Rule | None) -> int:
    """The smallest published value a true count under the threshold cannot have become (0 when
    exact). The ptable moves a small count up to the threshold or beyond (a true 1 can read 10
    under the t10 table), so a rate built on a published count below this may be mostly noise:
    rates leave such counts out rather than draw them."""
    if rule is None or rule.method != "perturb" or not rule.ptable or rule.threshold <= 1:
        return 0
    table = _ptable(rule.ptable).pvalues
    return int(max(v + int(table[v].max()) for v in range(1, rule.threshold))) + 1


def is_cell(series: pl.Series) -> bool:
    return isinstance(series.dtype, pl.Struct) and {f.name for f in series.dtype.fields} >= set(FIELDS)


def protect(series: pl.Series, rules: dict[str, Rule], default: str | None) -> Protected:
    """Publish one column of cells. ``rules``: the user's rule for each dataset the query reads;
    ``default``: the dataset of cells that came from no row (``no_cell()``), when one is known."""
    from . import cellkey  # numpy only; imported late so the query layer starts light

    if not is_cell(series):
        raise CellError(f"count column '{series.name}' must be built with total()/total_if()")
    parts = series.struct.unnest()
    n = series.len()
    value = parts["value"].fill_null(0).cast(pl.Int64).to_numpy()
    key = parts["key"].fill_null(0).cast(pl.Int64).to_numpy()
    hidden = parts["hidden"].fill_null(0).cast(pl.Int64).to_numpy()
    bits = dataset_bits()
    names = {b: name for name, b in bits.items()}
    ds = parts["ds"].fill_null(0).cast(pl.Int64).to_numpy()
    if (ds & (ds - 1)).any():
        raise CellError(f"count column '{series.name}' adds up cells of different datasets")
    if (ds == 0).any():
        if default is None:
            raise CellError(f"count column '{series.name}' has empty cells of no known dataset: "
                            "declare its dataset in the query header")
        ds = np.where(ds == 0, bits[default], ds)
    out = value.copy()
    withheld = np.zeros(n, dtype=bool)
    partial = np.zeros(n, dtype=bool)
    methods = np.empty(n, dtype=object)
    for bit in pl.Series(ds).unique().to_list():
        name = names[bit]
        rows = ds == bit
        rule = rules.get(name)
        if rule is None:
            raise CellError(f"count column '{series.name}' holds cells of {name}, which it does not read")
        methods[rows] = rule.method
        if rule.method == "perturb":
            published, low = cellkey.perturb(value[rows], key[rows], _ptable(rule.ptable), rule.threshold)
            out[rows] = published
            withheld[rows] = low
        elif rule.method == "suppress":
            # The CTE already withheld the base cells: a total of only withheld cells has no
            # figure; one that leaves some out says so.
            h = hidden[rows] > 0
            withheld[rows] = h & (value[rows] == 0)
            partial[rows] = h & (value[rows] > 0)
    values = pl.Series(series.name, out, dtype=pl.Int64).scatter(np.flatnonzero(withheld), None) \
        if withheld.any() else pl.Series(series.name, out, dtype=pl.Int64)
    return Protected(values, withheld, partial, methods)
