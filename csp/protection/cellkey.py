"""Cell-key perturbation of count cells, by the rules of the ONS ``cell-key-perturbation`` package.

Every record carries a record key (an integer 0..255). For an output cell the query layer gives
its true count ``v`` and the sum ``s`` of its records' keys; then, exactly as the ONS package's
``create_perturbed_table``:

- cell key ``ckey = s mod (largest ckey in the table + 1)``;
- ``pcv = v`` if ``v <= 750``, else ``((v - 1) mod 250) + 501`` (rows 501..750 are reused);
- ``pvalue`` is the table's entry for (pcv, ckey), 0 where the table has none (``v = 0``);
- published = ``v + pvalue``; a published value below the threshold is withheld.

The same (v, s) always gives the same published value, so repeating or recombining queries gains
nothing. The table is ONS-layout CSV (``pcv,ckey,pvalue``) with an optional JSON sidecar of the
same name written by ``csp.protection.ptable`` (its parameters and the CSV's sha256).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MAX_PCV = 750        # the ONS rule for cells above 750 assumes rows 1..750 (see module doc)
WRAP_FROM = 501      # first row reused for cells above MAX_PCV
WRAP_SPAN = 250
MAX_FILE_BYTES = 32 * 1024 * 1024  # a 750 x 4096-key table is ~25 MB; anything larger is not a ptable


class PTableError(ValueError):
    """A perturbation table (or its sidecar) that cannot be used, with the reason."""


@dataclass(frozen=True, eq=False)
class PTable:
    """A perturbation table as a dense lookup: ``pvalues[pcv, ckey]``; row 0 is all zeros."""

    path: str
    pvalues: np.ndarray        # int16, shape (MAX_PCV + 1, modulus), read-only
    modulus: int               # number of cell keys: largest ckey + 1
    meta: dict | None          # the sidecar (parameters, per-row figures), None if absent

    @property
    def max_dev(self) -> int:
        return int(np.abs(self.pvalues).max())

    @property
    def never_published(self) -> int:
        """js: the largest k such that no cell value is ever published as 1..k."""
        pcv = np.arange(MAX_PCV + 1)[:, None]
        published = (pcv + self.pvalues)[1:]
        positive = published[published > 0]
        return int(positive.min()) - 1 if positive.size else 0


def sidecar_path(csv_path: str | os.PathLike) -> Path:
    return Path(csv_path).with_suffix(".json")


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_ptable_csv(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Parse and validate an ONS-layout table; return the dense ``pvalues`` array and modulus."""
    import pandas as pd

    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as e:
        raise PTableError(f"perturbation table {p}: cannot read it ({e.strerror})") from None
    if size > MAX_FILE_BYTES:
        raise PTableError(f"perturbation table {p}: {size:,} bytes is too large for a perturbation table")
    try:
        df = pd.read_csv(p)
    except (ValueError, OSError, UnicodeDecodeError) as e:
        raise PTableError(f"perturbation table {p}: not a readable CSV ({e})") from None
    missing = {"pcv", "ckey", "pvalue"} - set(df.columns)
    if missing:
        raise PTableError(f"perturbation table {p}: missing column(s) {', '.join(sorted(missing))}"
                          " (expected pcv,ckey,pvalue)")
    if len(df) == 0:
        raise PTableError(f"perturbation table {p}: no rows")
    for name in ("pcv", "ckey", "pvalue"):
        if df[name].dtype.kind not in "iu":  # say which line, from the text as written
            text = pd.read_csv(p, dtype=str, keep_default_na=False)[name]
            num = pd.to_numeric(text.str.strip(), errors="coerce")
            bad = np.flatnonzero((num.isna() | (num != num.round())).to_numpy())
            line = f"line {bad[0] + 2}: {name} {text.iloc[bad[0]]!r}" if len(bad) else name
            raise PTableError(f"perturbation table {p}: {line} is not an integer")
    pcv, ckey, pvalue = (df[c].to_numpy(dtype=np.int64) for c in ("pcv", "ckey", "pvalue"))
    if pcv.min() < 1 or pcv.max() != MAX_PCV:
        raise PTableError(f"perturbation table {p}: pcv must run from 1 to {MAX_PCV} "
                          f"(found {pcv.min()}..{pcv.max()})")
    if ckey.min() != 0 or ckey.max() > 65535:
        raise PTableError(f"perturbation table {p}: ckey must run from 0 (found {ckey.min()}..{ckey.max()})")
    modulus = int(ckey.max()) + 1
    if len(pcv) != MAX_PCV * modulus:
        raise PTableError(f"perturbation table {p}: {len(pcv):,} rows, expected one per pcv 1..{MAX_PCV} "
                          f"and ckey 0..{modulus - 1} ({MAX_PCV * modulus:,})")
    if np.abs(pvalue).max() > 1000:
        raise PTableError(f"perturbation table {p}: a pvalue of {np.abs(pvalue).max()} is not noise")
    seen = np.zeros((MAX_PCV + 1, modulus), dtype=bool)
    seen[pcv, ckey] = True
    if not seen[1:].all():  # right row count but some pair missing means some pair repeats
        pcv_bad, key_bad = np.argwhere(~seen[1:])[0]
        raise PTableError(f"perturbation table {p}: no row for pcv {pcv_bad + 1}, ckey {key_bad} "
                          "(some (pcv, ckey) appears twice)")
    dense = np.zeros((MAX_PCV + 1, modulus), dtype=np.int16)
    dense[pcv, ckey] = pvalue
    neg = (np.arange(MAX_PCV + 1)[:, None] + dense) < 0
    if neg.any():
        a, b = np.argwhere(neg)[0]
        raise PTableError(f"perturbation table {p}: pcv {a}, ckey {b} would publish a negative count "
                          f"({a} + {dense[a, b]})")
    dense.setflags(write=False)
    return dense, modulus


