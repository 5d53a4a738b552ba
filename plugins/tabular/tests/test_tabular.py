"""Tests of the tabular modality plugin (tiny preset, small generated frames)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch
from lanistr_core import PRESENT, save_tensors
from lanistr_core.testing import (
    check_modality,
    build_modality,
    check_encoder_contract,
    check_missing_rows,
    check_objective_contract,
    check_objective_learns,
    check_state_roundtrip,
)
from pytorch_tabnet.metrics import UnsupervisedLoss
from pytorch_tabnet.tab_network import TabNetPretraining

from lanistr_plugin_tabular import MISSING_INDEX, SPEC, UNKNOWN_INDEX, TabularConfig
from lanistr_plugin_tabular.ghost_bn import safe_virtual_batch_size, smallest_chunk

COLUMNS = ["age", "count", "flag", "color", "size"]
ABSENT = [4, 13]  # positions of the rows whose tabular cells are all null


def make_frame(n_rows: int = 24, seed: int = 0) -> pd.DataFrame:
    """A frame with every kind of tabular column and some absent rows.

    Numeric with NaN, nullable int, nullable bool, category and string columns, plus a free-text
    column that is not tabular; rows at ABSENT have every tabular cell null. Labels start at 100.
    """
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n_rows).round(1),
            "count": pd.array(rng.integers(0, 50, n_rows), dtype="Int64"),
            "flag": pd.array(rng.random(n_rows) > 0.5, dtype="boolean"),
            "color": pd.Categorical(rng.choice(["red", "green", "blue"], n_rows)),
            "size": pd.array(rng.choice(["S", "M", "L", "XL"], n_rows), dtype="str"),
            "review": [f"free text review number {i}" for i in range(n_rows)],
        },
        index=np.arange(100, 100 + n_rows),
    )
    frame.loc[frame.index[[1, 7]], "age"] = np.nan
    frame.loc[frame.index[2], "size"] = None
    frame.loc[frame.index[ABSENT], COLUMNS] = None
    return frame


def build(frame: pd.DataFrame | None = None, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    frame = make_frame() if frame is None else frame
    return build_modality(SPEC, frame, COLUMNS, **overrides)


# -- contracts ----------------------------------------------------------------------------


def test_entry_point_is_discovered(lanistr_isolated_registry):
    registry = lanistr_isolated_registry("tabular")  # this plugin's entry point only
    assert registry.get_modality("tabular") is SPEC
    assert registry.owner("modality", "tabular").distribution == "lanistr-plugin-tabular"


def test_example_cells_pass_the_core_suite(tmp_path):
    check_modality(SPEC, tmp_path)


def test_encoder_contract():
    frame = make_frame()
    parts = build(frame)
    encoded = check_encoder_contract(SPEC, parts, frame)
    assert encoded.tokens.shape == (len(frame), 3, 8)  # one token per decision step, width n_d
    assert encoded.mask.all()


def test_objective_contract():
    frame = make_frame()
    check_objective_contract(SPEC, build(frame), frame)


def test_objective_learns():
    frame = make_frame()
    check_objective_learns(SPEC, build(frame), frame, steps=60)


def test_missing_rows():
    frame = make_frame()
    check_missing_rows(SPEC, build(frame), frame, ABSENT)


def test_state_roundtrip():
    frame = make_frame()
    check_state_roundtrip(SPEC, build(frame), frame)


# -- preprocessing ------------------------------------------------------------------------


def test_feature_layout_and_values():
    frame = make_frame()
    pre = build(frame).preprocessor
    # Every numeric column had a null at fit (the absent rows), so each gets a missing indicator.
    indicators = ["age__missing", "count__missing", "flag__missing"]
    assert pre.feature_names == ["age", "count", "flag", *indicators, "color", "size"]
    assert pre.cat_idxs == [6, 7]
    assert pre.cat_dims == [2 + 3, 2 + 4]  # fitted categories + missing + unknown
    batch = pre.transform(frame)
    x, present = batch["x"], batch[PRESENT]
    assert x.dtype == torch.float32 and x.shape == (24, 8)
    assert torch.equal(batch["feature_mask"], torch.zeros_like(x))
    observed = present.clone()
    observed[[1, 7]] = False  # rows with an imputed age
    # Standardised with the fitted statistics: zero mean over the observed cells.
    assert x[observed, 0].mean().abs() < 1e-5 and x[present, 1].mean().abs() < 1e-5
    assert x[[1, 7], 0].tolist() == [0.0, 0.0] and x[[1, 7], 3].tolist() == [1.0, 1.0]
    assert x[observed, 3].eq(0).all()
    assert x[present, 2].unique().numel() == 2  # a bool column: two standardised values
    assert x[present, 6].ge(2).all()  # every fitted category maps to >= 2
    assert x[2, 7] == MISSING_INDEX  # null string cell
    assert x[~present].eq(0).all()


def test_unseen_category_maps_to_unknown():
    parts = build()
    new = make_frame().iloc[:3].copy()
    new["size"] = pd.Series(["XXL", "S", None], index=new.index, dtype="str")
    new["color"] = pd.Categorical(["purple", "red", None])
    x = parts.preprocessor.transform(new)["x"]
    assert x[:, 7].tolist() == [UNKNOWN_INDEX, 2 + ["L", "M", "S", "XL"].index("S"), MISSING_INDEX]
    assert x[:, 6].tolist() == [UNKNOWN_INDEX, 2 + ["blue", "green", "red"].index("red"), MISSING_INDEX]


def test_all_null_row_is_absent_any_index():
    parts = build()
    sub = make_frame().iloc[[3, 4, 5]].copy()
    sub.index = ["a", "b", "c"]
    batch = parts.preprocessor.transform(sub)
    assert batch[PRESENT].tolist() == [True, False, True]
    # A row with only some null cells is present and imputed.
    partial = make_frame().iloc[[0]].copy()
    partial[["age", "count", "flag", "color"]] = None
    assert parts.preprocessor.transform(partial)[PRESENT].tolist() == [True]


def test_object_bool_column_is_numeric():
    frame = make_frame()
    frame["flag"] = pd.Series([True, False, None] * 8, index=frame.index, dtype=object)
    pre = build(frame).preprocessor
    assert "flag" in pre.numeric_columns_ and "flag" in pre.indicator_columns_


def test_bad_numeric_value_names_column_and_row():
    parts = build()
    bad = make_frame().iloc[:6].copy()
    bad["age"] = bad["age"].astype(object)
    bad.loc[105, "age"] = "abc"
    with pytest.raises(ValueError, match=r"column 'age', row 105: expected a number.*got str 'abc'"):
        parts.preprocessor.transform(bad)
    bad.loc[105, "age"] = float("inf")
    with pytest.raises(ValueError, match=r"column 'age', row 105: expected a finite number"):
        parts.preprocessor.transform(bad)


def test_bad_category_value_and_missing_column():
    parts = build()
    bad = make_frame().iloc[:4].copy()
    bad["size"] = pd.Series(["S", ["M", "L"], "S", "S"], index=bad.index, dtype=object)
    with pytest.raises(ValueError, match=r"column 'size', row 101: expected a scalar category value.*got list"):
        parts.preprocessor.transform(bad)
    with pytest.raises(ValueError, match=r"\['count'\] are missing"):
        parts.preprocessor.transform(make_frame().drop(columns="count"))


def test_unsupported_dtype_and_unfitted_errors():
    frame = make_frame()
    frame["when"] = pd.date_range("2024-01-01", periods=len(frame))
    with pytest.raises(ValueError, match=r"column 'when' has dtype datetime64"):
        SPEC.build_preprocessor(SPEC.make_config("tiny"), ["when"]).fit(frame)
    with pytest.raises(RuntimeError, match="not fitted"):
        SPEC.build_preprocessor(SPEC.make_config("tiny"), COLUMNS).transform(frame)


# -- detection ----------------------------------------------------------------------------


def test_detection_positive():
    frame = make_frame()
    for column in COLUMNS:
        assert SPEC.detect(frame[column]), column
    assert SPEC.detect(pd.Series([1, None, 2.5], dtype=object))
    assert SPEC.detect(pd.Series([True, None, False] * 3, dtype=object))


def test_detection_negative():
    frame = make_frame()
    image = pytest.importorskip("PIL.Image").new("RGB", (4, 4))
    negatives = {
        "free text": frame["review"],
        "image paths": pd.Series(["a.png", "b.jpg", "a.png", "b.jpg"]),
        "PIL images": pd.Series([image, image], dtype=object),
        "series cells": pd.Series([np.arange(5.0), [1.0, 2.0], None], dtype=object),
        "datetimes": pd.Series(pd.date_range("2024-01-01", periods=4)),
        "all null": pd.Series([None, None], dtype=object),
    }
    for name, series in negatives.items():
        assert not SPEC.detect(series), name


# -- encoder and objective details --------------------------------------------------------


def test_matches_tabnet_pretraining():
    """Encoder + objective reproduce pytorch-tabnet's TabNetPretraining on the same obfuscation."""
    frame = make_frame().drop(make_frame().index[ABSENT])
    parts = build(frame)
    pre, encoder, objective = parts.preprocessor, parts.encoder, parts.objective
    reference = TabNetPretraining(
        pre.n_features,
        pretraining_ratio=0.15,
        n_d=8,
        n_a=8,
        n_steps=3,
        cat_idxs=pre.cat_idxs,
        cat_dims=pre.cat_dims,
        cat_emb_dim=[2] * len(pre.cat_idxs),
        group_attention_matrix=torch.eye(pre.n_features),
    )
    # Our encoder.tabnet.* is the reference's encoder.*; embedder.* and decoder.* keep their names.
    weights = {re.sub(r"^tabnet\.", "encoder.", k): v for k, v in encoder.state_dict().items()}
    weights.update({f"decoder.{k}": v for k, v in objective.decoder.state_dict().items()})
    reference.load_state_dict(weights, strict=True)
    reference.train(), encoder.train(), objective.train()
    batch = pre.transform(frame)
    torch.manual_seed(3)
    expected, embedded, obfuscated_vars = reference(batch["x"])
    expected_loss = UnsupervisedLoss(expected, embedded, obfuscated_vars)
    torch.manual_seed(3)  # RandomObfuscator's draw, replayed as our feature_mask
    drawn = torch.bernoulli(0.15 * torch.ones(batch["x"].shape))
    masked = {**batch, "feature_mask": drawn}
    targets = {"x": batch["x"], "feature_mask": drawn, PRESENT: batch[PRESENT]}
    loss = objective.loss(encoder(masked), targets)
    torch.testing.assert_close(loss, expected_loss)


