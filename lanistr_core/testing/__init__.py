"""What a plugin's tests need: contract checks, the one-call suite, registries for tests.

Plugins call these from their own ``tests/`` with the tiny preset and a small generated DataFrame,
so that every modality honours the same contracts. The pytest fixtures ``lanistr_isolated_registry``
and ``lanistr_plugins_missing`` and the ``lanistr_threads`` ini option come from
``lanistr_core.testing.pytest_plugin``, which pytest loads automatically once ``lanistr`` is installed.
"""

from lanistr_core.testing.contracts import (
    ModalityParts,
    build_modality,
    check_encoder_contract,
    check_fusion_contract,
    check_missing_rows,
    check_objective_contract,
    check_objective_learns,
    check_state_roundtrip,
)
from lanistr_core.testing.data import make_multimodal_frame
from lanistr_core.testing.registries import isolated_registry, plugins_missing
from lanistr_core.testing.suite import check_modality, example_frame

__all__ = [
    "ModalityParts",
    "build_modality",
    "check_encoder_contract",
    "check_fusion_contract",
    "check_missing_rows",
    "check_objective_contract",
    "check_objective_learns",
    "check_modality",
    "check_state_roundtrip",
    "example_frame",
    "isolated_registry",
    "make_multimodal_frame",
    "plugins_missing",
]
