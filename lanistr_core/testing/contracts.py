"""Reusable contract checks (plain functions raising AssertionError, usable from any pytest suite)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from typing import Any

import attrs
import pandas as pd
import torch

from lanistr_core.contracts import PRESENT, Batch, EncodedTokens, Encoder, Fusion, MaskingObjective, ModalitySpec, Preprocessor
from lanistr_core.serialization import load_state, save_state


@attrs.define
class ModalityParts:
    """A modality built end to end from a spec: config, fitted preprocessor, encoder, objective."""

    config: Any
    preprocessor: Preprocessor
    encoder: Encoder
    objective: MaskingObjective


def build_modality(
    spec: ModalitySpec, frame: pd.DataFrame, columns: Sequence[str], *, preset: str = "tiny", **overrides: Any
) -> ModalityParts:
    """Make config from ``preset``, fit the preprocessor on ``frame``, build encoder and objective."""
    config = spec.make_config(preset, **overrides)
    pre = spec.build_preprocessor(config, list(columns)).fit(frame)
    assert pre.is_fitted, f"{spec.name}: preprocessor.fit must set fitted_ = True"
    encoder = spec.build_encoder(config, pre)
    objective = spec.build_objective(config, encoder, pre)
    return ModalityParts(config=config, preprocessor=pre, encoder=encoder, objective=objective)


def _check_batch(name: str, batch: Batch, n_rows: int) -> None:
    assert isinstance(batch, dict), f"{name}: transform must return a dict of tensors"
    assert PRESENT in batch, f"{name}: batch lacks {PRESENT!r}"
    present = batch[PRESENT]
    assert present.dtype == torch.bool and present.shape == (n_rows,), f"{name}: present must be bool ({n_rows},)"
    for key, value in batch.items():
        assert isinstance(value, torch.Tensor), f"{name}: batch[{key!r}] is {type(value).__name__}, not a tensor"
        assert value.shape[0] == n_rows, f"{name}: batch[{key!r}] has {value.shape[0]} rows, expected {n_rows}"


def _check_encoded(name: str, encoded: EncodedTokens, n_rows: int, dim: int) -> None:
    assert isinstance(encoded, EncodedTokens), f"{name}: encoder must return EncodedTokens"
    assert encoded.tokens.shape[0] == n_rows and encoded.tokens.shape[2] == dim, (
        f"{name}: tokens shape {tuple(encoded.tokens.shape)} != ({n_rows}, T, {dim})"
    )
    assert torch.isfinite(encoded.tokens).all(), f"{name}: encoder produced NaN/inf"


def _missing_grads(module: torch.nn.Module) -> list[str]:
    return [n for n, p in module.named_parameters() if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())]


def check_encoder_contract(spec: ModalitySpec, parts: ModalityParts, frame: pd.DataFrame) -> EncodedTokens:
    """Transform ``frame``, encode it, check shapes, masks, finiteness; return the encoded tokens."""
    batch = parts.preprocessor.transform(frame)
    _check_batch(spec.name, batch, len(frame))
    assert isinstance(parts.encoder.dim, int) and parts.encoder.dim > 0, f"{spec.name}: encoder.dim must be a positive int"
    encoded = parts.encoder(batch)
    _check_encoded(spec.name, encoded, len(frame), parts.encoder.dim)
    present = batch[PRESENT]
    assert encoded.mask[present].any(dim=1).all(), f"{spec.name}: a present row has no real token"
    return encoded


def check_objective_contract(
    spec: ModalitySpec, parts: ModalityParts, frame: pd.DataFrame, *, seed: int = 0
) -> torch.Tensor:
    """Mask a batch, check the masked view keeps keys/shapes, loss is a finite scalar and gradients
    reach every trainable parameter of encoder and objective (clean tokens + masked loss)."""
    batch = parts.preprocessor.transform(frame)
    masked, targets = parts.objective.mask(batch, torch.Generator().manual_seed(seed))
    assert set(masked) == set(batch), f"{spec.name}: masked batch keys {sorted(masked)} != {sorted(batch)}"
    for key in batch:
        assert masked[key].shape == batch[key].shape, f"{spec.name}: masked[{key!r}] changed shape"
    assert PRESENT in targets, f"{spec.name}: targets must carry {PRESENT!r}"
    parts.encoder.train(), parts.objective.train()
    parts.encoder.zero_grad(), parts.objective.zero_grad()
    loss = parts.objective.loss(parts.encoder(masked), targets)
    assert loss.dim() == 0 and torch.isfinite(loss), f"{spec.name}: loss must be a finite scalar, got {loss}"
    clean = parts.encoder(batch)
    (loss + (clean.tokens * clean.mask.unsqueeze(-1)).mean()).backward()
    missing = _missing_grads(parts.encoder) + [f"objective.{n}" for n in _missing_grads(parts.objective)]
    assert not missing, f"{spec.name}: no finite gradient reaches {missing}"
    return loss.detach()


def check_objective_learns(
    spec: ModalitySpec, parts: ModalityParts, frame: pd.DataFrame, *, steps: int = 60, lr: float = 1e-3, seed: int = 0
) -> tuple[float, float]:
    """Train encoder + objective for ``steps`` Adam steps on one fixed batch and one fixed mask;
    assert the loss at least halves. Returns (first, last) loss."""
    torch.manual_seed(seed)
    batch = parts.preprocessor.transform(frame)
    masked, targets = parts.objective.mask(batch, torch.Generator().manual_seed(seed))
    # dedupe by identity: objectives may tie weights to the encoder (MLM decoder = word embeddings)
    params = list({id(p): p for m in (parts.encoder, parts.objective) for p in m.parameters() if p.requires_grad}.values())
    optimizer = torch.optim.Adam(params, lr=lr)
    parts.encoder.train(), parts.objective.train()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = parts.objective.loss(parts.encoder(masked), targets)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    first, last = losses[0], losses[-1]
    assert last <= 0.5 * first, f"{spec.name}: loss went {first:.4f} -> {last:.4f} in {steps} steps (needs <= half)"
    return first, last


def check_missing_rows(spec: ModalitySpec, parts: ModalityParts, frame: pd.DataFrame, missing_rows: Sequence[int]) -> None:
    """Rows at positions ``missing_rows`` (all cells of the modality null) give present=False, no error,
    and the encoder still runs on the whole batch."""
    batch = parts.preprocessor.transform(frame)
    _check_batch(spec.name, batch, len(frame))
    expected = torch.ones(len(frame), dtype=torch.bool)
    expected[list(missing_rows)] = False
    assert torch.equal(batch[PRESENT], expected), f"{spec.name}: present={batch[PRESENT].tolist()}, expected {expected.tolist()}"
    _check_encoded(spec.name, parts.encoder(batch), len(frame), parts.encoder.dim)


def check_state_roundtrip(spec: ModalitySpec, parts: ModalityParts, frame: pd.DataFrame) -> None:
    """Save the preprocessor state through JSON + safetensors (no pickle), load it into a fresh
    unfitted preprocessor, and check that both transform ``frame`` identically."""
    with tempfile.TemporaryDirectory() as tmp:
        save_state(tmp, spec.name, parts.preprocessor.state_dict())
        fresh = spec.build_preprocessor(parts.config, list(parts.preprocessor.columns))
        fresh.load_state_dict(load_state(tmp, spec.name))
    assert fresh.is_fitted, f"{spec.name}: load_state_dict must mark the preprocessor fitted"
    a, b = parts.preprocessor.transform(frame), fresh.transform(frame)
    assert set(a) == set(b), f"{spec.name}: keys differ after reload"
    for key in a:
        assert torch.equal(a[key], b[key]), f"{spec.name}: batch[{key!r}] differs after state round-trip"


def check_fusion_contract(fusion: Fusion, *, batch: int = 3, n_tokens: int = 12, n_modalities: int = 2, seed: int = 0) -> None:
    """Shapes, finiteness, gradients to every parameter, and mask invariance (1e-6) of a fusion."""
    torch.manual_seed(seed)
    dim = fusion.dim
    tokens = torch.randn(batch, n_tokens, dim, requires_grad=True)
    mask = torch.rand(batch, n_tokens) > 0.4
    mask[:, 0] = True
    mask[-1, n_tokens // 2 :] = False  # last row: second modality entirely absent
    modality_index = torch.arange(n_tokens) * n_modalities // n_tokens  # (N,)
    fusion.train()
    fusion.zero_grad()
    out = fusion(tokens, mask, modality_index=modality_index)
    assert out.pooled.shape == (batch, dim), f"pooled shape {tuple(out.pooled.shape)} != ({batch}, {dim})"
    assert out.tokens.dim() == 3 and out.tokens.shape[0] == batch and out.tokens.shape[2] == dim
    assert torch.isfinite(out.tokens).all() and torch.isfinite(out.pooled).all(), "fusion produced NaN/inf"
    (out.pooled.square().mean() + out.tokens.square().mean()).backward()
    missing = _missing_grads(fusion)
    assert not missing, f"no gradient reaches {missing}"
    fusion.eval()
    with torch.no_grad():
        ref = fusion(tokens, mask, modality_index=modality_index)
        noisy = torch.where(mask.unsqueeze(-1), tokens, torch.randn_like(tokens) * 100)
        alt = fusion(noisy, mask, modality_index=modality_index)
    for name in ("tokens", "pooled"):
        diff = (getattr(ref, name) - getattr(alt, name)).abs().max().item()
        assert diff <= 1e-6, f"masked token values changed {name} by {diff:.2e}"
