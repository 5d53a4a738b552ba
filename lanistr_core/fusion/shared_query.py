"""Cross-attention from queries shared by every row (the Perceiver's latents) on CPU.

The latents are the same for all rows, so their projection is done once (and their gradient summed
over rows), and the attention works on the fused key/value projection of the context as it is: K and
V are read in place from the (B, N, 2D) tensor, and their gradients are written straight into one
(B, N, 2D) gradient, with no contiguous copies of K and V and no concatenation of dK and dV
afterwards. Only the attention weights are kept for the backward pass (the probabilities a plain
implementation keeps too), and torch's fused softmax and softmax-backward kernels run on them. On CPU at large N this beats the fused SDPA kernels, whose backward
recomputes the weights block by block; on CUDA the fused kernels (SDPA, xformers) are used instead.
"""

from __future__ import annotations

import torch


class SharedQueryAttention(torch.autograd.Function):
    """softmax(q k^T / sqrt(dh) + bias) v for q (L, D) shared by all rows and kv = [k | v] (B, N, 2D)."""

    @staticmethod
    def forward(ctx, q: torch.Tensor, kv: torch.Tensor, bias: torch.Tensor | None, heads: int) -> torch.Tensor:  # type: ignore[override]
        B, N, D2 = kv.shape
        L, D, dh = q.shape[0], D2 // 2, D2 // 2 // heads
        qh = (q * dh**-0.5).view(L, heads, dh).transpose(0, 1).contiguous()  # (H, L, dh), scaled once
        scores = kv.new_empty(B, L, N)  # reused by every head
        out = kv.new_empty(B, L, heads, dh)
        weights = []
        for h in range(heads):
            k, v = _head(kv, h, dh, D)
            torch.bmm(qh[h].expand(B, L, dh), k.transpose(1, 2), out=scores)
            if bias is not None:
                scores.add_(bias[:, None, :])  # -inf on absent keys
            w = torch.softmax(scores, dim=-1)  # (B, L, N), one fused pass
            torch.bmm(w, v, out=out[:, :, h])  # (B, L, N) @ (B, N, dh)
            weights.append(w)
        ctx.heads = heads
        ctx.save_for_backward(qh, kv, out, *weights)
        return out.view(B, L, D)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        qh, kv, out, *weights = ctx.saved_tensors
        heads, (B, N, D2), L = ctx.heads, kv.shape, qh.shape[1]
        D, dh = D2 // 2, D2 // 2 // heads
        grad_out = grad_out.reshape(B, L, heads, dh)
        grad_kv = torch.empty_like(kv)
        grad_q = qh.new_empty(heads, L, dh)
        # two (B, L, N) buffers serve every head: large fresh allocations cost page faults each step
        grad_w, grad_s = torch.empty_like(weights[0]), torch.empty_like(weights[0])
        for h in range(heads):
            k, v = _head(kv, h, dh, D)
            w = weights[h]  # (B, L, N)
            g = grad_out[:, :, h]  # (B, L, dh)
            torch.bmm(w.transpose(1, 2), g, out=grad_kv[:, :, D + h * dh : D + (h + 1) * dh])  # dV = W^T dO
            torch.bmm(g, v.transpose(1, 2), out=grad_w)  # (B, L, N) dW = dO V^T
            # dS = W * (dW - rowsum(dW * W)): autograd's own fused softmax backward
            torch.ops.aten._softmax_backward_data.out(grad_w, w, -1, w.dtype, grad_input=grad_s)
            torch.bmm(grad_s.transpose(1, 2), qh[h].expand(B, L, dh), out=grad_kv[:, :, h * dh : (h + 1) * dh])
            grad_q[h] = torch.bmm(grad_s, k).sum(0)  # the query is shared: sum over rows
        grad_q = (grad_q * dh**-0.5).transpose(0, 1).reshape(L, D)
        return grad_q, grad_kv, None, None


def _head(kv: torch.Tensor, h: int, dh: int, D: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Head ``h``'s keys and values as strided (B, N, dh) views of the fused projection."""
    return kv[:, :, h * dh : (h + 1) * dh], kv[:, :, D + h * dh : D + (h + 1) * dh]


def shared_query_attention(
    q: torch.Tensor, kv: torch.Tensor, key_mask: torch.Tensor | None, *, heads: int,
    value_bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """Multi-head attention of shared queries q (L, D) over kv = [k | v] (B, N, 2D) -> (B, L, D).

    ``key_mask`` (B, N) bool, True = the key takes part; a row with no key at all gets a zero output,
    as in :func:`lanistr_core.attention.attend`. ``value_bias`` (D,) is added to every output, which
    equals adding it to every value (the attention weights sum to one) at 1/N of the cost.
    """
    has_key = None
    bias = None
    if key_mask is not None and not bool(key_mask.all()):
        has_key = key_mask.any(dim=-1)  # (B,)
        safe = key_mask | ~has_key[:, None]
        bias = torch.zeros(safe.shape, dtype=kv.dtype, device=kv.device).masked_fill_(~safe, float("-inf"))
    out = SharedQueryAttention.apply(q, kv, bias, heads)
    if value_bias is not None:
        out = out + value_bias
    return out if has_key is None else out * has_key[:, None, None].to(out.dtype)
