"""Contract classes validate their inputs; the toy modality passes the plugin contract checks."""

import attrs
import numpy as np
import pandas as pd
import pytest
import torch

from lanistr_core import EncodedTokens
from lanistr_core.serialization import load_state, save_state
from lanistr_core.testing import (
    build_modality,
    check_encoder_contract,
    check_missing_rows,
    check_objective_contract,
    check_objective_learns,
    check_state_roundtrip,
)
from lanistr_core.testing.toy import VECTOR_SPEC


def _frame(n=12, seed=0):
    rng = np.random.default_rng(seed)
    cells = [rng.normal(size=8).tolist() for _ in range(n)]
    cells[3] = None
    return pd.DataFrame({"vec": cells}, index=[f"r{i}" for i in range(n)])


def test_encoded_tokens_validates_shapes():
    with pytest.raises(ValueError, match=r"\(B, T, D\)"):
        EncodedTokens(tokens=torch.zeros(2, 3), mask=torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask must be bool"):
        EncodedTokens(tokens=torch.zeros(2, 3, 4), mask=torch.ones(2, 3))


def test_spec_configs_and_validation():
    assert VECTOR_SPEC.make_config("small").dim == 32
    with pytest.raises(ValueError, match="no preset 'huge'"):
        VECTOR_SPEC.make_config("huge")
    with pytest.raises(ValueError, match=r"unknown vector config keys \['depth'\]"):
        VECTOR_SPEC.make_config("tiny", depth=3)
    with pytest.raises(ValueError, match="'tiny' preset"):
        attrs.evolve(VECTOR_SPEC, presets={"base": {}})
    with pytest.raises(ValueError):
        attrs.evolve(VECTOR_SPEC, name="Bad Name")


def test_toy_modality_passes_the_plugin_contract():
    frame = _frame()
    parts = build_modality(VECTOR_SPEC, frame, ["vec"])
    check_encoder_contract(VECTOR_SPEC, parts, frame)
    check_objective_contract(VECTOR_SPEC, parts, frame)
    check_missing_rows(VECTOR_SPEC, parts, frame, missing_rows=[3])
    check_state_roundtrip(VECTOR_SPEC, parts, frame)
    torch.manual_seed(0)  # the initial weights, not the order of earlier tests, decide the learning check
    first, last = check_objective_learns(VECTOR_SPEC, build_modality(VECTOR_SPEC, frame, ["vec"]), frame)
    assert last < first


def test_bad_cell_error_names_column_and_row():
    frame = _frame()
    parts = build_modality(VECTOR_SPEC, frame, ["vec"])
    frame.loc["r5", "vec"] = [1.0, 2.0]
    with pytest.raises(ValueError, match=r"column 'vec', row 'r5'"):
        parts.preprocessor.transform(frame)


def test_state_files_hold_no_pickle(tmp_path):
    save_state(tmp_path, "x", {"a": [1, 2], "w": torch.arange(3.0)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.safetensors"]
    state = load_state(tmp_path, "x")
    assert state["a"] == [1, 2] and torch.equal(state["w"], torch.arange(3.0))
    with pytest.raises(TypeError, match="neither JSON-able nor a tensor"):
        save_state(tmp_path, "y", {"obj": object()})
