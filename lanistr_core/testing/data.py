"""Generated multimodal data for tests and examples: text, image, tabular and time series, with gaps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

WORDS = {0: ["great", "lovely", "perfect", "soft", "flattering"], 1: ["poor", "itchy", "cheap", "tight", "awful"]}
COLORS = {0: (200, 40, 40), 1: (40, 40, 200)}


def make_multimodal_frame(
    n: int = 48, *, image_dir: str | Path | None = None, seed: int = 0, missing: float = 0.2,
    modalities: tuple[str, ...] = ("text", "image", "tabular", "timeseries"), interaction: bool = False,
) -> pd.DataFrame:
    """A DataFrame whose binary ``label`` shows in every modality, or needs two together.

    Columns: ``review`` (text), ``photo`` (PNG path under ``image_dir``), ``age``,
    ``size`` (tabular), ``vitals`` ((T, 2) float arrays of varying length with NaN),
    ``label``. Each modality cell is null with probability ``missing``, but every
    row keeps at least one modality.

    With ``interaction=True`` the label is the XOR of two hidden binary cues: cue A
    shows in the text and the image, cue B in the tabular columns and the series.
    No single modality then says anything about the label; a model must fuse one
    of {text, image} with one of {tabular, timeseries}. A row missing both carriers
    of a cue is unpredictable (about ``2 * missing**2`` of the rows).
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    cue_a = cue_b = labels
    if interaction:
        cue_a = rng.integers(0, 2, n)
        cue_b = labels ^ cue_a  # label = cue_a XOR cue_b
    frame = pd.DataFrame({"label": labels}, index=[f"row{i}" for i in range(n)])
    if "text" in modalities:
        frame["review"] = [" ".join(rng.choice(WORDS[y], size=int(rng.integers(3, 9)))) for y in cue_a]
    if "image" in modalities:
        if image_dir is None:
            raise ValueError("image_dir is needed to write the generated images")
        frame["photo"] = [_draw(Path(image_dir) / f"img{i}.png", y, rng) for i, y in enumerate(cue_a)]
    if "tabular" in modalities:
        frame["age"] = rng.normal(40, 10, n) + 8 * cue_b
        frame["size"] = pd.Series(rng.choice(["S", "M", "L"], n), index=frame.index).where(cue_b == 0, "XL")
    if "timeseries" in modalities:
        frame["vitals"] = [_series(y, rng) for y in cue_b]
    columns = [c for c in ("review", "photo", "age", "size", "vitals") if c in frame]
    groups = [[c] for c in columns if c not in ("age", "size")] + ([["age", "size"]] if "age" in frame else [])
    for i in range(n):
        drop = [g for g in groups if rng.random() < missing]
        if len(drop) == len(groups):
            drop = drop[:-1]  # keep one modality per row
        for g in drop:
            for c in g:
                frame.iat[i, frame.columns.get_loc(c)] = None
    return frame


def _draw(path: Path, label: int, rng: np.random.Generator) -> str:
    from PIL import Image, ImageDraw

    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (40, 40), (235, 235, 235))
    x, y = (int(v) for v in rng.integers(0, 16, 2))
    ImageDraw.Draw(img).rectangle([x, y, x + 20, y + 20], fill=COLORS[label])
    img.save(path)
    return str(path)


def _series(label: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(rng.integers(12, 30)), dtype=float)
    values = np.stack([np.sin(t / (2 + 3 * label)), np.cos(t / 4) + label], axis=1) + rng.normal(0, 0.1, (len(t), 2))
    values[rng.random(values.shape) < 0.1] = np.nan
    return values
