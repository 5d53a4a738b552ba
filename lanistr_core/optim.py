"""Optimizer and learning-rate schedule: AdamW over parameter groups with their own rates.

Parameters that start random (projections, modality embeddings, fusion, heads, objective heads)
train at ``lr``; encoders that start from pretrained weights at ``lr * encoder_lr_scale``, optionally
decayed layer by layer (``layer_decay``), so that fine-tuning adapts them without erasing what they
know. Frozen parameters (``requires_grad=False``) are never handed to the optimizer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping

import torch

from lanistr_core.config import TrainConfig

# ``encoder.layer.3.attention...`` (BERT/ViT), ``layers.3.`` (nn.TransformerEncoder), ``blocks.3.`` (timm)
_LAYER = re.compile(r"\.(?:layer|layers|blocks|block|h)\.(\d+)\.")


def warmup_cosine(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """LR multiplier: linear warmup to 1, then cosine decay to 0."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def layer_depths(names: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Parameter name -> (depth, number of layers) inside one encoder.

    Depth 0 is the embedding (names with "embed" and no layer index), ``i + 1`` is layer ``i``
    (found by the ``layer(s)/blocks/h.<i>.`` pattern), and ``n + 1`` is everything above the last
    layer (final norms). An encoder without numbered layers puts every parameter at depth ``n + 1 = 1``.
    """
    names = list(names)
    found = {n: int(m.group(1)) for n in names if (m := _LAYER.search(n))}
    n_layers = max(found.values()) + 1 if found else 0
    depths = {}
    for name in names:
        if name in found:
            depths[name] = (found[name] + 1, n_layers)
        elif "embed" in name and n_layers:
            depths[name] = (0, n_layers)
        else:
            depths[name] = (n_layers + 1, n_layers)
    return depths


def encoder_lr_scales(
    encoders: Mapping[str, torch.nn.Module], pretrained: Iterable[str], *, scale: float, layer_decay: float = 1.0,
    prefix: str = "encoders.",
) -> dict[str, float]:
    """LR multipliers of every parameter of the ``pretrained`` encoders, keyed by full parameter name.

    ``prefix`` is the encoders' path inside the module the optimizer sees (``encoders.`` for a
    ``LanistrModel``); parameters that are not listed keep the multiplier 1.
    """
    scales: dict[str, float] = {}
    for name in pretrained:
        params = [n for n, _ in encoders[name].named_parameters()]
        for param, (depth, n_layers) in layer_depths(params).items():
            scales[f"{prefix}{name}.{param}"] = scale * layer_decay ** (n_layers + 1 - depth)
    return scales


def parameter_groups(
    named_parameters: Iterable[tuple[str, torch.nn.Parameter]], config: TrainConfig,
    lr_scales: Mapping[str, float] | None = None,
) -> list[dict]:
    """AdamW groups by (learning-rate multiplier, decay): no weight decay on biases, norms and other
    1-D parameters; frozen parameters are left out. Each group records its ``lr_scale``."""
    lr_scales = lr_scales or {}
    groups: dict[tuple[float, bool], dict] = {}
    for name, p in named_parameters:
        if not p.requires_grad:
            continue
        scale, decay = float(lr_scales.get(name, 1.0)), p.ndim >= 2
        group = groups.setdefault((scale, decay), {
            "params": [], "names": [], "lr": config.lr * scale, "lr_scale": scale,
            "weight_decay": config.weight_decay if decay else 0.0})
        group["params"].append(p)
        group["names"].append(name)
    # a stable order (by multiplier, then decay) keeps checkpoints' optimizer state aligned on resume
    return [groups[key] for key in sorted(groups, key=lambda k: (-k[0], not k[1]))]


def build_optimizer(
    named_parameters: Iterable[tuple[str, torch.nn.Parameter]], config: TrainConfig,
    lr_scales: Mapping[str, float] | None = None,
) -> torch.optim.AdamW:
    """AdamW over :func:`parameter_groups`."""
    groups = parameter_groups(named_parameters, config, lr_scales)
    if not groups:
        raise ValueError("nothing to train: every parameter is frozen")
    return torch.optim.AdamW(groups, lr=config.lr)
