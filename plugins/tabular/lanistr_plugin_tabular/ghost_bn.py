"""Keeps pytorch-tabnet's (ghost) batch norms working on the small, odd batches LANISTR feeds them.

Two hazards, both fatal in train mode (BatchNorm refuses to normalise a single row):

* the whole batch has one row (or the model sees only placeholder rows): we run that call with
  every batch norm in eval mode, i.e. on its running statistics, and without updating them;
* ``pytorch_tabnet.tab_network.GBN`` splits a batch with ``x.chunk(ceil(B / virtual_batch_size))``,
  which leaves a last chunk of ONE row for some sizes (e.g. B = 57 with virtual_batch_size = 8,
  B = 16257 with 128). For such a B we raise the chunk size of that call by the smallest amount
  that avoids it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

from pytorch_tabnet.tab_network import GBN
from torch import nn


def smallest_chunk(n_rows: int, virtual_batch_size: int) -> int:
    """Size of the last chunk ``GBN`` makes of ``n_rows`` rows (torch.chunk semantics)."""
    n_chunks = math.ceil(n_rows / virtual_batch_size)
    size = math.ceil(n_rows / n_chunks)
    return n_rows - (math.ceil(n_rows / size) - 1) * size


def safe_virtual_batch_size(n_rows: int, virtual_batch_size: int) -> int:
    """The smallest chunk size >= ``virtual_batch_size`` that leaves no one-row chunk for ``n_rows``."""
    size = virtual_batch_size
    while size < n_rows and smallest_chunk(n_rows, size) == 1:
        size += 1
    return size


@contextlib.contextmanager
def safe_batch_norm(module: nn.Module, *, n_rows: int, virtual_batch_size: int, freeze: bool = False) -> Iterator[None]:
    """Context for one forward of ``module`` on ``n_rows`` rows (see the module docstring).

    Args:
        module: a module holding pytorch-tabnet batch norms.
        n_rows: rows of the batch the forward will see.
        virtual_batch_size: the configured ghost batch size.
        freeze: also use running statistics (no update) when the rows are only placeholders.
    """
    norms = [m for m in module.modules() if isinstance(m, nn.BatchNorm1d)]
    ghosts = [m for m in module.modules() if isinstance(m, GBN)]
    modes = [m.training for m in norms]
    sizes = [g.virtual_batch_size for g in ghosts]
    try:
        if module.training and (freeze or n_rows < 2):
            for norm in norms:
                norm.train(False)
        else:
            chunk = safe_virtual_batch_size(n_rows, virtual_batch_size)
            for ghost in ghosts:
                ghost.virtual_batch_size = chunk
        yield
    finally:
        for norm, mode in zip(norms, modes, strict=True):
            norm.train(mode)
        for ghost, size in zip(ghosts, sizes, strict=True):
            ghost.virtual_batch_size = size
