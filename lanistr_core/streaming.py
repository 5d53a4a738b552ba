"""Data larger than memory: Parquet files read in row groups through ``pyarrow.dataset``.

``pretrain``/``fit`` accept a path, a directory or a glob of Parquet files instead of a DataFrame.
Rows then stream: each epoch the row groups are split across torchrun ranks and DataLoader workers
(every row is read exactly once per epoch), pass through a shuffle buffer, and leave as DataFrames of
``batch_size`` rows that the usual preprocessors transform. Memory is bounded by the shuffle buffer
and one row group per worker, not by the data. Preprocessors are fitted on a uniform reservoir
sample of ``sample_rows`` rows (positions drawn from the Parquet row count, then only the row groups holding them are read)
instead of on every row.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import torch
from torch.utils.data import IterableDataset, get_worker_info

from lanistr_core import distributed

PathLike = str | os.PathLike


def is_source(data: Any) -> bool:
    """True for what streams: a path, directory or glob (str or PathLike), not a DataFrame."""
    return isinstance(data, (str, os.PathLike))


class ParquetSource:
    """Parquet file(s) named by a path, a directory or a glob, read lazily."""

    def __init__(self, source: PathLike, *, columns: Sequence[str] | None = None) -> None:
        text = os.fspath(source)
        paths = sorted(glob.glob(text)) if any(c in text for c in "*?[") else [text]
        if not paths or not all(Path(p).exists() for p in paths):
            raise FileNotFoundError(f"no Parquet data at {text!r}")
        self.source, self.columns = text, None if columns is None else list(columns)
        # a single directory is read as one dataset (every Parquet file below it); files as a list
        self.dataset = pads.dataset(paths[0] if len(paths) == 1 else paths, format="parquet")
        missing = sorted(set(self.columns or []) - set(self.dataset.schema.names))
        if missing:
            raise ValueError(f"the Parquet data at {text!r} lacks columns {missing}; it has {self.dataset.schema.names}")
        # one entry per row group: the unit that is sharded, shuffled and read at once
        self.row_groups = [rg for fragment in self.dataset.get_fragments() for rg in fragment.split_by_row_group()]
        self.group_rows = [sum(info.num_rows for info in rg.row_groups) for rg in self.row_groups]

    @property
    def num_rows(self) -> int:
        """Rows in all files (from the Parquet metadata, nothing read)."""
        return int(sum(self.group_rows))

    @property
    def column_names(self) -> list[str]:
        """Columns of the data (all of them, not only those read)."""
        return list(self.dataset.schema.names)

    def read_group(self, i: int) -> pd.DataFrame:
        """Row group ``i`` as a DataFrame; its index is the rows' global position in the source."""
        table = self.row_groups[i].to_table(columns=self.columns)
        frame = table.to_pandas()
        for field in table.schema:
            if _is_list(field.type):
                frame[field.name] = _owned_cells(frame[field.name], nested=_is_list(field.type.value_type))
        start = int(sum(self.group_rows[:i]))
        frame.index = pd.RangeIndex(start, start + len(frame))
        return frame

    def sample(self, k: int, *, seed: int = 0) -> pd.DataFrame:
        """A uniform sample of ``min(k, num_rows)`` rows without replacement, in source order.

        The row count comes from the Parquet metadata, so the positions are drawn first and only the
        row groups holding them are read, one at a time: memory is one row group plus the sample.
        """
        n = self.num_rows
        chosen = np.sort(np.random.default_rng(seed).choice(n, size=min(k, n), replace=False))
        bounds = np.cumsum([0, *self.group_rows])
        parts = []
        for i in range(len(self.row_groups)):
            inside = chosen[(chosen >= bounds[i]) & (chosen < bounds[i + 1])]
            if len(inside):
                parts.append(self.read_group(i).loc[inside])
        return pd.concat(parts) if parts else self.read_group(0).iloc[:0]

    def label_values(self, label: str) -> pd.Series:
        """The label column alone (one column is small even when the rows are not)."""
        return self.dataset.to_table(columns=[label]).column(label).to_pandas()


def _is_list(kind: pa.DataType) -> bool:
    return pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)


