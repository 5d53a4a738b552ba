"""LANISTR: multimodal learning from structured and unstructured data.

The public API is this module's ``__all__`` plus ``lanistr_core.testing``: the built-in plugins
import nothing else from the core (``tests/test_public_api.py`` checks it), and neither should yours.
Everything else under ``lanistr_core`` is internal and may change without notice.
"""

from __future__ import annotations

__version__ = "0.1.0"

from lanistr_core.attention import BACKENDS, attend
from lanistr_core.cells import warn_unreadable
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
from lanistr_core.detection import (
    is_image_path,
    is_image_value,
    is_low_cardinality,
    is_null,
    is_series_value,
    is_string_column,
    non_null,
)
from lanistr_core.hookspecs import hookimpl
from lanistr_core.registry import (
    PluginInfo,
    Registrar,
    Registry,
    RegistryError,
    create_fusion,
    get_modality,
    get_registry,
    list_fusions,
    list_modalities,
    list_plugins,
)
from lanistr_core.serialization import load_tensors, save_tensors
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
    "PluginInfo",
    "Preprocessor",
    "Registrar",
    "Registry",
    "RegistryError",
    "__version__",
    "attend",
    "create_fusion",
    "divides",
    "get_modality",
    "get_registry",
    "hookimpl",
    "is_image_path",
    "is_image_value",
    "is_low_cardinality",
    "is_null",
    "is_series_value",
    "is_string_column",
    "list_fusions",
    "list_modalities",
    "list_plugins",
    "load_tensors",
    "non_null",
    "save_tensors",
    "warn_unreadable",
]

from lanistr_core.compilation import CompileFallbackWarning  # noqa: E402
from lanistr_core.engine import TimeLimitWarning  # noqa: E402
from lanistr_core.facade import Lanistr  # noqa: E402  (after the registry it builds on)
from lanistr_core.report import ModalityReport  # noqa: E402
from lanistr_core.validation import SmallDataWarning  # noqa: E402

__all__ += ["CompileFallbackWarning", "Lanistr", "ModalityReport", "SmallDataWarning", "TimeLimitWarning"]
