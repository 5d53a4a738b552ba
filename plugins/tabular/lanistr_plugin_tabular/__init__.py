"""LANISTR tabular modality: numeric and categorical columns through a TabNet encoder.

Registered through the ``lanistr`` entry point ``tabular`` (see :mod:`lanistr_plugin_tabular.plugin`).
"""

from __future__ import annotations

__version__ = "0.1.0"

from lanistr_plugin_tabular.config import PRESETS, TabularConfig
from lanistr_plugin_tabular.detect import is_tabular_column
from lanistr_plugin_tabular.encoder import TabularEncoder
from lanistr_plugin_tabular.objective import MaskedFeatureModelling
from lanistr_plugin_tabular.plugin import SPEC
from lanistr_plugin_tabular.preprocessor import MISSING_INDEX, UNKNOWN_INDEX, TabularPreprocessor

__all__ = [
    "MISSING_INDEX",
    "PRESETS",
    "SPEC",
    "UNKNOWN_INDEX",
    "MaskedFeatureModelling",
    "TabularConfig",
    "TabularEncoder",
    "TabularPreprocessor",
    "__version__",
    "is_tabular_column",
]
