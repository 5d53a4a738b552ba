"""Registers the tabular modality with LANISTR (entry point ``lanistr: tabular``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lanistr_core
from lanistr_core import ModalitySpec

from lanistr_plugin_tabular.config import PRESETS, TabularConfig
from lanistr_plugin_tabular.example import example_cells
from lanistr_plugin_tabular.detect import is_tabular_column
from lanistr_plugin_tabular.encoder import build_encoder
from lanistr_plugin_tabular.objective import build_objective
from lanistr_plugin_tabular.preprocessor import TabularPreprocessor


def build_preprocessor(config: TabularConfig, columns: Sequence[str]) -> TabularPreprocessor:
    """``ModalitySpec.build_preprocessor``: an unfitted preprocessor over ``columns``."""
    return TabularPreprocessor(columns=columns, missing_indicators=config.missing_indicators)


SPEC = ModalitySpec(
    name="tabular",
    config_cls=TabularConfig,
    presets=PRESETS,
    detect=is_tabular_column,
    build_preprocessor=build_preprocessor,
    build_encoder=build_encoder,
    build_objective=build_objective,
    # Official LANISTR lambda_mfm.
    loss_weight=0.01,
    description="numeric + categorical columns: TabNet encoder (one token per decision step), masked feature modelling",
    example=example_cells,
)


@lanistr_core.hookimpl
def lanistr_register_modalities(registrar: Any) -> None:
    """Register the tabular :class:`ModalitySpec` with the core's registrar (called once at discovery)."""
    registrar.add_modality(SPEC)
