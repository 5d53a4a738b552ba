"""Parsing of DataFrame cells into numeric series, with errors that name the column and the row.

A value cell is a 1-D ``(T,)`` or 2-D ``(T, F)`` numeric array or (nested) list; NaN or None
entries mark unobserved values. A time cell is a 1-D non-decreasing numeric (or numpy
datetime64/timedelta64, read in seconds) array of one stamp per step.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from lanistr_core import is_null

_NUMERIC_KINDS = "biuf"
_SERIES_HINT = "a numeric 1-D (T,) or 2-D (T, F) series (array or list)"


def _where(column: str, row: Any) -> str:
    return f"column {column!r}, row {row!r}"


def _describe(cell: Any, arr: np.ndarray | None) -> str:
    if arr is None or arr.ndim == 0:
        return type(cell).__name__
    return f"an array of dtype {arr.dtype} and shape {arr.shape}"


def _is_number_or_null(item: Any) -> bool:
    return is_null(item) or (isinstance(item, numbers.Real) and not isinstance(item, bool))


def _as_float_array(cell: Any, column: str, row: Any, hint: str) -> np.ndarray:
    """Any array-like of numbers (None/NaN allowed) -> float64 array; anything else -> ValueError."""
    if isinstance(cell, (str, bytes, dict, set)):
        raise ValueError(f"{_where(column, row)}: expected {hint}, got {type(cell).__name__}")
    try:
        arr = np.asarray(cell)
    except ValueError as err:  # numpy refuses ragged nested lists
        raise ValueError(f"{_where(column, row)}: expected {hint}, got a ragged {type(cell).__name__}") from err
    if arr.dtype.kind == "O" and arr.ndim == 1 and len(arr) and all(isinstance(i, (np.ndarray, list, tuple)) for i in arr):
        # a 2-D series read back from Parquet/Arrow: an object array of equal-length rows
        try:
            arr = np.stack([np.asarray(i, dtype=object) for i in arr])
        except ValueError as err:
            raise ValueError(f"{_where(column, row)}: expected {hint}, got ragged rows") from err
    if arr.dtype.kind == "O" and all(_is_number_or_null(item) for item in arr.ravel()):
        arr = arr.astype(np.float64)  # lists holding None: None -> NaN (unobserved)
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise ValueError(f"{_where(column, row)}: expected {hint}, got {_describe(cell, arr)}")
    return arr.astype(np.float64, copy=False)


def parse_values(cell: Any, *, column: str, row: Any) -> np.ndarray | None:
    """Return a value cell as a float64 ``(T, F)`` array, or None when the cell is null or empty."""
    if is_null(cell):
        return None
    arr = _as_float_array(cell, column, row, _SERIES_HINT)
    if arr.ndim not in (1, 2):
        raise ValueError(f"{_where(column, row)}: expected {_SERIES_HINT}, got {_describe(cell, arr)}")
    if arr.shape[0] == 0:
        return None  # no time step at all: the series is absent, like a null cell
    if np.isinf(arr).any():
        raise ValueError(f"{_where(column, row)}: series holds an infinite value (use NaN for unobserved values)")
    return arr.reshape(arr.shape[0], -1)  # (T,) -> (T, 1); (T, F) unchanged


def parse_times(cell: Any, *, column: str, row: Any, length: int) -> np.ndarray:
    """Return a time cell as float64 ``(length,)`` stamps; null, wrong shape or decreasing -> ValueError."""
    hint = "a 1-D array of time stamps"
    if is_null(cell):
        raise ValueError(f"{_where(column, row)}: time stamps are missing for a present series")
    arr = np.asarray(cell) if isinstance(cell, np.ndarray) else None
    if arr is not None and arr.dtype.kind in "mM":
        # datetimes/durations -> float seconds (since the epoch for datetimes); NaT -> NaN
        origin = np.datetime64(0, "s") if arr.dtype.kind == "M" else np.timedelta64(0, "s")
        arr = np.where(np.isnat(arr), np.nan, (arr - origin) / np.timedelta64(1, "s"))
    arr = _as_float_array(cell if arr is None else arr, column, row, hint)
    if arr.ndim != 1:
        raise ValueError(f"{_where(column, row)}: expected {hint}, got {_describe(cell, arr)}")
    if arr.shape[0] != length:
        raise ValueError(f"{_where(column, row)}: {arr.shape[0]} time stamps for a series of {length} steps")
    if not np.isfinite(arr).all():
        raise ValueError(f"{_where(column, row)}: time stamps must all be finite (no NaN/inf)")
    if (np.diff(arr) < 0).any():
        raise ValueError(f"{_where(column, row)}: time stamps must be non-decreasing")
    return arr


def stack_features(
    parts: Sequence[np.ndarray | None], *, columns: Sequence[str], widths: Sequence[int], row: Any
) -> np.ndarray | None:
    """Concatenate one row's per-column ``(T, F_c)`` arrays into ``(T, sum F_c)``.

    A null column becomes an all-NaN (unobserved) block; lengths must agree across the
    columns; widths must match those fitted. Returns None when the row has no observed value.
    """
    for part, column, width in zip(parts, columns, widths):
        if part is not None and part.shape[1] != width:
            raise ValueError(
                f"{_where(column, row)}: expected {width} feature(s) per step (as fitted), got {part.shape[1]}"
            )
    lengths = {column: part.shape[0] for part, column in zip(parts, columns) if part is not None}
    if not lengths:
        return None
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"row {row!r}: series lengths differ across columns {lengths}; every column needs one value per step"
        )
    (length,) = set(lengths.values())
    blocks = [part if part is not None else np.full((length, width), np.nan) for part, width in zip(parts, widths)]
    values = np.concatenate(blocks, axis=1)  # (T, F)
    return values if np.isfinite(values).any() else None  # all-NaN: nothing observed, row absent
