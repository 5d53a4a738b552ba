"""Hyper-parameters of the image modality and its size presets."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from lanistr_core import divides

# torchvision's ImageNet statistics: the usual choice for ViTs trained from scratch.
# Google's pretrained ViT checkpoints expect 0.5/0.5 instead: set mean/std to match a checkpoint.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
ON_ERROR_CHOICES = ("missing", "raise")
VIT_BACKBONE = "vit"
TIMM_PREFIX = "timm:"
# A bare timm architecture name, optionally with a ".tag". No ":" on purpose: timm reads
# "hf-hub:..." as a Hugging Face Hub address and would download, which this plugin never does.
_TIMM_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
# create_model arguments the plugin sets itself: a user value would break "never download"
# (pretrained, checkpoint and cfg sources), the token layout (num_classes) or the geometry (img_size).
RESERVED_TIMM_KWARGS = (
    "pretrained", "num_classes", "img_size", "checkpoint_path", "pretrained_cfg", "pretrained_cfg_overlay",
)


def _float_triple(value: Iterable[Any]) -> tuple[float, float, float]:
    """Accept any 3-item sequence (JSON gives lists back) and store a tuple of floats."""
    items = tuple(float(v) for v in value)
    if len(items) != 3:
        raise ValueError(f"expected 3 values (one per RGB channel), got {len(items)}: {items}")
    return items  # type: ignore[return-value]


def _float_pair(value: Iterable[Any]) -> tuple[float, float]:
    """Accept any 2-item sequence and store a tuple of floats."""
    items = tuple(float(v) for v in value)
    if len(items) != 2:
        raise ValueError(f"expected 2 values, got {len(items)}: {items}")
    return items  # type: ignore[return-value]


def _positive_std(instance: Any, attribute: attrs.Attribute, value: tuple[float, ...]) -> None:
    if any(v <= 0 for v in value):
        raise ValueError(f"{attribute.name} must be positive per channel, got {value}")


def _crop_scale_range(instance: Any, attribute: attrs.Attribute, value: tuple[float, float]) -> None:
    low, high = value
    if not 0.0 < low <= high <= 1.0:
        raise ValueError(f"{attribute.name} must satisfy 0 < low <= high <= 1, got {value}")


def _check_backbone(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    """``"vit"`` or ``"timm:<bare timm name>"``; the HF checkpoint field is for the HF ViT only."""
    if value == VIT_BACKBONE:
        return
    name = value.removeprefix(TIMM_PREFIX)
    if not value.startswith(TIMM_PREFIX) or not _TIMM_NAME.match(name):
        raise ValueError(
            f"backbone must be 'vit' or 'timm:<model_name>' with a timm architecture name "
            f"(e.g. 'timm:resnet18'; hub prefixes such as hf-hub: are refused, nothing is downloaded), got {value!r}"
        )
    if instance.pretrained_path is not None:
        raise ValueError("pretrained_path is a Hugging Face ViT checkpoint: with a timm backbone use timm_weights")


def _needs_timm(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """``timm_weights`` / ``timm_kwargs`` mean nothing to the HF ViT: refuse them rather than ignore them."""
    if value and instance.timm_model is None:
        raise ValueError(f"{attribute.name} needs backbone='timm:<model_name>', got backbone={instance.backbone!r}")


def _plain_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    """Store a plain dict (the config is saved as JSON, which gives dicts back)."""
    return dict(value)


def _check_timm_kwargs(instance: Any, attribute: attrs.Attribute, value: dict[str, Any]) -> None:
    """Only with a timm backbone, none of the arguments the plugin sets, and JSON-able."""
    _needs_timm(instance, attribute, value)
    reserved = sorted(set(value) & set(RESERVED_TIMM_KWARGS))
    if reserved:
        raise ValueError(
            f"timm_kwargs may not set {reserved}: the plugin sets pretrained=False, num_classes=0 and "
            "img_size=image_size itself; load local weights with timm_weights"
        )
    try:
        json.dumps(value)
    except TypeError as err:
        raise ValueError(f"timm_kwargs must be JSON-able (the config is saved as JSON): {err}") from None


@attrs.frozen(kw_only=True)
class ImageConfig:
    """Configuration of the image modality (preprocessing, ViT encoder, SimMIM objective).

    Attributes:
        image_size: side of the square the images are resized (or cropped) to.
        patch_size: ViT patch side; must divide ``image_size``. Ignored for the
            architecture when ``pretrained_path`` is set (the checkpoint's value is used).
        hidden_size, num_layers, num_heads, intermediate_size, dropout: ViT shape;
            ignored when ``pretrained_path`` is set.
        mean, std: per-channel normalisation applied after scaling pixels to [0, 1].
        augment: random resized crop + horizontal flip, applied only while the
            preprocessor is in training mode (``preprocessor.train()``).
        crop_scale: area range of the random resized crop (SimMIM uses 0.67-1).
        mask_ratio: fraction of patches the MIM objective masks in each present image.
        on_error: ``"missing"`` treats unreadable images as absent (one warning per
            batch), ``"raise"`` raises ``ValueError`` naming the column and row.
        root_dir: folder that relative image paths are resolved against (default: cwd).
        pretrained_path: local directory of a Hugging Face ViT checkpoint
            (``save_pretrained`` output); loaded with ``local_files_only``. Only with ``backbone="vit"``.
        backbone: ``"vit"`` (default) is the Hugging Face ``ViTModel`` built from the fields
            above. ``"timm:<model_name>"`` is any timm architecture (``timm.list_models()``),
            built with ``pretrained=False`` (never a download), ``num_classes=0`` and
            ``img_size=image_size`` where the model takes it. The model name and
            ``timm_kwargs`` define its shape: ``patch_size``, ``hidden_size``, ``num_layers``,
            ``num_heads``, ``intermediate_size`` and ``dropout`` are then ignored.
            ViT-family models (with ``patch_embed`` and ``blocks``) give their
            ``forward_features`` tokens (prefix + patch tokens) and train with SimMIM as the
            HF ViT does: a learned mask token replaces the embeddings of masked patches.
            Any other model (CNNs) gives its last feature map, one token per cell, and trains
            with SimMIM on blanked pixels: the masked patches (the cells of the feature grid,
            ``image_size / stride`` per side) are set to 0 after normalisation before the CNN,
            and the same 1x1 conv + pixel shuffle decoder reconstructs them from the feature
            map (L1 on the masked pixels of present images).
        timm_weights: local safetensors file loaded into the timm model (strict, except that
            the keys of a classifier head are ignored); marks the encoder pretrained.
        timm_kwargs: extra JSON-able ``timm.create_model`` arguments, e.g.
            ``{"embed_dim": 64, "depth": 2, "num_heads": 2, "patch_size": 8}`` for a small ViT.
    """

    image_size: int = attrs.field(default=32, validator=attrs.validators.ge(8))
    # A ViT cuts the image into a regular grid: a remainder would be silently dropped.
    patch_size: int = attrs.field(default=8, validator=[attrs.validators.gt(0), divides("image_size")])
    hidden_size: int = attrs.field(default=32, validator=attrs.validators.gt(0))
    num_layers: int = attrs.field(default=2, validator=attrs.validators.gt(0))
    num_heads: int = attrs.field(default=2, validator=[attrs.validators.gt(0), divides("hidden_size")])
    intermediate_size: int = attrs.field(default=64, validator=attrs.validators.gt(0))
    dropout: float = attrs.field(default=0.0, validator=[attrs.validators.ge(0.0), attrs.validators.lt(1.0)])
    mean: tuple[float, float, float] = attrs.field(default=IMAGENET_MEAN, converter=_float_triple)
    std: tuple[float, float, float] = attrs.field(default=IMAGENET_STD, converter=_float_triple, validator=_positive_std)
    augment: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    crop_scale: tuple[float, float] = attrs.field(default=(0.67, 1.0), converter=_float_pair, validator=_crop_scale_range)
    mask_ratio: float = attrs.field(default=0.5, validator=[attrs.validators.gt(0.0), attrs.validators.lt(1.0)])
    on_error: str = attrs.field(default="missing", validator=attrs.validators.in_(ON_ERROR_CHOICES))
    root_dir: str | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str)))
    pretrained_path: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )
    backbone: str = attrs.field(default=VIT_BACKBONE, validator=[attrs.validators.instance_of(str), _check_backbone])
    timm_weights: str | None = attrs.field(
        default=None, validator=attrs.validators.optional([attrs.validators.instance_of(str), _needs_timm])
    )
    # Left out of the hash (a dict has none) so that the config stays hashable; it still counts for ==.
    timm_kwargs: dict[str, Any] = attrs.field(
        factory=dict, converter=_plain_dict, validator=_check_timm_kwargs, hash=False
    )

    @property
    def timm_model(self) -> str | None:
        """The timm architecture name of a ``"timm:<name>"`` backbone, else None (the HF ViT)."""
        return self.backbone.removeprefix(TIMM_PREFIX) if self.backbone.startswith(TIMM_PREFIX) else None


PRESETS: dict[str, dict[str, Any]] = {
    # Tests: 16 patches of 8x8, a 2-layer ViT of width 32 (runs in milliseconds on CPU).
    "tiny": dict(image_size=32, patch_size=8, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64),
    # 2-core CPU demo: 16 patches of 16x16 (17 tokens per image keeps fusion cheap), 4 layers of width 128.
    "small": dict(image_size=64, patch_size=16, hidden_size=128, num_layers=4, num_heads=4, intermediate_size=256),
    # The paper's encoder: ViT-B/16 at 224x224.
    "base": dict(image_size=224, patch_size=16, hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072),
}
