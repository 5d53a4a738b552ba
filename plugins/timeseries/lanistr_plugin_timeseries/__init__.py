"""LANISTR time-series modality: time-aware Transformer encoder and masked time-step modelling."""

from __future__ import annotations

__version__ = "0.1.0"

from lanistr_plugin_timeseries.config import PRESETS, TimeseriesConfig
from lanistr_plugin_timeseries.encoder import TimeEncoding, TimeseriesEncoder
from lanistr_plugin_timeseries.masking import geometric_span_mask
from lanistr_plugin_timeseries.objective import MaskedTimestepObjective
from lanistr_plugin_timeseries.plugin import SPEC, detect
from lanistr_plugin_timeseries.preprocessor import TimeseriesPreprocessor

__all__ = [
    "PRESETS",
    "SPEC",
    "MaskedTimestepObjective",
    "TimeEncoding",
    "TimeseriesConfig",
    "TimeseriesEncoder",
    "TimeseriesPreprocessor",
    "__version__",
    "detect",
    "geometric_span_mask",
]
