"""Example cells for the core's installed-modality contract suite (``ModalitySpec.example``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

WORDS = "the dress fits well soft fabric colour runs small large love return great quality zipper".split()


def example_cells(n_rows: int, rng: np.random.Generator, directory: Path) -> list[str]:
    """``n_rows`` short generated reviews (no files needed)."""
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(4, 12)))) + "." for _ in range(n_rows)]
