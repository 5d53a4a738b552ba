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


@attrs.frozen(kw_only=True)
class TrainConfig:
    """One training phase (pretraining or fine-tuning) of the shared engine."""

    epochs: int = attrs.field(default=5, validator=v.ge(1))
    batch_size: int = attrs.field(default=32, validator=v.ge(2))
    lr: float = attrs.field(default=1e-4, validator=v.gt(0.0))
    weight_decay: float = attrs.field(default=0.02, validator=v.ge(0.0))
    warmup_ratio: float = attrs.field(default=0.1, validator=[v.ge(0.0), v.lt(1.0)])
    grad_clip: float = attrs.field(default=5.0, validator=v.gt(0.0))
    patience: int = attrs.field(default=3, validator=v.ge(1))
    val_fraction: float = attrs.field(default=0.1, validator=[v.ge(0.0), v.lt(1.0)])
    amp: bool = attrs.field(default=True, validator=v.instance_of(bool))
    max_steps_per_epoch: int | None = attrs.field(default=None, validator=v.optional(v.ge(1)))
    # Validation value that early stopping and best-weight selection follow: "loss", or for
    # fine-tuning a metric of the task (accuracy, macro_f1, auroc; mae, rmse, r2).
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
    pretrain: TrainConfig = attrs.field(factory=lambda: TrainConfig(epochs=3, lr=3e-4, weight_decay=0.05))
    finetune: TrainConfig = attrs.field(factory=lambda: TrainConfig(epochs=30, lr=1e-4, weight_decay=0.05, patience=5))
    attention: str = attrs.field(default="auto", validator=v.in_(("auto", "sdpa", "math", "xformers")))
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
