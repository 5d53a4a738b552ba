"""Masked time-step modelling (MTM): hide spans of observed values, regress them back."""

from __future__ import annotations

import torch
from torch import nn

from lanistr_core import PRESENT, Batch, EncodedTokens, MaskingObjective
from lanistr_plugin_timeseries.config import TimeseriesConfig
from lanistr_plugin_timeseries.masking import geometric_span_mask


class MaskedTimestepObjective(MaskingObjective):
    """Geometric span masking per feature (``mask_ratio`` of the observed values, spans of mean
    ``mean_span`` steps) and MSE of a linear reconstruction on the masked values of present rows.

    Masked values are hidden the way missing values are: value 0 and ``observed`` False, so the
    encoder cannot tell a masked value from an unobserved one.
    """

    def __init__(self, *, config: TimeseriesConfig, dim: int, n_features: int) -> None:
        """``dim``: the encoder's token width; ``n_features``: values per time step."""
        super().__init__()
        self.ratio, self.mean_span = config.mask_ratio, config.mean_span
        self.to_values = nn.Linear(dim, n_features)

    def mask(self, batch: Batch, generator: torch.Generator | None = None) -> tuple[Batch, Batch]:
        """Return the masked batch (same keys/shapes) and targets ``values``/``chosen``/``present``."""
        values, observed = batch["values"], batch["observed"]
        B, T, F = values.shape
        spans = geometric_span_mask(B * F, T, ratio=self.ratio, mean_span=self.mean_span, generator=generator)
        spans = spans.view(B, F, T).transpose(1, 2).to(values.device)  # (B*F, T) -> (B, T, F)
        # Only real, observed values of present rows can be hidden and scored.
        chosen = spans & observed & batch["valid"].unsqueeze(-1) & batch[PRESENT].view(B, 1, 1)
        masked = dict(batch, values=values.masked_fill(chosen, 0.0), observed=observed & ~chosen)
        return masked, {"values": values, "chosen": chosen, PRESENT: batch[PRESENT]}

    def loss(self, encoded: EncodedTokens, targets: Batch) -> torch.Tensor:
        """MSE between reconstruction and original (normalised) values, on chosen values only."""
        pred = self.to_values(encoded.tokens)  # (B, T, F)
        scored = targets["chosen"] & targets[PRESENT].view(-1, 1, 1) & encoded.mask.unsqueeze(-1)
        weight = scored.to(pred.dtype)
        # A masked mean: exactly 0 (with a graph, no NaN) when nothing is scored, and no host sync.
        return ((pred - targets["values"]).square() * weight).sum() / weight.sum().clamp(min=1.0)
