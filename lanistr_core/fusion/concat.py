"""Full self-attention over all tokens plus a CLS token (FLAVA-style, what the official code does)."""

from __future__ import annotations

import torch
from torch import nn

from lanistr_core.contracts import Fusion, FusionOutput
from lanistr_core.fusion.blocks import Block


class ConcatTransformerFusion(Fusion):
    """Concatenate every modality's tokens behind a CLS token and run ``depth`` self-attention blocks.

    Cost per row is O(depth * N^2): the quadratic baseline the Perceiver replaces.
    """

    def __init__(
        self,
        *,
        dim: int,
        n_modalities: int = 1,
        depth: int = 3,
        heads: int = 4,
        mlp_mult: int = 4,
        dropout: float = 0.0,
        attention: str = "auto",
    ) -> None:
        super().__init__()
        self.dim = dim
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.layers = nn.ModuleList(
            Block(dim=dim, heads=heads, mlp_mult=mlp_mult, dropout=dropout, backend=attention) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)

    def forward(
        self, tokens: torch.Tensor, mask: torch.Tensor, *, modality_index: torch.Tensor | None = None
    ) -> FusionOutput:
        """tokens (B, N, D), mask (B, N) -> tokens (B, 1+N, D) (masked positions zeroed), pooled = CLS."""
        B = tokens.shape[0]
        x = torch.cat([self.cls.expand(B, -1, -1), tokens], dim=1)  # (B, 1+N, D)
        key_mask = torch.cat([mask.new_ones(B, 1), mask], dim=1)  # (B, 1+N): CLS always attends
        for layer in self.layers:
            x = layer(x, key_mask=key_mask)
        x = self.norm(x) * key_mask.unsqueeze(-1)  # masked positions carry no information out
        return FusionOutput(tokens=x, pooled=x[:, 0])
