"""Building or loading the Hugging Face ViT behind the image encoder (transformers is imported lazily:
the registry imports every plugin just to list it)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lanistr_plugin_image.config import ImageConfig

if TYPE_CHECKING:
    from transformers import ViTConfig, ViTModel


def _check_pretrained_dir(path: str) -> None:
    if not (Path(path) / "config.json").is_file():
        raise FileNotFoundError(
            f"pretrained_path {path!r} is not a local ViT checkpoint directory (no config.json); "
            "save one with ViTModel.save_pretrained(path) - weights are never downloaded"
        )


def vit_config(config: ImageConfig) -> ViTConfig:
    """The ViT architecture: read from ``pretrained_path`` when set, else built from the config fields."""
    from transformers import ViTConfig

    if config.pretrained_path is not None:
        _check_pretrained_dir(config.pretrained_path)
        return ViTConfig.from_pretrained(config.pretrained_path, local_files_only=True)
    return ViTConfig(
        image_size=config.image_size,
        patch_size=config.patch_size,
        num_channels=3,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        intermediate_size=config.intermediate_size,
        hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=config.dropout,
        encoder_stride=config.patch_size,  # SimMIM decoder upsamples by one patch
    )


def resolve_patch_size(config: ImageConfig) -> int:
    """Patch side the encoder will use (the checkpoint's when loading pretrained weights)."""
    patch_size = vit_config(config).patch_size if config.pretrained_path is not None else config.patch_size
    if config.image_size % patch_size:
        raise ValueError(
            f"image_size {config.image_size} is not a multiple of the checkpoint's patch_size {patch_size}; "
            f"choose image_size = k * {patch_size}"
        )
    return patch_size


def build_vit(config: ImageConfig) -> ViTModel:
    """A ViT with a learned mask token and no pooler (the pooler would get no gradient)."""
    from transformers import ViTModel

    if config.pretrained_path is not None:
        _check_pretrained_dir(config.pretrained_path)
        return ViTModel.from_pretrained(
            config.pretrained_path, local_files_only=True, add_pooling_layer=False, use_mask_token=True
        )
    return ViTModel(vit_config(config), add_pooling_layer=False, use_mask_token=True)
