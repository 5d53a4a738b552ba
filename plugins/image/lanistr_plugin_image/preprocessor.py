"""Image columns -> ``pixel_values`` (B, N, 3, S, S), one image slot per column."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch
from torchvision.transforms import v2

from lanistr_core import Batch, PRESENT, Preprocessor, is_null, warn_unreadable
from lanistr_plugin_image.config import ImageConfig
from lanistr_plugin_image.images import UnreadableImageError, WrongImageTypeError, load_rgb
from lanistr_plugin_image.timm_backbone import resolve_timm_patch_size
from lanistr_plugin_image.vit import resolve_patch_size

PIXEL_VALUES = "pixel_values"
PATCH_MASK = "patch_mask"
IMAGE_PRESENT = "image_present"


class UnreadableImageWarning(UserWarning):
    """Some images of a batch could not be decoded and were treated as missing."""


class ImagePreprocessor(Preprocessor):
    """Decodes, resizes and normalises the images of one or more columns.

    Each column is its own image slot: a row with columns ``front`` and ``back``
    yields two images, each with its own presence flag. A row is present when at
    least one of its images is. Nothing is learned from data: :meth:`fit` only
    checks the columns exist, and the state is the preprocessing geometry.

    Batch keys:
        ``pixel_values``: (B, N, 3, S, S) float, normalised; zeros for absent images.
        ``patch_mask``: (B, N, P) bool, all False (the MIM objective sets it).
        ``image_present``: (B, N) bool, per image slot.
        ``present``: (B,) bool, any image of the row present.
    """

    def __init__(self, *, config: ImageConfig, columns: Sequence[str]) -> None:
        columns = list(columns)
        if not columns:
            raise ValueError("the image modality needs at least one column")
        if len(set(columns)) != len(columns):
            raise ValueError(f"image columns are listed twice: {columns}")
        self.config, self.columns = config, columns
        self.training = False
        # The backbone decides the patch grid: the HF ViT's patch, or the timm model's patch / reduction.
        patch_size = resolve_patch_size(config) if config.timm_model is None else resolve_timm_patch_size(config)
        self._set_geometry(image_size=config.image_size, patch_size=patch_size, mean=config.mean, std=config.std)

    # -- geometry and pipelines ---------------------------------------------------

    def _set_geometry(
        self, *, image_size: int, patch_size: int, mean: Sequence[float], std: Sequence[float]
    ) -> None:
        self.image_size_, self.patch_size_ = int(image_size), int(patch_size)
        self.mean_, self.std_ = [float(v) for v in mean], [float(v) for v in std]
        size = (self.image_size_, self.image_size_)
        to_tensor = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(self.mean_, self.std_)]
        # Plain resize to a square (no crop) so that nothing of the image is lost at eval time.
        self._eval_pipeline = v2.Compose([v2.Resize(size, antialias=True), *to_tensor])
        self._train_pipeline = v2.Compose(
            [
                v2.RandomResizedCrop(size, scale=self.config.crop_scale, antialias=True),
                v2.RandomHorizontalFlip(),
                *to_tensor,
            ]
        )

    @property
    def n_patches(self) -> int:
        """Patches per image: (image_size / patch_size) ** 2."""
        return (self.image_size_ // self.patch_size_) ** 2

    def train(self, mode: bool = True) -> ImagePreprocessor:
        """Switch augmentation on (``config.augment`` and ``mode``) or off; returns self (like nn.Module)."""
        self.training = bool(mode)
        return self

    def eval(self) -> ImagePreprocessor:
        """Deterministic preprocessing (no augmentation)."""
        return self.train(False)

    # -- Preprocessor API ----------------------------------------------------------

    def fit(self, frame: pd.DataFrame) -> ImagePreprocessor:
        """Check the columns exist; images need no fitted statistics."""
        self._check_columns(frame)
        self.fitted_ = True
        return self

    def transform(self, frame: pd.DataFrame) -> Batch:
        """Decode every image cell of ``frame`` (any row labels) into a batch; see the class docstring."""
        self._check_columns(frame)
        n_rows, n_images, side = len(frame), len(self.columns), self.image_size_
        pixels = torch.zeros(n_rows, n_images, 3, side, side)
        image_present = torch.zeros(n_rows, n_images, dtype=torch.bool)
        failures: dict[str, list[Any]] = {}
        first_reason = ""
        pipeline = self._train_pipeline if (self.training and self.config.augment) else self._eval_pipeline
        labels = frame.index.tolist()  # python scalars, so messages read "row 3", not "np.int64(3)"
        for j, column in enumerate(self.columns):
            for i, (label, cell) in enumerate(zip(labels, frame[column].tolist())):
                if is_null(cell):
                    continue
                try:
                    image = load_rgb(cell, root_dir=self.config.root_dir)
                except WrongImageTypeError as err:
                    raise ValueError(f"column {column!r}, row {label!r}: {err}") from None
                except UnreadableImageError as err:
                    if self.config.on_error == "raise":
                        raise ValueError(f"column {column!r}, row {label!r}: unreadable image ({err})") from err
                    failures.setdefault(column, []).append(label)
                    first_reason = first_reason or str(err)
                    continue
                pixels[i, j] = pipeline(image)  # (3, S, S)
                image_present[i, j] = True
        if failures:
            warn_unreadable(modality="image", noun="image", failures=failures, first_reason=first_reason,
                            category=UnreadableImageWarning)
        return {
            PIXEL_VALUES: pixels,
            PATCH_MASK: torch.zeros(n_rows, n_images, self.n_patches, dtype=torch.bool),
            IMAGE_PRESENT: image_present,
            PRESENT: image_present.any(dim=1),
        }

    def state_dict(self) -> dict[str, Any]:
        """Columns and preprocessing geometry (JSON only)."""
        return {
            "columns": list(self.columns),
            "image_size": self.image_size_,
            "patch_size": self.patch_size_,
            "mean": list(self.mean_),
            "std": list(self.std_),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the geometry saved by :meth:`state_dict`; the column list must match."""
        if list(state["columns"]) != self.columns:
            raise ValueError(f"saved image columns {list(state['columns'])} differ from {self.columns}")
        self._set_geometry(
            image_size=state["image_size"], patch_size=state["patch_size"], mean=state["mean"], std=state["std"]
        )
        self.fitted_ = True

    def _check_columns(self, frame: pd.DataFrame) -> None:
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"image column(s) {missing} are missing from the data; it has {list(frame.columns)}")
