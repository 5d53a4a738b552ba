"""LanistrModel assembly: shapes, presence masks, missing-modality invariance, empty-row errors."""

import pytest
import torch

from lanistr_core import create_fusion
from lanistr_core.model import Head, LanistrModel, MissingModalitiesError
from lanistr_core.testing.toy import VECTOR_SPEC, VectorEncoder


def _model(fusion="perceiver", missing="mask", n_out=3):
    config = VECTOR_SPEC.make_config("tiny")
    encoders = {"a": VectorEncoder(config), "b": VectorEncoder(config)}
    extra = {"attention": "math"} if fusion != "late" else {}
    return LanistrModel(
        encoders=encoders, fusion=create_fusion(fusion, dim=24, n_modalities=2, **extra), dim=24,
        head=Head(dim=24, n_outputs=n_out), missing=missing,
    )


def _batches(B=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    make = lambda: {"values": torch.randn(B, 8, generator=g), "chunk_mask": torch.zeros(B, 4, dtype=torch.bool),
                    "present": torch.ones(B, dtype=torch.bool)}
    return {"a": make(), "b": make()}


@pytest.mark.parametrize("fusion", ["perceiver", "concat_transformer", "late"])
def test_forward_shapes_and_gradients(fusion):
    model = _model(fusion)
    out = model(_batches())
    assert out.logits.shape == (4, 3) and out.pooled.shape == (4, 24)
    out.logits.sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing


@pytest.mark.parametrize("fusion", ["perceiver", "concat_transformer", "late"])
def test_absent_modality_is_invisible(fusion):
    model = _model(fusion).eval()
    batches = _batches()
    batches["b"]["present"][1] = False
    batches["a"]["present"][2] = False
    with torch.no_grad():
        ref = model(batches)
        batches["b"]["values"][1] = 1e4  # values of absent rows must not matter
        batches["a"]["values"][2] = -1e4
        alt = model(batches)
    assert (ref.logits - alt.logits).abs().max() <= 1e-6
    assert (ref.pooled - alt.pooled).abs().max() <= 1e-6


def test_zero_fill_mode_attends_placeholders():
    model = _model(missing="zero").eval()
    batches = _batches()
    batches["b"]["present"][1] = False
    with torch.no_grad():
        masked_model = _model(missing="mask").eval()
        masked_model.load_state_dict(model.state_dict())
        assert (model(batches).pooled[1] - masked_model(batches).pooled[1]).abs().max() > 1e-4
        assert (model(batches).pooled[0] - masked_model(batches).pooled[0]).abs().max() < 1e-6


def test_row_with_nothing_present_is_named():
    batches = _batches()
    batches["a"]["present"][2] = batches["b"]["present"][2] = False
    with pytest.raises(MissingModalitiesError, match=r"1 row\(s\) have every modality missing, e.g. rows \['r2'\]"):
        _model()(batches, row_ids=["r0", "r1", "r2", "r3"])


def test_constructor_validation():
    config = VECTOR_SPEC.make_config("tiny")
    with pytest.raises(ValueError, match="missing must be one of"):
        LanistrModel(encoders={"a": VectorEncoder(config)}, fusion=create_fusion("late", dim=8), dim=8, missing="drop")
    with pytest.raises(ValueError, match="fusion width 8 != model width 16"):
        LanistrModel(encoders={"a": VectorEncoder(config)}, fusion=create_fusion("late", dim=8), dim=16)
    with pytest.raises(KeyError, match="lack modalities"):
        _model()({"a": _batches()["a"]})
