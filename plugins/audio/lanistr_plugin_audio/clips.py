"""Turning one DataFrame cell (audio file path or 1-D float array) into a mono waveform at the target rate."""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import soxr

EXPECTED = "expected an audio file path (str or Path) or a 1-D float array/list of samples"


class WrongAudioTypeError(TypeError):
    """A non-null cell that is not audio at all (a user error, never treated as missing)."""


class UnreadableAudioError(Exception):
    """A cell of the right kind that gives no samples (missing, corrupt or empty file, empty array)."""


def describe(value: Any) -> str:
    """Short type description for error messages (arrays also show dtype and shape)."""
    if isinstance(value, np.ndarray):
        return f"ndarray of dtype {value.dtype} and shape {value.shape}"
    return type(value).__name__


def _read_file(path: Path) -> tuple[np.ndarray, int]:
    """Decode with soundfile and mix every channel down to mono."""
    try:
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)  # (n, channels)
    except (soundfile.LibsndfileError, RuntimeError, OSError, ValueError) as err:
        raise UnreadableAudioError(f"{path}: {type(err).__name__}: {err}") from err
    return data.mean(axis=1), int(rate)  # (n,)


def _as_samples(value: Any) -> np.ndarray:
    """A 1-D array or list of real numbers -> float32 samples; anything else -> WrongAudioTypeError."""
    if isinstance(value, (list, tuple)):
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value):
            raise WrongAudioTypeError(f"{EXPECTED}, got a {type(value).__name__} holding non-numbers")
        value = np.asarray(value, dtype=np.float64)
    if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype.kind not in "iuf":
        raise WrongAudioTypeError(f"{EXPECTED}, got {describe(value)}")
    if not np.isfinite(value).all():
        raise WrongAudioTypeError(f"{EXPECTED}, got samples that are NaN or infinite")
    return value.astype(np.float32)


def load_clip(value: Any, *, sample_rate: int, array_sample_rate: int | None = None, root_dir: str | None = None) -> np.ndarray:
    """Decode a non-null cell into a mono float32 waveform at ``sample_rate`` (soxr resampling).

    Raises:
        WrongAudioTypeError: the cell is neither a path nor a 1-D numeric array/list.
        UnreadableAudioError: the file cannot be decoded, or the cell holds no samples.
    """
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if root_dir is not None and not path.is_absolute():
            path = Path(root_dir) / path
        samples, rate = _read_file(path)
        source = str(path)
    else:
        samples, rate = _as_samples(value), array_sample_rate or sample_rate
        source = "array"
    if samples.size == 0:
        raise UnreadableAudioError(f"{source}: no samples")
    if rate != sample_rate:
        samples = soxr.resample(samples, rate, sample_rate)
    return np.asarray(samples, dtype=np.float32)
