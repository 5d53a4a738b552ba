"""Registers the ``timeseries`` modality with LANISTR (entry point ``lanistr: timeseries``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

import lanistr_core
from lanistr_core import ModalitySpec, is_series_value, non_null
from lanistr_plugin_timeseries.config import PRESETS, TimeseriesConfig
from lanistr_plugin_timeseries.example import example_cells
from lanistr_plugin_timeseries.encoder import TimeseriesEncoder
from lanistr_plugin_timeseries.objective import MaskedTimestepObjective
from lanistr_plugin_timeseries.preprocessor import TimeseriesPreprocessor

if TYPE_CHECKING:
    from lanistr_core import Registrar

LOSS_WEIGHT = 0.1  # official LANISTR lambda_mtm


def detect(series: pd.Series) -> bool:
    """True for an object column whose sampled non-null cells are all 1-D/2-D numeric arrays or lists."""
    if series.dtype != object:
        return False
    values = non_null(series, limit=100)
    # is_series_value alone also accepts arrays of strings; require a numeric (or list) payload.
    return bool(values) and all(
        is_series_value(v) and (not isinstance(v, np.ndarray) or v.dtype.kind in "biuf") for v in values
    )


def build_preprocessor(config: TimeseriesConfig, columns: Sequence[str]) -> TimeseriesPreprocessor:
    """Unfitted preprocessor for ``columns`` (``config.time_column`` is added when not listed)."""
    return TimeseriesPreprocessor(config=config, columns=columns)


def build_encoder(config: TimeseriesConfig, preprocessor: TimeseriesPreprocessor) -> TimeseriesEncoder:
    """Encoder sized to the fitted preprocessor's features per step."""
    return TimeseriesEncoder(config=config, n_features=preprocessor.n_features)


def build_objective(
    config: TimeseriesConfig, encoder: TimeseriesEncoder, preprocessor: TimeseriesPreprocessor
) -> MaskedTimestepObjective:
    """Masked time-step modelling head on top of ``encoder``."""
    return MaskedTimestepObjective(config=config, dim=encoder.dim, n_features=preprocessor.n_features)


SPEC = ModalitySpec(
    name="timeseries",
    config_cls=TimeseriesConfig,
    presets=PRESETS,
    detect=detect,
    build_preprocessor=build_preprocessor,
    build_encoder=build_encoder,
    build_objective=build_objective,
    loss_weight=LOSS_WEIGHT,
    description="multivariate, irregular, NaN-holed series: time-aware Transformer + masked time-step modelling",
    example=example_cells,
)


@lanistr_core.hookimpl
def lanistr_register_modalities(registrar: Registrar) -> None:
    """Register the ``timeseries`` modality spec."""
    registrar.add_modality(SPEC)
