"""Hyper-parameters of the time-series modality and its size presets."""

from __future__ import annotations

from typing import Any

import attrs
from attrs import validators as v

from lanistr_core import divides


def _even(instance: Any, attribute: attrs.Attribute, value: int) -> None:
    # The sinusoidal time encoding pairs one sin and one cos channel per frequency.
    if value % 2:
        raise ValueError(f"{attribute.name} must be even (sin/cos pairs of the time encoding), got {value}")


@attrs.frozen(kw_only=True)
class TimeseriesConfig:
    """Configuration of the time-series preprocessor, encoder and masked time-step objective.

    Attributes:
        d_model: token width of the Transformer (even).
        n_layers: number of Transformer encoder layers.
        n_heads: attention heads per layer (must divide ``d_model``).
        dim_feedforward: hidden width of each layer's MLP.
        dropout: dropout inside the Transformer layers.
        activation: MLP activation, ``"gelu"`` (official LANISTR) or ``"relu"``.
        max_length: longest series kept; longer ones keep their LAST ``max_length`` steps.
        time_column: optional column of per-row time stamps (1-D non-decreasing arrays, one
            stamp per step) for irregularly sampled series; ``None`` means steps 0, 1, 2, ...
        max_period: longest period of the sinusoidal time encoding, in (fitted) time units.
        mask_ratio: fraction of observed values hidden by the masked time-step objective.
        mean_span: mean length (in steps) of a masked span.
        pretrained_path: optional local ``.safetensors`` file with encoder weights.
    """

    d_model: int = attrs.field(default=32, validator=[v.instance_of(int), v.gt(0), _even])
    n_layers: int = attrs.field(default=2, validator=[v.instance_of(int), v.gt(0)])
    n_heads: int = attrs.field(default=2, validator=[v.instance_of(int), v.gt(0), divides("d_model")])
    dim_feedforward: int = attrs.field(default=64, validator=[v.instance_of(int), v.gt(0)])
    dropout: float = attrs.field(default=0.0, converter=float, validator=[v.ge(0.0), v.lt(1.0)])
    activation: str = attrs.field(default="gelu", validator=v.in_(("gelu", "relu")))
    max_length: int = attrs.field(default=64, validator=[v.instance_of(int), v.gt(0)])
    time_column: str | None = attrs.field(default=None, validator=v.optional(v.instance_of(str)))
    max_period: float = attrs.field(default=10_000.0, converter=float, validator=v.gt(1.0))
    mask_ratio: float = attrs.field(default=0.15, converter=float, validator=[v.gt(0.0), v.lt(1.0)])
    mean_span: float = attrs.field(default=3.0, converter=float, validator=v.ge(1.0))
    pretrained_path: str | None = attrs.field(default=None, validator=v.optional(v.instance_of(str)))


PRESETS: dict[str, dict[str, Any]] = {
    # Tests: a few seconds on CPU.
    "tiny": {"d_model": 32, "n_layers": 2, "n_heads": 2, "dim_feedforward": 64, "max_length": 64, "dropout": 0.0},
    # Demo on a 2-core CPU.
    "small": {"d_model": 64, "n_layers": 2, "n_heads": 4, "dim_feedforward": 128, "max_length": 256, "dropout": 0.1},
    # Paper scale. The official LANISTR MIMIC-IV encoder is smaller still: width 76 (= its 76 vitals
    # features), 3 layers, 4 heads, feed-forward 256, 48 hourly steps, GELU, dropout 0.1.
    "base": {"d_model": 128, "n_layers": 3, "n_heads": 8, "dim_feedforward": 256, "max_length": 512, "dropout": 0.1},
}
