"""LANISTR image modality: ViT (or any timm model) encoder with SimMIM masked image modelling.

Heavy names (preprocessor, encoder, objective) load on first access, so that
listing plugins does not import torchvision and transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

from lanistr_plugin_image.config import PRESETS, ImageConfig
from lanistr_plugin_image.plugin import SPEC, detect_image_column

__version__ = "0.1.0"

_LAZY = {
    "ImagePreprocessor": "lanistr_plugin_image.preprocessor",
    "UnreadableImageWarning": "lanistr_plugin_image.preprocessor",
    "ImageEncoder": "lanistr_plugin_image.encoder",
    "TimmImageEncoder": "lanistr_plugin_image.timm_encoder",
    "SimMIMObjective": "lanistr_plugin_image.objective",
}

__all__ = ["PRESETS", "SPEC", "ImageConfig", "detect_image_column", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    """Import the module of a heavy public name on first use (PEP 562)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
