"""LANISTR: multimodal learning from structured and unstructured data.

Public API (plugins import only from here and from ``lanistr_core.testing``).
"""

from __future__ import annotations

__version__ = "0.1.0"

from lanistr_core.attention import BACKENDS, attend
from lanistr_core.contracts import (
    PRESENT,
    Batch,
    EncodedTokens,
    Encoder,
    Fusion,
    FusionOutput,
    MaskingObjective,
    MissingModalitiesError,
    ModalitySpec,
    Preprocessor,
)
from lanistr_core.hookspecs import hookimpl
from lanistr_core.registry import (
    Registrar,
    RegistryError,
    create_fusion,
    get_modality,
    get_registry,
    list_fusions,
    list_modalities,
)
from lanistr_core.validators import divides

__all__ = [
    "BACKENDS",
    "PRESENT",
    "Batch",
    "EncodedTokens",
    "Encoder",
    "Fusion",
    "FusionOutput",
    "MaskingObjective",
    "MissingModalitiesError",
    "ModalitySpec",
    "Preprocessor",
    "Registrar",
    "RegistryError",
    "__version__",
    "attend",
    "create_fusion",
    "divides",
    "get_modality",
    "get_registry",
    "hookimpl",
    "list_fusions",
    "list_modalities",
]

from lanistr_core.engine import TimeLimitWarning  # noqa: E402
from lanistr_core.facade import Lanistr  # noqa: E402  (after the registry it builds on)
from lanistr_core.validation import SmallDataWarning  # noqa: E402

__all__ += ["Lanistr", "SmallDataWarning", "TimeLimitWarning"]
