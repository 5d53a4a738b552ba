"""Geometric span masks (Zerveas et al., "A Transformer-based Framework for Multivariate Time Series
Representation Learning", KDD 2021), vectorised over many series."""

from __future__ import annotations

import torch


def geometric_span_mask(
    n_series: int, length: int, *, ratio: float, mean_span: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Bool ``(n_series, length)`` mask made of alternating masked / unmasked runs.

    Each series is a two-state Markov chain: masked runs have geometric lengths with mean
    ``mean_span``, unmasked runs geometric lengths with mean ``mean_span * (1 - ratio) / ratio``,
    and the first step is masked with probability ``ratio``; so about ``ratio`` of the steps are
    masked, in spans of mean length ``mean_span``. Random numbers are drawn on the CPU from
    ``generator`` (reproducible whatever device the batch lives on).
    """
    p_masked = 1.0 / mean_span  # chance a masked run ends at each step
    # Mean unmasked run lm (1 - r) / r; capped at p = 1 (runs of 1) when r > lm / (lm + 1).
    p_unmasked = min(1.0, p_masked * ratio / (1.0 - ratio))
    n_runs = length // 2 + 1  # runs per kind: every run covers >= 1 step, so 2 * n_runs > length
    masked_runs = torch.empty(n_series, n_runs).geometric_(p_masked, generator=generator)  # lengths >= 1
    unmasked_runs = torch.empty(n_series, n_runs).geometric_(p_unmasked, generator=generator)
    starts_masked = torch.rand(n_series, 1, generator=generator) < ratio  # (N, 1)
    first = torch.where(starts_masked, masked_runs, unmasked_runs)
    second = torch.where(starts_masked, unmasked_runs, masked_runs)
    runs = torch.stack([first, second], dim=-1).reshape(n_series, 2 * n_runs)  # (N, 2 * n_runs), alternating kinds
    ends = runs.cumsum(dim=-1)  # (N, 2 * n_runs): exclusive end step of each run
    steps = torch.arange(length, dtype=ends.dtype).expand(n_series, length).contiguous()  # (N, T)
    run_index = torch.searchsorted(ends, steps, right=True)  # (N, T): which run covers each step
    return (run_index % 2 == 0) == starts_masked  # even runs are of the first kind
