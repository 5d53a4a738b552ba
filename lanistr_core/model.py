"""LanistrModel: per-modality encoders -> shared width -> modality embeddings -> fusion -> head."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import torch
from torch import nn

from lanistr_core.contracts import (  # noqa: F401  (MissingModalitiesError: re-exported where it used to live)
    PRESENT,
    Batch,
    EncodedTokens,
    Encoder,
    Fusion,
    FusionOutput,
    MissingModalitiesError,
    no_modality_error,
)

MISSING_MODES = ("mask", "zero")


@attrs.frozen
class ModelOutput:
    """What ``LanistrModel.forward`` returns.

    Attributes:
        pooled: (B, D) fused embedding per row.
        fused: the fusion's full output.
        logits: (B, n_outputs) head output, or None for a model without head.
        encoded: per-modality encoder outputs (before projection).
    """

    pooled: torch.Tensor
    fused: FusionOutput
    logits: torch.Tensor | None
    encoded: dict[str, EncodedTokens]


class Head(nn.Module):
    """Classifier/regressor MLP with dropout on the pooled fused embedding."""

    def __init__(self, *, dim: int, n_outputs: int, hidden: int | None = None, dropout: float = 0.1) -> None:
        super().__init__()
        hidden = hidden or dim
        self.net = nn.Sequential(
            nn.LayerNorm(dim), nn.Dropout(dropout), nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, n_outputs),
        )

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, n_outputs)."""
        return self.net(pooled)


class LanistrModel(nn.Module):
    """Encoders for each modality, a projection of every encoder's tokens to ``dim``, a learned
    modality-type embedding, a fusion module and an optional task head.

    ``missing="mask"`` folds each row's presence into the token mask, so an absent
    modality contributes no token that any output can see. ``missing="zero"``
    reproduces the official code: absent tokens are zero-filled and still attended.
    """

    def __init__(
        self,
        *,
        encoders: Mapping[str, Encoder],
        fusion: Fusion,
        dim: int,
        head: nn.Module | None = None,
        missing: str = "mask",
    ) -> None:
        super().__init__()
        if not encoders:
            raise ValueError("LanistrModel needs at least one modality encoder")
        if missing not in MISSING_MODES:
            raise ValueError(f"missing must be one of {MISSING_MODES}, got {missing!r}")
        if fusion.dim != dim:
            raise ValueError(f"fusion width {fusion.dim} != model width {dim}")
        self.modalities: list[str] = list(encoders)
        self.dim, self.missing = dim, missing
        self.encoders = nn.ModuleDict(encoders)
        # LayerNorm over the feature axis (the official code normalised across tokens: a bug).
        self.projections = nn.ModuleDict(
            {name: nn.Sequential(nn.Linear(enc.dim, dim), nn.LayerNorm(dim)) for name, enc in encoders.items()}
        )
        self.modality_embed = nn.Embedding(len(encoders), dim)
        self.fusion = fusion
        self.head = head

    def encode(self, batches: Mapping[str, Batch]) -> dict[str, EncodedTokens]:
        """Run each modality's encoder on its batch."""
        self._check_batches(batches)
        return {name: self.encoders[name](batches[name]) for name in self.modalities}

    def fuse(
        self,
        encoded: Mapping[str, EncodedTokens],
        present: Mapping[str, torch.Tensor],
        *,
        row_ids: Sequence[Any] | None = None,
    ) -> FusionOutput:
        """Project, tag, mask and fuse the encoded tokens of every modality."""
        self._check_rows(present, row_ids)
        tokens, masks, index = [], [], []
        for i, name in enumerate(self.modalities):
            enc = encoded[name]
            x = self.projections[name](enc.tokens) + self.modality_embed.weight[i]  # (B, T_m, D)
            row_present = present[name].to(device=x.device, dtype=torch.bool)[:, None]  # (B, 1)
            if self.missing == "mask":
                mask = enc.mask & row_present
            else:  # official zero-fill: absent tokens become zeros that are still attended
                x = x * row_present.unsqueeze(-1).to(x.dtype)
                mask = enc.mask
            tokens.append(x)
            masks.append(mask)
            index.append(torch.full((x.shape[1],), i, dtype=torch.long, device=x.device))
        # (B, N, D) with N = sum of T_m; (B, N) mask; (N,) modality of each position
        return self.fusion(torch.cat(tokens, 1), torch.cat(masks, 1), modality_index=torch.cat(index))

    def forward(self, batches: Mapping[str, Batch], *, row_ids: Sequence[Any] | None = None) -> ModelOutput:
        """Encode, fuse and apply the head (when there is one)."""
        encoded = self.encode(batches)
        fused = self.fuse(encoded, {n: batches[n][PRESENT] for n in self.modalities}, row_ids=row_ids)
        logits = self.head(fused.pooled) if self.head is not None else None
        return ModelOutput(pooled=fused.pooled, fused=fused, logits=logits, encoded=encoded)

    def _check_batches(self, batches: Mapping[str, Batch]) -> None:
        missing = [n for n in self.modalities if n not in batches]
        if missing:
            raise KeyError(f"batches lack modalities {missing}; the model has {self.modalities}")

    def _check_rows(self, present: Mapping[str, torch.Tensor], row_ids: Sequence[Any] | None) -> None:
        any_present = torch.stack([present[n].to(torch.bool).cpu() for n in self.modalities]).any(0)  # (B,)
        if bool(any_present.all()):
            return
        bad = (~any_present).nonzero().flatten().tolist()
        labels = [row_ids[i] for i in bad] if row_ids is not None else bad
        raise no_modality_error(labels, len(labels), f"none of {self.modalities} present by the modalities' own rules")
