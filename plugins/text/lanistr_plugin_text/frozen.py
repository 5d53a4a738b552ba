"""Outputs of the frozen lower layers of a text encoder, computed once per distinct text.

When only the top layers of a pretrained BERT train (``trainable_layers``), the embeddings and the
layers below give the same output for the same token ids in every epoch, every arm of an experiment
and every evaluation. On a CPU that lower part is most of the cost, so it is worth caching
(``cache_frozen=True``). Entries are keyed by a fingerprint of the frozen weights and the row's real
token ids (padding stripped), so models that share those weights (a fine-tuned copy, a reloaded
model) share the entries, and a change of weights never serves a stale one. The cache lives in this
process's memory only (about ``T * hidden * 4`` bytes per text: 98 kB at 64 pieces and width 384),
bounded by ``max_rows`` with first-in-first-out eviction.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable

import torch


class FrozenOutputCache:
    """A bounded map (weights fingerprint, token ids) -> (T_i, hidden) output of the frozen part."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self._rows: OrderedDict[tuple[str, bytes], torch.Tensor] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: tuple[str, bytes]) -> torch.Tensor | None:
        """The cached output, or None."""
        return self._rows.get(key)

    def put(self, key: tuple[str, bytes], value: torch.Tensor) -> None:
        """Store ``value`` (detached), evicting the oldest entries beyond ``max_rows``."""
        self._rows[key] = value.detach()
        while len(self._rows) > self.max_rows:
            self._rows.popitem(last=False)

    def clear(self) -> None:
        """Drop every entry."""
        self._rows.clear()


# One cache per process: arms of an experiment are separate model instances over the same weights.
SHARED_CACHE = FrozenOutputCache(max_rows=100_000)


def fingerprint(parameters: Iterable[torch.Tensor]) -> str:
    """SHA-1 of the parameters' values: equal weights, equal fingerprint."""
    digest = hashlib.sha1()
    for p in parameters:
        digest.update(p.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def row_key(fingerprint_: str, ids: torch.Tensor, length: int) -> tuple[str, bytes]:
    """Cache key of one row: its first ``length`` (real) token ids under the given weights."""
    return fingerprint_, ids[:length].cpu().numpy().tobytes()
