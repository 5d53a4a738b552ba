"""Example cells for the core's installed-modality contract suite (``ModalitySpec.example``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def example_cells(n_rows: int, rng: np.random.Generator, directory: Path) -> list[str]:
    """``n_rows`` PNG paths under ``directory``: a coloured background with a rectangle that moves."""
    from PIL import Image, ImageDraw

    paths = []
    for i in range(n_rows):
        image = Image.new("RGB", (40, 40), tuple(int(c) for c in rng.integers(0, 256, 3)))
        x = int(rng.integers(0, 20))
        ImageDraw.Draw(image).rectangle([x, 4, x + 13, 34], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        path = directory / f"image_{i}.png"
        image.save(path)
        paths.append(str(path))
    return paths