def read_sidecar(csv_path: str | os.PathLike) -> dict | None:
    side = sidecar_path(csv_path)
    if not side.exists():
        return None
    try:
        if side.stat().st_size > 4 * 1024 * 1024:
            raise PTableError(f"sidecar {side}: too large")
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PTableError(f"sidecar {side}: not readable JSON ({e})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("params"), dict):
        raise PTableError(f"sidecar {side}: no 'params' object")
    digest = sha256_file(csv_path)
    if meta.get("csv_sha256") != digest:
        raise PTableError(f"sidecar {side} does not describe {Path(csv_path).name} (sha256 differs): "
                          "the table was edited or replaced; regenerate it with `python -m csp ptable`")
    return meta


@lru_cache(maxsize=16)
def _load(path: str, stamp: tuple) -> PTable:
    dense, modulus = read_ptable_csv(path)
    return PTable(path=path, pvalues=dense, modulus=modulus, meta=read_sidecar(path))


def load_ptable(path: str | os.PathLike) -> PTable:
    """Read and validate a table (cached; re-read when the CSV or its sidecar changes)."""
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError as e:
        raise PTableError(f"perturbation table {path}: cannot read it ({e.strerror})") from None
    side = sidecar_path(p)
    side_stamp = (side.stat().st_mtime_ns, side.stat().st_size) if side.exists() else None
    return _load(str(p), (st.st_mtime_ns, st.st_size, side_stamp))


def _as_int(arr, what: str) -> np.ndarray:
    """Integers as int64, missing (None, NaN, pandas NA) as 0; anything else is refused."""
    a = np.asarray(arr)
    if a.dtype.kind in "iu":
        return a.astype(np.int64, copy=False)
    if a.dtype.kind == "b":
        raise ValueError(f"{what}: booleans are not counts")
    if a.dtype.kind == "f":
        nan = np.isnan(a)
        filled = np.where(nan, 0.0, a) if nan.any() else a
    elif a.dtype.kind == "O":
        import pandas as pd

        try:
            filled = np.where(pd.isna(a), 0, a).astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{what}: not numbers") from None
    else:
        raise ValueError(f"{what}: not numbers (dtype {a.dtype})")
    if filled.size and np.abs(filled).max() >= 2**53:  # also catches inf
        raise ValueError(f"{what}: too large")
    ints = filled.astype(np.int64)
    if (ints != filled).any():
        raise ValueError(f"{what}: not whole numbers")
    return ints


def perturb(values, key_sums, ptable: PTable, threshold: int) -> tuple[np.ndarray, np.ndarray]:
    """Published values and the withheld mask for count cells.

    ``values``: true counts; ``key_sums``: the sum of each cell's record keys (any integer; only
    its residue matters). A missing count is a cell of 0 (key 0); a missing key sum is 0, as in
    the ONS package (pandas sums no keys to 0). ``published`` is ``v + pvalue`` for every cell;
    ``withheld`` marks cells the caller must not show (published < threshold), as the ONS package
    returns NA for them.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)) or threshold < 0:
        raise ValueError(f"threshold must be a whole number >= 0, got {threshold!r}")
    v = _as_int(values, "cell values")
    s = _as_int(key_sums, "key sums")
    if v.shape != s.shape:
        raise ValueError(f"cell values {v.shape} and key sums {s.shape} differ in shape")
    if v.size and v.min() < 0:
        raise ValueError("cell values: a count cannot be negative")
    ckey = np.remainder(s, ptable.modulus)
    pcv = np.where(v <= MAX_PCV, v, np.remainder(v - 1, WRAP_SPAN) + WRAP_FROM)
    published = v + ptable.pvalues[pcv, ckey]
    return published, published < threshold
