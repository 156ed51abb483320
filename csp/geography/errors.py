"""The one error the geography importers raise: its message is safe to show and says what to do."""
from __future__ import annotations


class GeographyError(ValueError):
    """The input cannot be imported. The message names the file and the problem."""
