"""Transformer building blocks shared by the fusion modules (pre-norm, role-named layers)."""

from __future__ import annotations

import torch
from torch import nn

from lanistr_core.attention import attend, resolve_backend
from lanistr_core.fusion.shared_query import shared_query_attention


class Attention(nn.Module):
    """Multi-head attention from a query sequence to a context sequence via ``attend``."""

    def __init__(self, *, dim: int, heads: int, dropout: float = 0.0, backend: str = "auto") -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim={dim} must be divisible by heads={heads}")
        self.heads, self.dropout, self.backend = heads, dropout, backend
        self.to_q = nn.Linear(dim, dim)
        self.to_kv = nn.Linear(dim, 2 * dim)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, Lq, D) queries, or (1, Lq, D) shared by every row; context: (B, Lk, D);
        key_mask: (B, Lk) bool -> (B, Lq, D)."""
        Bq, Lq, D = x.shape
        B, h = context.shape[0], self.heads
        if Bq == 1 and self._shared_query_kernel(x):
            # CPU: latents shared by every row attend over the fused K/V projection in place. The
            # biases leave the N-token projection: the key bias shifts every score of a query alike
            # (softmax ignores it) and the value bias comes out unchanged (the weights sum to 1), so
            # it is added to the L outputs instead of the N values.
            kv = nn.functional.linear(context, self.to_kv.weight)
            out = shared_query_attention(self.to_q(x)[0], kv, key_mask, heads=h, value_bias=self.to_kv.bias[D:])
            return self.to_out(out)
        # A shared query (the Perceiver's latents) is projected once, not once per row.
        q = self.to_q(x).view(Bq, Lq, h, D // h).transpose(1, 2).expand(B, -1, -1, -1)  # (B, H, Lq, Dh)
        k, v = self.to_kv(context).chunk(2, dim=-1)
        k = k.view(B, -1, h, D // h).transpose(1, 2)  # (B, H, Lk, Dh)
        v = v.view(B, -1, h, D // h).transpose(1, 2)
        out = attend(q, k, v, key_mask=key_mask, backend=self.backend, dropout_p=self.dropout if self.training else 0.0)
        return self.to_out(out.transpose(1, 2).reshape(B, Lq, D))  # (B, Lq, D)

    def _shared_query_kernel(self, x: torch.Tensor) -> bool:
        # Only where it is the faster kernel: eager CPU sdpa without attention dropout. The math
        # backend stays the plain reference the tests compare against; CUDA has fused kernels.
        # Under autocast (bf16) the generic path lets autocast choose each op's precision.
        return (x.device.type == "cpu" and resolve_backend(self.backend, x.device) == "sdpa"
                and not (self.training and self.dropout > 0) and not torch.compiler.is_compiling()
                and not torch.is_autocast_enabled("cpu"))


class FeedForward(nn.Module):
    """Pre-norm MLP with GELU."""

    def __init__(self, *, dim: int, mult: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, dim * mult), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim * mult, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, D) -> (B, L, D)."""
        return self.net(x)


class Block(nn.Module):
    """Pre-norm attention + MLP block; cross-attention when ``context`` is given, else self-attention."""

    def __init__(
        self, *, dim: int, heads: int, mlp_mult: int = 4, dropout: float = 0.0, backend: str = "auto", cross: bool = False
    ) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim) if cross else None
        self.attn = Attention(dim=dim, heads=heads, dropout=dropout, backend=backend)
        self.ff = FeedForward(dim=dim, mult=mlp_mult, dropout=dropout)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, key_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x: (B, L, D); context: (B, N, D) or None (self-attention); key_mask over context (or x).

        In cross-attention ``x`` may be (1, L, D), shared by all rows: normalised and projected once.
        """
        q = self.norm_q(x)
        if (context is None) != (self.norm_kv is None):
            raise ValueError("a cross-attention Block needs a context; a self-attention Block takes none")
        kv = q if context is None else self.norm_kv(context)
        x = x + self.attn(q, kv, key_mask)
        return x + self.ff(x)
