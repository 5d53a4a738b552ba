"""Example cells for the core's installed-modality contract suite (``ModalitySpec.example``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def example_cells(n_rows: int, rng: np.random.Generator, directory: Path) -> list[np.ndarray]:
    """``n_rows`` (T, 2) noisy sinusoids of varying length with a few NaN holes (no files needed)."""
    cells = []
    for _ in range(n_rows):
        t = np.arange(int(rng.integers(10, 30)), dtype=float)
        x = np.sin(t[:, None] * rng.uniform(0.2, 0.8, 2)) + 0.05 * rng.normal(size=(t.size, 2))
        x[rng.random(x.shape) < 0.1] = np.nan
        cells.append(x)
    return cells
