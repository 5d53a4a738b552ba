"""Tests of the timeseries plugin: contracts, batch layout, span masks, encoder invariances, errors."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
import torch

from lanistr_core import save_tensors
from lanistr_core.testing import (
    check_modality,
    build_modality,
    check_encoder_contract,
    check_missing_rows,
    check_objective_contract,
    check_objective_learns,
    check_state_roundtrip,
)
from lanistr_plugin_timeseries import SPEC, TimeEncoding, TimeseriesConfig, detect, geometric_span_mask

NONE_ROW, ALL_NAN_ROW = 2, 5


def _sinusoids(rng: np.random.Generator, times: np.ndarray, features: int) -> np.ndarray:
    """(T, features) noisy sinusoids with per-feature frequency, phase, offset and scale."""
    freq = rng.uniform(0.2, 0.8, features)
    phase = rng.uniform(0, 2 * np.pi, features)
    x = 3.0 + 2.0 * np.sin(times[:, None] * freq + phase) * np.arange(1, features + 1)
    return x + 0.05 * rng.normal(size=x.shape)


def _frame(n: int = 16, *, features: int = 2, seed: int = 0) -> pd.DataFrame:
    """Column ``v``: (T, F) series of varying length with NaN holes; ``t``: irregular increasing stamps.

    Row NONE_ROW is null, row ALL_NAN_ROW is an all-NaN series (both absent); row 1 is a nested list.
    """
    rng = np.random.default_rng(seed)
    values, times = [], []
    for _ in range(n):
        length = int(rng.integers(12, 40))
        t = np.cumsum(rng.uniform(0.5, 1.5, length)) * 60.0  # irregular, in "seconds"
        x = _sinusoids(rng, t / 60.0, features)
        x[rng.random(x.shape) < 0.1] = np.nan  # unobserved values
        values.append(x)
        times.append(t)
    values[1] = [[None if np.isnan(a) else float(a) for a in step] for step in values[1]]  # list cell
    values[NONE_ROW], times[NONE_ROW] = None, None
    values[ALL_NAN_ROW] = np.full((9, features), np.nan)
    times[ALL_NAN_ROW] = np.arange(9.0)
    return pd.DataFrame({"v": values, "t": times, "other": np.arange(n)}, index=[f"r{i}" for i in range(n)])


def _multi_column_frame(n: int = 12, seed: int = 1) -> pd.DataFrame:
    """Two 1-D series columns ``hr``, ``bp`` of equal length per row; row 3 null in both, row 4 lacks ``bp``."""
    rng = np.random.default_rng(seed)
    hr, bp = [], []
    for _ in range(n):
        t = np.arange(int(rng.integers(8, 30)), dtype=float)
        x = _sinusoids(rng, t, 2)
        x[rng.random(x.shape) < 0.1] = np.nan
        hr.append(x[:, 0])
        bp.append(x[:, 1].tolist())
    hr[3] = bp[3] = None
    bp[4] = None
    return pd.DataFrame({"hr": hr, "bp": bp}, index=range(100, 100 + n))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Shared generated frame."""
    return _frame()


def _parts(frame: pd.DataFrame, **overrides):
    return build_modality(SPEC, frame, ["v"], time_column="t", **overrides)


# -- registration, detection ---------------------------------------------------------


def test_entry_point_is_discovered(lanistr_isolated_registry):
    # Load only this plugin's entry point: faster, and independent of the other plugins' health.
    registry = lanistr_isolated_registry("timeseries")
    assert registry.get_modality("timeseries") is SPEC
    assert registry.owner("modality", "timeseries").distribution == "lanistr-plugin-timeseries"
    assert SPEC.loss_weight == pytest.approx(0.1)


def test_example_cells_pass_the_core_suite(tmp_path):
    check_modality(SPEC, tmp_path)


def test_presets_build():
    assert SPEC.make_config("tiny").d_model == 32
    assert SPEC.make_config("small").max_length == 256
    base = SPEC.make_config("base")
    assert (base.d_model, base.n_layers, base.n_heads, base.dim_feedforward, base.max_length) == (128, 3, 8, 256, 512)


def test_detection(frame):
    assert detect(frame["v"]) and detect(frame["t"])
    assert detect(pd.Series([[1.0, 2.0, None], None, np.arange(4)]))
    assert detect(pd.Series([np.zeros((5, 3)), np.ones((2, 3))]))
    assert not detect(frame["other"])  # plain numbers: tabular
    assert not detect(pd.Series(["a review", "another"]))  # text
    assert not detect(pd.Series(["x.png", None]))
    assert not detect(pd.Series([np.array(["a", "b"]), np.array(["c"])]))  # string arrays
    assert not detect(pd.Series([["a", "b"], ["c"]]))
    assert not detect(pd.Series([np.zeros((4, 4, 3), dtype=np.uint8)]))  # an image
    assert not detect(pd.Series([None, None], dtype=object))


