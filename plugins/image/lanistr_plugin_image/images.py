"""Turning one DataFrame cell (path, PIL image or uint8 array) into an RGB ``PIL.Image``."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

# What PIL raises for missing, truncated or garbage files. Decoders are plugins with their own
# habits (PNG raises SyntaxError for broken chunks, some raise struct.error or zlib.error), so
# the list is wider than OSError; anything else is a bug and propagates.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
)
EXPECTED = "expected an image path, PIL.Image or HxWxC uint8 array (C = 1, 3 or 4)"


class WrongImageTypeError(TypeError):
    """A non-null cell that is not an image at all (a user error, never treated as missing)."""


class UnreadableImageError(Exception):
    """A cell of the right kind whose pixels cannot be decoded (missing file, corrupt bytes)."""


def describe(value: Any) -> str:
    """Short type description for error messages (arrays also show dtype and shape)."""
    if isinstance(value, np.ndarray):
        return f"ndarray of dtype {value.dtype} and shape {value.shape}"
    return type(value).__name__


def _array_is_image(array: np.ndarray) -> bool:
    if array.dtype != np.uint8 or array.size == 0:
        return False
    return array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 3, 4))


def _open_path(path: Path) -> Image.Image:
    # exif_transpose: phone photos store their rotation in EXIF; without it they arrive sideways.
    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def load_rgb(value: Any, *, root_dir: str | None = None) -> Image.Image:
    """Decode a non-null cell into an RGB image.

    Raises:
        WrongImageTypeError: the cell is not a path, PIL image or uint8 image array.
        UnreadableImageError: the cell is of the right kind but cannot be decoded.
    """
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if root_dir is not None and not path.is_absolute():
            path = Path(root_dir) / path
        try:
            return _open_path(path)
        except DECODE_ERRORS as err:
            raise UnreadableImageError(f"{type(err).__name__}: {err}") from err
    if isinstance(value, Image.Image):
        try:
            return value.convert("RGB")  # lazily opened images decode here
        except DECODE_ERRORS as err:
            raise UnreadableImageError(f"{type(err).__name__}: {err}") from err
    if isinstance(value, np.ndarray) and _array_is_image(value):
        # (H, W, 1) -> (H, W): PIL has no single-channel 3-D mode.
        array = value[:, :, 0] if value.ndim == 3 and value.shape[2] == 1 else value
        return Image.fromarray(np.ascontiguousarray(array)).convert("RGB")
    raise WrongImageTypeError(f"{EXPECTED}, got {describe(value)}")
