"""Helpers for handling hostile input: file names from uploads.

An uploaded file's name comes from the user's browser and may be anything: ``../../app.db``,
``/etc/passwd``, ``C:\\x``, NUL bytes, control characters, Unicode look-alikes of ``/``, or a
name that is only dots. ``safe_upload_path`` reduces it to a plain file name and guarantees the
result is inside the data directory's upload area, or refuses it.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from . import config

MAX_NAME = 120
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


class UnsafeName(ValueError):
    """The file name cannot be used; the message is safe to show."""


def clean_filename(name: str) -> str:
    """A plain, harmless file name made from ``name``: the last path component only, NFKC
    normalised (so full-width '／' becomes '/' before we split), letters, digits, '.', '-', '_'
    and spaces kept, everything else replaced by '_'. Raises UnsafeName if nothing usable is left."""
    text = unicodedata.normalize("NFKC", str(name or ""))
    text = text.replace("\x00", "")
    base = re.split(r"[\\/]", text)[-1]  # both separators, whatever the server OS
    base = re.sub(r"[^\w.\- ]", "_", base, flags=re.ASCII).strip(" .")
    base = re.sub(r"_{2,}", "_", base)
    if not base or set(base) <= {".", "_"}:
        raise UnsafeName("That file name cannot be used; please rename the file.")
    if base.split(".")[0].lower() in _RESERVED:
        base = "_" + base
    if len(base) > MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        ext = ext[:10] if dot else ""
        base = (stem if dot else base)[: MAX_NAME - len(ext) - 1] + (f".{ext}" if ext else "")
    return base


def safe_upload_path(name: str, base: Path | None = None) -> Path:
    """Where an uploaded file called ``name`` may be stored: always directly inside ``base``
    (default: <data dir>/uploads), never anywhere else."""
    root = (base or (config.data_dir() / "uploads")).resolve()
    path = (root / clean_filename(name)).resolve()
    if path.parent != root:  # belt and braces: cannot happen after clean_filename
        raise UnsafeName("That file name cannot be used; please rename the file.")
    return path
