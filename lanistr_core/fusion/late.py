"""Late fusion: masked mean-pool per modality, concatenate, MLP (the cheapest baseline)."""

from __future__ import annotations

import torch
from torch import nn

from lanistr_core.contracts import Fusion, FusionOutput


class LateFusion(Fusion):
    """Mean-pool each modality's present tokens, concatenate the M vectors, project with an MLP.

    An absent modality pools to a zero vector, so no attention and no extra cost.
    """

    def __init__(self, *, dim: int, n_modalities: int = 1, hidden_mult: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.dim, self.n_modalities = dim, n_modalities
        self.mlp = nn.Sequential(
            nn.LayerNorm(n_modalities * dim),
            nn.Linear(n_modalities * dim, hidden_mult * dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_mult * dim, dim),
        )

    def forward(
        self, tokens: torch.Tensor, mask: torch.Tensor, *, modality_index: torch.Tensor | None = None
    ) -> FusionOutput:
        """tokens (B, N, D), mask (B, N), modality_index (N,) -> per-modality means (B, M, D), pooled (B, D)."""
        B, N, _ = tokens.shape
        if modality_index is None:
            modality_index = torch.zeros(N, dtype=torch.long, device=tokens.device)
        if int(modality_index.max()) >= self.n_modalities:
            raise ValueError(f"modality_index names modality {int(modality_index.max())} but n_modalities={self.n_modalities}")
        onehot = nn.functional.one_hot(modality_index, self.n_modalities).to(tokens.dtype)  # (N, M)
        weights = mask.to(tokens.dtype).unsqueeze(-1) * onehot  # (B, N, M)
        sums = weights.transpose(1, 2) @ tokens  # (B, M, D)
        counts = weights.sum(dim=1).clamp_min(1.0).unsqueeze(-1)  # (B, M, 1)
        means = sums / counts
        pooled = self.mlp(means.reshape(B, -1))  # (B, D)
        return FusionOutput(tokens=means, pooled=pooled)
