"""LANISTR audio modality: Audio Spectrogram Transformer encoder with masked spectrogram-patch modelling.

Heavy names (preprocessor, encoder, objective) load on first access, so that
listing plugins does not import transformers, soundfile or soxr.
"""

from __future__ import annotations

import importlib
from typing import Any

from lanistr_plugin_audio.config import PRESETS, AudioConfig
from lanistr_plugin_audio.plugin import AUDIO_EXTENSIONS, MIN_AUDIO_SAMPLES, SPEC, detect_audio_column

__version__ = "0.1.0"

_LAZY = {
    "AudioPreprocessor": "lanistr_plugin_audio.preprocessor",
    "UnreadableAudioWarning": "lanistr_plugin_audio.preprocessor",
    "AudioEncoder": "lanistr_plugin_audio.encoder",
    "MaskedSpectrogramObjective": "lanistr_plugin_audio.objective",
}

__all__ = [
    "AUDIO_EXTENSIONS", "MIN_AUDIO_SAMPLES", "PRESETS", "SPEC", "AudioConfig", "detect_audio_column",
    "__version__", *_LAZY,
]


def __getattr__(name: str) -> Any:
    """Import the module of a heavy public name on first use (PEP 562)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
