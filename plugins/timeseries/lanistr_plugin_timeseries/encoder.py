"""Transformer encoder over time steps with a continuous (time-aware) sinusoidal position encoding."""

from __future__ import annotations

import torch
from torch import nn

from lanistr_core import Batch, EncodedTokens, Encoder, load_tensors
from lanistr_plugin_timeseries.config import TimeseriesConfig


class TimeEncoding(nn.Module):
    """Sinusoidal encoding of real-valued time stamps (Vaswani et al. with ``t`` in place of the index).

    Because ``t`` is continuous, irregularly sampled steps get encodings that reflect the actual
    gaps between them; with stamps 0, 1, 2, ... it is the usual Transformer position encoding.
    """

    def __init__(self, *, dim: int, max_period: float = 10_000.0) -> None:
        """``dim`` even; frequencies go from 1 down to ``1 / max_period`` (geometrically)."""
        super().__init__()
        freqs = max_period ** (-torch.arange(0, dim, 2, dtype=torch.float32) / dim)  # (dim/2,)
        # Not persistent: derived from the config, so checkpoints do not need (or pin) it.
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, times: torch.Tensor) -> torch.Tensor:
        """``times`` (B, T) -> (B, T, dim)."""
        angles = times.float().unsqueeze(-1) * self.freqs  # (B, T, dim/2); float32 even under autocast
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class TimeseriesEncoder(Encoder):
    """Projects ``concat(values, observed)`` per step to ``d_model``, adds the time encoding and runs
    a pre-norm ``nn.TransformerEncoder`` with the padding steps masked out of attention.

    Tokens: one per time step, ``(B, T, d_model)``; mask: ``batch["valid"]``.
    """

    def __init__(self, *, config: TimeseriesConfig, n_features: int) -> None:
        """Build from ``config``; ``n_features`` is the fitted preprocessor's features per step."""
        super().__init__()
        self.dim = config.d_model
        # The observed flags let the model tell a normalised 0 from a missing (or masked) value.
        self.to_tokens = nn.Linear(2 * n_features, config.d_model)
        self.time_encoding = TimeEncoding(dim=config.d_model, max_period=config.max_period)
        layer = nn.TransformerEncoderLayer(
            d_model=config.d_model,
            nhead=config.n_heads,
            dim_feedforward=config.dim_feedforward,
            dropout=config.dropout,
            activation=config.activation,
            batch_first=True,
            norm_first=True,
        )
        # Pre-norm layers leave the residual stream unnormalised, hence the final LayerNorm.
        self.transformer = nn.TransformerEncoder(
            layer, num_layers=config.n_layers, norm=nn.LayerNorm(config.d_model), enable_nested_tensor=False
        )
        if config.pretrained_path is not None:
            self.load_pretrained(config.pretrained_path)

    def load_pretrained(self, path: str) -> None:
        """Load this encoder's weights from a local ``.safetensors`` file (strict: same architecture)."""
        self.load_state_dict(load_tensors(path), strict=True)

    def forward(self, batch: Batch) -> EncodedTokens:
        """Encode ``values``/``observed`` (B, T, F) at ``times`` (B, T); padding where ``valid`` is False."""
        values, valid = batch["values"], batch["valid"]
        features = torch.cat([values, batch["observed"].to(values.dtype)], dim=-1)  # (B, T, 2F)
        x = self.to_tokens(features) + self.time_encoding(batch["times"]).to(values.dtype)  # (B, T, d_model)
        # An absent row has no valid step; a fully masked key row would give NaN attention, so such
        # rows attend to their (placeholder) first step. Their tokens stay masked out via `valid`.
        attend = valid.clone()
        attend[:, 0] |= ~valid.any(dim=1)
        tokens = self.transformer(x, src_key_padding_mask=~attend)
        return EncodedTokens(tokens=tokens, mask=valid)
