"""Turns numeric and categorical DataFrame columns into TabNet's input matrix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from lanistr_core import Batch, PRESENT, Preprocessor, is_null

from lanistr_plugin_tabular.detect import NUMERIC, column_kind, is_number, is_numeric_dtype

# Reserved category indices; fitted categories start at FIRST_CATEGORY.
MISSING_INDEX = 0
UNKNOWN_INDEX = 1
FIRST_CATEGORY = 2
STATE_VERSION = 1


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bad_cell(column: str, label: Any, expected: str, value: Any) -> ValueError:
    got = f"{type(value).__name__} {_short(value)}"
    return ValueError(f"column {column!r}, row {label!r}: expected {expected}, got {got}")


def numeric_values(series: pd.Series, column: str) -> np.ndarray:
    """The cells of ``series`` as float64 with NaN for nulls; bools become 0/1.

    Raises:
        ValueError: naming the column and row label of the first cell that is neither null nor a
            finite number.
    """
    if is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
    else:
        # object/string/category cells: check each one so the error can name the row.
        values = np.empty(len(series), dtype="float64")
        for i, (label, value) in enumerate(zip(series.index.tolist(), series.tolist(), strict=True)):
            if is_null(value):
                values[i] = np.nan
            elif is_number(value):
                values[i] = float(value)
            else:
                raise _bad_cell(column, label, "a number (int, float or bool)", value)
    infinite = np.isinf(values)
    if infinite.any():
        i = int(np.flatnonzero(infinite)[0])
        raise _bad_cell(column, series.index.tolist()[i], "a finite number", series.iloc[i])
    return values


def category_key(value: Any) -> str:
    """The key a category is stored under: its ``str``, so the map stays JSON-able."""
    return str(value)


def category_cells(series: pd.Series, column: str) -> list[str | None]:
    """Category keys of the cells of ``series``, None for nulls.

    Raises:
        ValueError: naming the column and row label of the first non-scalar cell (list, array, dict).
    """
    keys: list[str | None] = []
    for label, value in zip(series.index.tolist(), series.tolist(), strict=True):
        if is_null(value):
            keys.append(None)
        elif not pd.api.types.is_scalar(value):
            raise _bad_cell(column, label, "a scalar category value (str, int, bool, ...)", value)
        else:
            keys.append(category_key(value))
    return keys


class TabularPreprocessor(Preprocessor):
    """Numeric columns are standardised, categorical columns become category indices.

    Layout of ``batch["x"]`` (B, n_features): the numeric columns (in ``columns`` order), then one
    0/1 missing indicator per numeric column that had a null at fit, then the categorical columns
    as float indices (0 = null, 1 = unseen at fit, 2.. = fitted categories), which is the input
    pytorch-tabnet's ``EmbeddingGenerator`` expects. ``feature_names`` names each position.

    A null numeric cell is imputed with the fitted mean (0 after standardisation). A row whose
    cells are all null is absent (``present`` False, x all zeros).

    Args:
        columns: the DataFrame columns of this modality.
        missing_indicators: add the 0/1 missing-indicator features.
    """

    def __init__(self, *, columns: Sequence[str], missing_indicators: bool = True) -> None:
        columns = list(columns)
        if not columns:
            raise ValueError("the tabular modality needs at least one column")
        duplicated = sorted({c for c in columns if columns.count(c) > 1})
        if duplicated:
            raise ValueError(f"tabular columns listed twice: {duplicated}")
        self.columns = columns
        self.missing_indicators = missing_indicators

    # -- fitted layout ------------------------------------------------------------------

    @property
    def feature_names(self) -> list[str]:
        """Name of each position of ``batch["x"]``; indicators are called ``"<column>__missing"``."""
        self._require_fitted()
        indicators = [f"{c}__missing" for c in self.indicator_columns_]
        return [*self.numeric_columns_, *indicators, *self.categorical_columns_]

    @property
    def n_features(self) -> int:
        """Width of ``batch["x"]`` and of ``batch["feature_mask"]``."""
        return len(self.feature_names)

    @property
    def cat_idxs(self) -> list[int]:
        """Positions of the categorical columns in ``batch["x"]`` (pytorch-tabnet's ``cat_idxs``)."""
        first = len(self.numeric_columns_) + len(self.indicator_columns_)
        return list(range(first, first + len(self.categorical_columns_)))

    @property
    def cat_dims(self) -> list[int]:
        """Embedding rows per categorical column: fitted categories plus missing and unknown."""
        return [FIRST_CATEGORY + len(self.categories_[c]) for c in self.categorical_columns_]

    # -- fit / transform ---------------------------------------------------------------

    def fit(self, frame: pd.DataFrame) -> TabularPreprocessor:
        """Decide each column's kind from its dtype and learn means, stds and category maps."""
        frame = self._select(frame)
        self.numeric_columns_: list[str] = []
        self.means_: list[float] = []
        self.stds_: list[float] = []
        self.indicator_columns_: list[str] = []
        self.categorical_columns_: list[str] = []
        self.categories_: dict[str, list[str]] = {}
        for column in self.columns:
            series = frame[column]
            if column_kind(series, column) == NUMERIC:
                self._fit_numeric(series, column)
            else:
                self._fit_categorical(series, column)
        self._build_index()
        self.fitted_ = True
        return self

    def _fit_numeric(self, series: pd.Series, column: str) -> None:
        values = numeric_values(series, column)
        observed = values[~np.isnan(values)]
        mean = float(observed.mean()) if observed.size else 0.0
        std = float(observed.std()) if observed.size else 1.0
        self.numeric_columns_.append(column)
        self.means_.append(mean)
        # A constant column would divide by zero; leave it centred but unscaled.
        self.stds_.append(std if std > 0 else 1.0)
        if self.missing_indicators and observed.size < values.size:
            self.indicator_columns_.append(column)

    def _fit_categorical(self, series: pd.Series, column: str) -> None:
        if isinstance(series.dtype, pd.CategoricalDtype):
            # Keep the declared category order (unobserved categories included).
            keys = [category_key(c) for c in series.cat.categories.tolist()]
            keys = list(dict.fromkeys(keys))
        else:
            keys = sorted({k for k in category_cells(series, column) if k is not None})
        self.categorical_columns_.append(column)
        self.categories_[column] = keys

    def _build_index(self) -> None:
        self.category_index_ = {
            column: {key: FIRST_CATEGORY + i for i, key in enumerate(keys)} for column, keys in self.categories_.items()
        }

    def transform(self, frame: pd.DataFrame) -> Batch:
        """Batch of ``x``, ``feature_mask`` and ``present`` for the rows of ``frame``.

        ``x`` is (B, n_features) float32, ``feature_mask`` (B, n_features) float32 zeros (nothing
        obfuscated; the masked feature objective fills it), ``present`` (B,) bool.
        """
        self._require_fitted()
        frame = self._select(frame)
        blocks, nulls = [], []
        numeric_nulls = {}
        for column, mean, std in zip(self.numeric_columns_, self.means_, self.stds_, strict=True):
            values = numeric_values(frame[column], column)
            missing = np.isnan(values)
            numeric_nulls[column] = missing
            nulls.append(missing)
            # Imputing with the mean is 0 once standardised.
            blocks.append(np.where(missing, 0.0, (values - mean) / std))
        blocks.extend(numeric_nulls[column].astype("float64") for column in self.indicator_columns_)
        for column in self.categorical_columns_:
            index = self.category_index_[column]
            keys = category_cells(frame[column], column)
            nulls.append(np.array([k is None for k in keys], dtype=bool))
            codes = [MISSING_INDEX if k is None else index.get(k, UNKNOWN_INDEX) for k in keys]
            blocks.append(np.array(codes, dtype="float64"))
        x = np.stack(blocks, axis=1)  # n_features x (B,) -> (B, n_features)
        present = ~np.stack(nulls, axis=1).all(axis=1)  # (B,)
        # Absent rows hold neutral placeholders: every feature at its mean / the missing category.
        x[~present] = 0.0
        x_tensor = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return {
            "x": x_tensor,
            "feature_mask": torch.zeros_like(x_tensor),
            PRESENT: torch.from_numpy(present),
        }

    # -- state -------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Fitted state as plain JSON-able values (column kinds, means, stds, category lists)."""
        self._require_fitted()
        return {
            "version": STATE_VERSION,
            "columns": list(self.columns),
            "missing_indicators": self.missing_indicators,
            "numeric_columns": list(self.numeric_columns_),
            "means": list(self.means_),
            "stds": list(self.stds_),
            "indicator_columns": list(self.indicator_columns_),
            "categorical_columns": list(self.categorical_columns_),
            "categories": {c: list(keys) for c, keys in self.categories_.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output; the columns must match the ones this was built with."""
        if int(state.get("version", -1)) != STATE_VERSION:
            raise ValueError(f"unsupported tabular preprocessor state version {state.get('version')!r}")
        if list(state["columns"]) != list(self.columns):
            raise ValueError(f"tabular state was fitted on columns {list(state['columns'])}, not {list(self.columns)}")
        self.missing_indicators = bool(state["missing_indicators"])
        self.numeric_columns_ = list(state["numeric_columns"])
        self.means_ = [float(m) for m in state["means"]]
        self.stds_ = [float(s) for s in state["stds"]]
        self.indicator_columns_ = list(state["indicator_columns"])
        self.categorical_columns_ = list(state["categorical_columns"])
        self.categories_ = {c: [str(k) for k in keys] for c, keys in state["categories"].items()}
        self._build_index()
        self.fitted_ = True

    # -- helpers -------------------------------------------------------------------------

    def _select(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"tabular columns {missing} are missing from the frame (it has {list(frame.columns)})")
        return frame[self.columns]

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise RuntimeError("the tabular preprocessor is not fitted; call fit(frame) or load_state_dict(state)")