# -- the plugin contract -------------------------------------------------------------


def test_contract_single_column_irregular(frame):
    parts = _parts(frame)
    assert parts.preprocessor.columns == ["v", "t"]  # the time column travels with the modality
    encoded = check_encoder_contract(SPEC, parts, frame)
    assert encoded.tokens.shape[1] == max(len(c) for c in frame["v"] if c is not None)
    check_objective_contract(SPEC, parts, frame)
    check_missing_rows(SPEC, parts, frame, missing_rows=[NONE_ROW, ALL_NAN_ROW])
    check_state_roundtrip(SPEC, parts, frame)


def test_contract_multi_column_regular():
    frame = _multi_column_frame()
    parts = build_modality(SPEC, frame, ["hr", "bp"])
    assert parts.preprocessor.n_features == 2
    check_encoder_contract(SPEC, parts, frame)
    check_objective_contract(SPEC, parts, frame)
    check_missing_rows(SPEC, parts, frame, missing_rows=[3])
    check_state_roundtrip(SPEC, parts, frame)
    batch = parts.preprocessor.transform(frame)
    row4 = batch["valid"][4]
    assert not batch["observed"][4, :, 1].any() and batch["observed"][4, row4, 0].any()  # bp absent, hr present


def test_objective_learns(frame):
    # Default lr 1e-3, 60 steps: over 12 data/init seeds the loss fell to 3-13% of its start.
    torch.manual_seed(0)
    first, last = check_objective_learns(SPEC, _parts(frame), frame)
    assert last < 0.5 * first


# -- batch layout --------------------------------------------------------------------


def test_batch_layout(frame):
    parts = _parts(frame)
    batch = parts.preprocessor.transform(frame)
    raw = np.asarray(frame["v"].iloc[0], dtype=float)  # (T, F)
    length = raw.shape[0]
    assert batch["values"].dtype == torch.float32 and batch["observed"].dtype == torch.bool
    assert batch["valid"][0, :length].all() and not batch["valid"][0, length:].any()
    assert torch.equal(batch["observed"][0, :length], torch.from_numpy(np.isfinite(raw)))
    assert not batch["observed"][0, length:].any() and (batch["values"][0, length:] == 0).all()
    assert (batch["values"][~batch["observed"]] == 0).all()  # unobserved and padding: 0
    mean, std = parts.preprocessor.mean_.numpy(), parts.preprocessor.std_.numpy()
    expected = np.where(np.isfinite(raw), (raw - mean) / std, 0.0)
    np.testing.assert_allclose(batch["values"][0, :length].numpy(), expected, rtol=1e-5, atol=1e-5)
    # per-feature statistics over observed values of training rows: normalised values ~ N(0, 1)
    observed_values = batch["values"][batch["observed"]].view(-1)
    assert abs(float(observed_values.mean())) < 0.2 and 0.8 < float(observed_values.std()) < 1.2
    # absent rows: placeholders only
    for row in (NONE_ROW, ALL_NAN_ROW):
        assert not batch["valid"][row].any() and not batch["present"][row]


def test_times_are_relative_and_scaled(frame):
    parts = _parts(frame)
    stamps = np.concatenate([np.diff(t) for i, t in enumerate(frame["t"]) if i not in (NONE_ROW, ALL_NAN_ROW)])
    assert parts.preprocessor.time_scale_ == pytest.approx(float(np.median(stamps)))
    batch = parts.preprocessor.transform(frame)
    t0 = frame["t"].iloc[0]
    expected = (t0 - t0[0]) / parts.preprocessor.time_scale_
    np.testing.assert_allclose(batch["times"][0, : len(t0)].numpy(), expected, rtol=1e-5)
    regular = build_modality(SPEC, frame, ["v"]).preprocessor.transform(frame)
    assert torch.equal(regular["times"][0, : len(t0)], torch.arange(len(t0), dtype=torch.float32))


def test_truncation_keeps_last_steps(frame):
    parts = _parts(frame, max_length=10)
    batch = parts.preprocessor.transform(frame)
    assert batch["values"].shape[1] == 10
    raw = np.asarray(frame["v"].iloc[0], dtype=float)[-10:]
    observed = torch.from_numpy(np.isfinite(raw))
    assert torch.equal(batch["observed"][0], observed)
    expected = (raw - parts.preprocessor.mean_.numpy()) / parts.preprocessor.std_.numpy()
    np.testing.assert_allclose(batch["values"][0][observed].numpy(), expected[np.isfinite(raw)], rtol=1e-5, atol=1e-5)
    assert batch["times"][0, 0] == 0  # relative to the first KEPT step
    late_gap = np.vstack([np.ones((5, 2)), np.full((12, 2), np.nan)])  # observed values all before the kept window
    row = _with_cell(_with_cell(frame, "r0", "v", late_gap), "r0", "t", np.arange(17.0)).loc[["r0"]]
    cut = parts.preprocessor.transform(row)
    assert not cut["present"][0]


