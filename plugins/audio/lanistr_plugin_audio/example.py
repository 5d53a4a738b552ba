"""Example cells for the core's installed-modality contract suite (``ModalitySpec.example``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

RATE = 16000


def example_cells(n_rows: int, rng: np.random.Generator, directory: Path) -> list[str]:
    """``n_rows`` WAV paths under ``directory``: noisy tones of 0.5-1.5 s at 16 kHz (resampled on load)."""
    import soundfile

    paths = []
    for i in range(n_rows):
        t = np.arange(int(RATE * rng.uniform(0.5, 1.5))) / RATE
        wave = 0.5 * np.sin(2 * np.pi * rng.choice([220.0, 440.0, 880.0]) * t) + 0.05 * rng.standard_normal(t.size)
        path = directory / f"clip_{i}.wav"
        soundfile.write(path, wave.astype(np.float32), RATE)
        paths.append(str(path))
    return paths
