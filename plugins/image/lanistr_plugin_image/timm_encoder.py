"""timm encoder: every image slot -> tokens of any timm model, masked for SimMIM.

ViT-family models get a learned mask token at the patch embedding (as the HF ViT path does);
any other model (CNNs) sees masked patches blanked in pixel space.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lanistr_core import Batch, EncodedTokens, Encoder
from lanistr_plugin_image.config import ImageConfig
from lanistr_plugin_image.encoder import slot_tokens
from lanistr_plugin_image.objective import pixel_mask
from lanistr_plugin_image.preprocessor import PATCH_MASK, PIXEL_VALUES, ImagePreprocessor
from lanistr_plugin_image.timm_backbone import VIT_FAMILY, create_timm_model, load_timm_weights, timm_geometry

MASK_TOKEN_STD = 0.02  # SimMIM's trunc-normal init of the mask token


class TimmImageEncoder(Encoder):
    """A timm model (``backbone="timm:<name>"``) applied to each image slot.

    Tokens per slot: ViT-family models (``patch_embed`` + ``blocks``) give ``forward_features``
    (``n_prefix_tokens`` prefix tokens, then P patch tokens); other models give their last
    feature map flattened row-major, P = h * w tokens and no prefix. Slots are concatenated
    slot-major with the same mask as :class:`ImageEncoder`.

    ``batch["patch_mask"]``: for the ViT family a forward hook on ``patch_embed`` replaces the
    embeddings of masked patches by a learned ``mask_token`` before position embeddings and
    blocks (the VisionTransformer forward, unchanged otherwise); for feature-map models the
    masked patches (feature cells) are set to 0 in the normalised pixels before the model.
    """

    def __init__(self, *, config: ImageConfig, preprocessor: ImagePreprocessor) -> None:
        super().__init__()
        geometry = timm_geometry(config)
        if geometry.patch_size != preprocessor.patch_size_:
            raise ValueError(
                f"the timm model {config.timm_model!r} has a token stride of {geometry.patch_size} pixels "
                f"but the preprocessor was fitted with patch_size {preprocessor.patch_size_}"
            )
        self.model = create_timm_model(config)
        if config.timm_weights is not None:
            load_timm_weights(self.model, config.timm_weights)
        self.pretrained = config.timm_weights is not None  # lower encoder rate in training
        self.dim, self.patch_size = geometry.dim, geometry.patch_size
        self.n_prefix_tokens, self.channels_last = geometry.n_prefix_tokens, geometry.channels_last
        self.image_size = preprocessor.image_size_
        self.n_images = len(preprocessor.columns)
        self.n_patches = preprocessor.n_patches
        self.vit_family = geometry.kind == VIT_FAMILY
        self._patch_mask: torch.Tensor | None = None  # set only during forward, read by the hook
        if self.vit_family:
            self.mask_token = nn.Parameter(torch.zeros(1, 1, self.dim))
            nn.init.trunc_normal_(self.mask_token, std=MASK_TOKEN_STD)
            self.model.patch_embed.register_forward_hook(self._insert_mask_token)

    def forward(self, batch: Batch) -> EncodedTokens:
        """(B, N, 3, S, S) pixels + (B, N, P) patch mask -> tokens (B, N * T, dim), T tokens per slot."""
        weight = next(self.model.parameters())
        flat = batch[PIXEL_VALUES].flatten(0, 1).to(weight.dtype)  # (B*N, 3, S, S)
        patch_mask = batch[PATCH_MASK].flatten(0, 1)  # (B*N, P)
        hidden = self._vit_tokens(flat, patch_mask) if self.vit_family else self._map_tokens(flat, patch_mask)
        return slot_tokens(hidden, batch)  # hidden (B*N, T, dim) -> (B, N*T, dim)

    def _vit_tokens(self, flat: torch.Tensor, patch_mask: torch.Tensor) -> torch.Tensor:
        """ViT family: ``forward_features`` with the patch mask visible to the ``patch_embed`` hook."""
        self._patch_mask = patch_mask
        try:
            return self.model.forward_features(flat)  # (B*N, prefix + P, dim)
        finally:
            self._patch_mask = None  # a direct call of the model later must not see a stale mask

    def _insert_mask_token(self, module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor:
        """Forward hook of ``patch_embed``: masked patch embeddings -> the mask token.

        Always applied during :meth:`forward` (an all-False mask changes nothing), so that the mask
        token gets a gradient in every batch, as the HF path's does (DDP needs every parameter used).
        """
        if self._patch_mask is None:
            return output
        # (B*N, P, 1), or (B*N, gh, gw, 1) when the model keeps the patch grid (dynamic_img_size)
        masked = self._patch_mask.reshape(*output.shape[:-1], 1)
        return torch.where(masked, self.mask_token.to(output.dtype), output)

    def _map_tokens(self, flat: torch.Tensor, patch_mask: torch.Tensor) -> torch.Tensor:
        """Feature-map models: blank the masked patches' pixels, one token per cell of the last map."""
        blank = pixel_mask(patch_mask, self.patch_size)  # (B*N, 1, S, S)
        features = self.model.forward_features(flat.masked_fill(blank, 0.0))  # (B*N, C, h, w) or (B*N, h, w, C)
        if not self.channels_last:
            features = features.permute(0, 2, 3, 1)  # (B*N, h, w, C)
        return features.flatten(1, 2)  # (B*N, h*w, C), row-major like the patch mask
