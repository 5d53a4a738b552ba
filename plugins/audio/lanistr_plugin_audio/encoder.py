"""AST encoder: every clip slot -> CLS + distillation + patch tokens, with a learned mask token for the objective."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lanistr_core import PRESENT, Batch, EncodedTokens, Encoder
from lanistr_plugin_audio.ast import build_ast, patch_grid, real_patches
from lanistr_plugin_audio.config import AudioConfig
from lanistr_plugin_audio.preprocessor import CLIP_PRESENT, FBANK, FRAMES, PATCH_MASK, AudioPreprocessor

N_PREFIX_TOKENS = 2  # AST's CLS and distillation tokens, before the patch tokens of each slot


class AudioEncoder(Encoder):
    """Hugging Face ``ASTModel`` applied to each clip slot.

    Tokens are ``last_hidden_state`` of every slot concatenated along the token axis:
    (B, N * (2 + P), D) for N audio columns and P patches. ``ASTModel`` has no
    ``bool_masked_pos``: a forward hook on its patch embedding replaces the embeddings of the
    patches in ``batch["patch_mask"]`` by a learned mask token, before position embeddings are
    added (as SimMIM does in ViT).

    Padding: patches that lie entirely in padded frames are left out of attention (AST's
    ``attention_mask``) and their tokens are masked (False). An empty slot of a present row is
    all padding; a row with no clip at all keeps an all-True mask, so the core's missing-modality
    policy alone decides what happens to it.
    """

    n_prefix_tokens = N_PREFIX_TOKENS

    def __init__(self, *, config: AudioConfig, preprocessor: AudioPreprocessor) -> None:
        super().__init__()
        self.geometry = preprocessor.ast_config_
        self.ast = build_ast(config, self.geometry)
        self.pretrained = config.pretrained_path is not None  # lower encoder rate in training
        self.dim = int(self.ast.config.hidden_size)
        self.n_clips = len(preprocessor.columns)
        self.n_patches = preprocessor.n_patches
        self.grid = patch_grid(self.geometry)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, self.dim))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self._pending_mask: torch.Tensor | None = None
        self.ast.embeddings.patch_embeddings.register_forward_hook(self._insert_mask_token)

    def _insert_mask_token(self, module: nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor:
        """Forward hook: (B*N, P, D) patch embeddings -> the same with masked patches replaced."""
        if self._pending_mask is None:
            return output
        chosen = self._pending_mask.unsqueeze(-1)  # (B*N, P, 1)
        return torch.where(chosen, self.mask_token.to(output.dtype), output)

    def forward(self, batch: Batch) -> EncodedTokens:
        """(B, N, L, M) fbank + (B, N, P) patch mask -> tokens (B, N * (2 + P), dim)."""
        fbank = batch[FBANK]
        B, N = fbank.shape[:2]
        weight = self.ast.embeddings.patch_embeddings.projection.weight
        flat = fbank.flatten(0, 1).to(weight.dtype)  # (B*N, L, M)
        real = real_patches(batch[FRAMES].flatten(0, 1), self.geometry)  # (B*N, P)
        prefix = torch.ones(B * N, self.n_prefix_tokens, dtype=torch.bool, device=real.device)
        attention = torch.cat([prefix, real], dim=1)  # (B*N, 2 + P); prefix always attends
        self._pending_mask = batch[PATCH_MASK].flatten(0, 1)  # (B*N, P)
        try:
            hidden = self.ast(input_values=flat, attention_mask=attention).last_hidden_state  # (B*N, 2+P, dim)
        finally:
            self._pending_mask = None  # a later plain call to self.ast must not see a stale mask
        T = hidden.shape[1]
        tokens = hidden.reshape(B, N * T, self.dim)  # (B, N*(2+P), dim), slot-major
        slot_present = batch[CLIP_PRESENT].reshape(B * N, 1)  # (B*N, 1)
        mask = (attention & slot_present).reshape(B, N * T)  # (B, N*(2+P)): empty slots are padding
        mask = mask | ~batch[PRESENT].unsqueeze(1)  # rows without any clip: all True, the core decides
        return EncodedTokens(tokens=tokens, mask=mask)
