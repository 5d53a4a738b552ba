"""Hyper-parameters of the audio modality and its size presets."""

from __future__ import annotations

from typing import Any

import attrs

from lanistr_core import divides

# AudioSet statistics of the log-mel filterbank: ASTFeatureExtractor's defaults, which the
# published AST checkpoints expect. Set mean/std to match another checkpoint.
AUDIOSET_MEAN = -4.2677393
AUDIOSET_STD = 4.5689974
ON_ERROR_CHOICES = ("missing", "raise")
LOSS_CHOICES = ("l1", "mse")

_positive = attrs.validators.gt(0)
_optional_str = attrs.validators.optional(attrs.validators.instance_of(str))


def _at_most_patch(instance: Any, attribute: attrs.Attribute, value: int) -> None:
    """A stride above the patch side would leave spectrogram bins that no patch sees."""
    if value > instance.patch_size:
        raise ValueError(f"{attribute.name} {value} must be at most patch_size {instance.patch_size}")


def _at_least_patch(instance: Any, attribute: attrs.Attribute, value: int | None) -> None:
    """The patch grid needs at least one patch along the axis."""
    if value is not None and value < instance.patch_size:
        raise ValueError(f"{attribute.name} {value} must be at least patch_size {instance.patch_size}")


@attrs.frozen(kw_only=True)
class AudioConfig:
    """Configuration of the audio modality (decoding, log-mel features, AST encoder, masked objective).

    Attributes:
        sample_rate: rate (Hz) every clip is resampled to (with soxr) before feature extraction.
        array_sample_rate: rate of array cells; None means they are already at ``sample_rate``.
            Files carry their own rate.
        clip_seconds: analysis window. Longer clips are cropped (random crop while the
            preprocessor is in training mode, centre crop otherwise); shorter ones are padded
            and their padded patches are masked out of the tokens.
        num_mel_bins: log-mel filterbank bins (AST's frequency axis).
        max_length: frames of the AST input; None = the frames of one ``clip_seconds`` window.
            AST pads 10 s AudioSet clips (998 frames) to 1024.
        patch_size, frequency_stride, time_stride: AST patch side and its strides (a stride below
            the patch side makes patches overlap, as in the published AST: 16 with stride 10).
        hidden_size, num_layers, num_heads, intermediate_size, dropout: AST shape.
        mean, std: log-mel normalisation of ``ASTFeatureExtractor``.
        mask_ratio: fraction of the real (non-padding) patches the objective masks in each clip.
        loss: ``"l1"`` or ``"mse"`` reconstruction error on the masked patches.
        on_error: ``"missing"`` treats unreadable or empty clips as absent (one warning per
            transform), ``"raise"`` raises ``ValueError`` naming the file, column and row.
        root_dir: folder that relative paths are resolved against (default: cwd).
        pretrained_path: local directory of a Hugging Face ``ASTModel`` checkpoint
            (``save_pretrained`` output), loaded with ``local_files_only``; its geometry
            (mel bins, max_length, patch, strides) and shape replace the fields above.
    """

    sample_rate: int = attrs.field(default=8000, validator=attrs.validators.ge(1000))
    array_sample_rate: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1000))
    )
    clip_seconds: float = attrs.field(default=1.0, converter=float, validator=attrs.validators.gt(0.0))
    patch_size: int = attrs.field(default=8, validator=_positive)
    num_mel_bins: int = attrs.field(default=16, validator=[_positive, _at_least_patch])
    max_length: int | None = attrs.field(default=None, validator=attrs.validators.optional(_at_least_patch))
    frequency_stride: int = attrs.field(default=8, validator=[_positive, _at_most_patch])
    time_stride: int = attrs.field(default=8, validator=[_positive, _at_most_patch])
    hidden_size: int = attrs.field(default=32, validator=_positive)
    num_layers: int = attrs.field(default=2, validator=_positive)
    num_heads: int = attrs.field(default=2, validator=[_positive, divides("hidden_size")])
    intermediate_size: int = attrs.field(default=64, validator=_positive)
    dropout: float = attrs.field(default=0.0, validator=[attrs.validators.ge(0.0), attrs.validators.lt(1.0)])
    mean: float = attrs.field(default=AUDIOSET_MEAN, converter=float)
    std: float = attrs.field(default=AUDIOSET_STD, converter=float, validator=attrs.validators.gt(0.0))
    mask_ratio: float = attrs.field(default=0.5, validator=[attrs.validators.gt(0.0), attrs.validators.lt(1.0)])
    loss: str = attrs.field(default="l1", validator=attrs.validators.in_(LOSS_CHOICES))
    on_error: str = attrs.field(default="missing", validator=attrs.validators.in_(ON_ERROR_CHOICES))
    root_dir: str | None = attrs.field(default=None, validator=_optional_str)
    pretrained_path: str | None = attrs.field(default=None, validator=_optional_str)


PRESETS: dict[str, dict[str, Any]] = {
    # Tests: 1 s at 8 kHz (48 frames x 16 mel bins), 2 x 6 patches of 8x8, a 2-layer AST of width 32.
    "tiny": dict(sample_rate=8000, clip_seconds=1.0, num_mel_bins=16, patch_size=8, frequency_stride=8,
                 time_stride=8, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64),
    # 2-core CPU demo: 4 s at 16 kHz (398 frames x 64 bins), non-overlapping 16x16 patches: 4 x 24 patches.
    "small": dict(sample_rate=16000, clip_seconds=4.0, num_mel_bins=64, patch_size=16, frequency_stride=16,
                  time_stride=16, hidden_size=128, num_layers=4, num_heads=4, intermediate_size=256),
    # AST's published size: 10 s at 16 kHz padded to 1024 frames x 128 bins, 16x16 patches, strides 10.
    "base": dict(sample_rate=16000, clip_seconds=10.0, num_mel_bins=128, max_length=1024, patch_size=16,
                 frequency_stride=10, time_stride=10, hidden_size=768, num_layers=12, num_heads=12,
                 intermediate_size=3072),
}
