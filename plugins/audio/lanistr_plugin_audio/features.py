"""Log-mel filterbank geometry: how many frames ``ASTFeatureExtractor`` makes of a clip.

The extractor (transformers) computes the features; this module only counts frames, so that
padded frames can be told apart from real ones.
"""

from __future__ import annotations

import attrs
from transformers import ASTFeatureExtractor
from transformers.utils import is_speech_available

# ASTFeatureExtractor's numpy path uses fixed 400-sample windows with a 160-sample hop; with
# torchaudio installed it calls Kaldi's fbank, whose 25 ms / 10 ms are the same at 16 kHz only.
NUMPY_WINDOW, NUMPY_HOP = 400, 160
KALDI_WINDOW_S, KALDI_HOP_S = 0.025, 0.010


@attrs.frozen(kw_only=True)
class FrameGeometry:
    """Window and hop (in samples) of the filterbank frames at one sample rate."""

    window: int
    hop: int

    @classmethod
    def for_rate(cls, sample_rate: int) -> FrameGeometry:
        """The geometry the installed ``ASTFeatureExtractor`` uses at ``sample_rate``."""
        if is_speech_available():
            return cls(window=int(sample_rate * KALDI_WINDOW_S), hop=int(sample_rate * KALDI_HOP_S))
        return cls(window=NUMPY_WINDOW, hop=NUMPY_HOP)

    def n_frames(self, n_samples: int) -> int:
        """Frames of a clip of ``n_samples`` (no centring: only whole windows count; at least one)."""
        return 1 + max(0, n_samples - self.window) // self.hop


def build_extractor(*, sample_rate: int, num_mel_bins: int, max_length: int, mean: float, std: float) -> ASTFeatureExtractor:
    """The transformers feature extractor: log-mel fbank, padded/truncated to ``max_length`` frames, normalised."""
    return ASTFeatureExtractor(
        sampling_rate=sample_rate, num_mel_bins=num_mel_bins, max_length=max_length, mean=mean, std=std,
        do_normalize=True,
    )