def test_mask_only_present_rows_and_deterministic():
    parts = build()
    batch = parts.preprocessor.transform(make_frame())
    masked, targets = parts.objective.mask(batch, torch.Generator().manual_seed(1))
    again, _ = parts.objective.mask(batch, torch.Generator().manual_seed(1))
    assert torch.equal(masked["feature_mask"], again["feature_mask"])
    assert torch.equal(masked["x"], batch["x"])
    assert masked["feature_mask"][~batch[PRESENT]].eq(0).all()
    assert 0 < masked["feature_mask"].mean() < 0.4
    assert torch.equal(targets["feature_mask"], masked["feature_mask"])


def test_obfuscation_changes_tokens():
    parts = build()
    parts.encoder.eval()
    batch = parts.preprocessor.transform(make_frame())
    masked, _ = parts.objective.mask(batch, torch.Generator().manual_seed(0))
    with torch.no_grad():
        clean, hidden = parts.encoder(batch).tokens, parts.encoder(masked).tokens
    assert not torch.allclose(clean, hidden)


def test_tiny_batches_in_train_mode():
    parts = build()
    pre, encoder, objective = parts.preprocessor, parts.encoder, parts.objective
    encoder.train(), objective.train()
    frame = make_frame()
    running = encoder.tabnet.initial_bn.running_mean.clone()
    # empty, one row, one absent row, all absent, one present
    for rows in ([], [0], [4], [4, 13], [0, 4]):
        batch = pre.transform(frame.iloc[rows])
        encoded = encoder(batch)
        assert torch.isfinite(encoded.tokens).all()
        masked, targets = objective.mask(batch, torch.Generator().manual_seed(0))
        loss = objective.loss(encoder(masked), targets)
        assert loss.item() == 0.0  # batch variance needs two present rows
        loss.backward()
    # Placeholder rows never updated the running statistics.
    assert torch.equal(encoder.tabnet.initial_bn.running_mean, running)


