"""A minimal reference modality ("vector": fixed-length numeric vectors) for tests and as a template.

Each cell is a sequence of ``width`` floats (or null: absent). The encoder makes
one token per chunk of ``chunk`` values; the objective masks whole chunks and
regresses them (MSE on masked chunks of present rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd
import torch
from torch import nn

# Like any plugin, the template imports only the public API.
from lanistr_core import PRESENT, Batch, EncodedTokens, Encoder, MaskingObjective, ModalitySpec, Preprocessor, is_null


@attrs.frozen(kw_only=True)
class VectorConfig:
    """Hyper-parameters of the toy vector modality."""

    width: int = attrs.field(default=8, validator=attrs.validators.gt(0))
    chunk: int = attrs.field(default=2, validator=attrs.validators.gt(0))
    dim: int = attrs.field(default=16, validator=attrs.validators.gt(0))
    mask_ratio: float = attrs.field(default=0.5, validator=[attrs.validators.gt(0.0), attrs.validators.lt(1.0)])


class VectorPreprocessor(Preprocessor):
    """Stacks one column of equal-length numeric vectors into (B, width) floats."""

    def __init__(self, config: VectorConfig, columns: Sequence[str]) -> None:
        if len(columns) != 1:
            raise ValueError(f"the vector modality takes exactly one column, got {list(columns)}")
        self.config, self.columns = config, list(columns)

    def fit(self, frame: pd.DataFrame) -> VectorPreprocessor:
        """Nothing to learn beyond checking the column exists."""
        self.transform(frame.head(1))
        self.fitted_ = True
        return self

    def transform(self, frame: pd.DataFrame) -> Batch:
        """(B, width) values and the presence mask."""
        (col,) = self.columns
        if col not in frame:
            raise ValueError(f"column {col!r} is missing from the data")
        values = torch.zeros(len(frame), self.config.width)
        present = torch.zeros(len(frame), dtype=torch.bool)
        for i, (label, cell) in enumerate(frame[col].items()):
            if is_null(cell):
                continue
            arr = np.asarray(cell, dtype=float)
            if arr.shape != (self.config.width,):
                raise ValueError(f"column {col!r}, row {label!r}: expected {self.config.width} values, got shape {arr.shape}")
            values[i], present[i] = torch.from_numpy(arr).float(), True
        return {"values": values, "chunk_mask": torch.zeros(len(frame), self.config.width // self.config.chunk, dtype=torch.bool), PRESENT: present}

    def state_dict(self) -> dict[str, Any]:
        """Only the column list (the toy has no fitted statistics)."""
        return {"columns": self.columns}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the column list."""
        self.columns = list(state["columns"])
        self.fitted_ = True


class VectorEncoder(Encoder):
    """Linear embedding of each chunk plus a learned position and mask token, then one MLP."""

    def __init__(self, config: VectorConfig) -> None:
        super().__init__()
        self.dim, self.chunk = config.dim, config.chunk
        n_tokens = config.width // config.chunk
        self.to_tokens = nn.Linear(config.chunk, config.dim)
        self.position = nn.Parameter(torch.randn(n_tokens, config.dim) * 0.02)
        self.mask_token = nn.Parameter(torch.zeros(config.dim))
        self.mix = nn.Linear(config.dim, config.dim)  # row context, so masked chunks can be inferred
        self.mlp = nn.Sequential(nn.LayerNorm(config.dim), nn.Linear(config.dim, 4 * config.dim), nn.GELU(),
                                 nn.Linear(4 * config.dim, config.dim))

    def forward(self, batch: Batch) -> EncodedTokens:
        """(B, width) -> (B, width/chunk, dim)."""
        B = batch["values"].shape[0]
        x = self.to_tokens(batch["values"].view(B, -1, self.chunk))  # (B, T, dim)
        m = batch["chunk_mask"].unsqueeze(-1)  # (B, T, 1)
        x = torch.where(m, self.mask_token.expand_as(x), x) + self.position
        x = x + self.mix(x.mean(dim=1, keepdim=True))  # (B, 1, dim) broadcast over tokens
        tokens = x + self.mlp(x)
        return EncodedTokens(tokens=tokens, mask=torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device))


class VectorObjective(MaskingObjective):
    """Mask chunks, regress their values from the encoder tokens."""

    def __init__(self, config: VectorConfig, encoder: VectorEncoder) -> None:
        super().__init__()
        self.config = config
        self.to_values = nn.Linear(encoder.dim, config.chunk)

    def mask(self, batch: Batch, generator: torch.Generator | None = None) -> tuple[Batch, Batch]:
        """Mask ``mask_ratio`` of the chunks of every row."""
        shape = batch["chunk_mask"].shape
        chosen = (torch.rand(shape, generator=generator) < self.config.mask_ratio).to(batch["values"].device)
        masked = dict(batch, chunk_mask=chosen)
        return masked, {"values": batch["values"], "chosen": chosen, PRESENT: batch[PRESENT]}

    def loss(self, encoded: EncodedTokens, targets: Batch) -> torch.Tensor:
        """MSE on masked chunks of present rows."""
        B = encoded.tokens.shape[0]
        pred = self.to_values(encoded.tokens)  # (B, T, chunk)
        truth = targets["values"].view(B, -1, self.config.chunk)
        scored = targets["chosen"] & targets[PRESENT][:, None]
        if not bool(scored.any()):
            return encoded.tokens.sum() * 0
        return (pred - truth)[scored].square().mean()


def _example(n_rows: int, rng: np.random.Generator, directory: Any) -> list[list[float]]:
    # rows whose chunks repeat a per-row level: masked chunks are predictable from the rest of the row
    return [list(np.repeat(rng.normal(size=4), 2) + 0.01 * rng.normal(size=8)) for _ in range(n_rows)]


def _detect(series: pd.Series) -> bool:
    values = [v for v in series.head(50) if not is_null(v)]
    return bool(values) and all(isinstance(v, (list, tuple, np.ndarray)) and np.ndim(v) == 1 for v in values)


VECTOR_SPEC = ModalitySpec(
    name="vector",
    config_cls=VectorConfig,
    presets={"tiny": {}, "small": {"dim": 32}, "base": {"dim": 64}},
    detect=_detect,
    build_preprocessor=lambda config, columns: VectorPreprocessor(config, columns),
    build_encoder=lambda config, pre: VectorEncoder(config),
    build_objective=lambda config, encoder, pre: VectorObjective(config, encoder),
    description="toy fixed-length numeric vectors (tests and template)",
    example=_example,
)
