"""Helpers for handling hostile input: text from data, and file names from uploads.

Text that came from data (area names, categories, file names) is escaped where it becomes a
label, by one of two helpers: ``label`` for markup (the board pack's HTML, and Plotly's labels,
legends, hover text and titles, which render <a href>, <b> and <span style>), ``markdown`` for
Streamlit's Markdown (st.markdown, captions, messages, widget labels). Tables (st.dataframe) show
text as it is and need neither.

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

# Numeric entities for the quotes: HTML reads them in text and in attributes, and Plotly's text
# renderer decodes numeric entities but shows "&quot;" literally.
_MARKUP = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})
_MARKDOWN = set("\\`*_{}[]()#+-.!|<>~$:")


def label(text: object) -> str:
    """``text`` as literal characters in HTML or a Plotly figure: no tag, link or entity in it
    can take effect ('<a href=...>x</a>' shows as written)."""
    return str(text).translate(_MARKUP)


def markdown(text: object) -> str:
    """``text`` as literal characters in Streamlit Markdown: no link, image, HTML, emphasis,
    LaTeX ($) or colour directive (:red[...]) in it can take effect."""
    return "".join("\\" + ch if ch in _MARKDOWN else ch for ch in str(text))

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
