"""Turns series columns of a DataFrame into padded ``(B, T, F)`` batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd
import torch

from lanistr_core import PRESENT, Batch, Preprocessor
from lanistr_plugin_timeseries.cells import parse_times, parse_values, stack_features
from lanistr_plugin_timeseries.config import TimeseriesConfig


@attrs.frozen(kw_only=True)
class _Series:
    """One present row: ``values`` (T, F) float64 with NaN = unobserved, ``times`` (T,) float64."""

    values: np.ndarray
    times: np.ndarray


class TimeseriesPreprocessor(Preprocessor):
    """Parses, truncates, normalises and pads series.

    ``columns`` lists every column the data loader must hand over: the value columns (each
    contributing its fitted number of features, stacked in order) followed by
    ``config.time_column`` when one is set (it is appended if the caller did not list it).

    Fitted state: ``widths_`` (features per value column), ``mean_``/``std_`` (per feature, over
    the observed values of the training rows) and ``time_scale_`` (median positive step between
    time stamps, so that one typical step is one unit for the time encoding).
    """

    def __init__(self, *, config: TimeseriesConfig, columns: Sequence[str]) -> None:
        """Keep the config and split ``columns`` into value columns and the optional time column."""
        self.config = config
        time_column = config.time_column
        self.value_columns = [c for c in columns if c != time_column]
        if not self.value_columns:
            raise ValueError(
                f"the timeseries modality needs at least one value column besides the time column, got {list(columns)}"
            )
        self.columns = self.value_columns + ([time_column] if time_column is not None else [])

    # -- parsing -------------------------------------------------------------------

    def _check_columns(self, frame: pd.DataFrame) -> None:
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"timeseries column(s) {missing} missing from the data (columns: {list(frame.columns)})")

    def _row(self, row: Any, cells: Sequence[Any], time_cell: Any, widths: Sequence[int]) -> _Series | None:
        parts = [parse_values(cell, column=col, row=row) for cell, col in zip(cells, self.value_columns)]
        values = stack_features(parts, columns=self.value_columns, widths=widths, row=row)
        if values is None:
            return None
        length = values.shape[0]
        if self.config.time_column is None:
            times = np.arange(length, dtype=np.float64)
        else:
            times = parse_times(time_cell, column=self.config.time_column, row=row, length=length)
        keep = self.config.max_length  # keep the most recent steps: the end of a stay is what predicts its outcome
        values, times = values[-keep:], times[-keep:]
        if not np.isfinite(values).any():
            return None  # everything observed was cut off: nothing left to encode, the row is absent
        return _Series(values=values, times=times)

    def _parse(self, frame: pd.DataFrame, widths: Sequence[int]) -> list[_Series | None]:
        self._check_columns(frame)
        columns = [frame[c].tolist() for c in self.value_columns]
        times = frame[self.config.time_column].tolist() if self.config.time_column else [None] * len(frame)
        return [self._row(row, [col[i] for col in columns], times[i], widths) for i, row in enumerate(frame.index)]

    def _infer_widths(self, frame: pd.DataFrame) -> list[int]:
        widths = []
        for column in self.value_columns:
            parsed = (parse_values(cell, column=column, row=row) for row, cell in frame[column].items())
            first = next((arr for arr in parsed if arr is not None), None)
            if first is None:
                raise ValueError(
                    f"column {column!r} holds no series in the training data; cannot infer its number of features"
                )
            widths.append(first.shape[1])  # fixed from here on: other widths are an error
        return widths

    # -- fitting -------------------------------------------------------------------

    def fit(self, frame: pd.DataFrame) -> TimeseriesPreprocessor:
        """Fix the features per column and learn per-feature mean/std and the time scale."""
        self._check_columns(frame)
        widths = self._infer_widths(frame)
        rows = [r for r in self._parse(frame, widths) if r is not None]
        if not rows:
            raise ValueError(f"no row of the training data holds an observed value in {self.value_columns}")
        values = np.concatenate([r.values for r in rows], axis=0)  # (sum T, F)
        observed = np.isfinite(values)
        count = observed.sum(axis=0)
        mean = np.where(count > 0, np.nansum(values, axis=0) / np.maximum(count, 1), 0.0)
        var = np.where(count > 0, np.nansum((values - mean) ** 2, axis=0) / np.maximum(count, 1), 1.0)
        std = np.sqrt(var)
        steps = np.concatenate([np.diff(r.times) for r in rows])
        steps = steps[steps > 0]
        self.widths_ = widths
        self.mean_ = torch.from_numpy(mean)
        self.std_ = torch.from_numpy(np.where(std > 1e-12, std, 1.0))  # constant features: leave unscaled
        self.time_scale_ = float(np.median(steps)) if steps.size else 1.0
        self.fitted_ = True
        return self

    @property
    def n_features(self) -> int:
        """Features per time step (sum of the fitted column widths)."""
        self._require_fitted()
        return int(sum(self.widths_))

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise RuntimeError("TimeseriesPreprocessor is not fitted; call fit(frame) or load_state_dict(state) first")

    # -- transform -----------------------------------------------------------------

    def transform(self, frame: pd.DataFrame) -> Batch:
        """Padded batch: ``values``/``observed`` (B, T, F), ``valid``/``times`` (B, T), ``present`` (B,).

        T is the longest kept series of the batch (at least 1). Values are normalised and 0 where
        unobserved or padded; ``times`` are stamps relative to the row's first kept step, in units
        of the fitted median step (0, 1, 2, ... without a time column).
        """
        self._require_fitted()
        rows = self._parse(frame, self.widths_)
        n_rows, n_features = len(rows), self.n_features
        length = max([r.values.shape[0] for r in rows if r is not None], default=1)
        values = np.zeros((n_rows, length, n_features), dtype=np.float64)
        observed = np.zeros((n_rows, length, n_features), dtype=bool)
        valid = np.zeros((n_rows, length), dtype=bool)
        times = np.zeros((n_rows, length), dtype=np.float64)
        mean, std = self.mean_.numpy(), self.std_.numpy()
        for i, row in enumerate(rows):
            if row is None:
                continue
            t = row.values.shape[0]
            seen = np.isfinite(row.values)  # (t, F)
            values[i, :t] = np.where(seen, (row.values - mean) / std, 0.0)
            observed[i, :t], valid[i, :t] = seen, True
            times[i, :t] = (row.times - row.times[0]) / self.time_scale_
        return {
            "values": torch.from_numpy(values).float(),
            "observed": torch.from_numpy(observed),
            "valid": torch.from_numpy(valid),
            "times": torch.from_numpy(times).float(),
            PRESENT: torch.tensor([r is not None for r in rows], dtype=torch.bool),
        }

    # -- persistence ---------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Fitted state: column layout and time scale as JSON, mean/std as float64 tensors."""
        self._require_fitted()
        return {
            "value_columns": list(self.value_columns),
            "time_column": self.config.time_column,
            "widths": list(self.widths_),
            "time_scale": self.time_scale_,
            "mean": self.mean_,
            "std": self.std_,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`; the column layout must match this preprocessor's."""
        layout = (list(state["value_columns"]), state["time_column"])
        if layout != (self.value_columns, self.config.time_column):
            raise ValueError(
                f"saved timeseries state is for value columns {layout[0]} with time column {layout[1]!r}, "
                f"not {self.value_columns} with {self.config.time_column!r}"
            )
        self.widths_ = [int(w) for w in state["widths"]]
        self.time_scale_ = float(state["time_scale"])
        self.mean_ = torch.as_tensor(state["mean"], dtype=torch.float64)
        self.std_ = torch.as_tensor(state["std"], dtype=torch.float64)
        self.fitted_ = True