def test_transform_any_subframe(frame):
    parts = _parts(frame)
    sub = frame.iloc[[NONE_ROW, ALL_NAN_ROW]]
    batch = parts.preprocessor.transform(sub)
    assert batch["values"].shape == (2, 1, 2) and not batch["present"].any()
    encoded = parts.encoder(batch)
    assert torch.isfinite(encoded.tokens).all() and not encoded.mask.any()
    masked, targets = parts.objective.mask(batch, torch.Generator().manual_seed(0))
    loss = parts.objective.loss(parts.encoder(masked), targets)
    assert float(loss.detach()) == 0.0
    loss.backward()


# -- span masks ----------------------------------------------------------------------


def _run_lengths(row: np.ndarray) -> list[int]:
    """Lengths of the runs of True in a bool vector."""
    padded = np.concatenate([[False], row, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return (edges[1::2] - edges[::2]).tolist()


def test_span_mask_statistics():
    generator = torch.Generator().manual_seed(0)
    fractions, spans = [], []
    for _ in range(20):
        mask = geometric_span_mask(100, 400, ratio=0.15, mean_span=3.0, generator=generator).numpy()
        fractions.append(mask.mean())
        spans += [n for row in mask for n in _run_lengths(row)]
    assert abs(np.mean(fractions) - 0.15) < 0.005
    assert all(abs(f - 0.15) < 0.02 for f in fractions)
    assert abs(np.mean(spans) - 3.0) < 0.1


def test_objective_masks_observed_values_only(frame):
    parts = _parts(frame)
    batch = parts.preprocessor.transform(frame)
    counts = []
    for seed in range(30):
        masked, targets = parts.objective.mask(batch, torch.Generator().manual_seed(seed))
        chosen = targets["chosen"]
        assert not (chosen & ~batch["observed"]).any() and not chosen[~batch["present"]].any()
        assert (masked["values"][chosen] == 0).all() and not masked["observed"][chosen].any()
        assert torch.equal(masked["observed"], batch["observed"] & ~chosen)
        assert torch.equal(masked["valid"], batch["valid"]) and torch.equal(masked["times"], batch["times"])
        counts.append(chosen.sum().item())
    fraction = sum(counts) / (30 * batch["observed"].sum().item())
    assert abs(fraction - 0.15) < 0.03
    again, _ = parts.objective.mask(batch, torch.Generator().manual_seed(0))
    first, _ = parts.objective.mask(batch, torch.Generator().manual_seed(0))
    assert torch.equal(again["observed"], first["observed"])  # reproducible from the generator


# -- encoder invariances -------------------------------------------------------------


def test_time_stamps_change_the_output(frame):
    parts = _parts(frame)
    parts.encoder.eval()
    batch = parts.preprocessor.transform(frame)
    stretched = dict(batch, times=batch["times"] * 1.7)
    with torch.no_grad():
        a, b = parts.encoder(batch), parts.encoder(stretched)
    valid = batch["valid"]
    assert (a.tokens[valid] - b.tokens[valid]).abs().max() > 1e-3
    encoding = TimeEncoding(dim=8)
    assert not torch.allclose(encoding(torch.tensor([[0.0, 1.0]])), encoding(torch.tensor([[0.0, 1.5]])))


def test_padding_does_not_affect_valid_positions(frame):
    parts = _parts(frame)
    parts.encoder.eval()
    pre = parts.preprocessor
    short = int(np.argmin([len(c) if c is not None else 99 for c in frame["v"]]))
    alone = pre.transform(frame.iloc[[short]])
    batch = pre.transform(frame)
    length = alone["values"].shape[1]
    assert batch["values"].shape[1] > length
    pad = ~batch["valid"]
    noisy = dict(batch)
    noisy["values"] = torch.where(pad.unsqueeze(-1), torch.randn_like(batch["values"]) * 100, batch["values"])
    noisy["times"] = torch.where(pad, torch.rand_like(batch["times"]) * 1e3, batch["times"])
    with torch.no_grad():
        ref = parts.encoder(alone).tokens[0]
        padded = parts.encoder(batch).tokens[short, :length]
        garbage = parts.encoder(noisy).tokens
        clean = parts.encoder(batch).tokens
    torch.testing.assert_close(padded, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(garbage[batch["valid"]], clean[batch["valid"]], rtol=1e-5, atol=1e-5)


def test_pretrained_path_loads_local_weights(frame, tmp_path):
    parts = _parts(frame)
    path = tmp_path / "ts.safetensors"
    save_tensors(path, parts.encoder.state_dict())
    config = SPEC.make_config("tiny", time_column="t", pretrained_path=str(path))
    loaded = SPEC.build_encoder(config, parts.preprocessor)
    for key, value in parts.encoder.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


# -- errors --------------------------------------------------------------------------


def _with_cell(frame: pd.DataFrame, row: str, column: str, cell) -> pd.DataFrame:
    frame = frame.copy()
    frame[column] = frame[column].astype(object)
    frame.at[row, column] = cell
    return frame


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("high", r"column 'v', row 'r7': expected a numeric 1-D \(T,\) or 2-D \(T, F\) series .*got str"),
        (3.5, r"column 'v', row 'r7': expected .* got float"),
        ([["a", "b"], ["c", "d"]], r"column 'v', row 'r7': expected .*dtype <U1"),
        ({"a": 1}, r"column 'v', row 'r7': expected .*got dict"),
        (np.zeros((3, 2, 2)), r"column 'v', row 'r7': expected .*shape \(3, 2, 2\)"),
        ([[1.0, 2.0], [3.0]], r"column 'v', row 'r7': expected .*ragged list"),
        (np.array([[1.0, np.inf]]), r"column 'v', row 'r7': series holds an infinite value"),
        (np.zeros((4, 3)), r"column 'v', row 'r7': expected 2 feature\(s\) per step \(as fitted\), got 3"),
        (np.zeros(4), r"column 'v', row 'r7': expected 2 feature\(s\) per step \(as fitted\), got 1"),
    ],
)
def test_bad_value_cells(frame, cell, message):
    parts = build_modality(SPEC, frame, ["v"])
    with pytest.raises(ValueError, match=message):
        parts.preprocessor.transform(_with_cell(frame, "r7", "v", cell))


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (None, r"column 't', row 'r7': time stamps are missing for a present series"),
        (np.arange(3.0), r"column 't', row 'r7': 3 time stamps for a series of \d+ steps"),
        ("noon", r"column 't', row 'r7': expected a 1-D array of time stamps, got str"),
    ],
)
def test_bad_time_cells(frame, cell, message):
    parts = _parts(frame)
    with pytest.raises(ValueError, match=message):
        parts.preprocessor.transform(_with_cell(frame, "r7", "t", cell))


