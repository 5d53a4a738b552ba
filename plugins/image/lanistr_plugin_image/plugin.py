"""Registers the ``image`` modality with LANISTR (entry point ``lanistr.image``).

The registry imports every plugin to list it, so this module imports only the
config; torchvision and transformers load when a preprocessor or encoder is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import pandas as pd

from lanistr_core import ModalitySpec, hookimpl, is_image_value, non_null
from lanistr_plugin_image.config import PRESETS, ImageConfig
from lanistr_plugin_image.example import example_cells

if TYPE_CHECKING:
    from lanistr_core import Registrar
    from lanistr_plugin_image.encoder import ImageEncoder
    from lanistr_plugin_image.objective import SimMIMObjective
    from lanistr_plugin_image.preprocessor import ImagePreprocessor
    from lanistr_plugin_image.timm_encoder import TimmImageEncoder

# "Nearly all": a few stray non-image cells (e.g. "n/a") should not hide an image column.
DETECT_MIN_FRACTION = 0.95


def _looks_like_image(value: Any) -> bool:
    # pathlib paths are not str, but are as much an image path as their string form.
    return is_image_value(str(value) if isinstance(value, PurePath) else value)


def detect_image_column(series: pd.Series) -> bool:
    """True when (nearly) all sampled non-null cells are image paths, PIL images or HxWxC uint8 arrays."""
    values = non_null(series)
    if not values:
        return False
    return sum(_looks_like_image(v) for v in values) >= DETECT_MIN_FRACTION * len(values)


def build_preprocessor(config: ImageConfig, columns: Sequence[str]) -> ImagePreprocessor:
    """An (unfitted) image preprocessor over ``columns``, one image slot per column."""
    from lanistr_plugin_image.preprocessor import ImagePreprocessor

    return ImagePreprocessor(config=config, columns=columns)


def build_encoder(config: ImageConfig, preprocessor: ImagePreprocessor) -> ImageEncoder | TimmImageEncoder:
    """A ViT encoder from the preset or ``config.pretrained_path``, or the timm model of ``backbone="timm:<name>"``."""
    if config.timm_model is not None:
        from lanistr_plugin_image.timm_encoder import TimmImageEncoder

        return TimmImageEncoder(config=config, preprocessor=preprocessor)
    from lanistr_plugin_image.encoder import ImageEncoder

    return ImageEncoder(config=config, preprocessor=preprocessor)


def build_objective(
    config: ImageConfig, encoder: ImageEncoder | TimmImageEncoder, preprocessor: ImagePreprocessor
) -> SimMIMObjective:
    """The SimMIM objective sized to the encoder (width, patch, prefix tokens) and the preprocessor's geometry."""
    from lanistr_plugin_image.objective import SimMIMObjective

    return SimMIMObjective(
        dim=encoder.dim,
        patch_size=encoder.patch_size,
        image_size=preprocessor.image_size_,
        n_images=len(preprocessor.columns),
        mask_ratio=config.mask_ratio,
        n_prefix_tokens=encoder.n_prefix_tokens,
    )


SPEC = ModalitySpec(
    name="image",
    config_cls=ImageConfig,
    presets=PRESETS,
    detect=detect_image_column,
    build_preprocessor=build_preprocessor,
    build_encoder=build_encoder,
    build_objective=build_objective,
    loss_weight=1.0,  # lambda_mim = 1 in the official LANISTR code
    description="images (paths, PIL, uint8 arrays): ViT or timm encoder, SimMIM masked image modelling",
    example=example_cells,
)


@hookimpl
def lanistr_register_modalities(registrar: Registrar) -> None:
    """Register the image modality spec."""
    registrar.add_modality(SPEC)
