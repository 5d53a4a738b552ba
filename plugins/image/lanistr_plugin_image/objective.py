"""SimMIM masked image modelling: mask patches, reconstruct their pixels, L1 on the masked ones."""

from __future__ import annotations

import math

import torch
from torch import nn

from lanistr_core import PRESENT, Batch, EncodedTokens, MaskingObjective
from lanistr_plugin_image.preprocessor import IMAGE_PRESENT, PATCH_MASK, PIXEL_VALUES

CHANNELS = 3


def pixel_mask(patch_mask: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(M, P) bool mask over a square grid of patches -> (M, 1, S, S) bool mask over pixels.

    Patches are row-major, as ViT patch tokens and flattened feature maps are; S = sqrt(P) * patch_size.
    """
    M, P = patch_mask.shape
    grid = math.isqrt(P)
    return (
        patch_mask.reshape(M, grid, grid)  # (M, g, g)
        .repeat_interleave(patch_size, dim=1)
        .repeat_interleave(patch_size, dim=2)
        .unsqueeze(1)
    )  # (M, 1, S, S), broadcasts over channels


class SimMIMObjective(MaskingObjective):
    """Masks ``mask_ratio`` of the patches of every present image and scores a pixel reconstruction.

    The decoder is SimMIM's (as in ``transformers.ViTForMaskedImageModeling``): a
    1x1 convolution to ``patch_size**2 * 3`` channels and a pixel shuffle back to
    the image grid. The loss is the L1 error on masked patches of present images,
    averaged over masked pixels x channels, in normalised pixel space.

    Each image slot contributes ``n_prefix_tokens`` tokens (CLS, registers: skipped) followed by
    its P patch tokens in row-major order; a CNN backbone has no prefix and one token per cell
    of its feature map, ``patch_size`` being the feature stride.
    """

    def __init__(
        self, *, dim: int, patch_size: int, image_size: int, n_images: int, mask_ratio: float, n_prefix_tokens: int = 1
    ) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"patch_size {patch_size} must divide image_size {image_size}")
        self.patch_size, self.grid, self.n_images = patch_size, image_size // patch_size, n_images
        self.n_prefix_tokens = n_prefix_tokens
        self.n_patches = self.grid**2
        # Exactly k patches per image (SimMIM's mask generator), at least one so every image is scored.
        self.n_masked = max(1, round(mask_ratio * self.n_patches))
        self.decoder = nn.Sequential(
            nn.Conv2d(dim, patch_size**2 * CHANNELS, kernel_size=1),
            nn.PixelShuffle(patch_size),
        )

    def mask(self, batch: Batch, generator: torch.Generator | None = None) -> tuple[Batch, Batch]:
        """Choose ``n_masked`` random patches per present image (drawn on CPU with ``generator``)."""
        image_present = batch[IMAGE_PRESENT]  # (B, N)
        B, N = image_present.shape
        scores = torch.rand(B, N, self.n_patches, generator=generator)  # CPU, reproducible per generator
        ranks = scores.argsort(dim=-1).argsort(dim=-1)  # rank of each patch's score within its image
        chosen = (ranks < self.n_masked).to(image_present.device) & image_present.unsqueeze(-1)  # (B, N, P)
        masked = dict(batch)
        masked[PATCH_MASK] = chosen
        targets = {
            PIXEL_VALUES: batch[PIXEL_VALUES],
            PATCH_MASK: chosen,
            IMAGE_PRESENT: image_present,
            PRESENT: batch[PRESENT],
        }
        return masked, targets

    def loss(self, encoded: EncodedTokens, targets: Batch) -> torch.Tensor:
        """Mean absolute error over masked pixels x channels of present images."""
        tokens = encoded.tokens
        scored = targets[IMAGE_PRESENT] & targets[PRESENT].unsqueeze(-1)  # (B, N)
        patch_mask = targets[PATCH_MASK] & scored.unsqueeze(-1)  # (B, N, P)
        if not bool(patch_mask.any()):
            return tokens.sum() * 0
        B = tokens.shape[0]
        per_slot = self.n_prefix_tokens + self.n_patches
        slots = tokens.reshape(B, self.n_images, per_slot, -1)  # (B, N, prefix + P, D)
        patches = slots[:, :, self.n_prefix_tokens :]  # (B, N, P, D), prefix (CLS...) dropped
        # Decode only the images that are scored: absent slots would be wasted work.
        chosen = patches[scored]  # (M, P, D)
        M, _, D = chosen.shape
        grid = chosen.transpose(1, 2).reshape(M, D, self.grid, self.grid)  # (M, D, g, g)
        recon = self.decoder(grid).float()  # (M, 3, S, S); float32 so bf16 autocast does not coarsen the sum
        target = targets[PIXEL_VALUES][scored].float()  # (M, 3, S, S)
        pixels = pixel_mask(patch_mask[scored], self.patch_size)  # (M, 1, S, S), broadcast over channels
        error = (recon - target).abs() * pixels
        return error.sum() / (pixels.sum() * CHANNELS)
