"""The similarity-based multimodal masking loss (MMM) and the full pretraining loss."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from lanistr_core.contracts import PRESENT, MaskingObjective
from lanistr_core.data import MultimodalBatch
from lanistr_core.model import LanistrModel


class MultimodalSimilarityLoss(nn.Module):
    """SimSiam-style symmetric loss between the fused clean view and the fused masked view.

    z1 = g(F(x)), z2 = g(F(x_masked)), p_i = h(z_i);
    L = -1/2 cos(p1, sg(z2)) - 1/2 cos(p2, sg(z1)). No negatives; the stop-gradient
    and the predictor prevent collapse.
    """

    def __init__(self, *, dim: int, projector_dim: int = 2048, predictor_dim: int = 512) -> None:
        super().__init__()
        # g: 3-layer MLP with batch norm (as in SimSiam); h: bottleneck MLP
        self.projector = nn.Sequential(
            nn.Linear(dim, projector_dim, bias=False), nn.BatchNorm1d(projector_dim), nn.ReLU(),
            nn.Linear(projector_dim, projector_dim, bias=False), nn.BatchNorm1d(projector_dim), nn.ReLU(),
            nn.Linear(projector_dim, projector_dim, bias=False), nn.BatchNorm1d(projector_dim, affine=False),
        )
        self.predictor = nn.Sequential(
            nn.Linear(projector_dim, predictor_dim, bias=False), nn.BatchNorm1d(predictor_dim), nn.ReLU(),
            nn.Linear(predictor_dim, projector_dim),
        )

    def forward(self, clean: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
        """clean, masked: (B, D) pooled fused embeddings -> scalar loss in [-1, 1]."""
        z1, z2 = self.projector(clean), self.projector(masked)  # (B, P)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        return -0.5 * (F.cosine_similarity(p1, z2.detach(), dim=-1).mean() + F.cosine_similarity(p2, z1.detach(), dim=-1).mean())


class PretrainingLoss(nn.Module):
    """Sum of lambda_m * unimodal masking loss_m over modalities plus lambda_mmm * MMM."""

    def __init__(
        self,
        *,
        objectives: Mapping[str, MaskingObjective],
        weights: Mapping[str, float],
        mmm: MultimodalSimilarityLoss | None,
        mmm_weight: float,
    ) -> None:
        super().__init__()
        self.objectives = nn.ModuleDict(objectives)
        self.weights = dict(weights)
        self.mmm, self.mmm_weight = mmm, mmm_weight

    def forward(
        self, model: LanistrModel, batch: MultimodalBatch, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss and a dict of every term (for logging)."""
        present = {n: batch.batches[n][PRESENT] for n in model.modalities}
        masked, targets = {}, {}
        for name in model.modalities:
            masked[name], targets[name] = self.objectives[name].mask(batch.batches[name], generator)
        masked_encoded = model.encode(masked)
        terms: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=next(model.parameters()).device)
        for name in model.modalities:
            terms[name] = self.objectives[name].loss(masked_encoded[name], targets[name])
            total = total + self.weights.get(name, 1.0) * terms[name]
        if self.mmm is not None and self.mmm_weight > 0:
            clean = model.fuse(model.encode(batch.batches), present, row_ids=batch.row_ids)
            fused_masked = model.fuse(masked_encoded, present, row_ids=batch.row_ids)
            terms["mmm"] = self.mmm(clean.pooled, fused_masked.pooled)
            total = total + self.mmm_weight * terms["mmm"]
        logs = {f"loss/{k}": float(v.detach()) for k, v in terms.items()}
        logs["loss/total"] = float(total.detach())
        return total, logs
