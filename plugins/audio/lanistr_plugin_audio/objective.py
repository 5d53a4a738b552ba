"""Masked spectrogram-patch modelling: mask AST patches, reconstruct their log-mel values, L1/MSE on the masked ones."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import ASTConfig

from lanistr_core import PRESENT, Batch, EncodedTokens, MaskingObjective
from lanistr_plugin_audio.ast import patch_grid, real_patches
from lanistr_plugin_audio.preprocessor import CLIP_PRESENT, FBANK, FRAMES, PATCH_MASK


class MaskedSpectrogramObjective(MaskingObjective):
    """Masks ``mask_ratio`` of the real patches of every present clip and scores their reconstruction.

    SimMIM on the AST patch grid: the encoder replaces masked patch embeddings by its mask
    token; a linear head maps each masked patch token back to its ``patch_size**2`` normalised
    log-mel values (patches overlap when the strides are below the patch side: each patch is
    scored on its own window). The loss is the L1 (or MSE) error on masked patches of present
    clips in present rows, averaged over their real (non-padded) bins.
    """

    def __init__(
        self, *, dim: int, geometry: ASTConfig, n_clips: int, mask_ratio: float, loss: str = "l1",
        n_prefix_tokens: int = 2,
    ) -> None:
        super().__init__()
        if loss not in ("l1", "mse"):
            raise ValueError(f"loss must be 'l1' or 'mse', got {loss!r}")
        self.geometry, self.n_clips, self.mask_ratio, self.loss_kind = geometry, n_clips, mask_ratio, loss
        self.n_prefix_tokens = n_prefix_tokens
        n_frequency, n_time = patch_grid(geometry)
        self.n_patches = n_frequency * n_time
        self.decoder = nn.Linear(dim, geometry.patch_size**2)

    def mask(self, batch: Batch, generator: torch.Generator | None = None) -> tuple[Batch, Batch]:
        """Choose round(mask_ratio * real patches), at least one, per present clip (drawn on CPU with ``generator``)."""
        clip_present = batch[CLIP_PRESENT]  # (B, N)
        real = real_patches(batch[FRAMES].cpu(), self.geometry)  # (B, N, P)
        scores = torch.rand(real.shape, generator=generator).masked_fill(~real, 2.0)  # padding ranks last
        ranks = scores.argsort(dim=-1).argsort(dim=-1)  # rank of each patch's score within its clip
        n_masked = (real.sum(-1) * self.mask_ratio).round().clamp_min(1)  # (B, N)
        chosen = (ranks < n_masked.unsqueeze(-1)) & real  # (B, N, P)
        chosen = chosen.to(clip_present.device) & clip_present.unsqueeze(-1)
        masked = dict(batch)
        masked[PATCH_MASK] = chosen
        targets = {
            FBANK: batch[FBANK], FRAMES: batch[FRAMES], PATCH_MASK: chosen, CLIP_PRESENT: clip_present,
            PRESENT: batch[PRESENT],
        }
        return masked, targets

    def _unfold(self, grid: torch.Tensor) -> torch.Tensor:
        """(B, N, L, M) frames x mel -> (B, N, P, patch**2) patch windows, in the AST's token order."""
        B, N, L, M = grid.shape
        image = grid.reshape(B * N, 1, L, M).transpose(2, 3)  # (B*N, 1, M, L): the AST conv's view
        g = self.geometry
        windows = F.unfold(image, kernel_size=g.patch_size, stride=(g.frequency_stride, g.time_stride))
        return windows.transpose(1, 2).reshape(B, N, self.n_patches, -1)  # (B*N, p*p, P) -> (B, N, P, p*p)

    def loss(self, encoded: EncodedTokens, targets: Batch) -> torch.Tensor:
        """Mean L1 (or squared) error over the real bins of masked patches of present clips."""
        tokens = encoded.tokens
        scored = targets[CLIP_PRESENT] & targets[PRESENT].unsqueeze(-1)  # (B, N)
        patch_mask = targets[PATCH_MASK] & scored.unsqueeze(-1)  # (B, N, P)
        if not bool(patch_mask.any()):
            return tokens.sum() * 0
        B = tokens.shape[0]
        slots = tokens.reshape(B, self.n_clips, self.n_prefix_tokens + self.n_patches, -1)  # (B, N, 2 + P, D)
        chosen = slots[:, :, self.n_prefix_tokens :][patch_mask]  # (K, D), prefix tokens dropped
        recon = self.decoder(chosen).float()  # (K, p*p); float32 so bf16 autocast does not coarsen the sum
        fbank = targets[FBANK].float()
        target = self._unfold(fbank)[patch_mask]  # (K, p*p)
        frame_index = torch.arange(fbank.shape[2], device=fbank.device)
        real_frames = (frame_index < targets[FRAMES].unsqueeze(-1)).float()  # (B, N, L)
        weight = self._unfold(real_frames.unsqueeze(-1).expand_as(fbank))[patch_mask]  # (K, p*p), 0 on padding
        error = (recon - target).abs() if self.loss_kind == "l1" else (recon - target).square()
        return (error * weight).sum() / weight.sum().clamp_min(1.0)
