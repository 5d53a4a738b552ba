"""The Audio Spectrogram Transformer (transformers' ``ASTModel``): config, loading and its patch grid."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import ASTConfig, ASTModel

from lanistr_plugin_audio.config import AudioConfig


def _checkpoint_dir(path: str) -> Path:
    directory = Path(path)
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"pretrained_path {path!r} is not a local AST checkpoint directory (no config.json)")
    return directory


def ast_config(config: AudioConfig, *, max_length: int) -> ASTConfig:
    """The checkpoint's ``ASTConfig`` (local files only), or one sized by the config fields."""
    if config.pretrained_path is not None:
        return ASTConfig.from_pretrained(_checkpoint_dir(config.pretrained_path), local_files_only=True)
    return ASTConfig(
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        intermediate_size=config.intermediate_size,
        hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=config.dropout,
        patch_size=config.patch_size,
        frequency_stride=config.frequency_stride,
        time_stride=config.time_stride,
        num_mel_bins=config.num_mel_bins,
        max_length=max_length,
    )


def build_ast(config: AudioConfig, geometry: ASTConfig) -> ASTModel:
    """A randomly initialised ``ASTModel`` of ``geometry``, or the local checkpoint of ``config.pretrained_path``."""
    if config.pretrained_path is not None:
        return ASTModel.from_pretrained(_checkpoint_dir(config.pretrained_path), local_files_only=True)
    return ASTModel(geometry)


def patch_grid(geometry: ASTConfig) -> tuple[int, int]:
    """(frequency, time) patches of the grid; the same formula as ``ASTEmbeddings.get_shape``."""
    frequency = (geometry.num_mel_bins - geometry.patch_size) // geometry.frequency_stride + 1
    time = (geometry.max_length - geometry.patch_size) // geometry.time_stride + 1
    return frequency, time


def real_patches(frames: torch.Tensor, geometry: ASTConfig) -> torch.Tensor:
    """(...,) real frames per clip -> (..., P) bool, False for patches that lie entirely in padding.

    Patches are frequency-major (token k = f * T' + t), as the AST's conv output is flattened.
    """
    n_frequency, n_time = patch_grid(geometry)
    starts = torch.arange(n_time, device=frames.device) * geometry.time_stride  # first frame of each time column
    real_time = starts < frames.unsqueeze(-1)  # (..., T')
    return real_time.repeat(*([1] * frames.dim()), n_frequency)  # (..., F' * T'), tiled once per frequency row