def test_one_row_ghost_chunk_is_avoided():
    assert smallest_chunk(57, 8) == 1
    assert smallest_chunk(57, safe_virtual_batch_size(57, 8)) > 1
    frame = make_frame(57)
    parts = build(frame, virtual_batch_size=8)
    check_objective_contract(SPEC, parts, frame)


def test_pretrained_path(tmp_path):
    parts = build()
    path = tmp_path / "tabular.safetensors"
    # TabNet's shared GLU layers appear under several keys; save_tensors clones them apart.
    save_tensors(path, parts.encoder.state_dict())
    again = build(seed=1, pretrained_path=str(path))
    for key, value in parts.encoder.state_dict().items():
        assert torch.equal(again.encoder.state_dict()[key], value), key
    with pytest.raises(ValueError, match="does not match"):
        build(seed=1, preset="small", pretrained_path=str(path))


def test_config_validation_and_presets():
    for preset in ("tiny", "small", "base"):
        assert isinstance(SPEC.make_config(preset), TabularConfig)
    assert SPEC.make_config("base").n_d == 64 and SPEC.loss_weight == 0.01
    with pytest.raises(ValueError, match="cannot both be 0"):
        TabularConfig(n_shared=0, n_independent=0)
    with pytest.raises(ValueError):
        TabularConfig(pretraining_ratio=1.5)
    with pytest.raises(ValueError, match="at least one column"):
        SPEC.build_preprocessor(SPEC.make_config("tiny"), [])
