"""From a DataFrame to mini-batches: preprocessors run per batch inside the DataLoader's collate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from lanistr_core.contracts import Batch, Preprocessor, no_modality_error
from lanistr_core.detection import is_null


@attrs.frozen
class MultimodalBatch:
    """One mini-batch: a batch dict per modality, optional targets, and the DataFrame row labels."""

    batches: dict[str, Batch]
    targets: torch.Tensor | None
    row_ids: list[Any]

    def to(self, device: torch.device) -> MultimodalBatch:
        """Move every tensor to ``device``."""
        return MultimodalBatch(
            batches={n: {k: t.to(device, non_blocking=True) for k, t in b.items()} for n, b in self.batches.items()},
            targets=None if self.targets is None else self.targets.to(device, non_blocking=True),
            row_ids=self.row_ids,
        )

    def __len__(self) -> int:
        return len(self.row_ids)


class _Positions(Dataset):
    """Yields row positions; the collator turns a list of positions into tensors."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


class Collator:
    """Turns a list of row positions into a :class:`MultimodalBatch` via each modality's preprocessor."""

    def __init__(
        self, frame: pd.DataFrame, preprocessors: Mapping[str, Preprocessor], targets: torch.Tensor | None = None,
        *, training: bool = False,
    ) -> None:
        self.frame, self.preprocessors, self.targets, self.training = frame, dict(preprocessors), targets, training

    def __call__(self, positions: Sequence[int]) -> MultimodalBatch:
        """Transform the rows at ``positions`` (preprocessors with a ``train(mode)`` switch, e.g. image
        augmentation, are put in training mode for training loaders only)."""
        rows = self.frame.iloc[list(positions)]
        for pre in self.preprocessors.values():
            if callable(getattr(pre, "train", None)):
                pre.train(self.training)
        batches = {name: pre.transform(rows) for name, pre in self.preprocessors.items()}
        targets = None if self.targets is None else self.targets[list(positions)]
        return MultimodalBatch(batches=batches, targets=targets, row_ids=list(rows.index))


def make_loader(
    frame: pd.DataFrame,
    preprocessors: Mapping[str, Preprocessor],
    *,
    targets: torch.Tensor | None = None,
    batch_size: int,
    shuffle: bool = False,
    drop_last: bool = False,
    seed: int = 0,
    sampler: Sampler | None = None,
    training: bool | None = None,
) -> DataLoader:
    """A DataLoader over ``frame`` (pass a ``DistributedSampler`` as ``sampler`` for multi-process runs).

    ``training`` (default: ``shuffle``) switches preprocessors' augmentation on.
    """
    # drop_last only when it leaves at least one batch: tiny datasets must still train
    drop_last = drop_last and len(frame) > batch_size
    return DataLoader(
        _Positions(len(frame)),
        batch_size=batch_size,
        shuffle=shuffle if sampler is None else False,
        sampler=sampler,
        drop_last=drop_last,
        collate_fn=Collator(frame, preprocessors, targets, training=shuffle if training is None else training),
        generator=torch.Generator().manual_seed(seed) if shuffle and sampler is None else None,
    )


def check_rows_have_a_modality(frame: pd.DataFrame, assignment: Mapping[str, Sequence[str]]) -> None:
    """Raise :class:`MissingModalitiesError` naming rows whose every assigned cell is null."""
    columns = [c for cols in assignment.values() for c in cols]
    if frame.empty:
        raise ValueError("the data has no rows")
    null = np.array([[is_null(v) for v in frame[c].tolist()] for c in columns]).all(axis=0)  # (n_rows,)
    if null.any():
        raise no_modality_error(frame.index[null].tolist(), int(null.sum()), f"all of {columns} null")


def split_frame(frame: pd.DataFrame, fraction: float, seed: int, stratify: pd.Series | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off ``fraction`` of the rows (stratified when possible) -> (rest, held_out)."""
    from sklearn.model_selection import train_test_split

    n_held = int(round(len(frame) * fraction))
    if fraction <= 0 or n_held < 1 or len(frame) - n_held < 2:
        return frame, frame.iloc[:0]
    strat = stratify
    if strat is not None:
        counts = strat.value_counts()
        if counts.min() < 2 or n_held < counts.size:
            strat = None
    rest, held = train_test_split(frame, test_size=n_held, random_state=seed, stratify=strat)
    return rest, held
