"""One contract suite for any modality: every check of ``contracts.py`` on the spec's own example cells.

The core's ``tests/test_installed_modalities.py`` runs :func:`check_modality` over every installed
modality (timm-style: a plugin that breaks a contract fails the core's suite on the machine where it
is installed); a plugin's own tests call it on its spec as well.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from lanistr_core.contracts import ModalitySpec
from lanistr_core.hookspecs import hookimpl
from lanistr_core.registry import Registrar, build_registry, set_registry
from lanistr_core.testing.contracts import (
    build_modality,
    check_encoder_contract,
    check_missing_rows,
    check_objective_contract,
    check_state_roundtrip,
)


def example_frame(
    spec: ModalitySpec, directory: str | os.PathLike, *, n_rows: int = 8, missing_rows: Sequence[int] = (2, 5), seed: int = 0
) -> pd.DataFrame:
    """A frame with one column named after the modality: ``spec.example`` cells, ``None`` at ``missing_rows``.

    The index is deliberately not ``0..n-1`` so that a plugin which confuses labels and positions fails.
    """
    if spec.example is None:
        raise ValueError(f"modality {spec.name!r} has no example cells: set ModalitySpec.example")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cells = list(spec.example(n_rows, np.random.default_rng(seed), directory))
    if len(cells) != n_rows:
        raise AssertionError(f"{spec.name}: example returned {len(cells)} cells for n_rows={n_rows}")
    column = pd.Series(cells, dtype=object, index=range(100, 100 + n_rows))
    column.iloc[list(missing_rows)] = None
    return pd.DataFrame({spec.name: column})


class _SpecPlugin:
    """Registers one spec, so that the end-to-end check runs on exactly the spec under test."""

    def __init__(self, spec: ModalitySpec) -> None:
        self.spec = spec

    @hookimpl
    def lanistr_register_modalities(self, registrar: Registrar) -> None:
        registrar.add_modality(self.spec)


def _check_in_lanistr(spec: ModalitySpec, frame: pd.DataFrame, directory: Path) -> None:
    """Pretrain one epoch, fit one epoch, save, load: the reloaded model predicts identically."""
    registry = build_registry(entry_points=False)
    registry.register_plugin(_SpecPlugin(spec), name=f"{spec.name}-under-test")
    previous = set_registry(registry)
    try:
        _train_save_load(spec, frame, directory)
    finally:
        set_registry(previous)


def _train_save_load(spec: ModalitySpec, frame: pd.DataFrame, directory: Path) -> None:
    from lanistr_core.facade import Lanistr  # the facade imports the registry; keep this module light

    present = frame[spec.name].notna().to_numpy()
    frame = frame.loc[present].assign(label=np.arange(int(present.sum())) % 2)
    options: dict[str, Any] = {"epochs": 1, "batch_size": 4, "validation": "none"}
    model = Lanistr({spec.name: [spec.name]}, label="label", preset="tiny", device="cpu", verbose=False,
                    pretrain=options, finetune=options)
    model.pretrain(frame.drop(columns="label")).fit(frame)
    proba = model.predict_proba(frame)
    assert proba.shape == (len(frame), 2) and np.isfinite(proba).all(), f"{spec.name}: bad predictions {proba}"
    loaded = Lanistr.load(model.save(directory / "model"))
    np.testing.assert_allclose(loaded.predict_proba(frame), proba, atol=1e-6,
                               err_msg=f"{spec.name}: a saved and reloaded model predicts differently")


def check_modality(
    spec: ModalitySpec,
    directory: str | os.PathLike,
    *,
    n_rows: int = 8,
    missing_rows: Sequence[int] = (2, 5),
    end_to_end: bool = True,
    seed: int = 0,
    **overrides: Any,
) -> None:
    """Run every modality contract on ``spec.example`` cells with the ``tiny`` preset.

    Checks: the spec's detector claims the example column; preprocessor, encoder and masking
    objective contracts (shapes, masks, finite loss, gradients everywhere); null cells are absent
    rows; the preprocessor state survives a JSON + safetensors round trip; and (``end_to_end``) the
    modality pretrains, fits, saves and reloads through :class:`~lanistr_core.Lanistr` on its own.
    ``overrides`` go to the modality config. Raises ``AssertionError`` naming the modality.
    """
    directory = Path(directory)
    frame = example_frame(spec, directory / "cells", n_rows=n_rows, missing_rows=missing_rows, seed=seed)
    assert spec.detect(frame[spec.name]), f"{spec.name}: its detector does not claim its own example column"
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # small-data and similar advice is not under test here
        parts = build_modality(spec, frame, [spec.name], **overrides)
        check_encoder_contract(spec, parts, frame)
        check_objective_contract(spec, parts, frame, seed=seed)
        check_missing_rows(spec, parts, frame, missing_rows)
        check_state_roundtrip(spec, parts, frame)
        if end_to_end:
            _check_in_lanistr(spec, frame, directory)