def _owned_cells(column: pd.Series, *, nested: bool) -> pd.Series:
    """Array cells that own their memory (a list<list<x>> cell as one 2-D array where rectangular).

    Arrow hands list cells to pandas as views of one buffer per row group: a single row still in the
    shuffle buffer would keep its whole row group alive, and memory would grow with the data.
    """

    def own(cell: Any) -> Any:
        if not isinstance(cell, np.ndarray):
            return cell  # None / NaN: a missing cell
        if not nested:
            return cell.copy()
        parts = [np.array(p, copy=True) if isinstance(p, np.ndarray) else p for p in cell]
        if parts and all(isinstance(p, np.ndarray) and p.shape == parts[0].shape for p in parts):
            return np.stack(parts)
        out = np.empty(len(parts), dtype=object)
        for j, part in enumerate(parts):  # ragged: keep the per-step arrays, each a copy
            out[j] = part
        return out

    return pd.Series([own(c) for c in column], index=column.index, name=column.name, dtype=object)


class StreamingFrames(IterableDataset):
    """DataFrames of ``batch_size`` rows from a :class:`ParquetSource`, sharded and shuffled.

    Row groups go to shards ``rank * workers + worker`` round-robin (every row exactly once per
    epoch across all ranks and workers); within a shard the group order is reshuffled each epoch
    (``set_epoch``) and rows pass through a buffer of ``shuffle_buffer`` rows.
    """

    def __init__(self, source: ParquetSource, *, batch_size: int, shuffle: bool, shuffle_buffer: int = 10_000,
                 seed: int = 0, drop_last: bool = False) -> None:
        self.source, self.batch_size, self.shuffle = source, batch_size, shuffle
        self.shuffle_buffer, self.seed, self.drop_last, self.epoch = shuffle_buffer, seed, drop_last, 0

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle differently in ``epoch`` (the engine calls it, like ``DistributedSampler.set_epoch``)."""
        self.epoch = epoch

    def rows_of_rank(self) -> int:
        """Rows this rank reads per epoch (all its workers together)."""
        n_shards = distributed.world_size()
        return int(sum(self.source.group_rows[i] for i in range(distributed.rank(), len(self.source.row_groups), n_shards)))

    def __len__(self) -> int:
        rows = self.rows_of_rank()
        return rows // self.batch_size if self.drop_last else -(-rows // self.batch_size)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        info = get_worker_info()
        workers, worker = (1, 0) if info is None else (info.num_workers, info.id)
        # a rank's groups are split among its workers, so a rank's total does not depend on workers
        rank_groups = list(range(distributed.rank(), len(self.source.row_groups), distributed.world_size()))
        groups = [g for j, g in enumerate(rank_groups) if j % workers == worker]
        if self.shuffle:
            np.random.default_rng((self.seed, self.epoch, distributed.rank(), worker)).shuffle(groups)
        rng = np.random.default_rng((self.seed, self.epoch, distributed.rank(), worker, 1))
        # Shuffle buffer: after each row group joins the pool, the pool is permuted and drained down to
        # ``shuffle_buffer`` rows; the rows that leave are a uniform draw from the pool, as with picking
        # batch after batch from it. One permutation per group, not a copy of the pool per batch
        # (dropping a random batch from the pool each time also held on to memory as the data grew).
        keep = max(self.shuffle_buffer, self.batch_size) if self.shuffle else 0
        buffer: pd.DataFrame | None = None
        for g in groups:
            group = self.source.read_group(g)
            buffer = group if buffer is None else pd.concat([buffer, group])
            if self.shuffle:
                buffer = buffer.iloc[rng.permutation(len(buffer))]
            n_out = max(len(buffer) - keep, 0) // self.batch_size * self.batch_size
            for start in range(0, n_out, self.batch_size):
                yield buffer.iloc[start : start + self.batch_size]
            buffer = buffer.iloc[n_out:]
        if buffer is None:
            return
        if self.shuffle:
            buffer = buffer.iloc[rng.permutation(len(buffer))]
        for start in range(0, len(buffer), self.batch_size):
            chunk = buffer.iloc[start : start + self.batch_size]
            if len(chunk) == self.batch_size or not self.drop_last:
                yield chunk


def iter_chunks(source: ParquetSource, rows: int) -> Iterator[pd.DataFrame]:
    """The source's rows in order, ``rows`` at a time (for streamed prediction)."""
    for batch in source.dataset.to_batches(columns=source.columns, batch_size=rows):
        yield batch.to_pandas()


class FrameCollator:
    """A DataFrame chunk -> ``MultimodalBatch`` (the streaming twin of ``data.Collator``)."""

    def __init__(self, make_batch: Callable[[pd.DataFrame], Any]) -> None:
        self.make_batch = make_batch

    def __call__(self, chunk: pd.DataFrame) -> Any:
        """Transform one chunk."""
        return self.make_batch(chunk)

