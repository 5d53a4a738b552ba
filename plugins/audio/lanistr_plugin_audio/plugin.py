"""Registers the ``audio`` modality with LANISTR (entry point ``lanistr.audio``).

The registry imports every plugin to list it, so this module imports only the config;
transformers, soundfile and soxr load when a preprocessor or encoder is built.

Column detection rule: a column is audio when (nearly) all of its sampled non-null cells are
either paths (str or pathlib) ending in an audio suffix soundfile decodes (``AUDIO_EXTENSIONS``),
or 1-D float arrays / lists of floats with at least ``MIN_AUDIO_SAMPLES`` samples. 2-D arrays,
integer arrays and shorter 1-D series are never audio: those are time-series cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lanistr_core import ModalitySpec, hookimpl, non_null
from lanistr_plugin_audio.config import PRESETS, AudioConfig
from lanistr_plugin_audio.example import example_cells

if TYPE_CHECKING:
    from lanistr_core import Registrar
    from lanistr_plugin_audio.encoder import AudioEncoder
    from lanistr_plugin_audio.objective import MaskedSpectrogramObjective
    from lanistr_plugin_audio.preprocessor import AudioPreprocessor

# Formats the libsndfile bundled with soundfile >= 0.12 decodes (MP3 needs libsndfile >= 1.1).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")
# Half a second at 8 kHz: far longer than time-series cells, shorter than any useful clip.
MIN_AUDIO_SAMPLES = 4000
# "Nearly all": a few stray non-audio cells (e.g. "n/a") should not hide an audio column.
DETECT_MIN_FRACTION = 0.95
DETECT_SAMPLE = 100  # cells looked at: long arrays are costly to inspect


def _looks_like_audio(value: Any) -> bool:
    if isinstance(value, (str, PurePath)):
        return str(value).lower().endswith(AUDIO_EXTENSIONS)
    if isinstance(value, list):
        if len(value) < MIN_AUDIO_SAMPLES or not all(isinstance(v, float) for v in value):
            return False
        value = np.asarray(value)
    return isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind == "f" and value.size >= MIN_AUDIO_SAMPLES


def detect_audio_column(series: pd.Series) -> bool:
    """True when (nearly) all sampled non-null cells are audio paths or long 1-D float arrays (see module docstring)."""
    values = non_null(series, limit=DETECT_SAMPLE)
    if not values:
        return False
    return sum(_looks_like_audio(v) for v in values) >= DETECT_MIN_FRACTION * len(values)


def build_preprocessor(config: AudioConfig, columns: Sequence[str]) -> AudioPreprocessor:
    """An (unfitted) audio preprocessor over ``columns``, one clip slot per column."""
    from lanistr_plugin_audio.preprocessor import AudioPreprocessor

    return AudioPreprocessor(config=config, columns=columns)


def build_encoder(config: AudioConfig, preprocessor: AudioPreprocessor) -> AudioEncoder:
    """An AST encoder sized by the preset, or loaded from ``config.pretrained_path``."""
    from lanistr_plugin_audio.encoder import AudioEncoder

    return AudioEncoder(config=config, preprocessor=preprocessor)


def build_objective(
    config: AudioConfig, encoder: AudioEncoder, preprocessor: AudioPreprocessor
) -> MaskedSpectrogramObjective:
    """The masked spectrogram-patch objective on the encoder's patch grid."""
    from lanistr_plugin_audio.objective import MaskedSpectrogramObjective

    return MaskedSpectrogramObjective(
        dim=encoder.dim, geometry=encoder.geometry, n_clips=encoder.n_clips, mask_ratio=config.mask_ratio,
        loss=config.loss, n_prefix_tokens=encoder.n_prefix_tokens,
    )


SPEC = ModalitySpec(
    name="audio",
    config_cls=AudioConfig,
    presets=PRESETS,
    detect=detect_audio_column,
    build_preprocessor=build_preprocessor,
    build_encoder=build_encoder,
    build_objective=build_objective,
    loss_weight=1.0,
    description="audio (WAV/FLAC/OGG/MP3 paths, 1-D float arrays): AST encoder, masked spectrogram-patch modelling",
    example=example_cells,
)


@hookimpl
def lanistr_register_modalities(registrar: Registrar) -> None:
    """Register the audio modality spec."""
    registrar.add_modality(SPEC)
