"""LANISTR text modality: BERT encoder, WordPiece vocabulary, masked language modelling."""

from __future__ import annotations

__version__ = "0.1.0"

from typing import Any

from lanistr_plugin_text.config import PRESETS, TextConfig
from lanistr_plugin_text.detection import detect_text_column
from lanistr_plugin_text.plugin import SPEC

# Imported on first use (they pull in transformers / tokenizers; see plugin.py).
_LAZY = {
    "TextEncoder": "lanistr_plugin_text.encoder",
    "MaskedLanguageModeling": "lanistr_plugin_text.objective",
    "TextPreprocessor": "lanistr_plugin_text.preprocessor",
}


def __getattr__(name: str) -> Any:
    """Lazy access to the classes that need transformers."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lanistr_plugin_text' has no attribute {name!r}")

__all__ = [
    "PRESETS",
    "SPEC",
    "MaskedLanguageModeling",
    "TextConfig",
    "TextEncoder",
    "TextPreprocessor",
    "__version__",
    "detect_text_column",
]
