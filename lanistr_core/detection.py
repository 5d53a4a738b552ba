"""Helpers plugins use to tell null cells apart and to detect which columns belong to them.

Rules (documented in README): a column is claimed by every requested modality
whose ``detect`` returns True; a column claimed by two modalities is an error
that asks the user to assign columns explicitly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def is_null(value: Any) -> bool:
    """True for None, NaN, pd.NA and NaT; False for arrays, lists, strings and everything else."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, np.floating):
        return bool(np.isnan(value))
    return False


def non_null(series: pd.Series, limit: int = 500) -> list[Any]:
    """Up to ``limit`` non-null values of ``series`` (a sample for detection)."""
    return [v for v in series.head(limit * 4).tolist() if not is_null(v)][:limit]


def is_image_path(value: Any) -> bool:
    """A string ending in a known image extension."""
    return isinstance(value, str) and value.lower().endswith(IMAGE_EXTENSIONS)


def is_image_value(value: Any) -> bool:
    """A PIL image, an image path, or an H x W x C uint8 array."""
    if is_image_path(value):
        return True
    if isinstance(value, np.ndarray):
        return value.ndim == 3 and value.dtype == np.uint8
    return type(value).__module__.startswith("PIL.")


def is_series_value(value: Any) -> bool:
    """A 1-D or 2-D numeric array or list (a time series cell)."""
    if isinstance(value, (list, tuple)):
        value = np.asarray(value, dtype=object)
        try:
            value = value.astype(float)
        except (TypeError, ValueError):
            return False
    if not isinstance(value, np.ndarray) or value.ndim not in (1, 2) or value.size == 0:
        return False
    return value.dtype.kind in "biuf"  # numbers only: arrays of strings or objects are not series


def is_string_column(series: pd.Series) -> bool:
    """Non-null values are all ``str`` (object or pandas string dtype)."""
    values = non_null(series)
    return bool(values) and all(isinstance(v, str) for v in values)


def is_low_cardinality(series: pd.Series, max_categories: int = 100) -> bool:
    """At most ``max_categories`` distinct values and at most half the rows distinct."""
    values = series.dropna()
    n_unique = values.nunique()
    return n_unique <= max_categories and n_unique <= max(2, len(values) // 2)
