"""LANISTR text modality: BERT encoder, WordPiece vocabulary, masked language modelling."""

from __future__ import annotations

__version__ = "0.1.0"

from lanistr_plugin_text.config import PRESETS, TextConfig
from lanistr_plugin_text.detection import detect_text_column
from lanistr_plugin_text.encoder import TextEncoder
from lanistr_plugin_text.objective import MaskedLanguageModeling
from lanistr_plugin_text.plugin import SPEC
from lanistr_plugin_text.preprocessor import TextPreprocessor

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
