"""Example cells for the core's installed-modality contract suite (``ModalitySpec.example``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def example_cells(n_rows: int, rng: np.random.Generator, directory: Path) -> list[float]:
    """``n_rows`` values of one numeric column (no files needed)."""
    return [float(v) for v in rng.normal(40.0, 10.0, n_rows).round(1)]
