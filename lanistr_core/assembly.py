"""Building a LanistrModel and its pretraining loss from a config and fitted preprocessors."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import attrs
import pandas as pd
from torch import nn

from lanistr_core.compilation import compile_module
from lanistr_core.config import LanistrConfig
from lanistr_core.contracts import Preprocessor
from lanistr_core.model import Head, LanistrModel
from lanistr_core.objectives import MultimodalSimilarityLoss, PretrainingLoss
from lanistr_core.registry import get_registry


def modality_configs(config: LanistrConfig, names: list[str]) -> dict[str, Any]:
    """Each modality's attrs config: its spec's preset plus ``config.modality_config[name]`` overrides."""
    registry = get_registry()
    unknown = sorted(set(config.modality_config) - set(names))
    if unknown:
        raise ValueError(f"modality_config names {unknown}, which are not among the model's modalities {names}")
    return {n: registry.get_modality(n).make_config(config.preset, **config.modality_config.get(n, {})) for n in names}


def build_preprocessors(columns: Mapping[str, list[str]], configs: Mapping[str, Any]) -> dict[str, Preprocessor]:
    """Unfitted preprocessors for every modality."""
    registry = get_registry()
    return {n: registry.get_modality(n).build_preprocessor(configs[n], list(cols)) for n, cols in columns.items()}


def fit_preprocessors(preprocessors: Mapping[str, Preprocessor], frame: pd.DataFrame) -> None:
    """Fit each preprocessor on ``frame``."""
    for pre in preprocessors.values():
        pre.fit(frame)


def build_fusion(config: LanistrConfig, n_modalities: int) -> nn.Module:
    """The configured fusion at the model width; ``attention`` passed when the factory takes it."""
    registry = get_registry()
    factory = registry.get_fusion_factory(config.fusion)
    kwargs = dict(config.model_setting("fusion_config"))
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    if "attention" in params:
        kwargs.setdefault("attention", config.attention)
    fusion = registry.create_fusion(config.fusion, dim=config.model_setting("dim"), n_modalities=n_modalities, **kwargs)
    # dynamic=None: compile for the first shapes seen, generalise on the first change (varying N)
    return compile_module(fusion, name=f"fusion {config.fusion!r}") if config.compile else fusion


def build_model(config: LanistrConfig, configs: Mapping[str, Any], preprocessors: Mapping[str, Preprocessor]) -> LanistrModel:
    """Encoders from the fitted preprocessors, fusion, no head (heads come with ``fit``)."""
    registry = get_registry()
    encoders = {n: registry.get_modality(n).build_encoder(configs[n], pre) for n, pre in preprocessors.items()}
    return LanistrModel(encoders=encoders, fusion=build_fusion(config, len(encoders)), dim=config.model_setting("dim"),
                        missing=config.missing)


def build_pretraining_loss(
    config: LanistrConfig, configs: Mapping[str, Any], model: LanistrModel, preprocessors: Mapping[str, Preprocessor]
) -> PretrainingLoss:
    """Unimodal objectives (weights: config.loss_weights or each spec's default) + the MMM loss."""
    registry = get_registry()
    objectives, weights = {}, {}
    for name in model.modalities:
        spec = registry.get_modality(name)
        objectives[name] = spec.build_objective(configs[name], model.encoders[name], preprocessors[name])
        weights[name] = float(config.loss_weights.get(name, spec.loss_weight))
    mmm = MultimodalSimilarityLoss(
        dim=model.dim, projector_dim=config.model_setting("projector_dim"), predictor_dim=config.model_setting("predictor_dim")
    )
    return PretrainingLoss(objectives=objectives, weights=weights, mmm=mmm, mmm_weight=config.mmm_weight)


def build_networks(
    config: LanistrConfig, configs: Mapping[str, Any], preprocessors: Mapping[str, Preprocessor]
) -> tuple[LanistrModel, PretrainingLoss]:
    """The model (without head) and its pretraining loss, built together from fitted preprocessors."""
    model = build_model(config, configs, preprocessors)
    return model, build_pretraining_loss(config, configs, model, preprocessors)


def build_head(config: LanistrConfig, n_outputs: int) -> Head:
    """Classifier/regressor MLP on the pooled embedding."""
    return Head(dim=config.model_setting("dim"), n_outputs=n_outputs, dropout=config.head_dropout)


def config_dicts(configs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """JSON-able view of modality configs."""
    return {n: attrs.asdict(c) for n, c in configs.items()}
