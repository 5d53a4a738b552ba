"""Configuration of a LANISTR run (attrs, frozen, validated per field)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from attrs import validators as v

PRESETS = ("tiny", "small", "base")
TASKS = ("auto", "classification", "regression")
# What early stopping can follow per task (besides "loss"), and whether lower is better.
TASK_MONITORS: dict[str, tuple[str, ...]] = {"classification": ("accuracy", "macro_f1", "auroc"),
                                             "regression": ("mae", "rmse", "r2")}
MONITOR_MODES: dict[str, str] = {
    "loss": "min", "accuracy": "max", "macro_f1": "max", "auroc": "max", "mae": "min", "rmse": "min", "r2": "max",
}
MONITORS = tuple(MONITOR_MODES)

# Width of the shared token space and fusion size per preset.
MODEL_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"dim": 32, "fusion_config": {"num_latents": 16, "depth": 1, "heads": 2},
             "projector_dim": 64, "predictor_dim": 32},
    "small": {"dim": 128, "fusion_config": {"num_latents": 32, "depth": 2, "heads": 4},
              "projector_dim": 512, "predictor_dim": 128},
    # paper size: projector g to 2048, predictor h 2048 -> 512 -> 2048
    "base": {"dim": 768, "fusion_config": {"num_latents": 128, "depth": 4, "heads": 8},
             "projector_dim": 2048, "predictor_dim": 512},
}


def _mapping_of_mappings(instance: Any, attribute: attrs.Attribute, value: Mapping[str, Any]) -> None:
    for key, item in value.items():
        if not isinstance(item, Mapping):
            raise TypeError(f"{attribute.name}[{key!r}] must be a dict of config overrides, got {type(item).__name__}")


VALIDATION_MODES = ("auto", "split", "none")


@attrs.frozen(kw_only=True)
class TrainConfig:
    """One training phase (pretraining or fine-tuning) of the shared engine.

    ``None`` means "derived from the data" for ``epochs``, ``patience`` and ``min_epochs``; the rules
    live in :mod:`lanistr_core.schedule` (epochs, patience) and :mod:`lanistr_core.validation` (the
    held-out split) and are documented in README, "How training is configured".

    Attributes:
        epochs: passes over the data; ``None``: enough for ``min_steps`` optimizer steps, at most
            ``max_epochs`` (small data gets the steps it needs, large data one pass).
        min_steps: optimizer steps that the derived ``epochs`` guarantee (capped by ``max_epochs``).
        max_epochs: upper bound of the derived ``epochs``.
        lr: learning rate of parameters that start random (projections, modality embeddings, fusion,
            head, objective heads, and encoders that start from random weights).
        encoder_lr_scale: multiplier of ``lr`` for encoders that start from pretrained weights (a
            local pretrained model, or LANISTR pretraining before ``fit``).
        layer_decay: layer-wise decay inside those encoders: layer ``i`` of ``n`` trains at
            ``lr * encoder_lr_scale * layer_decay ** (n - i)``; 1.0 switches it off.
        patience: epochs without improvement of the monitored value before stopping; ``None``:
            ``max(5, ceil(0.2 * epochs))``.
        min_epochs: epochs before patience starts counting; ``None``: ``ceil(0.2 * epochs)`` and at
            least the warmup. The best weights are still restored at the end.
        validation: ``"auto"`` holds out ``val_fraction`` only when that split is large enough to
            steer early stopping (see ``min_val_rows``, ``min_val_per_class``, ``max_val_fraction``),
            ``"split"`` always holds out ``val_fraction``, ``"none"`` trains the fixed schedule on
            every row. A ``validation=`` frame passed to ``fit``/``pretrain`` is always used.
        time_limit: seconds; training ends after the last epoch that finishes within it.
        monitor: validation value that early stopping and best-weight selection follow: "loss",
            or for fine-tuning a metric of the task (accuracy, macro_f1, auroc; mae, rmse, r2).
    """

    epochs: int | None = attrs.field(default=None, validator=v.optional(v.ge(1)))
    min_steps: int = attrs.field(default=1000, validator=v.ge(1))
    max_epochs: int = attrs.field(default=200, validator=v.ge(1))
    batch_size: int = attrs.field(default=32, validator=v.ge(2))
    lr: float = attrs.field(default=1e-3, validator=v.gt(0.0))
    encoder_lr_scale: float = attrs.field(default=0.1, validator=[v.gt(0.0), v.le(1.0)])
    layer_decay: float = attrs.field(default=1.0, validator=[v.gt(0.0), v.le(1.0)])
    weight_decay: float = attrs.field(default=0.02, validator=v.ge(0.0))
    warmup_ratio: float = attrs.field(default=0.1, validator=[v.ge(0.0), v.lt(1.0)])
    grad_clip: float = attrs.field(default=5.0, validator=v.gt(0.0))
    patience: int | None = attrs.field(default=None, validator=v.optional(v.ge(1)))
    min_epochs: int | None = attrs.field(default=None, validator=v.optional(v.ge(0)))
    validation: str = attrs.field(default="auto", validator=v.in_(VALIDATION_MODES))
    val_fraction: float = attrs.field(default=0.1, validator=[v.ge(0.0), v.lt(1.0)])
    min_val_rows: int = attrs.field(default=30, validator=v.ge(1))
    min_val_per_class: int = attrs.field(default=5, validator=v.ge(1))
    max_val_fraction: float = attrs.field(default=0.25, validator=[v.gt(0.0), v.lt(1.0)])
    time_limit: float | None = attrs.field(default=None, validator=v.optional(v.gt(0.0)))
    amp: bool = attrs.field(default=True, validator=v.instance_of(bool))
    max_steps_per_epoch: int | None = attrs.field(default=None, validator=v.optional(v.ge(1)))
    monitor: str = attrs.field(default="loss", validator=v.in_(MONITORS))


@attrs.frozen(kw_only=True)
class LanistrConfig:
    """Everything that defines a LANISTR model and how it trains; saved as ``config.json``."""

    modalities: Mapping[str, list[str]] | list[str] = attrs.field()
    label: str | None = attrs.field(default=None, validator=v.optional(v.instance_of(str)))
    task: str = attrs.field(default="auto", validator=v.in_(TASKS))
    fusion: str = attrs.field(default="perceiver", validator=v.instance_of(str))
    preset: str = attrs.field(default="small", validator=v.in_(PRESETS))
    dim: int | None = attrs.field(default=None, validator=v.optional(v.ge(8)))
    fusion_config: Mapping[str, Any] = attrs.field(factory=dict)
    modality_config: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict, validator=_mapping_of_mappings)
    missing: str = attrs.field(default="mask", validator=v.in_(("mask", "zero")))
    loss_weights: Mapping[str, float] = attrs.field(factory=dict)
    mmm_weight: float = attrs.field(default=1.0, validator=v.ge(0.0))
    projector_dim: int | None = attrs.field(default=None, validator=v.optional(v.ge(2)))
    predictor_dim: int | None = attrs.field(default=None, validator=v.optional(v.ge(2)))
    head_dropout: float = attrs.field(default=0.1, validator=[v.ge(0.0), v.lt(1.0)])
    freeze_encoders: bool = attrs.field(default=False, validator=v.instance_of(bool))
    class_weights: str | None = attrs.field(default=None, validator=v.optional(v.in_(("balanced",))))
    # post-hoc logit adjustment of the decisions (predict, accuracy, macro-F1): argmax of
    # log p(y|x) - tau * log(class prior of the fit labels); 1 minimises the balanced error, 0 is argmax.
    # Probabilities (predict_proba, AUROC) and training are unchanged.
    logit_adjustment: float = attrs.field(default=0.0, validator=[v.instance_of((int, float)), v.ge(0.0), v.le(2.0)])
    pretrain: TrainConfig = attrs.field(factory=lambda: PRETRAIN_DEFAULTS)
    finetune: TrainConfig = attrs.field(factory=lambda: FINETUNE_DEFAULTS)
    attention: str = attrs.field(default="auto", validator=v.in_(("auto", "sdpa", "math", "xformers")))
    compile: bool = attrs.field(default=False, validator=v.instance_of(bool))
    # streaming from Parquet (lanistr_core.streaming): rows the preprocessors are fitted on, and
    # rows held in the shuffle buffer (memory grows with these, not with the data)
    sample_rows: int = attrs.field(default=10_000, validator=v.ge(1))
    shuffle_buffer: int = attrs.field(default=10_000, validator=v.ge(0))
    seed: int = attrs.field(default=0, validator=v.instance_of(int))
    device: str = attrs.field(default="auto", validator=v.instance_of(str))
    verbose: bool = attrs.field(default=True, validator=v.instance_of(bool))

    def model_setting(self, key: str) -> Any:
        """``dim``, ``projector_dim``, ``predictor_dim`` or ``fusion_config``: explicit value or the preset's."""
        preset = MODEL_PRESETS[self.preset]
        if key == "fusion_config":
            base = preset["fusion_config"]
            defaults: dict[str, Any] = {}
            if self.fusion == "perceiver":
                defaults = dict(base)
            elif self.fusion == "concat_transformer":  # equal depth: 1 cross + K latent blocks -> K + 1 blocks
                defaults = {"heads": base["heads"], "depth": base["depth"] + 1}
            return {**defaults, **self.fusion_config}
        value = getattr(self, key)
        return preset[key] if value is None else value


# Phase defaults (README, "How training is configured"): pretraining sees each unlabeled row a few
# times at most; fine-tuning gets the steps a randomly initialised fusion and head need on few labels.
PRETRAIN_DEFAULTS = TrainConfig(min_steps=1000, max_epochs=30, weight_decay=0.05)
FINETUNE_DEFAULTS = TrainConfig(min_steps=1000, max_epochs=200, weight_decay=0.05)


def config_to_dict(config: LanistrConfig) -> dict[str, Any]:
    """JSON-able dict of a config."""
    return attrs.asdict(config, recurse=True)


def config_from_dict(data: Mapping[str, Any]) -> LanistrConfig:
    """Inverse of :func:`config_to_dict`."""
    data = dict(data)
    for phase in ("pretrain", "finetune"):
        if isinstance(data.get(phase), Mapping):
            data[phase] = TrainConfig(**data[phase])
    return LanistrConfig(**data)
