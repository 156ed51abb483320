"""What both backends share: rows readable by name and position, and the connection wrapper."""
from __future__ import annotations

from typing import Any, Iterable, Sequence


class StateError(RuntimeError):
    """The app state database cannot be used; the message says why (never a password)."""


class Row:
    """One result row: ``row["name"]``, ``row[0]``, ``dict(row)``."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: Sequence[Any]):
        self._index, self._values = index, values

    def __getitem__(self, key):
        if isinstance(key, (int, slice)):
            return self._values[key]
        return self._values[self._index[key]]

    def keys(self):
        return self._index.keys()

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Row({dict(self)!r})"


class Result:
    def __init__(self, rows: list[Row], rowcount: int):
        self._rows, self.rowcount = rows, rowcount

    def fetchone(self) -> Row | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Row]:
        return list(self._rows)

    def __iter__(self):
        return iter(self._rows)


class Conn:
    """A transaction on one backend. SQL uses ``?`` placeholders on both."""

    dialect = ""

    def execute(self, sql: str, params: Iterable[Any] = ()) -> Result:  # pragma: no cover - abstract
        raise NotImplementedError

    def contains(self, column: str) -> str:
        """SQL that is true when ``column`` contains the bound text, case-insensitively, with
        no wildcard characters in the text (a search for "100%" means that text)."""
        fn = "strpos" if self.dialect == "postgresql" else "instr"
        return f"{fn}(lower({column}), lower(?)) > 0"
