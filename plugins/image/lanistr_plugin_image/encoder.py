"""ViT encoder: every image slot -> CLS + patch tokens, with a learned mask token for MIM."""

from __future__ import annotations

import torch

from lanistr_core import PRESENT, Batch, EncodedTokens, Encoder
from lanistr_plugin_image.config import ImageConfig
from lanistr_plugin_image.preprocessor import IMAGE_PRESENT, PATCH_MASK, PIXEL_VALUES, ImagePreprocessor
from lanistr_plugin_image.vit import build_vit


def slot_tokens(hidden: torch.Tensor, batch: Batch) -> EncodedTokens:
    """Per-image tokens (B*N, T, D) -> the row's tokens (B, N*T, D), slot-major, with their mask.

    Tokens of an empty slot in a row that has another image are padding (False); a row with no
    image at all keeps an all-True mask, so the core's missing-modality policy alone decides.
    """
    B, N = batch[IMAGE_PRESENT].shape
    T, D = hidden.shape[1:]
    tokens = hidden.reshape(B, N * T, D)  # (B, N*T, D), slot-major
    real = batch[IMAGE_PRESENT] | ~batch[PRESENT][:, None]  # (B, N)
    return EncodedTokens(tokens=tokens, mask=real.repeat_interleave(T, dim=1))  # mask (B, N*T)


class ImageEncoder(Encoder):
    """Hugging Face ``ViTModel`` (no pooler, with mask token) applied to each image slot.

    Tokens are ``last_hidden_state`` of every slot concatenated along the token axis:
    (B, N * (1 + P), D) for N image columns and P patches. ``batch["patch_mask"]``
    is passed as ``bool_masked_pos``, so masked patches are replaced by the mask
    token before the transformer sees them.

    Token mask: tokens of an image slot that is empty in a row that has other
    images are padding (False). Rows without any image keep an all-True mask, so
    the core's missing-modality policy alone decides what happens to them (mask
    them out, or attend zero placeholders like the official code).
    """

    n_prefix_tokens = 1  # CLS, before the P patch tokens of each slot

    def __init__(self, *, config: ImageConfig, preprocessor: ImagePreprocessor) -> None:
        super().__init__()
        self.vit = build_vit(config)
        self.pretrained = config.pretrained_path is not None  # lower encoder rate in training
        vit_config = self.vit.config
        if vit_config.patch_size != preprocessor.patch_size_:
            raise ValueError(
                f"the ViT uses patch_size {vit_config.patch_size} but the preprocessor was fitted with "
                f"{preprocessor.patch_size_}"
            )
        self.dim = int(vit_config.hidden_size)
        self.patch_size = int(vit_config.patch_size)
        self.image_size = preprocessor.image_size_
        self.n_images = len(preprocessor.columns)
        self.n_patches = preprocessor.n_patches
        # A checkpoint trained at another resolution still works: HF interpolates its position grid.
        self.interpolate = self.image_size != vit_config.image_size

    def forward(self, batch: Batch) -> EncodedTokens:
        """(B, N, 3, S, S) pixels + (B, N, P) patch mask -> tokens (B, N * (1 + P), dim)."""
        pixels = batch[PIXEL_VALUES]
        weight = self.vit.embeddings.patch_embeddings.projection.weight
        flat = pixels.flatten(0, 1).to(weight.dtype)  # (B*N, 3, S, S)
        patch_mask = batch[PATCH_MASK].flatten(0, 1)  # (B*N, P)
        hidden = self.vit(
            pixel_values=flat, bool_masked_pos=patch_mask, interpolate_pos_encoding=self.interpolate
        ).last_hidden_state  # (B*N, 1+P, dim)
        return slot_tokens(hidden, batch)  # (B, N*(1+P), dim)
