"""Parquet streaming: row groups sharded over ranks and workers, every row once per epoch, bounded samples."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from torch.utils.data import DataLoader

from lanistr_core import Lanistr, distributed
from lanistr_core.streaming import ParquetSource, StreamingFrames
from lanistr_core.testing import make_multimodal_frame


def _write(frame: pd.DataFrame, directory, parts: int = 2, row_group_size: int = 7) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i, chunk in enumerate(np.array_split(np.arange(len(frame)), parts)):
        pq.write_table(pa.Table.from_pandas(frame.iloc[chunk], preserve_index=False), directory / f"part{i}.parquet",
                       row_group_size=row_group_size)


@pytest.fixture
def numbers(tmp_path):
    _write(pd.DataFrame({"a": np.arange(200), "b": np.arange(200) * 0.5}), tmp_path / "data", parts=3)
    return tmp_path / "data"


def test_source_reads_a_directory_a_glob_or_a_file_and_names_what_is_missing(numbers):
    assert ParquetSource(numbers).num_rows == 200
    assert ParquetSource(str(numbers / "*.parquet")).num_rows == 200
    assert ParquetSource(numbers / "part0.parquet").num_rows == 67
    with pytest.raises(FileNotFoundError, match="no Parquet data"):
        ParquetSource(numbers / "nope*.parquet")
    with pytest.raises(ValueError, match=r"lacks columns \['c'\]"):
        ParquetSource(numbers, columns=["a", "c"])


def test_sample_is_uniform_bounded_and_reproducible(numbers):
    source = ParquetSource(numbers)
    sample = source.sample(50, seed=1)
    assert len(sample) == 50 and sample["a"].is_unique
    assert (sample["a"].to_numpy() == sample.index.to_numpy()).all()  # index = global row position
    assert sample.equals(source.sample(50, seed=1)) and not sample.equals(source.sample(50, seed=2))
    assert len(source.sample(10_000)) == 200
    means = [source.sample(50, seed=s)["a"].mean() for s in range(40)]
    assert abs(np.mean(means) - 99.5) < 6  # unbiased: the mean row position of a uniform sample


@pytest.mark.parametrize("world", [1, 2, 3])
def test_every_row_once_per_epoch_across_ranks_and_a_new_order_each_epoch(numbers, monkeypatch, world):
    source = ParquetSource(numbers)
    seen, first_epoch = [], None
    for rank in range(world):
        monkeypatch.setattr(distributed, "rank", lambda rank=rank: rank)
        monkeypatch.setattr(distributed, "world_size", lambda: world)
        frames = StreamingFrames(source, batch_size=8, shuffle=True, shuffle_buffer=20, seed=0)
        chunks = list(frames)
        assert len(chunks) == len(frames)  # __len__ is this rank's batch count
        seen += [v for c in chunks for v in c["a"]]
        if rank == 0:
            first_epoch = [v for c in chunks for v in c["a"]]
            frames.set_epoch(1)
            assert [v for c in frames for v in c["a"]] != first_epoch
    assert sorted(seen) == list(range(200))


def test_dataloader_workers_split_a_ranks_row_groups(numbers):
    frames = StreamingFrames(ParquetSource(numbers), batch_size=8, shuffle=True, shuffle_buffer=0, seed=0)
    loader = DataLoader(frames, batch_size=None, num_workers=2)
    assert sorted(v for chunk in loader for v in chunk["a"]) == list(range(200))


def test_pretrain_and_fit_stream_from_parquet_and_predict_like_in_memory(tmp_path):
    frame = make_multimodal_frame(120, seed=0, modalities=("tabular", "timeseries"))
    frame["vitals"] = frame["vitals"].map(lambda x: None if x is None else np.asarray(x).tolist())  # Arrow: list<list>
    _write(frame, tmp_path / "data", parts=2, row_group_size=16)
    options = {"epochs": 2, "batch_size": 16, "validation": "none"}
    model = Lanistr({"tabular": ["age", "size"], "timeseries": ["vitals"]}, label="label", preset="tiny",
                    device="cpu", verbose=False, pretrain=options, finetune=options, sample_rows=50, shuffle_buffer=32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.pretrain(tmp_path / "data").fit(str(tmp_path / "data" / "*.parquet"))
    assert model.training_["pretrain"]["train_rows"] == 120 and model.training_["finetune"]["epochs_run"] == 2
    assert model.history_["finetune"][0]["train/loss/task"] > 0
    proba = model.predict_proba(frame)
    assert proba.shape == (120, 2) and np.isfinite(proba).all()


def test_list_cells_own_their_memory_so_a_buffered_row_does_not_pin_its_row_group(tmp_path):
    # Arrow gives list cells as views of one buffer per row group; a shuffle buffer keeping a few rows
    # of every group would then hold every group and memory would grow with the data.
    frame = pd.DataFrame({
        "series": [np.arange(6.0).reshape(3, 2).tolist(), None, [[1.0], [2.0, 3.0]]],
        "audio": [np.arange(4.0), np.arange(2.0), None],
    })
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "d.parquet")
    got = ParquetSource(tmp_path / "d.parquet").read_group(0)
    rect, missing, ragged = got["series"]
    assert rect.shape == (3, 2) and rect.dtype == np.float64 and rect.base is None
    np.testing.assert_array_equal(rect, np.arange(6.0).reshape(3, 2))
    assert missing is None
    assert ragged.dtype == object and [p.tolist() for p in ragged] == [[1.0], [2.0, 3.0]]
    assert all(p.base is None for p in ragged)
    assert got["audio"][0].base is None and got["audio"][0].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert got["audio"][2] is None
