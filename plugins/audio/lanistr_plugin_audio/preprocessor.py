"""Audio columns -> log-mel ``fbank`` (B, N, L, M), one clip slot per column."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from lanistr_core import Batch, PRESENT, Preprocessor, is_null, warn_unreadable
from lanistr_plugin_audio.ast import ast_config, patch_grid
from lanistr_plugin_audio.clips import UnreadableAudioError, WrongAudioTypeError, load_clip
from lanistr_plugin_audio.config import AudioConfig
from lanistr_plugin_audio.features import FrameGeometry, build_extractor

FBANK = "fbank"
FRAMES = "frames"
PATCH_MASK = "patch_mask"
CLIP_PRESENT = "clip_present"


class UnreadableAudioWarning(UserWarning):
    """Some clips of a batch could not be decoded (or were empty) and were treated as missing."""


class AudioPreprocessor(Preprocessor):
    """Decodes, resamples, crops and featurises the clips of one or more columns.

    Each column is its own clip slot; a row is present when at least one of its clips is.
    Clips longer than ``clip_seconds`` are cropped (random start in training mode, centre
    otherwise); shorter ones are padded: their padded frames are 0 and counted out in ``frames``.
    Nothing is learned from data: :meth:`fit` only checks the columns exist, and the state is
    the feature geometry.

    Batch keys:
        ``fbank``: (B, N, L, M) float, normalised log-mel (L = max_length frames, M mel bins);
            zeros in padding and for absent clips.
        ``frames``: (B, N) long, real frames per clip (0 for absent clips).
        ``patch_mask``: (B, N, P) bool, all False (the masked objective sets it).
        ``clip_present``: (B, N) bool, per clip slot.
        ``present``: (B,) bool, any clip of the row present.
    """

    def __init__(self, *, config: AudioConfig, columns: Sequence[str]) -> None:
        columns = list(columns)
        if not columns:
            raise ValueError("the audio modality needs at least one column")
        if len(set(columns)) != len(columns):
            raise ValueError(f"audio columns are listed twice: {columns}")
        self.config, self.columns = config, columns
        self.training = False
        clip_samples = round(config.clip_seconds * config.sample_rate)
        clip_frames = FrameGeometry.for_rate(config.sample_rate).n_frames(clip_samples)
        # A checkpoint fixes mel bins and frames; otherwise the window's frames unless max_length is set.
        self.ast_config_ = ast_config(config, max_length=config.max_length or clip_frames)
        self._set_geometry(
            sample_rate=config.sample_rate, clip_samples=clip_samples, num_mel_bins=self.ast_config_.num_mel_bins,
            max_length=self.ast_config_.max_length, mean=config.mean, std=config.std,
        )

    # -- geometry -------------------------------------------------------------------

    def _set_geometry(
        self, *, sample_rate: int, clip_samples: int, num_mel_bins: int, max_length: int, mean: float, std: float
    ) -> None:
        self.sample_rate_, self.clip_samples_ = int(sample_rate), int(clip_samples)
        self.num_mel_bins_, self.max_length_ = int(num_mel_bins), int(max_length)
        self.mean_, self.std_ = float(mean), float(std)
        self.frames_ = FrameGeometry.for_rate(self.sample_rate_)
        clip_frames = self.frames_.n_frames(self.clip_samples_)
        if clip_frames > self.max_length_:
            raise ValueError(
                f"a {self.clip_samples_}-sample clip makes {clip_frames} frames but the AST takes "
                f"max_length={self.max_length_}: shorten clip_seconds or raise max_length"
            )
        self.extractor_ = build_extractor(
            sample_rate=self.sample_rate_, num_mel_bins=self.num_mel_bins_, max_length=self.max_length_,
            mean=self.mean_, std=self.std_,
        )

    @property
    def n_patches(self) -> int:
        """Patches per clip on the AST grid (frequency x time)."""
        n_frequency, n_time = patch_grid(self.ast_config_)
        return n_frequency * n_time

    def train(self, mode: bool = True) -> AudioPreprocessor:
        """Random crops (``mode``) or centre crops; returns self (like nn.Module). The core's collator calls it."""
        self.training = bool(mode)
        return self

    def eval(self) -> AudioPreprocessor:
        """Deterministic preprocessing (centre crops)."""
        return self.train(False)

    def crop(self, samples: np.ndarray) -> np.ndarray:
        """Cut a clip to ``clip_samples``: random window in training mode, centre window otherwise."""
        excess = len(samples) - self.clip_samples_
        if excess <= 0:
            return samples
        # torch's global generator, so that torch.manual_seed makes training crops reproducible.
        start = int(torch.randint(0, excess + 1, ())) if self.training else excess // 2
        return samples[start : start + self.clip_samples_]

    # -- Preprocessor API ------------------------------------------------------------

    def fit(self, frame: pd.DataFrame) -> AudioPreprocessor:
        """Check the columns exist; audio needs no fitted statistics."""
        self._check_columns(frame)
        self.fitted_ = True
        return self

    def transform(self, frame: pd.DataFrame) -> Batch:
        """Decode every audio cell of ``frame`` (any row labels) into a batch; see the class docstring."""
        self._check_columns(frame)
        n_rows, n_clips = len(frame), len(self.columns)
        fbank = torch.zeros(n_rows, n_clips, self.max_length_, self.num_mel_bins_)
        frames = torch.zeros(n_rows, n_clips, dtype=torch.long)
        clips, slots = self._decode(frame)
        if clips:
            features = self._featurise(clips)  # (K, L, M)
            for (i, j), clip, feature in zip(slots, clips, features):
                n = min(self.frames_.n_frames(len(clip)), self.max_length_)
                fbank[i, j, :n] = torch.from_numpy(np.ascontiguousarray(feature[:n]))  # padded frames stay 0
                frames[i, j] = n
        clip_present = frames > 0
        return {
            FBANK: fbank,
            FRAMES: frames,
            PATCH_MASK: torch.zeros(n_rows, n_clips, self.n_patches, dtype=torch.bool),
            CLIP_PRESENT: clip_present,
            PRESENT: clip_present.any(dim=1),
        }

    def _decode(self, frame: pd.DataFrame) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
        """Cropped mono waveforms of the readable cells and their (row, slot) positions; one warning for the rest."""
        clips: list[np.ndarray] = []
        slots: list[tuple[int, int]] = []
        failures: dict[str, list[Any]] = {}
        first_reason = ""
        labels = frame.index.tolist()  # python scalars, so messages read "row 3", not "np.int64(3)"
        for j, column in enumerate(self.columns):
            for i, (label, cell) in enumerate(zip(labels, frame[column].tolist())):
                if is_null(cell):
                    continue
                try:
                    samples = self._load(cell)
                except WrongAudioTypeError as err:
                    raise ValueError(f"column {column!r}, row {label!r}: {err}") from None
                except UnreadableAudioError as err:
                    if self.config.on_error == "raise":
                        raise ValueError(f"column {column!r}, row {label!r}: unreadable audio ({err})") from err
                    failures.setdefault(column, []).append(label)
                    first_reason = first_reason or str(err)
                    continue
                clips.append(self.crop(samples))
                slots.append((i, j))
        if failures:
            warn_unreadable(modality="audio", noun="clip", failures=failures, first_reason=first_reason,
                            category=UnreadableAudioWarning)
        return clips, slots

    def _load(self, cell: Any) -> np.ndarray:
        return load_clip(
            cell, sample_rate=self.sample_rate_, array_sample_rate=self.config.array_sample_rate,
            root_dir=self.config.root_dir,
        )

    def _featurise(self, clips: list[np.ndarray]) -> np.ndarray:
        """(K,) waveforms -> (K, L, M) normalised log-mel; clips under one window are zero-padded to it."""
        window = self.frames_.window
        padded = [np.pad(c, (0, window - len(c))) if len(c) < window else c for c in clips]
        return self.extractor_(padded, sampling_rate=self.sample_rate_, return_tensors="np")["input_values"]

    def state_dict(self) -> dict[str, Any]:
        """Columns and feature geometry (JSON only)."""
        return {
            "columns": list(self.columns),
            "sample_rate": self.sample_rate_,
            "clip_samples": self.clip_samples_,
            "num_mel_bins": self.num_mel_bins_,
            "max_length": self.max_length_,
            "mean": self.mean_,
            "std": self.std_,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the geometry saved by :meth:`state_dict`; the column list must match."""
        if list(state["columns"]) != self.columns:
            raise ValueError(f"saved audio columns {list(state['columns'])} differ from {self.columns}")
        geometry = {k: v for k, v in state.items() if k != "columns"}
        # The saved frame count wins over the one derived at init (it depends on the installed extractor).
        self.ast_config_ = ast_config(self.config, max_length=int(geometry["max_length"]))
        saved = (int(geometry["num_mel_bins"]), int(geometry["max_length"]))
        if saved != (self.ast_config_.num_mel_bins, self.ast_config_.max_length):
            raise ValueError(
                f"saved audio features ({saved[0]} mel bins x {saved[1]} frames) do not fit the AST of "
                f"pretrained_path ({self.ast_config_.num_mel_bins} x {self.ast_config_.max_length})"
            )
        self._set_geometry(**geometry)
        self.fitted_ = True

    def _check_columns(self, frame: pd.DataFrame) -> None:
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"audio column(s) {missing} are missing from the data; it has {list(frame.columns)}")
