"""Building a timm model by name, measuring its token geometry and loading local weights.

timm is imported lazily (the registry imports every plugin just to list it). Nothing is ever
downloaded: models are built with ``pretrained=False`` and weights come only from a local
safetensors file (``ImageConfig.timm_weights``).

timm internals relied upon: ``forward_features``; for the ViT family ``patch_embed`` (with
``patch_size``), ``blocks`` and ``num_prefix_tokens``; ``output_fmt`` (NHWC feature maps),
``feature_info`` (reduction) and ``pretrained_cfg["classifier"]`` where a model has them.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from lanistr_plugin_image.config import ImageConfig

VIT_FAMILY = "vit_family"  # tokens (B, prefix + P, D) from forward_features
FEATURE_MAP = "feature_map"  # a CNN-like (B, C, h, w) (or NHWC) last feature map
MAX_LISTED_KEYS = 5  # keys named per list in a weights mismatch error


@attrs.frozen
class TimmGeometry:
    """How a timm model turns an ``image_size`` square into tokens.

    Attributes:
        kind: ``VIT_FAMILY`` or ``FEATURE_MAP``.
        dim: token width.
        patch_size: pixels per token grid cell (the ViT patch, or the CNN's reduction).
        n_prefix_tokens: tokens before the patch tokens (CLS, registers); 0 for feature maps.
        channels_last: the feature map comes as (B, h, w, C) (timm ``output_fmt == "NHWC"``).
    """

    kind: str
    dim: int
    patch_size: int
    n_prefix_tokens: int
    channels_last: bool = False


def _unknown_model_error(name: str) -> ValueError:
    """The error for a name timm does not know, with close names and how to list them."""
    import timm

    close = difflib.get_close_matches(name, timm.list_models(), n=5, cutoff=0.6)
    hint = f" Close names: {close}." if close else ""
    return ValueError(
        f"unknown timm model {name!r} (timm {timm.__version__}).{hint} "
        "List the names with timm.list_models('*pattern*'), e.g. timm.list_models('vit_*')."
    )


def create_timm_model(config: ImageConfig) -> nn.Module:
    """The timm model of ``config.backbone``, randomly initialised: ``pretrained=False``, no head.

    ``img_size=image_size`` is passed to models that take it (ViTs size their position grid
    with it); models whose constructor refuses it (CNNs) are built without it.
    """
    import timm

    name = config.timm_model
    if name is None or not timm.is_model(name):
        raise _unknown_model_error(str(name))
    kwargs: dict[str, Any] = {**config.timm_kwargs, "pretrained": False, "num_classes": 0}
    try:
        return timm.create_model(name, img_size=config.image_size, **kwargs)
    except TypeError as err:
        if "img_size" not in str(err):
            raise
    return timm.create_model(name, **kwargs)


def _is_vit_family(model: nn.Module) -> bool:
    """ViT-like: a patch embedding followed by a stack of blocks (VisionTransformer, DeiT, EVA, BEiT...)."""
    return hasattr(model, "patch_embed") and hasattr(model, "blocks")


def _square(size: Any, what: str) -> int:
    """An int, or a pair of equal ints (timm stores patch sizes as pairs)."""
    sides = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
    if sides[0] != sides[1]:
        raise ValueError(f"only square {what} are supported, got {sides}")
    return int(sides[0])


def _vit_geometry(model: nn.Module, shape: torch.Size, image_size: int) -> TimmGeometry:
    """Tokens (1, prefix + P, D): check P is the patch grid of ``image_size``."""
    patch = _square(model.patch_embed.patch_size, "patches")
    n_prefix = int(getattr(model, "num_prefix_tokens", 0))
    expected = n_prefix + (image_size // patch) ** 2
    if image_size % patch or shape[1] != expected:
        raise ValueError(
            f"timm model gives {shape[1]} tokens at image_size {image_size}, expected {n_prefix} prefix + "
            f"({image_size} / {patch})**2 patch tokens: choose image_size = k * {patch}"
        )
    if not isinstance(getattr(model, "patch_drop", nn.Identity()), nn.Identity):
        raise ValueError("patch dropout changes the number of tokens in training: leave patch_drop_rate at 0")
    return TimmGeometry(kind=VIT_FAMILY, dim=int(shape[2]), patch_size=patch, n_prefix_tokens=n_prefix)


def _reduction(model: nn.Module) -> int | None:
    """The last stage's stride from timm's ``feature_info``, when the model has one."""
    info = getattr(model, "feature_info", None)
    if isinstance(info, list) and info and isinstance(info[-1], dict):
        return info[-1].get("reduction")
    return None


def _feature_map_geometry(model: nn.Module, shape: torch.Size, image_size: int) -> TimmGeometry:
    """A square (h x w) last feature map whose cells tile ``image_size`` exactly."""
    channels_last = getattr(model, "output_fmt", "NCHW") == "NHWC"  # e.g. Swin: (B, h, w, C)
    channels, h, w = (shape[3], shape[1], shape[2]) if channels_last else (shape[1], shape[2], shape[3])
    stride = image_size // h
    reduction = _reduction(model)
    if h != w or stride * h != image_size or (reduction is not None and reduction != stride):
        raise ValueError(
            f"timm model gives a {h}x{w} feature map at image_size {image_size} (reduction {reduction}): "
            f"image_size must be a multiple of the reduction so that each cell covers a whole patch"
        )
    return TimmGeometry(
        kind=FEATURE_MAP, dim=int(channels), patch_size=stride, n_prefix_tokens=0, channels_last=channels_last
    )


def describe(model: nn.Module, image_size: int) -> TimmGeometry:
    """Probe ``model.forward_features`` on one blank image and read its token geometry."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()  # dropout-free probe; the patch count must not depend on the mode
    try:
        with torch.no_grad():
            shape = model.forward_features(torch.zeros(1, 3, image_size, image_size, device=device)).shape
    except Exception as err:  # any model-specific refusal (fixed input size, too small an image)
        raise ValueError(f"the timm model cannot encode {image_size}x{image_size} images: {err}") from err
    finally:
        model.train(was_training)
    if len(shape) == 3 and _is_vit_family(model):
        return _vit_geometry(model, shape, image_size)
    if len(shape) == 4:
        return _feature_map_geometry(model, shape, image_size)
    raise ValueError(
        f"the timm model's forward_features gives shape {tuple(shape)}: expected ViT-family tokens "
        "(B, T, D) (a model with patch_embed and blocks) or a feature map (B, C, h, w)"
    )


def timm_geometry(config: ImageConfig) -> TimmGeometry:
    """Token geometry of the configured timm model, measured on the meta device (nothing allocated)."""
    try:
        with torch.device("meta"):
            return describe(create_timm_model(config), config.image_size)
    except Exception:  # noqa: BLE001 - some models need real values; a real error shows again below
        return describe(create_timm_model(config), config.image_size)


def resolve_timm_patch_size(config: ImageConfig) -> int:
    """Pixels per token grid cell of the configured timm model (the preprocessor's ``patch_size_``)."""
    return timm_geometry(config).patch_size


def _classifier_prefixes(model: nn.Module) -> tuple[str, ...]:
    """``"head."``, ``"fc."``...: the model is built without a head, so a file's head keys are ignored."""
    names = (getattr(model, "pretrained_cfg", None) or {}).get("classifier") or ()
    return tuple(f"{n}." for n in ((names,) if isinstance(names, str) else names))


def _listed(keys: list[str]) -> str:
    """The first few items of a long list, and how many more."""
    more = f" and {len(keys) - MAX_LISTED_KEYS} more" if len(keys) > MAX_LISTED_KEYS else ""
    return f"{keys[:MAX_LISTED_KEYS]}{more}"


def load_timm_weights(model: nn.Module, path: str) -> None:
    """Load a local safetensors file into ``model``: every model key must be there, with its shape."""
    from safetensors.torch import load_file

    if not Path(path).is_file():
        raise FileNotFoundError(
            f"timm_weights {path!r} is not a file; write one with "
            "safetensors.torch.save_file(model.state_dict(), path) - weights are never downloaded"
        )
    heads = _classifier_prefixes(model)
    state = {k: v for k, v in load_file(path).items() if not (heads and k.startswith(heads))}
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches raise even when not strict
        problems = [line.strip() for line in str(err).splitlines()[1:]]  # line 0 is a header
        raise ValueError(f"timm_weights {path!r} do not fit the timm model: {_listed(problems)}") from None
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"timm_weights {path!r} do not match the timm model: missing keys {_listed(result.missing_keys)}, "
            f"unexpected keys {_listed(result.unexpected_keys)}"
        )