def test_time_stamps_must_not_decrease(frame):
    parts = _parts(frame)
    stamps = np.array(frame.at["r7", "t"], dtype=float)[::-1].copy()
    with pytest.raises(ValueError, match=r"column 't', row 'r7': time stamps must be non-decreasing"):
        parts.preprocessor.transform(_with_cell(frame, "r7", "t", stamps))


def test_datetime_stamps_are_accepted(frame):
    parts = _parts(frame)
    seconds = np.asarray(frame.at["r0", "t"])
    as_datetime = np.datetime64("2024-01-01T00:00:00") + (seconds * 1e9).astype("timedelta64[ns]")
    batch = parts.preprocessor.transform(_with_cell(frame, "r0", "t", as_datetime))
    reference = parts.preprocessor.transform(frame)
    torch.testing.assert_close(batch["times"], reference["times"])


def test_multi_column_errors():
    frame = _multi_column_frame()
    parts = build_modality(SPEC, frame, ["hr", "bp"])
    bad = _with_cell(frame, 105, "bp", [1.0, 2.0])
    with pytest.raises(ValueError, match=r"row 105: series lengths differ across columns \{'hr': \d+, 'bp': 2\}"):
        parts.preprocessor.transform(bad)
    with pytest.raises(ValueError, match=r"timeseries column\(s\) \['bp'\] missing from the data"):
        parts.preprocessor.transform(frame.drop(columns="bp"))


def test_fit_and_config_errors(frame):
    with pytest.raises(ValueError, match="holds no series in the training data"):
        build_modality(SPEC, frame.iloc[[NONE_ROW]], ["v"])
    with pytest.raises(ValueError, match="at least one value column"):
        SPEC.build_preprocessor(SPEC.make_config("tiny", time_column="t"), ["t"])
    with pytest.raises(RuntimeError, match="not fitted"):
        SPEC.build_preprocessor(SPEC.make_config("tiny"), ["v"]).transform(frame)
    with pytest.raises(ValueError, match="must divide d_model"):
        TimeseriesConfig(d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="must be even"):
        TimeseriesConfig(d_model=33, n_heads=1)
    with pytest.raises(ValueError):
        TimeseriesConfig(mask_ratio=1.0)
    parts = build_modality(SPEC, frame, ["v"])
    other = SPEC.build_preprocessor(SPEC.make_config("tiny", time_column="t"), ["v"])
    with pytest.raises(ValueError, match="saved timeseries state is for"):
        other.load_state_dict(parts.preprocessor.state_dict())
