"""Contract checks that the core's tests and every plugin's tests run.

Plugins call these from their own ``tests/`` with the tiny preset and a small
generated DataFrame, so that every modality honours the same contracts.
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

__all__ = [
    "ModalityParts",
    "build_modality",
    "check_encoder_contract",
    "check_fusion_contract",
    "check_missing_rows",
    "check_objective_contract",
    "check_objective_learns",
    "check_state_roundtrip",
]
