"""Helpers for preprocessors that read cells which can fail (files, decoders): public plugin API.

The rule every built-in plugin follows: an unreadable cell makes the modality absent for that row,
and each ``transform`` raises ONE warning that counts the failures and names columns and rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

MAX_LISTED_ROWS = 10  # rows named per column in the warning


def warn_unreadable(
    *, modality: str, noun: str, failures: Mapping[str, list[Any]], first_reason: str, category: type[Warning],
    stacklevel: int = 3,
) -> None:
    """One warning for a ``transform``: ``failures`` maps column -> row labels whose cell could not be
    read; ``noun`` is the singular of what failed (``"image"``: pluralised with an ``s``).

    ``stacklevel`` as ``warnings.warn`` counts it from inside this function (3: the caller of the
    plugin function that calls this one).
    """
    total = sum(len(rows) for rows in failures.values())
    where = "; ".join(
        f"column {column!r}, rows {rows[:MAX_LISTED_ROWS]}"
        + (f" and {len(rows) - MAX_LISTED_ROWS} more" if len(rows) > MAX_LISTED_ROWS else "")
        for column, rows in failures.items()
    )
    warnings.warn(
        f"{modality}: {total} unreadable {noun if total == 1 else noun + 's'} treated as missing ({where}); "
        f"first error: {first_reason}. Set on_error='raise' to stop instead.",
        category,
        stacklevel=stacklevel,
    )
