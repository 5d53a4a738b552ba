"""One attention function with interchangeable backends.

``attend(q, k, v, key_mask=..., backend=...)`` computes softmax(q k^T / sqrt(d)) v
where keys whose ``key_mask`` is False take no part. Backends:

* ``math``: plain PyTorch reference (tests compare everything against it).
* ``sdpa``: ``torch.nn.functional.scaled_dot_product_attention`` (fused kernels on CPU and CUDA).
* ``xformers``: ``xformers.ops.memory_efficient_attention`` on CUDA; masked keys are
  *packed away* (block-diagonal bias over the present keys only), so a missing
  modality costs no compute.
* ``auto``: xformers on CUDA when importable, otherwise sdpa.

A query whose row has no key at all gets a zero output (instead of NaN).
"""

from __future__ import annotations

import functools
import math as _math

import torch
import torch.nn.functional as F

BACKENDS = ("auto", "sdpa", "math", "xformers")


@functools.cache
def xformers_available() -> bool:
    """True when ``xformers.ops`` imports (its kernels need CUDA tensors)."""
    try:
        import xformers.ops  # noqa: F401
    except Exception:
        return False
    return True


def resolve_backend(backend: str, device: torch.device) -> str:
    """Map ``auto`` to a concrete backend for ``device``; validate the name."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown attention backend {backend!r}; known: {', '.join(BACKENDS)}")
    if backend == "auto":
        return "xformers" if device.type == "cuda" and xformers_available() else "sdpa"
    if backend == "xformers":
        if not xformers_available():
            raise RuntimeError("attention backend 'xformers' needs the optional extra: pip install 'lanistr[cuda]'")
        if device.type != "cuda":
            raise RuntimeError("attention backend 'xformers' has no CPU kernels; use 'sdpa' or 'auto' on CPU")
    return backend


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    key_mask: torch.Tensor | None = None,
    backend: str = "auto",
    dropout_p: float = 0.0,
) -> torch.Tensor:
    """Multi-head attention core.

    Args:
        q: (B, H, Lq, Dh) queries.
        k, v: (B, H, Lk, Dh) keys and values.
        key_mask: optional (B, Lk) bool, True = the key takes part.
        backend: one of ``BACKENDS``.
        dropout_p: attention dropout (pass 0.0 in eval).

    Returns:
        (B, H, Lq, Dh) attention output.
    """
    backend = resolve_backend(backend, q.device)
    if key_mask is None:
        return _dispatch(backend, q, k, v, None, dropout_p)
    has_key = key_mask.any(dim=-1)  # (B,)
    if not torch.compiler.is_compiling():
        # Eager fast paths (each a host sync, which would split a compiled graph): with every key
        # present no mask reaches the kernel (sdpa's unmasked CPU/CUDA kernels are the fastest).
        if bool(key_mask.all()):
            return _dispatch(backend, q, k, v, None, dropout_p)
        if bool(has_key.all()):
            return _dispatch(backend, q, k, v, key_mask, dropout_p)
    # Rows with no key: let them attend everything, then zero their output, so
    # the masked values still cannot reach any output and nothing becomes NaN.
    safe_mask = key_mask | ~has_key[:, None]
    out = _dispatch(backend, q, k, v, safe_mask, dropout_p)
    return out * has_key[:, None, None, None].to(out.dtype)


def _dispatch(
    backend: str, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor | None, dropout_p: float
) -> torch.Tensor:
    if backend == "math":
        return _math_attention(q, k, v, key_mask, dropout_p)
    if backend == "sdpa":
        attn_mask = None if key_mask is None else key_mask[:, None, None, :]  # (B, 1, 1, Lk) broadcast over H, Lq
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)
    return _xformers_attention(q, k, v, key_mask, dropout_p)


def _math_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor | None, dropout_p: float
) -> torch.Tensor:
    scores = q @ k.transpose(-2, -1) / _math.sqrt(q.shape[-1])  # (B, H, Lq, Lk)
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    weights = scores.softmax(dim=-1)
    if dropout_p > 0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v


def _xformers_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor | None, dropout_p: float
) -> torch.Tensor:
    import xformers.ops as xops

    B, H, Lq, Dh = q.shape
    q_ = q.transpose(1, 2)  # (B, Lq, H, Dh): xformers' layout
    k_, v_ = k.transpose(1, 2), v.transpose(1, 2)
    if key_mask is None:
        return xops.memory_efficient_attention(q_, k_, v_, p=dropout_p).transpose(1, 2)
    # Pack the present keys of all rows into one sequence and let a block-diagonal
    # bias keep rows apart: masked keys are never read, padding costs nothing.
    flat_mask = key_mask.reshape(-1)
    k_packed = k_.reshape(1, -1, H, Dh)[:, flat_mask]  # (1, sum n_b, H, Dh)
    v_packed = v_.reshape(1, -1, H, Dh)[:, flat_mask]
    q_packed = q_.reshape(1, B * Lq, H, Dh)  # (1, B*Lq, H, Dh)
    kv_seqlens = key_mask.sum(dim=-1).tolist()
    bias = xops.fmha.attn_bias.BlockDiagonalMask.from_seqlens(q_seqlen=[Lq] * B, kv_seqlen=kv_seqlens)
    out = xops.memory_efficient_attention(q_packed, k_packed, v_packed, attn_bias=bias, p=dropout_p)
    return out.reshape(B, Lq, H, Dh).transpose(1, 2)  # (B, H, Lq, Dh)
