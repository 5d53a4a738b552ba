"""Which pandas columns the tabular modality claims, and how it reads each one."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd
from lanistr_core import is_image_value, is_low_cardinality, is_series_value, non_null

NUMERIC = "numeric"
CATEGORICAL = "categorical"


def is_number(value: Any) -> bool:
    """True for Python/NumPy ints, floats and bools (bools count as 0/1)."""
    return isinstance(value, (numbers.Real, np.bool_))


def is_numeric_dtype(dtype: Any) -> bool:
    """int, float and bool dtypes (NumPy or pandas nullable); not complex, datetime or timedelta."""
    return pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)
    )


def is_text_like_dtype(dtype: Any) -> bool:
    """Object or pandas string dtype: the cells can be anything and must be inspected."""
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


def is_tabular_column(series: pd.Series) -> bool:
    """Detection rule of the tabular modality (``ModalitySpec.detect``).

    Claimed: numeric, bool and category dtypes; object/string columns whose non-null cells are all
    numbers or bools; string columns of low cardinality (``lanistr_core.detection.is_low_cardinality``).
    Never claimed: columns holding arrays/lists (time series) or images (paths, PIL images, arrays),
    free text (high-cardinality strings), datetimes and empty columns.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype) or is_numeric_dtype(dtype):
        return True
    if not is_text_like_dtype(dtype):
        return False
    values = non_null(series)
    if not values or any(is_series_value(v) or is_image_value(v) for v in values):
        return False
    if all(is_number(v) for v in values):
        return True
    return all(isinstance(v, str) for v in values) and is_low_cardinality(series)


def column_kind(series: pd.Series, column: str) -> str:
    """``NUMERIC`` or ``CATEGORICAL`` for a column at fit time, decided from its dtype.

    Object/string columns are numeric only when every non-null cell is a number or bool (e.g. an
    object column of bools with None); otherwise categorical.

    Raises:
        ValueError: for dtypes the modality cannot encode (datetime, complex, ...).
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return CATEGORICAL
    if is_numeric_dtype(dtype):
        return NUMERIC
    if not is_text_like_dtype(dtype):
        raise ValueError(
            f"column {column!r} has dtype {dtype}, which the tabular modality cannot encode; "
            "convert it to numbers, bools, strings or a pandas category"
        )
    values = non_null(series, limit=len(series))
    if values and all(is_number(v) for v in values):
        return NUMERIC
    return CATEGORICAL
